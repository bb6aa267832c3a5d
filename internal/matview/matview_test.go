package matview_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/job"
	"github.com/aybhq/ayb/internal/matview"
	"github.com/aybhq/ayb/internal/server"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testAuthenticator: "X-Test-Role: admin" is an admin, anything else anon.
type testAuthenticator struct{}

func (testAuthenticator) Authenticate(r *http.Request) (identity.Identity, error) {
	if r.Header.Get("X-Test-Role") == "admin" {
		return identity.Identity{Role: identity.RoleServiceRole, Claims: map[string]any{"role": "service_role"}, Kind: "admin"}, nil
	}
	return identity.Anon(), nil
}

type bundle struct {
	d   *dbtest.DB
	srv *httptest.Server
	ctx context.Context
}

func setup(t *testing.T) bundle {
	t.Helper()
	d := dbtest.New(t)
	d.Exec(t, `
		create table public.sales (id serial primary key, region text not null, amount int not null);
		insert into public.sales (region, amount) values ('eu', 10), ('us', 20);
		create materialized view public.sales_by_region as select region, sum(amount) as total from public.sales group by region;
		create unique index on public.sales_by_region (region);
		create materialized view public.no_index as select region from public.sales;
		create materialized view public.slow as select x, (select 1 from pg_sleep(1.5)) as s from generate_series(1, 2) x;`)
	srv := httptest.NewServer(server.New(server.Options{Config: config.Defaults(), DB: d.DB, Authenticator: testAuthenticator{}}).Handler())
	t.Cleanup(srv.Close)
	return bundle{d: d, srv: srv, ctx: context.Background()}
}

func (b bundle) call(t *testing.T, method, path string, body any, admin bool) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin {
		req.Header.Set("X-Test-Role", "admin")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := map[string]any{}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return res.StatusCode, out
}

func (b bundle) scalar(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, b.d.Pool.QueryRow(b.ctx, sql, args...).Scan(&n))
	return n
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name   string
		body   map[string]any
		admin  bool
		status int
		code   string
		msg    string
	}{
		{"not admin", map[string]any{"view": "sales_by_region"}, false, 401, "unauthorized", "admin"},
		{"missing view", map[string]any{"view": "nope"}, true, 404, "PT404", "does not exist"},
		{"a table is not a matview", map[string]any{"view": "sales"}, true, 404, "PT404", "does not exist"},
		{"bad mode", map[string]any{"view": "sales_by_region", "mode": "fast"}, true, 400, "validation_failed", "standard or concurrent"},
		{"bad cron", map[string]any{"view": "sales_by_region", "schedule": "every day"}, true, 400, "validation_failed", "cron"},
		{"concurrent without unique index", map[string]any{"view": "no_index", "mode": "concurrent"}, true, 409, "PT409", "unique index"},
		{"ok concurrent", map[string]any{"view": "public.sales_by_region", "mode": "concurrent", "schedule": "*/5 * * * *", "timezone": "Europe/Berlin"}, true, 201, "", ""},
		{"duplicate", map[string]any{"view": "sales_by_region"}, true, 409, "PT409", "already registered"},
	}
	for _, c := range cases {
		status, body := b.call(t, "POST", "/api/admin/matviews", c.body, c.admin)
		require.Equal(t, c.status, status, "%s: %v", c.name, body)
		if c.code != "" {
			require.Equal(t, c.code, body["code"], c.name)
			require.Contains(t, body["message"], c.msg, c.name)
		}
	}
	// The concurrent-mode error says how to fix it.
	_, body := b.call(t, "POST", "/api/admin/matviews", map[string]any{"view": "no_index", "mode": "concurrent"}, true)
	require.Contains(t, body["hint"], "create unique index")
	// Nothing was written by the failures; the schedule exists for the good one.
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.matviews"))
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.schedules where name = 'matview:public.sales_by_region' and kind = 'matview.refresh' and timezone = 'Europe/Berlin'"))
	status, body := b.call(t, "GET", "/api/admin/matviews/sales_by_region", nil, true)
	require.Equal(t, 200, status)
	require.Equal(t, "*/5 * * * *", body["schedule"])
	// Update then unregister.
	status, body = b.call(t, "PATCH", "/api/admin/matviews/sales_by_region", map[string]any{"mode": "standard", "schedule": ""}, true)
	require.Equal(t, 200, status, "%v", body)
	require.Equal(t, "standard", body["mode"])
	require.Nil(t, body["schedule"])
	status, _ = b.call(t, "DELETE", "/api/admin/matviews/sales_by_region", nil, true)
	require.Equal(t, 204, status)
	require.EqualValues(t, 0, b.scalar(t, "select count(*) from ayb.matviews"))
}

// TestConcurrentRefreshes: two refreshes of one view at once: one
// refreshes, the other gets 409 'already refreshing'.
func TestConcurrentRefreshes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, body := b.call(t, "POST", "/api/admin/matviews", map[string]any{"view": "slow"}, true)
	require.Equal(t, 201, status, "%v", body)
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	bodies := make([]map[string]any, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], bodies[i] = b.call(t, "POST", "/api/admin/matviews/slow/refresh", nil, true)
		}()
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
	require.ElementsMatch(t, []int{200, 409}, statuses, "%v", bodies)
	for i, s := range statuses {
		if s == 409 {
			require.Contains(t, bodies[i]["message"], "already refreshing")
		} else {
			require.Equal(t, "success", bodies[i]["status"])
		}
	}
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.matview_refreshes where status = 'success'"))
}

// TestDroppedViewIsRecorded: a view dropped after registration answers 404
// and the failure is in the history.
func TestDroppedViewIsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, _ := b.call(t, "POST", "/api/admin/matviews", map[string]any{"view": "no_index"}, true)
	require.Equal(t, 201, status)
	b.d.Exec(t, "drop materialized view public.no_index")
	status, body := b.call(t, "POST", "/api/admin/matviews/no_index/refresh", nil, true)
	require.Equal(t, 404, status, "%v", body)
	status, body = b.call(t, "GET", "/api/admin/matviews/no_index/refreshes", nil, true)
	require.Equal(t, 200, status)
	items := body["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, "error", items[0].(map[string]any)["status"])
	require.Contains(t, items[0].(map[string]any)["error"], "does not exist")
	status, body = b.call(t, "GET", "/api/admin/matviews/no_index", nil, true)
	require.Equal(t, 200, status)
	require.Equal(t, "error", body["last_status"])
}

// TestLongRefreshIgnoresStatementTimeout: with a 500 ms statement_timeout on
// the database (as a DBA might set for requests), a 1.5 s refresh still
// completes, through the API and through a job.
func TestLongRefreshIgnoresStatementTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.d.Exec(t, "alter database "+b.d.Name+" set statement_timeout = '500ms'")
	b.d.DB.Pool.Reset() // new connections pick up the setting
	var st string
	require.NoError(t, b.d.Pool.QueryRow(b.ctx, "show statement_timeout").Scan(&st))
	require.Equal(t, "500ms", st)
	_, err := b.d.Pool.Exec(b.ctx, "select pg_sleep(1)")
	require.Error(t, err, "the timeout applies to ordinary statements")

	status, body := b.call(t, "POST", "/api/admin/matviews", map[string]any{"view": "slow"}, true)
	require.Equal(t, 201, status, "%v", body)
	status, body = b.call(t, "POST", "/api/admin/matviews/slow/refresh", nil, true)
	require.Equal(t, 200, status, "%v", body)
	require.Greater(t, body["duration_ms"].(float64), 1400.0)

	reg := job.NewRegistry()
	matview.RegisterJob(reg, b.d.DB)
	_, err = job.Enqueue(b.ctx, b.d.Pool, []job.EnqueueParams{{Kind: matview.Kind, Args: json.RawMessage(`{"view":"public.slow"}`)}})
	require.NoError(t, err)
	w := job.NewWorker(b.d.DB, reg, job.Options{Lease: time.Second})
	require.NoError(t, w.Start(b.ctx))
	defer w.Stop(context.Background())
	deadline := time.Now().Add(20 * time.Second)
	for b.scalar(t, "select count(*) from ayb.jobs where state = 'completed'") == 0 {
		require.True(t, time.Now().Before(deadline), "refresh job did not complete")
		time.Sleep(100 * time.Millisecond)
	}
	require.EqualValues(t, 1, b.scalar(t, "select attempt from ayb.jobs"))
	require.EqualValues(t, 2, b.scalar(t, "select count(*) from ayb.matview_refreshes where status = 'success'"))
}

// TestRefreshOnChangeDebounced: 100 quick inserts into the source table
// (each its own transaction) lead to one or two refreshes, not 100, and
// the view then shows every row; each refresh is announced by NOTIFY.
func TestRefreshOnChangeDebounced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, body := b.call(t, "POST", "/api/admin/matviews", map[string]any{"view": "sales_by_region", "mode": "concurrent", "refresh_on_change": true, "debounce": "500ms"}, true)
	require.Equal(t, 201, status, "%v", body)
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from pg_trigger where tgname like 'ayb_matview_refresh_%' and tgrelid = 'public.sales'::regclass"))

	listener := b.d.Admin(t)
	_, err := listener.Exec(b.ctx, "listen "+matview.Channel)
	require.NoError(t, err)

	reg := job.NewRegistry()
	matview.RegisterJob(reg, b.d.DB)
	w := job.NewWorker(b.d.DB, reg, job.Options{PollInterval: 100 * time.Millisecond})
	require.NoError(t, w.Start(b.ctx))
	defer w.Stop(context.Background())

	for i := range 100 {
		_, err := b.d.Pool.Exec(b.ctx, "insert into public.sales (region, amount) values ($1, 1)", []string{"eu", "us", "apac"}[i%3])
		require.NoError(t, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for b.scalar(t, "select coalesce(sum(total), 0) from public.sales_by_region") != 130 {
		require.True(t, time.Now().Before(deadline), "the view never caught up")
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // let any second refresh land
	n := b.scalar(t, "select count(*) from ayb.matview_refreshes where status = 'success'")
	require.GreaterOrEqual(t, n, int64(1))
	require.LessOrEqual(t, n, int64(2))
	require.EqualValues(t, 0, b.scalar(t, "select count(*) from ayb.jobs where kind = 'matview.refresh' and state not in ('completed')"))

	nctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	note, err := listener.WaitForNotification(nctx)
	require.NoError(t, err)
	require.Equal(t, "public.sales_by_region", note.Payload)

	// Unregistering removes the triggers.
	status, _ = b.call(t, "DELETE", "/api/admin/matviews/sales_by_region", nil, true)
	require.Equal(t, 204, status)
	require.EqualValues(t, 0, b.scalar(t, "select count(*) from pg_trigger where tgname like 'ayb_matview_refresh_%'"))
}
