package realtime_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/realtime"
	"github.com/aybhq/ayb/internal/server"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const (
	userA = "aaaaaaaa-0000-0000-0000-000000000001"
	userB = "bbbbbbbb-0000-0000-0000-000000000002"
	userC = "cccccccc-0000-0000-0000-000000000003"
)

// schema is the acceptance scenario: rows readable by members of their
// team, a column revoked from authenticated, and both tables streamed.
const schema = `
create table public.members (team_id int not null, user_id uuid not null, primary key (team_id, user_id));
create table public.rows (id bigserial primary key, team_id int not null, body text, secret text);
alter table public.rows enable row level security;
create policy team_read on public.rows for select
  using (exists (select 1 from public.members m where m.team_id = rows.team_id and m.user_id = auth.uid()));
alter table public.members enable row level security;
create policy own_membership on public.members for select using (user_id = auth.uid());
revoke select on public.rows from authenticated;
grant select (id, team_id, body) on public.rows to authenticated;
create table public.other (id int primary key, v text);
select ayb.realtime_enable('public.rows');
select ayb.realtime_enable('public.members');
insert into public.members values (1, '` + userA + `'), (1, '` + userC + `'), (2, '` + userB + `');
`

// testAuth reads the token as a JSON claims object ("Bearer {...}" or
// ?token={...}); the claim "tables" restricts the credential to tables.
type testAuth struct{}

func (testAuth) Authenticate(r *http.Request) (identity.Identity, error) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	if tok == "" {
		return identity.Anon(), nil
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(tok), &claims); err != nil {
		return identity.Identity{}, apierror.New(apierror.CodeInvalidToken, "bad test token")
	}
	id := identity.Identity{Role: claims["role"].(string), Claims: claims, Kind: "jwt"}
	if ts, ok := claims["tables"].([]any); ok {
		for _, t := range ts {
			id.AllowedTables = append(id.AllowedTables, t.(string))
		}
		delete(claims, "tables")
	}
	return id, nil
}

func token(sub string, extra ...any) string {
	c := map[string]any{"role": "authenticated", "sub": sub, "exp": time.Now().Add(time.Hour).Unix()}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// eqFilter is a stand-in FilterCompiler for "column=value" (the REST
// grammar's compiler is wired at merge).
type eqFilter struct{}

func (eqFilter) Compile(t realtime.FilterTable, f string) (realtime.CompiledFilter, error) {
	col, val, ok := strings.Cut(f, "=")
	if !ok {
		return realtime.CompiledFilter{}, apierror.Validation("filter must be column=value")
	}
	return realtime.CompiledFilter{
		SQL:     fmt.Sprintf("%s.%s::text = $%d", t.Alias, pgx.Identifier{col}.Sanitize(), t.FirstParam),
		Args:    []any{val},
		Columns: []string{col},
	}, nil
}

// sessions is a stand-in SessionChecker.
type sessions struct {
	mu      sync.Mutex
	revoked map[string]bool
}

func (s *sessions) LiveSessions(_ context.Context, ids []string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	live := map[string]bool{}
	for _, id := range ids {
		live[id] = !s.revoked[id]
	}
	return live, nil
}

func (s *sessions) revoke(id string) {
	s.mu.Lock()
	s.revoked[id] = true
	s.mu.Unlock()
}

type bundle struct {
	db       *dbtest.DB
	url      string
	svc      *realtime.Service
	sessions *sessions
	admin    *pgx.Conn
}

func instance(t *testing.T, d *dbtest.DB, opt realtime.Options) (string, *realtime.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opt.URL = d.URL
	if opt.PollInterval == 0 {
		opt.PollInterval = 200 * time.Millisecond
	}
	svc, err := realtime.New(ctx, opt)
	require.NoError(t, err)
	go func() { _ = svc.Run(ctx) }()
	srv := server.New(server.Options{Config: config.Defaults(), DB: d.DB, Authenticator: testAuth{}, Realtime: svc})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		cancel()
		svc.Close()
		hs.Close()
	})
	return hs.URL, svc
}

func setup(t *testing.T, opt realtime.Options) *bundle {
	t.Helper()
	d := dbtest.New(t)
	d.Exec(t, schema)
	ss := &sessions{revoked: map[string]bool{}}
	if opt.Filters == nil {
		opt.Filters = eqFilter{}
	}
	opt.Sessions = ss
	u, svc := instance(t, d, opt)
	return &bundle{db: d, url: u, svc: svc, sessions: ss, admin: d.Admin(t)}
}

func (b *bundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := b.admin.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

// sse is a real SSE client over HTTP.
type sse struct {
	resp   *http.Response
	events chan sseEvent
	conn   string // the connection id from the connected event
	resets []sseEvent
}

type sseEvent struct {
	ID, Event string
	Data      map[string]any
}

func open(t *testing.T, base, query, tok, lastID string) (*sse, int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/realtime?"+query, nil)
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, string(b)
	}
	s := &sse{resp: resp, events: make(chan sseEvent, 1000)}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		var ev sseEvent
		var data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != "" {
					_ = json.Unmarshal([]byte(data), &ev.Data)
					s.events <- ev
				}
				ev, data = sseEvent{}, ""
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			}
		}
	}()
	first := s.next(t)
	for first.Event == "reset" { // sent before connected when a resume lost events
		s.resets = append(s.resets, first)
		first = s.next(t)
	}
	require.Equal(t, "connected", first.Event)
	s.conn, _ = first.Data["connection"].(string)
	return s, http.StatusOK, ""
}

func (s *sse) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		require.True(t, ok, "stream ended")
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return sseEvent{}
}

// quiet asserts nothing arrives for a while.
func (s *sse) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if ok {
			t.Fatalf("unexpected event %+v", ev)
		}
	case <-time.After(d):
	}
}

func (s *sse) close() { s.resp.Body.Close() }

func num(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	}
	return -1
}

func TestMembershipPolicyInsertsUpdatesLeaveAndDelete(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	a, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	nb, _, _ := open(t, b.url, "tables=rows", token(userB), "")
	c, _, _ := open(t, b.url, "tables=rows", token(userC), "")

	// psql (superuser) writes.
	b.exec(t, "insert into rows (team_id, body, secret) values (1, 'one', 's1'), (1, 'two', 's2')")
	b.exec(t, "update rows set body = 'one!' where body = 'one'")
	for _, want := range []struct{ op, body string }{{"insert", "one"}, {"insert", "two"}, {"update", "one!"}} {
		ev := a.next(t)
		require.Equal(t, want.op, ev.Data["op"])
		require.Equal(t, "rows", ev.Data["table"])
		rec := ev.Data["record"].(map[string]any)
		require.Equal(t, want.body, rec["body"])
		require.NotContains(t, rec, "secret", "revoked column leaked")
		require.NotEmpty(t, ev.ID)
		require.Equal(t, ev.ID, fmt.Sprint(num(ev.Data["id"])))
		if want.op == "update" {
			require.NotContains(t, ev.Data["old_record"].(map[string]any), "secret")
			require.Equal(t, "one", ev.Data["old_record"].(map[string]any)["body"])
		}
		require.Equal(t, want.op, c.next(t).Data["op"])
	}
	nb.quiet(t, 300*time.Millisecond)

	// A leaves the team: a leave for each row A was shown, then nothing.
	b.exec(t, "delete from members where user_id = $1", userA)
	left := map[int64]bool{}
	for range 2 {
		ev := a.next(t)
		require.Equal(t, "leave", ev.Data["op"])
		require.Empty(t, ev.ID, "leave events carry no resume id")
		left[num(ev.Data["pk"].(map[string]any)["id"])] = true
	}
	require.Len(t, left, 2)
	b.exec(t, "insert into rows (team_id, body) values (1, 'three')")
	require.Equal(t, "insert", c.next(t).Data["op"])

	// A DELETE reaches members only, judged on the old row.
	b.exec(t, "delete from rows where body = 'two'")
	ev := c.next(t)
	require.Equal(t, "delete", ev.Data["op"])
	require.Equal(t, "two", ev.Data["old_record"].(map[string]any)["body"])
	require.NotContains(t, ev.Data["old_record"].(map[string]any), "secret")
	a.quiet(t, 300*time.Millisecond)
	nb.quiet(t, 10*time.Millisecond)
}

func TestUpdateOutOfViewSendsLeave(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	a, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	nb, _, _ := open(t, b.url, "tables=rows", token(userB), "")
	b.exec(t, "insert into rows (id, team_id, body) values (10, 1, 'x')")
	require.Equal(t, "insert", a.next(t).Data["op"])
	// Moving the row to team 2: A loses it, B gains it without seeing team 1's old values.
	b.exec(t, "update rows set team_id = 2, body = 'y' where id = 10")
	ev := a.next(t)
	require.Equal(t, "leave", ev.Data["op"])
	require.Equal(t, int64(10), num(ev.Data["pk"].(map[string]any)["id"]))
	ev = nb.next(t)
	require.Equal(t, "update", ev.Data["op"])
	require.Nil(t, ev.Data["old_record"], "old image of a row B could not see was sent")
}

func TestChangesFromTriggerFunctionAndSecondInstance(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	b.exec(t, `
create table public.inbox (id int primary key, team_id int, body text);
create function public.inbox_to_rows() returns trigger language plpgsql as $$
begin insert into public.rows (team_id, body) values (new.team_id, 'via trigger ' || new.body); return new; end $$;
create trigger inbox_to_rows after insert on public.inbox for each row execute function public.inbox_to_rows();
create function public.post(team int, body text) returns void language sql security definer
  as $$ insert into public.rows (team_id, body) values (team, body) $$;
grant execute on function public.post(int, text) to authenticated;
create policy team_write on public.rows for insert to authenticated
  with check (exists (select 1 from public.members m where m.team_id = rows.team_id and m.user_id = auth.uid()));`)
	url2, _ := instance(t, b.db, realtime.Options{Filters: eqFilter{}})
	a1, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	a2, _, _ := open(t, url2, "tables=rows", token(userA), "")

	b.exec(t, "insert into inbox values (1, 1, 'hello')") // a trigger's change
	// A SQL function called from a separate connection, as a `sql` job
	// runs one (tests/e2e TestRealtimeWithRealTokens runs a real job).
	conn, err := pgx.Connect(context.Background(), b.db.URL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), "select public.post(1, 'from a job')")
	require.NoError(t, err)
	// A change made by a user's request through an instance's pool, as REST does.
	require.NoError(t, b.db.InTx(context.Background(), identity.Identity{Role: "authenticated",
		Claims: map[string]any{"sub": userA, "role": "authenticated"}}, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), "insert into rows (team_id, body) values (1, 'by request')")
		return err
	}))
	for _, s := range []*sse{a1, a2} {
		var bodies []string
		var ids []string
		for range 3 {
			ev := s.next(t)
			bodies = append(bodies, ev.Data["record"].(map[string]any)["body"].(string))
			ids = append(ids, ev.ID)
		}
		require.Equal(t, []string{"via trigger hello", "from a job", "by request"}, bodies)
		require.Len(t, ids, 3)
	}
}

func TestResumeWithLastEventIDGetsEveryMissedEventOnceInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	s, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	b.exec(t, "insert into rows (team_id, body) values (1, 'before')")
	last := s.next(t).ID
	s.close()
	// While disconnected: visible and invisible writes, updates and deletes.
	for i := range 20 {
		b.exec(t, "insert into rows (team_id, body) values ($1, $2)", 1+i%2, fmt.Sprint("gap ", i))
	}
	b.exec(t, "delete from rows where body = 'gap 0'")
	r, _, _ := open(t, b.url, "tables=rows", token(userA), last)
	prev := mustInt(t, last)
	var got []string
	for range 11 {
		ev := r.next(t)
		id := mustInt(t, ev.ID)
		require.Greater(t, id, prev, "out of order or repeated")
		prev = id
		if ev.Data["op"] == "delete" {
			got = append(got, "delete "+ev.Data["old_record"].(map[string]any)["body"].(string))
		} else {
			got = append(got, ev.Data["record"].(map[string]any)["body"].(string))
		}
	}
	want := []string{}
	for i := 0; i < 20; i += 2 {
		want = append(want, fmt.Sprint("gap ", i))
	}
	want = append(want, "delete gap 0")
	require.Equal(t, want, got)
	// Live again, with nothing repeated.
	b.exec(t, "insert into rows (team_id, body) values (1, 'after')")
	ev := r.next(t)
	require.Equal(t, "after", ev.Data["record"].(map[string]any)["body"])
	require.Greater(t, mustInt(t, ev.ID), prev)
	r.quiet(t, 300*time.Millisecond)
}

// An instance with no streams neither reads changes nor asks writers to
// signal them; a stream opened afterwards gets what commits from then on,
// and one that resumes still gets what it missed.
func TestInstanceWithoutStreamsReadsNoEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	s, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	b.exec(t, "insert into rows (team_id, body) values (1, 'seen')")
	last := s.next(t).ID
	s.close()
	time.Sleep(500 * time.Millisecond) // the server sees the stream end
	listener := b.db.Admin(t)
	_, err := listener.Exec(context.Background(), "listen ayb_realtime")
	require.NoError(t, err)
	read := b.svc.EventsRead()
	for i := range 5 {
		b.exec(t, "insert into rows (team_id, body) values (1, $1)", fmt.Sprint("unread ", i))
	}
	// The hub polls every 200ms (instance).
	time.Sleep(time.Second)
	require.Equal(t, read, b.svc.EventsRead(), "read the log with no stream to deliver to")
	wctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = listener.WaitForNotification(wctx)
	require.Error(t, err, "a writer notified though no instance has a stream")

	fresh, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	b.exec(t, "insert into rows (team_id, body) values (1, 'new')")
	require.Equal(t, "new", fresh.next(t).Data["record"].(map[string]any)["body"])
	fresh.quiet(t, 300*time.Millisecond)
	require.Greater(t, b.svc.EventsRead(), read)

	resumed, _, _ := open(t, b.url, "tables=rows", token(userA), last)
	for i := range 5 {
		require.Equal(t, fmt.Sprint("unread ", i), resumed.next(t).Data["record"].(map[string]any)["body"])
	}
	require.Equal(t, "new", resumed.next(t).Data["record"].(map[string]any)["body"])
	resumed.quiet(t, 300*time.Millisecond)
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err, "id %q", s)
	return n
}

func TestLateCommitIsNeitherSkippedNorReordered(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	s, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	ctx := context.Background()
	slow, err := pgx.Connect(ctx, b.db.AdminURL)
	require.NoError(t, err)
	defer slow.Close(ctx)
	tx, err := slow.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "insert into rows (team_id, body) values (1, 'early id, late commit')")
	require.NoError(t, err)
	b.exec(t, "insert into rows (team_id, body) values (1, 'later id, early commit')")
	// The later id must wait: delivering it would let a resume skip the first.
	s.quiet(t, 600*time.Millisecond)
	require.NoError(t, tx.Commit(ctx))
	first, second := s.next(t), s.next(t)
	require.Equal(t, "early id, late commit", first.Data["record"].(map[string]any)["body"])
	require.Equal(t, "later id, early commit", second.Data["record"].(map[string]any)["body"])
}

func TestFilterNarrowsStream(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	b.exec(t, "insert into members values (2, $1)", userA)
	s, _, _ := open(t, b.url, "tables=rows&filter[rows]=team_id=2", token(userA), "")
	b.exec(t, "insert into rows (team_id, body) values (1, 'team 1'), (2, 'team 2')")
	ev := s.next(t)
	require.Equal(t, "team 2", ev.Data["record"].(map[string]any)["body"])
	s.quiet(t, 300*time.Millisecond)
	// Filtering on a column the role may not read is refused.
	_, code, body := open(t, b.url, "tables=rows&filter[rows]=secret=x", token(userA), "")
	require.Equal(t, http.StatusForbidden, code, body)
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	for _, tc := range []struct {
		name, query, tok string
		status           int
		code             string
	}{
		{"restricted key on another table", "tables=rows", token(userA, "tables", []string{"members"}), 403, "forbidden"},
		{"restricted key on its table", "tables=members", token(userA, "tables", []string{"members"}), 200, ""},
		{"expired token", "tables=rows", token(userA, "exp", time.Now().Add(-time.Minute).Unix()), 401, "invalid_token"},
		{"mfa pending", "tables=rows", token(userA, "mfa_pending", true), 403, "forbidden"},
		{"aal0", "tables=rows", token(userA, "aal", "aal0"), 403, "forbidden"},
		{"no tables", "", token(userA), 400, "validation_failed"},
		{"unknown table", "tables=nope", token(userA), 404, "not_found"},
		{"table without realtime", "tables=other", token(userA), 400, "validation_failed"},
		{"anon without select", "tables=rows", "", 403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "anon without select" {
				b.exec(t, "revoke select on public.rows from anon")
			}
			s, code, body := open(t, b.url, tc.query, tc.tok, "")
			require.Equal(t, tc.status, code, body)
			if s != nil {
				s.close()
				return
			}
			var e struct{ Code string }
			require.NoError(t, json.Unmarshal([]byte(body), &e), body)
			require.Equal(t, tc.code, e.Code)
		})
	}
}

func TestRevokedSessionStreamCloses(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{SessionCheckInterval: 100 * time.Millisecond})
	s, _, _ := open(t, b.url, "tables=rows", token(userA, "session_id", "s-1"), "")
	other, _, _ := open(t, b.url, "tables=rows", token(userA, "session_id", "s-2"), "")
	b.sessions.revoke("s-1")
	ev := s.next(t)
	require.Equal(t, "close", ev.Event)
	require.Equal(t, "session_revoked", ev.Data["reason"])
	_, ok := <-s.events
	require.False(t, ok, "stream stayed open")
	b.exec(t, "insert into rows (team_id, body) values (1, 'still here')")
	require.Equal(t, "insert", other.next(t).Data["op"])
}

func TestTokenExpiryClosesUnlessHandedOver(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	short := token(userA, "exp", time.Now().Add(1500*time.Millisecond).Unix())
	s, _, _ := open(t, b.url, "tables=rows", short, "")
	// A second stream, read raw to learn its connection id.
	req, _ := http.NewRequest(http.MethodGet, b.url+"/api/realtime?tables=rows", nil)
	req.Header.Set("Authorization", "Bearer "+short)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	var conn string
	for conn == "" {
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		if strings.HasPrefix(line, "data: ") {
			var hello map[string]any
			require.NoError(t, json.Unmarshal([]byte(line[6:]), &hello))
			conn, _ = hello["connection"].(string)
		}
	}
	// Someone else's token cannot take the stream over.
	post := func(tok string) int {
		req, _ := http.NewRequest(http.MethodPost, b.url+"/api/realtime/"+conn+"/token", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusForbidden, post(token(userB)))
	require.Equal(t, http.StatusUnauthorized, post(token(userA)+"x"))
	require.Equal(t, http.StatusNoContent, post(token(userA)))

	ev := s.next(t)
	require.Equal(t, "close", ev.Event)
	require.Equal(t, "token_expired", ev.Data["reason"])
	// The handed-over stream outlives the old token's expiry and still delivers.
	time.Sleep(700 * time.Millisecond)
	b.exec(t, "insert into rows (team_id, body) values (1, 'after expiry')")
	for {
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		require.NotContains(t, line, "token_expired")
		if strings.Contains(line, "after expiry") {
			break
		}
	}
}

// tinyWindowClient dials with a 4 KB socket receive buffer, so a stream it
// does not read fills the kernel's buffers quickly; *conn is the socket.
func tinyWindowClient(conn **net.TCPConn) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
			*conn = tc
		}
		return c, err
	}}}
}

func TestSlowClientIsDisconnectedWithResumableReason(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{Buffer: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/api/realtime?tables=rows", nil)
	req.Header.Set("Authorization", "Bearer "+token(userA))
	// A client with a tiny socket receive buffer that never reads: the
	// kernel's buffers fill, then the stream's own.
	var conn *net.TCPConn
	resp, err := tinyWindowClient(&conn).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	// More than any loopback socket buffers hold (tcp_wmem max is 4 MB).
	big := strings.Repeat("x", 128<<10) // 48 x 128 KB = 6 MB
	for range 48 {
		b.exec(t, "insert into rows (team_id, body) values (1, $1)", big)
	}
	// Now read at full speed (a 4 KB window drains 6 MB in minutes).
	require.NotNil(t, conn)
	_ = conn.SetReadBuffer(4 << 20)
	all, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(all), `event: close`)
	require.Contains(t, string(all), `"reason":"slow_client"`)
	require.Contains(t, string(all), `"resumable":true`)
}

func TestAdminAndSQLManageTables(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	call := func(method, path, tok, body string) (int, string) {
		req, _ := http.NewRequest(method, b.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	admin := `{"role":"service_role","sub":"` + userC + `"}`
	code, _ := call("POST", "/api/admin/realtime/tables", token(userA), `{"table":"other"}`)
	require.Equal(t, 403, code)
	code, body := call("POST", "/api/admin/realtime/tables", admin, `{"table":"other"}`)
	require.Equal(t, 200, code, body)
	code, body = call("GET", "/api/admin/realtime/tables", admin, "")
	require.Equal(t, 200, code)
	require.Contains(t, body, `"table":"public.other"`)
	code, body = call("POST", "/api/admin/realtime/tables", admin, `{"table":"missing"}`)
	require.Equal(t, 404, code, body)
	b.exec(t, "create table nokey (v int)")
	code, body = call("POST", "/api/admin/realtime/tables", admin, `{"table":"nokey"}`)
	require.Equal(t, 400, code, body)
	require.Contains(t, body, "primary key")
	code, _ = call("DELETE", "/api/admin/realtime/tables/other", admin, "")
	require.Equal(t, 204, code)
	var n int
	require.NoError(t, b.admin.QueryRow(context.Background(),
		"select count(*) from pg_trigger where tgname = 'ayb_realtime' and tgrelid = 'public.other'::regclass").Scan(&n))
	require.Zero(t, n)
}

func TestFailingPolicyDisconnectsResumablyInsteadOfDropping(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	// A policy that raises for team 7 rows (division by zero).
	b.exec(t, "create policy breaks on public.rows as restrictive for select using (100 / (team_id - 7) <> 0)")
	s, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	b.exec(t, "insert into rows (team_id, body) values (7, 'boom')")
	ev := s.next(t)
	require.Equal(t, "close", ev.Event)
	require.Equal(t, "internal_error", ev.Data["reason"])
	require.Equal(t, true, ev.Data["resumable"])
}

func TestResumeOnAnotherInstance(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	s, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	b.exec(t, "insert into rows (team_id, body) values (1, 'first')")
	last := s.next(t).ID
	s.close()
	// While the client is away, changes; then it comes back through a
	// second instance that started after them (it catches up from the log).
	b.exec(t, "insert into rows (team_id, body) values (1, 'second'), (1, 'third')")
	url2, _ := instance(t, b.db, realtime.Options{})
	r, _, _ := open(t, url2, "tables=rows", token(userA), last)
	require.Equal(t, "second", r.next(t).Data["record"].(map[string]any)["body"])
	require.Equal(t, "third", r.next(t).Data["record"].(map[string]any)["body"])
	r.quiet(t, 300*time.Millisecond)
}

// createPerks makes a realtime table whose policy reads a claim: a row is
// visible to tokens whose "tier" claim equals its tier.
func createPerks(t *testing.T, b *bundle) {
	t.Helper()
	b.exec(t, `
		create table public.perks (id serial primary key, tier text not null, body text);
		alter table public.perks enable row level security;
		create policy by_tier on public.perks for select using (tier = auth.jwt() ->> 'tier');
		grant select on public.perks to authenticated;
		select ayb.realtime_enable('public.perks');`)
}

// A policy that reads the claims (auth.jwt()) is checked with them: the
// server first sends only the subscribers' auth.uid(), is told the claims
// are needed, and sends the round again with them. Nothing is lost or
// wrongly shown on the way.
func TestPolicyReadingClaimsGetsThem(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	createPerks(t, b)
	gold, _, _ := open(t, b.url, "tables=perks", token(userA, "tier", "gold"), "")
	silver, _, _ := open(t, b.url, "tables=perks", token(userB, "tier", "silver"), "")
	b.exec(t, "insert into public.perks (tier, body) values ('gold', 'for gold'), ('silver', 'for silver')")
	require.Equal(t, "for gold", gold.next(t).Data["record"].(map[string]any)["body"])
	require.Equal(t, "for silver", silver.next(t).Data["record"].(map[string]any)["body"])
	gold.quiet(t, 300*time.Millisecond)
	silver.quiet(t, 100*time.Millisecond)
	// Later rounds send the claims straight away and still answer right.
	b.exec(t, "insert into public.perks (tier, body) values ('silver', 'second')")
	require.Equal(t, "second", silver.next(t).Data["record"].(map[string]any)["body"])
	gold.quiet(t, 300*time.Millisecond)
}

// A token handed over on a live stream may carry other claims; later
// rounds check the stream with them, not with the ones it opened with
// (the hub keeps its grouped readers across rounds).
func TestHandoverWithOtherClaimsIsCheckedWithThem(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	createPerks(t, b)
	s, _, _ := open(t, b.url, "tables=perks", token(userA, "tier", "gold"), "")
	b.exec(t, "insert into public.perks (tier, body) values ('gold', 'gold 1'), ('silver', 'silver 1')")
	require.Equal(t, "gold 1", s.next(t).Data["record"].(map[string]any)["body"])
	s.quiet(t, 300*time.Millisecond)

	req, _ := http.NewRequest(http.MethodPost, b.url+"/api/realtime/"+s.conn+"/token", nil)
	req.Header.Set("Authorization", "Bearer "+token(userA, "tier", "silver"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	b.exec(t, "insert into public.perks (tier, body) values ('gold', 'gold 2'), ('silver', 'silver 2')")
	require.Equal(t, "silver 2", s.next(t).Data["record"].(map[string]any)["body"])
	s.quiet(t, 300*time.Millisecond)
}

// The backends running visibility checks for a local database (reached over
// its unix socket) run at a lower CPU priority than request backends.
func TestCheckerBackendsYieldTheCPU(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	require.Contains(t, b.db.URL, "host=%2F", "the test database is reached over a unix socket")
	b.exec(t, "insert into members values (5, $1)", userA)
	s, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	b.exec(t, "insert into rows (team_id, body) values (5, 'x')")
	s.next(t) // a check ran on the realtime pool
	pidsOf := func(app string) []int {
		rows, err := b.admin.Query(context.Background(), "select pid from pg_stat_activity where application_name = $1", app)
		require.NoError(t, err)
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
		require.NoError(t, err)
		return pids
	}
	nice := func(app string) []int {
		var out []int
		for _, pid := range pidsOf(app) {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			require.NoError(t, err)
			f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
			n, err := strconv.Atoi(f[16]) // field 19 of stat: nice
			require.NoError(t, err)
			out = append(out, n)
		}
		return out
	}
	checkers := nice("ayb-realtime")
	require.NotEmpty(t, checkers)
	for _, n := range checkers {
		require.Equal(t, 10, n, "a checker backend runs at nice 10")
	}
	require.NotContains(t, nice("ayb"), 10, "request backends keep their priority")

	// Where the kernel groups tasks by session (autogroup), each backend
	// leads a group of its own and competes through the group's nice, so
	// that is lowered too; request backends' groups are left alone.
	autogroup := func(app string) []string {
		var out []string
		for _, pid := range pidsOf(app) {
			ag, err := os.ReadFile(fmt.Sprintf("/proc/%d/autogroup", pid))
			if errors.Is(err, os.ErrNotExist) {
				continue // a kernel without autogroup
			}
			require.NoError(t, err)
			f := strings.Fields(string(ag)) // "/autogroup-N nice K"
			out = append(out, f[len(f)-1])
		}
		return out
	}
	if _, err := os.Stat("/proc/self/autogroup"); err == nil {
		for _, n := range autogroup("ayb-realtime") {
			require.Equal(t, "10", n, "a checker backend's autogroup runs at nice 10")
		}
		require.NotContains(t, autogroup("ayb"), "10", "request backends' autogroups keep their priority")
	}
}

// While changes keep coming the hub reads in rounds, and writers skip their
// NOTIFY (migration 022); nothing is lost, a writer that skipped and
// commits late is still read in a round, and after a quiet spell the hub
// waits for signals again. PollInterval is 30 s here, so every event below
// arrives through a signal or a round, never through the poll.
func TestWritersSkipNotifyWhileTheHubReadsInRounds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, realtime.Options{PollInterval: 30 * time.Second})
	s, _, _ := open(t, b.url, "tables=rows", token(userA), "")

	listener := b.db.Admin(t)
	_, err := listener.Exec(ctx, "listen ayb_realtime")
	require.NoError(t, err)
	var mu sync.Mutex
	signals := 0
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	defer func() { stop(); <-done }() // before the listener's cleanup closes it
	go func() {
		defer close(done)
		for {
			if _, err := listener.WaitForNotification(lctx); err != nil {
				return
			}
			mu.Lock()
			signals++
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return signals }

	// A steady stream: once the hub has read the first change it reads in
	// rounds, and the next 40 transactions, 10 ms apart, need not signal.
	b.exec(t, "insert into rows (team_id, body) values (1, 'first')")
	require.Equal(t, "first", s.next(t).Data["record"].(map[string]any)["body"])
	first := count()
	for i := range 40 {
		b.exec(t, "insert into rows (team_id, body) values (1, $1)", fmt.Sprint("steady ", i))
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 40 {
		require.Equal(t, fmt.Sprint("steady ", i), s.next(t).Data["record"].(map[string]any)["body"])
	}
	require.Less(t, count()-first, 10, "writers notified while the hub read in rounds")

	// A writer that skipped its NOTIFY and commits after the stream went
	// quiet: the hub cannot go back to waiting before it ends, so a round
	// reads it.
	writer := b.db.Admin(t)
	var late pgx.Tx
	for attempt := 0; ; attempt++ {
		require.Less(t, attempt, 50, "no writer got to skip its NOTIFY")
		b.exec(t, "insert into rows (team_id, body) values (1, $1)", fmt.Sprint("keep busy ", attempt))
		require.Equal(t, fmt.Sprint("keep busy ", attempt), s.next(t).Data["record"].(map[string]any)["body"])
		late, err = writer.Begin(ctx)
		require.NoError(t, err)
		_, err = late.Exec(ctx, "insert into rows (team_id, body) values (1, 'late')")
		require.NoError(t, err)
		var skipped bool
		require.NoError(t, late.QueryRow(ctx, `select exists (select 1 from pg_locks where pid = pg_backend_pid()
		  and locktype = 'advisory' and mode = 'ExclusiveLock'
		  and ((classid::bigint << 32) | objid::bigint) = ayb.realtime_signal_key())`).Scan(&skipped))
		if skipped {
			break
		}
		require.NoError(t, late.Rollback(ctx))
	}
	time.Sleep(500 * time.Millisecond)
	before := count()
	require.NoError(t, late.Commit(ctx))
	require.Equal(t, "late", s.next(t).Data["record"].(map[string]any)["body"])
	require.Equal(t, before, count(), "the late writer notified")

	// Quiet: the hub waits for signals again, and a lone change signals.
	time.Sleep(500 * time.Millisecond)
	b.exec(t, "insert into rows (team_id, body) values (1, 'alone')")
	require.Equal(t, "alone", s.next(t).Data["record"].(map[string]any)["body"])
	require.Equal(t, before+1, count(), "a lone change after a quiet spell did not notify")
	s.quiet(t, 200*time.Millisecond)
}

// A client that stops reading holds up nobody else: a round's writer
// blocked on its full socket hands the round's other streams to their own
// goroutines, and later rounds go around it.
func TestStalledClientDoesNotHoldUpOthers(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/api/realtime?tables=rows", nil)
	req.Header.Set("Authorization", "Bearer "+token(userA))
	var conn *net.TCPConn
	stalled, err := tinyWindowClient(&conn).Do(req)
	require.NoError(t, err)
	defer stalled.Body.Close() // never read
	other, _, _ := open(t, b.url, "tables=rows", token(userC), "")
	// Fill every buffer between the server and the stalled client.
	big := strings.Repeat("x", 128<<10)
	for range 48 {
		b.exec(t, "insert into rows (team_id, body) values (1, $1)", big)
	}
	for range 48 {
		require.Equal(t, big, other.next(t).Data["record"].(map[string]any)["body"])
	}
	for i := range 5 {
		start := time.Now()
		b.exec(t, "insert into rows (team_id, body) values (1, $1)", fmt.Sprint("small ", i))
		require.Equal(t, fmt.Sprint("small ", i), other.next(t).Data["record"].(map[string]any)["body"])
		require.Less(t, time.Since(start), 3*time.Second, "held up behind the stalled client")
	}
}
