package rest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/dbtest"
)

const timeoutFixture = `
create table public.logged (id int primary key);
create function public.sleepy() returns trigger language plpgsql as
  $$ begin perform pg_sleep(3); return new; end $$;
create trigger sleepy before insert on public.logged for each row execute function public.sleepy();
create function public.slow(secs float8) returns int language sql stable as 'select 1 from pg_sleep(secs)';
create function public.slow_write(secs float8) returns int language sql as 'select 1 from pg_sleep(secs)';
create function public.current_timeout() returns text language sql stable as $$select current_setting('statement_timeout')$$;
grant execute on function public.slow(float8), public.slow_write(float8), public.current_timeout() to anon, authenticated, service_role;
`

// A request runs with its role's statement_timeout (ALTER ROLE ... SET),
// which SET ROLE alone would not apply: on reads (multiplexed), volatile
// RPC and writes alike; a slow request gets a 504 and writes nothing; the
// limit ends with the request; changing it reaches every instance on
// `notify ayb_schema`.
func TestRoleStatementTimeout(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	d.Exec(t, timeoutFixture)
	b := serve(t, d, []string{"public"})
	ctx := context.Background()
	// A second instance: its own pool, so its own copy of the settings.
	pool2, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: 4, Multiplex: 1})
	require.NoError(t, err)
	t.Cleanup(pool2.Close)
	b2 := serve(t, &dbtest.DB{Name: d.Name, AdminURL: d.AdminURL, URL: d.URL, DB: pool2}, []string{"public"})

	// The migration's defaults (Supabase's): anon 3 s, authenticated 8 s,
	// service_role none. The test cluster's roles are changed by no test.
	roleSetting := func(role string) string {
		var v string
		require.NoError(t, d.Admin(t).QueryRow(ctx, `select coalesce((select s from pg_db_role_setting x
			join pg_roles r on r.oid = x.setrole, unnest(x.setconfig) s
			where r.rolname = $1 and x.setdatabase = 0 and s like 'statement_timeout=%'), '')`, role).Scan(&v))
		return v
	}
	require.Equal(t, "statement_timeout=3s", roleSetting("anon"))
	require.Equal(t, "statement_timeout=8s", roleSetting("authenticated"))
	require.Equal(t, "", roleSetting("service_role"))

	// Scoped to this test's database, so parallel tests keep the defaults.
	var dbName string
	require.NoError(t, d.Admin(t).QueryRow(ctx, "select quote_ident(current_database())").Scan(&dbName))
	// Both instances reread the setting on the notify. A reload already
	// under way when the ALTER commits may finish first with the old value,
	// so wait for what requests actually run with.
	setTimeout := func(sql, want string) {
		d.Exec(t, "alter role authenticated in database "+dbName+" "+sql+"; notify ayb_schema")
		for _, b := range []*bundle{b, b2} {
			require.Eventually(t, func() bool {
				res := b.do(t, "GET", "/api/rpc/current_timeout", "", as(alice))
				return res.status == http.StatusOK && string(res.body) == `"`+want+`"`
			}, 5*time.Second, 20*time.Millisecond, "requests run with statement_timeout %s", want)
		}
	}
	setTimeout("set statement_timeout = '500ms'", "500ms")

	timedOut := func(b *bundle, method, path, body string) {
		t.Helper()
		start := time.Now()
		res := b.do(t, method, path, body, as(alice))
		require.Equal(t, http.StatusGatewayTimeout, res.status, string(res.body))
		m := res.json(t)
		require.Equal(t, "timeout", m["code"])
		require.Contains(t, m["message"], "statement_timeout")
		require.Contains(t, m["hint"], "alter role")
		require.Less(t, time.Since(start), 2*time.Second, "cancelled at the role's 500ms, not after the 3s sleep")
	}
	timedOut(b, "GET", "/api/rpc/slow?secs=3", "")              // a read: multiplexed
	timedOut(b, "POST", "/api/rpc/slow_write", `{"secs": 3}`)   // volatile RPC: pool
	timedOut(b, "POST", "/api/collections/logged", `{"id": 1}`) // a write (InTx), slowed by its trigger
	timedOut(b2, "GET", "/api/rpc/slow?secs=3", "")             // the other instance read it too
	var n int
	require.NoError(t, d.Admin(t).QueryRow(ctx, "select count(*) from public.logged").Scan(&n))
	require.Zero(t, n, "the timed-out insert left no row")

	// Under the limit, the same calls answer; service_role has no limit.
	res := b.do(t, "GET", "/api/rpc/slow?secs=0.05", "", as(alice))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	res = b.do(t, "GET", "/api/rpc/slow?secs=0.6", "", service)
	require.Equal(t, http.StatusOK, res.status, string(res.body))

	// The limit lasted only for its requests: the server's own connections
	// (pool and multiplexed) are back at the session's setting.
	for range 20 {
		var v string
		require.NoError(t, d.DB.Pool.QueryRow(ctx, "show statement_timeout").Scan(&v))
		require.Equal(t, "0", v)
	}

	// Back to the role-wide 8 s once this database's setting is reset.
	setTimeout("reset statement_timeout", "8s")
	res = b.do(t, "GET", "/api/rpc/slow?secs=0.3", "", as(alice))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	res = b.do(t, "POST", "/api/collections/logged", `{"id": 2}`, as(alice))
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	res = b2.do(t, "GET", "/api/rpc/slow?secs=0.3", "", as(alice))
	require.Equal(t, http.StatusOK, res.status, string(res.body))
}
