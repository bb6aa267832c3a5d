package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	ID, Event string
	Data      map[string]any
}

// openStream subscribes and returns a channel of events (closed when the
// stream ends).
func openStream(t *testing.T, base, query string) (<-chan sseEvent, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/realtime?"+query, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data.Len() > 0 || ev.Event != "" {
					_ = json.Unmarshal([]byte(data.String()), &ev.Data)
					ch <- ev
				}
				ev, data = sseEvent{}, strings.Builder{}
			case strings.HasPrefix(line, "id:"):
				ev.ID = strings.TrimSpace(line[3:])
			case strings.HasPrefix(line, "event:"):
				ev.Event = strings.TrimSpace(line[6:])
			case strings.HasPrefix(line, "data:"):
				data.WriteString(strings.TrimSpace(line[5:]))
			}
		}
	}()
	t.Cleanup(cancel)
	return ch, cancel
}

func nextEvent(t *testing.T, ch <-chan sseEvent, within time.Duration) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.True(t, ok, "stream ended")
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
	}
	return sseEvent{}
}

// Realtime through the real binary with real tokens: a change made in psql
// reaches the owner only; a filter in the REST grammar narrows the stream;
// logging out closes the stream.
func TestRealtimeWithRealTokens(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	d.Exec(t, `
		create table public.notes (id bigserial primary key, owner uuid not null, topic text not null, body text);
		alter table public.notes enable row level security;
		create policy own on public.notes using (owner = auth.uid());
		select ayb.realtime_enable('public.notes');`)
	in := Start(t, StartOptions{
		DatabaseURL: d.URL,
		Env:         []string{"AYB_DATABASE_ADMIN_URL=" + d.AdminURL, "AYB_REALTIME_SESSION_CHECK_INTERVAL=500ms"},
	})
	anon := &Client{t: t, Base: in.URL}
	signUp := func(email string) (string, string) {
		r := anon.Do("POST", "/api/auth/register", map[string]any{"email": email, "password": "a sturdy passphrase 42"})
		require.Equal(t, 201, r.Status, string(r.Raw))
		m := r.JSON(t)
		return m["access_token"].(string), m["user"].(map[string]any)["id"].(string)
	}
	aliceTok, aliceID := signUp("alice@example.com")
	bobTok, _ := signUp("bob@example.com")

	aliceAll, _ := openStream(t, in.URL, "tables=notes&token="+url.QueryEscape(aliceTok))
	aliceNews, _ := openStream(t, in.URL, "tables=notes&token="+url.QueryEscape(aliceTok)+"&"+url.QueryEscape("filter[notes]")+"="+url.QueryEscape("topic = 'news'"))
	bobAll, _ := openStream(t, in.URL, "tables=notes&token="+url.QueryEscape(bobTok))
	for _, ch := range []<-chan sseEvent{aliceAll, aliceNews, bobAll} {
		require.Equal(t, "connected", nextEvent(t, ch, 10*time.Second).Event)
	}

	d.Exec(t, "insert into public.notes(owner, topic, body) values ($1, 'sport', 'goal'), ($1, 'news', 'extra')", aliceID)
	got := []string{nextEvent(t, aliceAll, 10*time.Second).Data["record"].(map[string]any)["topic"].(string),
		nextEvent(t, aliceAll, 10*time.Second).Data["record"].(map[string]any)["topic"].(string)}
	require.ElementsMatch(t, []string{"sport", "news"}, got)
	ev := nextEvent(t, aliceNews, 10*time.Second)
	require.Equal(t, "news", ev.Data["record"].(map[string]any)["topic"], "the filter narrows the stream")
	require.Equal(t, "insert", ev.Data["op"])
	select {
	case ev := <-bobAll:
		t.Fatalf("bob received alice's row: %+v", ev)
	case <-time.After(time.Second):
	}

	// A change made by a job (the built-in `sql` kind, run by the server's
	// own workers) and one made through the REST API arrive as well.
	d.Exec(t, `create function public.job_note(a jsonb) returns void language sql as
		$f$ insert into public.notes(owner, topic, body) values ((a ->> 'owner')::uuid, 'job', 'from a job') $f$`)
	d.Exec(t, `select ayb.job_enqueue('sql', jsonb_build_object('function', 'public.job_note', 'args', jsonb_build_object('owner', $1::text)))`, aliceID)
	ev = nextEvent(t, aliceAll, 15*time.Second)
	require.Equal(t, "from a job", ev.Data["record"].(map[string]any)["body"])
	r := anon.With(aliceTok).Do("POST", "/api/collections/notes", map[string]any{"owner": aliceID, "topic": "rest", "body": "by request"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	ev = nextEvent(t, aliceAll, 10*time.Second)
	require.Equal(t, "by request", ev.Data["record"].(map[string]any)["body"])

	// Logging out ends the session: alice's streams close.
	r = anon.With(aliceTok).Do("POST", "/api/auth/logout", map[string]any{})
	require.Contains(t, []int{200, 204}, r.Status, string(r.Raw))
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-aliceAll:
			if !ok {
				t.Fatal("stream ended without a close event")
			}
			if ev.Event == "close" {
				require.Equal(t, "session_revoked", ev.Data["reason"])
				return
			}
		case <-deadline:
			t.Fatal("stream did not close after logout")
		}
	}
}

// API keys through the real binary: a key minted without realtime access
// is refused on /api/realtime (header or ?token=) with 403
// insufficient_scope; one minted with "realtime": true streams a change
// made in psql; granting access later with the CLI opens the door for the
// first key too; revoking the streaming key closes its stream.
func TestRealtimeAPIKeyAccess(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	d.Exec(t, `
		create table public.notes (id bigserial primary key, owner uuid not null, body text);
		alter table public.notes enable row level security;
		create policy own on public.notes using (owner = auth.uid());
		select ayb.realtime_enable('public.notes');`)
	in := Start(t, StartOptions{DatabaseURL: d.URL,
		Env: []string{"AYB_DATABASE_ADMIN_URL=" + d.AdminURL, "AYB_REALTIME_SESSION_CHECK_INTERVAL=500ms"}})
	anon := &Client{t: t, Base: in.URL}
	r := anon.Do("POST", "/api/auth/register", map[string]any{"email": "keys@example.com", "password": "a sturdy passphrase 42"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	m := r.JSON(t)
	session, userID := anon.With(m["access_token"].(string)), m["user"].(map[string]any)["id"].(string)

	mint := func(body map[string]any) (string, map[string]any) {
		r := session.Do("POST", "/api/auth/api-keys", body)
		require.Equal(t, 201, r.Status, string(r.Raw))
		m := r.JSON(t)
		return m["key"].(string), m["api_key"].(map[string]any)
	}
	plain, plainInfo := mint(map[string]any{"name": "batch", "scope": "read"})
	require.Equal(t, false, plainInfo["realtime"])
	live, liveInfo := mint(map[string]any{"name": "mobile", "scope": "read", "realtime": true})
	require.Equal(t, true, liveInfo["realtime"])

	refused := func(viaQuery bool) Response {
		req, err := http.NewRequest("GET", in.URL+"/api/realtime?tables=notes", nil)
		require.NoError(t, err)
		if viaQuery {
			req.URL.RawQuery += "&token=" + url.QueryEscape(plain)
		} else {
			req.Header.Set("Authorization", "Bearer "+plain)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		if res.StatusCode == 200 { // a live stream: nothing to read to the end
			return Response{Status: res.StatusCode, Header: res.Header}
		}
		raw, _ := io.ReadAll(res.Body)
		return Response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	}
	for _, viaQuery := range []bool{false, true} {
		r := refused(viaQuery)
		require.Equal(t, 403, r.Status, string(r.Raw))
		m := r.JSON(t)
		require.Equal(t, "insufficient_scope", m["code"])
		require.Equal(t, "realtime_not_granted", m["details"].(map[string]any)["reason"])
		require.Contains(t, m["hint"], "realtime")
	}

	ch, _ := openStream(t, in.URL, "tables=notes&token="+url.QueryEscape(live))
	require.Equal(t, "connected", nextEvent(t, ch, 10*time.Second).Event)
	d.Exec(t, "insert into public.notes(owner, body) values ($1, 'hello key')", userID)
	ev := nextEvent(t, ch, 10*time.Second)
	require.Equal(t, "insert", ev.Data["op"])
	require.Equal(t, "hello key", ev.Data["record"].(map[string]any)["body"])

	out, err := Run(t, t.TempDir(), nil, "apikeys", "update", plainInfo["id"].(string), "--realtime", "--json",
		"--database-url", d.AdminURL)
	require.NoError(t, err, out)
	require.Eventually(t, func() bool { return refused(false).Status == 200 }, 10*time.Second, 100*time.Millisecond,
		"the granted key is still refused")

	// Revoking the streaming key closes its stream.
	r = session.Do("DELETE", "/api/auth/api-keys/"+liveInfo["id"].(string), nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	ev = nextEvent(t, ch, 10*time.Second)
	require.Equal(t, "close", ev.Event)
	require.Equal(t, "key_revoked", ev.Data["reason"])
}

// A client away for 30 seconds that comes back with Last-Event-ID gets every
// event it missed, exactly once and in commit order, and nothing it may not
// see: through the real binary with a real token, while changes (inserts it
// sees and does not see, an update, a delete) keep landing.
func TestResumeAfterThirtySecondsAway(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	d.Exec(t, `
		create table public.notes (id bigserial primary key, owner uuid not null, body text);
		alter table public.notes enable row level security;
		create policy own on public.notes using (owner = auth.uid());
		select ayb.realtime_enable('public.notes');`)
	in := Start(t, StartOptions{DatabaseURL: d.URL, Env: []string{"AYB_DATABASE_ADMIN_URL=" + d.AdminURL}})
	anon := &Client{t: t, Base: in.URL}
	r := anon.Do("POST", "/api/auth/register", map[string]any{"email": "away@example.com", "password": "a sturdy passphrase 42"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	tok, _ := r.JSON(t)["access_token"].(string)
	me := r.JSON(t)["user"].(map[string]any)["id"].(string)
	other := "00000000-0000-0000-0000-0000000000ff"

	q := "tables=notes&token=" + url.QueryEscape(tok)
	ch, stop := openStream(t, in.URL, q)
	require.Equal(t, "connected", nextEvent(t, ch, 10*time.Second).Event)
	d.Exec(t, "insert into public.notes(owner, body) values ($1, 'before')", me)
	ev := nextEvent(t, ch, 10*time.Second)
	require.Equal(t, "before", ev.Data["record"].(map[string]any)["body"])
	last := ev.ID
	stop()

	// 30 seconds away while changes land.
	var want []string
	start := time.Now()
	for i := 0; time.Since(start) < 30*time.Second; i++ {
		d.Exec(t, "insert into public.notes(owner, body) values ($1, $2), ($3, $4)",
			me, fmt.Sprint("mine ", i), other, fmt.Sprint("theirs ", i))
		want = append(want, "insert mine "+fmt.Sprint(i))
		if i == 3 {
			d.Exec(t, "update public.notes set body = 'mine 0 edited' where body = 'mine 0'")
			want = append(want, "update mine 0 edited")
			d.Exec(t, "delete from public.notes where body = 'mine 1'")
			want = append(want, "delete mine 1")
		}
		time.Sleep(2 * time.Second)
	}

	ch, stop = openStream(t, in.URL, q+"&last_event_id="+url.QueryEscape(last))
	defer stop()
	require.Equal(t, "connected", nextEvent(t, ch, 10*time.Second).Event)
	var got []string
	prev, err := strconv.ParseInt(last, 10, 64)
	require.NoError(t, err)
	for range want {
		ev := nextEvent(t, ch, 10*time.Second)
		id, err := strconv.ParseInt(ev.ID, 10, 64)
		require.NoError(t, err, "every event carries its id: %+v", ev)
		require.Greater(t, id, prev, "in commit order, none twice")
		prev = id
		rec, _ := ev.Data["record"].(map[string]any)
		if ev.Data["op"] == "delete" {
			rec, _ = ev.Data["old_record"].(map[string]any)
		}
		got = append(got, fmt.Sprint(ev.Data["op"], " ", rec["body"]))
	}
	require.Equal(t, want, got)
	select {
	case ev := <-ch:
		t.Fatalf("an event beyond the missed ones: %+v", ev)
	case <-time.After(time.Second):
	}
}
