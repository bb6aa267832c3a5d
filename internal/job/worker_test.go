package job_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/job"
)

func TestMain(m *testing.M) {
	if os.Getenv("AYB_JOB_HELPER_URL") != "" {
		os.Exit(helperProcess())
	}
	dbtest.Main(m)
}

type bundle struct {
	d   *dbtest.DB
	ctx context.Context
}

func setup(t *testing.T) bundle {
	t.Helper()
	d := dbtest.New(t)
	d.Exec(t, `create table public.job_runs (job_id bigint not null, attempt int not null, worker text not null, at timestamptz not null default clock_timestamp());
		grant all on public.job_runs to public;`)
	return bundle{d: d, ctx: context.Background()}
}

func (b bundle) scalar(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, b.d.Pool.QueryRow(b.ctx, sql, args...).Scan(&n))
	return n
}

func (b bundle) enqueue(t *testing.T, params ...job.EnqueueParams) []int64 {
	t.Helper()
	res, err := job.Enqueue(b.ctx, b.d.Pool, params)
	require.NoError(t, err)
	ids := make([]int64, len(res))
	for i, r := range res {
		ids[i] = r.ID
	}
	return ids
}

// recordRun is a handler that writes one row per run into job_runs.
func recordRun(pool *db.DB, worker string) job.Handler {
	return func(ctx context.Context, j *job.Job) error {
		_, err := pool.Pool.Exec(ctx, "insert into public.job_runs (job_id, attempt, worker) values ($1, $2, $3)", j.ID, j.Attempt, worker)
		return err
	}
}

func startWorker(t *testing.T, d *db.DB, reg *job.Registry, opt job.Options) *job.Worker {
	t.Helper()
	w := job.NewWorker(d, reg, opt)
	require.NoError(t, w.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Stop(ctx)
	})
	return w
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTenThousandJobsTwoInstances: two worker sets, each with its own pool
// (as two server instances would have), work 10,000 jobs; the handler
// counts every run in a side table: each job ran and completed exactly
// once, and none is left running.
func TestTenThousandJobsTwoInstances(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 10000
	var params []job.EnqueueParams
	for i := range n {
		params = append(params, job.EnqueueParams{Kind: "count", Args: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
	}
	for i := 0; i < n; i += 2500 {
		b.enqueue(t, params[i:i+2500]...)
	}
	var done atomic.Int64
	for k := range 2 {
		pool, err := db.Open(b.ctx, b.d.URL, db.PoolOptions{MaxConns: 6})
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		reg := job.NewRegistry()
		name := fmt.Sprintf("instance-%d", k)
		reg.Handle("count", recordRun(pool, name), job.KindOptions{})
		startWorker(t, pool, reg, job.Options{ID: name, Queues: map[string]int{"default": 40},
			OnFinalized: func(rs []job.Result) {
				for _, r := range rs {
					if r.State == "completed" {
						done.Add(1)
					}
				}
			}})
	}
	waitFor(t, 2*time.Minute, "10,000 completions", func() bool { return done.Load() >= n })
	require.EqualValues(t, n, b.scalar(t, "select count(*) from public.job_runs"))
	require.EqualValues(t, n, b.scalar(t, "select count(distinct job_id) from public.job_runs"))
	require.EqualValues(t, n, b.scalar(t, "select count(*) from ayb.jobs where state = 'completed' and attempt = 1"))
	require.EqualValues(t, 0, b.scalar(t, "select count(*) from ayb.jobs where state <> 'completed'"))
	// Both instances took part.
	require.EqualValues(t, 2, b.scalar(t, "select count(distinct worker) from public.job_runs"))
}

// helperProcess is the worker process that gets kill -9'd: it works one
// queue with a 1 s lease; its handler records the run and then hangs.
func helperProcess() int {
	ctx := context.Background()
	pool, err := db.Open(ctx, os.Getenv("AYB_JOB_HELPER_URL"), db.PoolOptions{MaxConns: 4})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	reg := job.NewRegistry()
	reg.Handle("hang", func(ctx context.Context, j *job.Job) error {
		if _, err := pool.Pool.Exec(ctx, "insert into public.job_runs (job_id, attempt, worker) values ($1, $2, 'victim')", j.ID, j.Attempt); err != nil {
			return err
		}
		select {} // until SIGKILL
	}, job.KindOptions{})
	w := job.NewWorker(pool, reg, job.Options{ID: "victim", Queues: map[string]int{"kill": 1}, Lease: time.Second})
	if err := w.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	select {}
}

// TestKilledWorkerJobRunsAgain: a worker process is SIGKILLed in the middle
// of a job. After its lease expires the job is rescued and run again by
// another worker, and the dead worker's late completion (its stale
// attempt) is refused.
func TestKilledWorkerJobRunsAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.enqueue(t, job.EnqueueParams{Kind: "hang", Queue: "kill"})[0]

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AYB_JOB_HELPER_URL="+b.d.URL)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	waitFor(t, 30*time.Second, "the victim to start the job", func() bool {
		return b.scalar(t, "select count(*) from public.job_runs where worker = 'victim'") == 1
	})
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.EqualValues(t, 1, b.scalar(t, "select attempt from ayb.jobs where id = $1 and state = 'running'", id))

	reg := job.NewRegistry()
	reg.Handle("hang", recordRun(b.d.DB, "survivor"), job.KindOptions{})
	startWorker(t, b.d.DB, reg, job.Options{ID: "survivor", Queues: map[string]int{"kill": 1}, Lease: time.Second,
		PollInterval: 100 * time.Millisecond, RescueInterval: 200 * time.Millisecond})
	waitFor(t, 30*time.Second, "the job to complete on the survivor", func() bool {
		return b.scalar(t, "select count(*) from ayb.jobs where id = $1 and state = 'completed'", id) == 1
	})
	require.EqualValues(t, 2, b.scalar(t, "select attempt from ayb.jobs where id = $1", id))
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from public.job_runs where worker = 'survivor' and attempt = 2"))
	require.Contains(t, fmt.Sprint(b.scalar(t, "select jsonb_array_length(errors) from ayb.jobs where id = $1", id)), "1")

	// The victim's completion, arriving late with attempt 1, is refused.
	rows, err := b.d.Pool.Query(b.ctx, "select ayb.job_complete(array[$1::bigint], array[1])", id)
	require.NoError(t, err)
	refused, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Empty(t, refused)
	rows, err = b.d.Pool.Query(b.ctx, "select id from ayb.job_fail(array[$1::bigint], array[1], array['late'])", id)
	require.NoError(t, err)
	refused, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Empty(t, refused)
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.jobs where id = $1 and state = 'completed' and attempt = 2", id))
}

// TestLongJobKeepsLease: a job running far past its lease (scaled: a 1.5 s
// lease and a 6 s job, i.e. 4 leases, standing in for a 3-minute job with
// the default 30 s lease) completes on its first attempt because its
// heartbeats renew the lease, while a second worker rescues aggressively.
func TestLongJobKeepsLease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.enqueue(t, job.EnqueueParams{Kind: "long", Queue: "long"})[0]
	reg := job.NewRegistry()
	reg.Handle("long", func(ctx context.Context, j *job.Job) error {
		select {
		case <-time.After(6 * time.Second):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		return recordRun(b.d.DB, "long")(ctx, j)
	}, job.KindOptions{})
	startWorker(t, b.d.DB, reg, job.Options{Queues: map[string]int{"long": 1}, Lease: 1500 * time.Millisecond})
	// A rescuer-only worker on another queue, rescuing every 100 ms.
	startWorker(t, b.d.DB, job.NewRegistry(), job.Options{Queues: map[string]int{"other": 1}, Lease: 1500 * time.Millisecond, RescueInterval: 100 * time.Millisecond})
	waitFor(t, 30*time.Second, "the long job to complete", func() bool {
		return b.scalar(t, "select count(*) from ayb.jobs where id = $1 and state = 'completed'", id) == 1
	})
	require.EqualValues(t, 1, b.scalar(t, "select attempt from ayb.jobs where id = $1", id))
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from public.job_runs"))
}

func TestFailRetryDiscardPanicTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := job.NewRegistry()
	reg.Handle("fails", func(ctx context.Context, j *job.Job) error { return errors.New("boom") }, job.KindOptions{})
	reg.Handle("panics", func(ctx context.Context, j *job.Job) error { panic("kaboom") }, job.KindOptions{})
	reg.Handle("discards", func(ctx context.Context, j *job.Job) error { return job.Discard(errors.New("bad args")) }, job.KindOptions{})
	reg.Handle("slow", func(ctx context.Context, j *job.Job) error { <-ctx.Done(); return ctx.Err() }, job.KindOptions{Timeout: 200 * time.Millisecond})
	ids := b.enqueue(t,
		job.EnqueueParams{Kind: "fails", MaxAttempts: 1},
		job.EnqueueParams{Kind: "panics", MaxAttempts: 1},
		job.EnqueueParams{Kind: "discards", MaxAttempts: 5},
		job.EnqueueParams{Kind: "slow", MaxAttempts: 1},
		job.EnqueueParams{Kind: "fails", MaxAttempts: 3},
		job.EnqueueParams{Kind: "unknown-kind", MaxAttempts: 1},
	)
	startWorker(t, b.d.DB, reg, job.Options{Queues: map[string]int{"default": 4}})
	waitFor(t, 20*time.Second, "all but the retried job to be discarded", func() bool {
		return b.scalar(t, "select count(*) from ayb.jobs where state = 'discarded'") == 5
	})
	errOf := func(id int64) string {
		var s string
		require.NoError(t, b.d.Pool.QueryRow(b.ctx, "select errors->-1->>'error' from ayb.jobs where id = $1", id).Scan(&s))
		return s
	}
	require.Equal(t, "boom", errOf(ids[0]))
	require.Contains(t, errOf(ids[1]), "panic: kaboom")
	require.Equal(t, "bad args", errOf(ids[2]))
	require.Contains(t, errOf(ids[3]), "timed out after 200ms")
	require.Contains(t, errOf(ids[5]), "no handler registered")
	// The 3-attempt job is retryable with a backoff in the future.
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.jobs where id = $1 and state = 'retryable' and scheduled_at > now() and attempt = 1", ids[4]))
}

// TestCancelRunningJob: cancelling a running job cancels its handler's
// context through NOTIFY, and the job stays cancelled.
func TestCancelRunningJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := make(chan struct{}, 1)
	var cause atomic.Value
	reg := job.NewRegistry()
	reg.Handle("wait", func(ctx context.Context, j *job.Job) error {
		started <- struct{}{}
		<-ctx.Done()
		cause.Store(context.Cause(ctx))
		return ctx.Err()
	}, job.KindOptions{})
	id := b.enqueue(t, job.EnqueueParams{Kind: "wait"})[0]
	startWorker(t, b.d.DB, reg, job.Options{})
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("job did not start")
	}
	_, err := b.d.Pool.Exec(b.ctx, "select ayb.job_cancel($1)", id)
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "the handler to see the cancel", func() bool { return cause.Load() != nil })
	require.ErrorIs(t, cause.Load().(error), job.ErrCancelled)
	time.Sleep(200 * time.Millisecond)
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.jobs where id = $1 and state = 'cancelled'", id))
}

// TestGracefulShutdown: a job that finishes within the grace period
// completes; one that does not is cancelled and given back to the queue.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := job.NewRegistry()
	var startedN atomic.Int32
	reg.Handle("quick", func(ctx context.Context, j *job.Job) error {
		startedN.Add(1)
		time.Sleep(300 * time.Millisecond)
		return nil
	}, job.KindOptions{})
	reg.Handle("stuck", func(ctx context.Context, j *job.Job) error {
		startedN.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}, job.KindOptions{})
	ids := b.enqueue(t, job.EnqueueParams{Kind: "quick"}, job.EnqueueParams{Kind: "stuck"})
	w := job.NewWorker(b.d.DB, reg, job.Options{Queues: map[string]int{"default": 2}})
	require.NoError(t, w.Start(b.ctx))
	waitFor(t, 10*time.Second, "both jobs to start", func() bool { return startedN.Load() == 2 })
	ctx, cancel := context.WithTimeout(b.ctx, time.Second)
	defer cancel()
	require.NoError(t, w.Stop(ctx))
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.jobs where id = $1 and state = 'completed'", ids[0]))
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.jobs where id = $1 and state = 'available' and attempt = 1", ids[1]))
}

// TestTransactionalAndTriggerEnqueue: a rolled-back enqueue never runs; a
// trigger can enqueue.
func TestTransactionalAndTriggerEnqueue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.d.Exec(t, `create table public.orders (id int primary key);
		create function public.orders_enqueue() returns trigger language plpgsql security definer set search_path = '' as $$
		begin perform ayb.job_enqueue('count', jsonb_build_object('order', new.id)); return new; end $$;
		create trigger orders_enqueue after insert on public.orders for each row execute function public.orders_enqueue();`)
	tx, err := b.d.Pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = job.Enqueue(b.ctx, tx, []job.EnqueueParams{{Kind: "count", Args: json.RawMessage(`{"rolled":"back"}`)}})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(b.ctx))
	// The insert runs as an API role; the trigger enqueues.
	err = b.d.InTx(b.ctx, identityService(), func(tx pgx.Tx) error {
		_, err := tx.Exec(b.ctx, "insert into public.orders values (7)")
		return err
	})
	require.NoError(t, err)
	var ran sync.Map
	reg := job.NewRegistry()
	reg.Handle("count", func(ctx context.Context, j *job.Job) error { ran.Store(string(j.Args), true); return nil }, job.KindOptions{})
	startWorker(t, b.d.DB, reg, job.Options{PollInterval: 100 * time.Millisecond})
	waitFor(t, 10*time.Second, "the trigger's job", func() bool { _, ok := ran.Load(`{"order": 7}`); return ok })
	time.Sleep(300 * time.Millisecond)
	_, ok := ran.Load(`{"rolled": "back"}`)
	require.False(t, ok)
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.jobs"))
}

func TestUniqueKeyAndSQLKind(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.enqueue(t,
		job.EnqueueParams{Kind: "x", UniqueKey: "k1", Delay: "1h"},
		job.EnqueueParams{Kind: "x", UniqueKey: "k1"},
	)
	require.Equal(t, ids[0], ids[1], "duplicate returns the existing id")
	b.d.Exec(t, `create function public.add_run(a jsonb) returns void language sql as $$
		insert into public.job_runs (job_id, attempt, worker) values ((a->>'n')::bigint, 1, current_user) $$;`)
	reg := job.NewRegistry()
	job.RegisterBuiltins(reg, b.d.DB)
	b.enqueue(t, job.EnqueueParams{Kind: "sql", Args: json.RawMessage(`{"function":"public.add_run","args":{"n":42}}`)})
	startWorker(t, b.d.DB, reg, job.Options{})
	waitFor(t, 10*time.Second, "the sql job", func() bool {
		return b.scalar(t, "select count(*) from public.job_runs where job_id = 42") == 1
	})
	var who string
	require.NoError(t, b.d.Pool.QueryRow(b.ctx, "select worker from public.job_runs where job_id = 42").Scan(&who))
	require.Equal(t, "service_role", who, "sql jobs run as service_role")
}

func identityService() identity.Identity {
	return identity.Identity{Role: identity.RoleServiceRole, Claims: map[string]any{"role": "service_role"}, Kind: "admin"}
}

// TestHousekeepingHook: the housekeeping job prunes old finalized jobs and
// runs whatever other areas registered in ayb.housekeeping.
func TestHousekeepingHook(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.d.Exec(t, `
		create table public.sessions (id int, expires_at timestamptz);
		insert into public.sessions values (1, now() - interval '1 day'), (2, now() + interval '1 day');
		create function public.prune_sessions(p_now timestamptz, p_args jsonb) returns bigint language sql as $$
		  with d as (delete from public.sessions where expires_at < p_now returning 1) select count(*) from d $$;
		insert into ayb.housekeeping (name, function) values ('test.sessions', 'public.prune_sessions(timestamptz, jsonb)');
		insert into ayb.jobs (kind, state, finalized_at) values
		  ('old', 'completed', now() - interval '2 days'), ('new', 'completed', now()),
		  ('old-failed', 'discarded', now() - interval '2 days');`)
	reg := job.NewRegistry()
	job.RegisterBuiltins(reg, b.d.DB)
	_, err := b.d.Pool.Exec(b.ctx, "select ayb.schedule_run_now('ayb.housekeeping')")
	require.NoError(t, err)
	startWorker(t, b.d.DB, reg, job.Options{})
	waitFor(t, 10*time.Second, "housekeeping to run", func() bool {
		return b.scalar(t, "select count(*) from ayb.jobs where kind = 'housekeeping' and state = 'completed'") == 1
	})
	require.EqualValues(t, 0, b.scalar(t, "select count(*) from ayb.jobs where kind = 'old'"))
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.jobs where kind = 'new'"))
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.jobs where kind = 'old-failed'"), "failed jobs are kept 7 days")
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from public.sessions"))
}
