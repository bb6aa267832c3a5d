package db_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/identity"
)

// setupOwners gives n users one row each in public.owned, readable by its
// owner only.
func setupOwners(t *testing.T, n int) (*dbtest.DB, []string) {
	t.Helper()
	d := dbtest.New(t)
	d.Exec(t, `
		create table public.owned (id int primary key, owner uuid not null);
		alter table public.owned enable row level security;
		create policy own on public.owned using (owner = auth.uid());
		grant select, delete on public.owned to authenticated;`)
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("00000000-0000-0000-0000-%012d", i+1)
		d.Exec(t, fmt.Sprintf(`insert into public.owned values (%d, '%s')`, i+1, users[i]))
	}
	return d, users
}

// concurrently runs step(g, i) for i < n in each of goroutines goroutines
// and fails the test with the first error any of them returns.
func concurrently(t *testing.T, goroutines, n int, step func(g, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := step(g, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// Many goroutines read as many users at once: every request sees its own
// identity and row and nothing of the requests it shared a batch with.
func TestReadMultiplexesIdentitiesWithoutMixingThem(t *testing.T) {
	t.Parallel()
	d, users := setupOwners(t, 20)
	ctx := context.Background()
	before := d.MultiplexStats()
	concurrently(t, 16, 150, func(_, _ int) error {
		u := rand.IntN(len(users))
		var uid, ro, ids string
		var n int
		who := &db.Query{SQL: "select auth.uid()::text, current_setting('transaction_read_only')", Dest: []any{&uid, &ro}}
		rows := &db.Query{SQL: "select string_agg(id::text, ','), count(*)::int from public.owned where id > $1", Args: []any{0}, Dest: []any{&ids, &n}}
		if err := d.Read(ctx, user(users[u]), who, rows); err != nil {
			return err
		}
		if uid != users[u] || ro != "on" || n != 1 || ids != fmt.Sprint(u+1) {
			return fmt.Errorf("user %d read uid %s, read_only %s, rows %q (%d)", u+1, uid, ro, ids, n)
		}
		return nil
	})
	s := d.MultiplexStats()
	requests, batches := s.Requests-before.Requests, s.Batches-before.Batches
	require.Positive(t, requests, "reads ran on the multiplexing connections")
	require.Less(t, batches, requests, "some batches carried more than one request")
	t.Logf("%d requests in %d batches, %d on the pool", requests, batches, s.ToPool-before.ToPool)
}

// Reads of anon, authenticated and service_role sharing the multiplexing
// connections each run as their own role, with their own claims and their
// own role's statement_timeout (service_role, which has none, the
// session's): none inherits a setting from the read before it.
func TestReadBatchedRolesKeepTheirOwnSettings(t *testing.T) {
	t.Parallel()
	d, users := setupOwners(t, 3)
	ctx := context.Background()
	timeouts, err := db.RoleStatementTimeouts(ctx, d.Pool)
	require.NoError(t, err)
	var base string
	require.NoError(t, d.Pool.QueryRow(ctx, "show statement_timeout").Scan(&base))
	want := func(role string) string {
		if t, ok := timeouts[role]; ok && t != "" {
			return t
		}
		return base
	}
	require.NotEqual(t, want(identity.RoleAnon), want(identity.RoleServiceRole), "the roles' timeouts differ (migration 024)")
	service := identity.Identity{Role: identity.RoleServiceRole, Claims: map[string]any{"role": identity.RoleServiceRole}, Kind: "service"}
	before := d.MultiplexStats()
	concurrently(t, 16, 100, func(g, i int) error {
		var id identity.Identity
		switch (g + i) % 3 {
		case 0:
			id = identity.Anon()
		case 1:
			id = user(users[(g+i)%len(users)])
		default:
			id = service
		}
		var who, claimRole, sub, timeout string
		q := &db.Query{SQL: `select current_user::text, coalesce(auth.jwt()->>'role', ''), coalesce(auth.uid()::text, ''),
			current_setting('statement_timeout')`, Dest: []any{&who, &claimRole, &sub, &timeout}}
		if err := d.Read(ctx, id, q); err != nil {
			return err
		}
		wantSub, _ := id.Claims["sub"].(string)
		if who != id.Role || claimRole != id.Role || sub != wantSub || timeout != want(id.Role) {
			return fmt.Errorf("%s read as %s (claims role %q, sub %q) with statement_timeout %s, want %s", id.Role, who, claimRole, sub, timeout, want(id.Role))
		}
		return nil
	})
	// They ran one after another on the two multiplexing connections (in
	// batches when they arrived together), each after reads of other roles.
	require.Greater(t, d.MultiplexStats().Requests-before.Requests, int64(100), "the reads ran on the multiplexing connections")
}

// A request that fails, whether its query, its session check or the scan
// of its result, fails alone: the requests batched with it answer as if it
// were not there.
func TestReadErrorsStayInTheirOwnRequest(t *testing.T) {
	t.Parallel()
	d, users := setupOwners(t, 4)
	ctx := context.Background()
	before := d.MultiplexStats()
	ended := user(users[0])
	ended.Session = &identity.SessionCheck{ID: "00000000-0000-0000-0000-0000000000ff", UserID: users[0], At: time.Now()}
	concurrently(t, 12, 100, func(g, i int) error {
		var id int
		switch (g + i) % 4 {
		case 0:
			err := d.Read(ctx, user(users[1]), &db.Query{SQL: "select 1/(id - id) from public.owned", Dest: []any{&id}})
			if apierror.As(err).Status != 400 {
				return fmt.Errorf("division by zero gave %v", err)
			}
		case 1:
			err := d.Read(ctx, ended, &db.Query{SQL: "select id from public.owned", Dest: []any{&id}})
			if apierror.As(err).Code != apierror.CodeInvalidToken {
				return fmt.Errorf("an ended session gave %v", err)
			}
		case 2:
			var s string
			q := &db.Query{SQL: "select 'not a number'", Dest: []any{&id}}
			err := d.Read(ctx, user(users[1]), q, &db.Query{SQL: "select 'x'", Dest: []any{&s}})
			if apierror.As(err).Status != 500 {
				return fmt.Errorf("a scan into the wrong type gave %v", err)
			}
		default:
			q := &db.Query{SQL: "select id from public.owned", Dest: []any{&id}}
			if err := d.Read(ctx, user(users[2]), q); err != nil || !q.Found || id != 3 {
				return fmt.Errorf("a good read gave %v, found %v, id %d", err, q.Found, id)
			}
		}
		return nil
	})
	require.Equal(t, before.Lost, d.MultiplexStats().Lost, "no error took a connection down")
}

// Reads run read only: a write through Read fails and changes nothing.
func TestReadRefusesWrites(t *testing.T) {
	t.Parallel()
	d, users := setupOwners(t, 1)
	err := d.Read(context.Background(), user(users[0]), &db.Query{SQL: "delete from public.owned"})
	require.Error(t, err)
	var n int
	require.NoError(t, d.Read(context.Background(), user(users[0]), &db.Query{SQL: "select count(*) from public.owned", Dest: []any{&n}}))
	require.Equal(t, 1, n)
}

// runningSleeps counts the backends of d's database inside pg_sleep.
func runningSleeps(t *testing.T, d *dbtest.DB) int {
	var n int
	require.NoError(t, d.Pool.QueryRow(context.Background(),
		`select count(*) from pg_stat_activity where datname = current_database() and query like '%pg_sleep%' and state = 'active' and pid <> pg_backend_pid()`).Scan(&n))
	return n
}

// stallBoth puts a slow read on each multiplexing connection (one at a
// time, so each loop takes one) and returns when both are running.
func stallBoth(t *testing.T, d *dbtest.DB, u string, secs float64) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for i := 1; i <= 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s string
			_ = d.Read(context.Background(), user(u), &db.Query{SQL: fmt.Sprintf("select 'slow' from pg_sleep(%g)", secs), Dest: []any{&s}})
		}()
		require.Eventually(t, func() bool { return runningSleeps(t, d) == i }, 5*time.Second, 5*time.Millisecond)
	}
	return &wg
}

// With a slow query on each multiplexing connection, other reads do not
// wait for them: they run on the pool.
func TestSlowReadsDoNotHoldUpOthers(t *testing.T) {
	t.Parallel()
	d, users := setupOwners(t, 2)
	ctx := context.Background()
	slow := stallBoth(t, d, users[0], 6)
	before := d.MultiplexStats()
	start := time.Now()
	for i := 0; i < 20; i++ {
		var id int
		q := &db.Query{SQL: "select id from public.owned", Dest: []any{&id}}
		require.NoError(t, d.Read(ctx, user(users[1]), q))
		require.Equal(t, 2, id)
	}
	took := time.Since(start)
	require.Less(t, took, 3*time.Second, "the reads waited for the slow ones")
	require.Equal(t, 2, runningSleeps(t, d), "the slow reads were still running")
	require.GreaterOrEqual(t, d.MultiplexStats().ToPool-before.ToPool, int64(20))
	slow.Wait()
}

// A request whose context ends while it waits in the queue returns at
// once; the connection that later takes it from the queue skips it.
func TestReadCancelledWhileQueued(t *testing.T) {
	t.Parallel()
	d, users := setupOwners(t, 1)
	db.SetMultiplexLimits(d.DB, 256, time.Hour) // never hand waiting reads to the pool
	slow := stallBoth(t, d, users[0], 3)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var id int
	start := time.Now()
	err := d.Read(ctx, user(users[0]), &db.Query{SQL: "select id from public.owned", Dest: []any{&id}})
	require.Error(t, err)
	require.Less(t, time.Since(start), 500*time.Millisecond)
	slow.Wait()
	q := &db.Query{SQL: "select id from public.owned", Dest: []any{&id}}
	require.NoError(t, d.Read(context.Background(), user(users[0]), q))
	require.True(t, q.Found)
}

// A multiplexing connection that dies (here its backend is terminated)
// costs no request an error: the unanswered ones run again on the pool and
// the loop connects again.
func TestReadSurvivesALostConnection(t *testing.T) {
	t.Parallel()
	d, users := setupOwners(t, 1)
	ctx := context.Background()
	pid := func() int {
		var p int
		require.NoError(t, d.Read(ctx, user(users[0]), &db.Query{SQL: "select pg_backend_pid()", Dest: []any{&p}}))
		return p
	}
	before := d.MultiplexStats()
	old := pid()
	require.Equal(t, before.Requests+1, d.MultiplexStats().Requests, "the read ran on a multiplexing connection")
	admin := d.Admin(t)
	_, err := admin.Exec(ctx, "select pg_terminate_backend($1)", old)
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		var id int
		q := &db.Query{SQL: "select id from public.owned", Dest: []any{&id}}
		require.NoError(t, d.Read(ctx, user(users[0]), q))
		require.True(t, q.Found)
	}
	require.Equal(t, before.Lost+1, d.MultiplexStats().Lost)
	require.Eventually(t, func() bool { p := pid(); return p != old && d.MultiplexStats().Requests > before.Requests+1 }, 5*time.Second, 10*time.Millisecond)
}

// Each connection keeps at most its cap of prepared statements, evicting
// the least recently used, and the evicted ones prepare again when used.
func TestReadStatementCap(t *testing.T) {
	t.Parallel()
	d, users := setupOwners(t, 1)
	db.SetMultiplexLimits(d.DB, 4, 5*time.Millisecond)
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		for k := 0; k < 10; k++ {
			var got int
			q := &db.Query{SQL: fmt.Sprintf("select id + %d from public.owned", k), Dest: []any{&got}}
			require.NoError(t, d.Read(ctx, user(users[0]), q))
			require.Equal(t, 1+k, got)
		}
	}
	var n int
	require.NoError(t, d.Read(ctx, user(users[0]), &db.Query{SQL: "select count(*)::int from pg_prepared_statements", Dest: []any{&n}}))
	require.LessOrEqual(t, n, 4)
	require.Positive(t, n)
}

// A read that would wait for a lock (here an open ACCESS EXCLUSIVE lock, as
// an ALTER TABLE or a non-concurrent matview refresh takes) gives up its
// multiplexing connection after lock_timeout, at prepare or at run time,
// and waits on the pool, so the reads batched behind it do not wait with
// it; it answers once the lock goes.
func TestReadWaitingForALockHoldsUpNoOne(t *testing.T) {
	t.Parallel()
	d, users := setupOwners(t, 1)
	ctx := context.Background()
	// Prepared already on some connections (the lock is met at run time),
	// perhaps not on others (met at prepare time): both give way.
	var warm sync.WaitGroup
	for i := 0; i < 8; i++ {
		warm.Add(1)
		go func() {
			defer warm.Done()
			var id int
			_ = d.Read(ctx, user(users[0]), &db.Query{SQL: "select id from public.owned", Dest: []any{&id}})
		}()
	}
	warm.Wait()
	admin := d.Admin(t)
	tx, err := admin.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "lock table public.owned in access exclusive mode")
	require.NoError(t, err)
	before := d.MultiplexStats()
	blocked := make(chan error, 1)
	var id int
	go func() {
		q := &db.Query{SQL: "select id from public.owned", Dest: []any{&id}}
		err := d.Read(ctx, user(users[0]), q)
		if err == nil && !q.Found {
			err = errors.New("no row")
		}
		blocked <- err
	}()
	start := time.Now()
	for i := 0; i < 50; i++ {
		var s string
		require.NoError(t, d.Read(ctx, user(users[0]), &db.Query{SQL: "select 'free'", Dest: []any{&s}}))
	}
	require.Less(t, time.Since(start), 2*time.Second)
	select {
	case err := <-blocked:
		t.Fatalf("the read answered while the lock was held: %v", err)
	default:
	}
	require.Eventually(t, func() bool { return d.MultiplexStats().ToPool > before.ToPool }, 5*time.Second, 5*time.Millisecond,
		"the blocked read went to the pool")
	require.NoError(t, tx.Commit(ctx))
	select {
	case err := <-blocked:
		require.NoError(t, err)
		require.Equal(t, 1, id)
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not answer after the lock went")
	}
}

// A statement whose result type a schema change altered ("cached plan must
// not change result type") is prepared again: the read that met the stale
// plan runs again on the pool, so none fails, and the old statement is
// deallocated.
func TestReadPreparesAgainAfterAResultTypeChange(t *testing.T) {
	t.Parallel()
	d, users := setupOwners(t, 1)
	db.SetMultiplexLimits(d.DB, 256, time.Hour)
	ctx := context.Background()
	var id int
	var owner string
	q := func(dest ...any) error {
		return d.Read(ctx, user(users[0]), &db.Query{SQL: "select * from public.owned", Dest: dest})
	}
	for i := 0; i < 20; i++ { // prepared on both connections
		require.NoError(t, q(&id, &owner))
	}
	d.Exec(t, "alter table public.owned add column note text default 'n'")
	var note string
	failed := 0
	for i := 0; i < 20; i++ {
		if err := q(&id, &owner, &note); err != nil {
			failed++
			continue
		}
		require.Equal(t, "n", note)
	}
	require.Zero(t, failed, "the read whose plan no longer fit ran again on the pool")
	require.NotZero(t, d.MultiplexStats().ToPool, "it went to the pool")
	var n int
	for i := 0; i < 10; i++ {
		require.NoError(t, d.Read(ctx, user(users[0]), &db.Query{SQL: "select count(*)::int from pg_prepared_statements where statement = 'select * from public.owned'", Dest: []any{&n}}))
		require.LessOrEqual(t, n, 1, "the stale statement was deallocated")
	}
}

// With multiplexing off, Read takes a pool connection, still read only.
func TestReadWithoutMultiplexing(t *testing.T) {
	t.Parallel()
	d, users := setupOwners(t, 1)
	ctx := context.Background()
	plain, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: 2})
	require.NoError(t, err)
	defer plain.Close()
	var id int
	var ro string
	q := &db.Query{SQL: "select id, current_setting('transaction_read_only') from public.owned", Dest: []any{&id, &ro}}
	require.NoError(t, plain.Read(ctx, user(users[0]), q))
	require.True(t, q.Found)
	require.Equal(t, "on", ro)
	require.Error(t, plain.Read(ctx, user(users[0]), &db.Query{SQL: "delete from public.owned"}))
	require.Equal(t, db.MultiplexStats{}, plain.MultiplexStats())
}
