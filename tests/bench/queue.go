package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/job"
)

var (
	queueJobs    = flag.Int("queue-jobs", 200000, "queue: jobs to insert and work per run")
	queueRounds  = flag.Int("queue-rounds", 3, "queue: alternating AYB/River rounds")
	queueSamples = flag.Int("queue-latency", 1000, "queue: sequential enqueue->start samples per system")
	queueWorkers = flag.Int("queue-workers", 1000, "queue: AYB worker concurrency (River uses MaxWorkers 2000, as riverbench)")
)

func init() {
	register(&Bench{
		Name:    "queue",
		Summary: "job queue: insert and burn down N no-op jobs, enqueue->start latency; AYB vs River v0.51.2 on one database, alternating",
		Run:     benchQueue,
	})
}

const batchSize = 5000

// conns is the pool size of both systems' clients.
const conns = 10

type runResult struct {
	insert, work float64 // jobs/s
}

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	started chan time.Time
}

func (w *noopWorker) Work(ctx context.Context, j *river.Job[noopArgs]) error {
	if w.started != nil {
		w.started <- time.Now()
	}
	return nil
}

// benchQueue follows riverbench's burn-down mode (perf.md §1.3): TRUNCATE +
// VACUUM FULL, insert N jobs in 5k batches, then start the workers and time
// from Start to the last completion counted after it committed (River:
// its event subscription; AYB: the worker's OnFinalized callback, called
// after the completion statement returned).
func benchQueue(ctx context.Context, env *Env) error {
	d, err := env.NewDatabase(ctx)
	if err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, d.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "create schema river"); err != nil {
		return err
	}
	rpool, err := newPool(ctx, d.AdminURL)
	if err != nil {
		return err
	}
	defer rpool.Close()
	mig, err := rivermigrate.New(riverpgxv5.New(rpool), &rivermigrate.Config{Schema: "river", Logger: quietLog()})
	if err != nil {
		return err
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	apool, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: conns})
	if err != nil {
		return err
	}
	defer apool.Close()
	n := *queueJobs
	fmt.Printf("   %d jobs per run, %d rounds (AYB then River), pools of %d connections\n", n, *queueRounds, conns)

	var ayb, riv []runResult
	for r := 1; r <= *queueRounds; r++ {
		a, err := aybRun(ctx, admin, apool, n)
		if err != nil {
			return fmt.Errorf("ayb run: %w", err)
		}
		fmt.Printf("   round %d AYB:   insert %8.0f jobs/s   work %8.0f jobs/s\n", r, a.insert, a.work)
		ayb = append(ayb, a)
		rv, err := riverRun(ctx, admin, rpool, n)
		if err != nil {
			return fmt.Errorf("river run: %w", err)
		}
		fmt.Printf("   round %d River: insert %8.0f jobs/s   work %8.0f jobs/s\n", r, rv.insert, rv.work)
		riv = append(riv, rv)
	}
	med := func(rs []runResult, f func(runResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	fmt.Println("   medians (ratio = AYB / River):")
	Ratio("insert jobs/s (5k batches)", med(ayb, func(r runResult) float64 { return r.insert }), med(riv, func(r runResult) float64 { return r.insert }), "jobs/s")
	Ratio("work jobs/s (burn-down)", med(ayb, func(r runResult) float64 { return r.work }), med(riv, func(r runResult) float64 { return r.work }), "jobs/s")

	al, err := aybLatency(ctx, admin, apool, *queueSamples)
	if err != nil {
		return fmt.Errorf("ayb latency: %w", err)
	}
	rl, err := riverLatency(ctx, admin, rpool, *queueSamples)
	if err != nil {
		return fmt.Errorf("river latency: %w", err)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Printf("   enqueue->start latency over %d sequential samples (lower is better; ratio = AYB / River):\n", *queueSamples)
	Ratio("latency p50", ms(Percentile(al, 50)), ms(Percentile(rl, 50)), "ms")
	Ratio("latency p99", ms(Percentile(al, 99)), ms(Percentile(rl, 99)), "ms")

	ceil, err := rawCeiling(ctx, admin, d.AdminURL, n)
	if err != nil {
		return fmt.Errorf("raw ceiling: %w", err)
	}
	Ratio("AYB work vs raw-SQL claim+complete ceiling", med(ayb, func(r runResult) float64 { return r.work }), ceil, "jobs/s")
	return nil
}

func newPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = conns
	return pgxpool.NewWithConfig(ctx, cfg)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func reset(ctx context.Context, admin *pgx.Conn, table string) error {
	if _, err := admin.Exec(ctx, "truncate "+table); err != nil {
		return err
	}
	_, err := admin.Exec(ctx, "vacuum full analyze "+table)
	return err
}

func aybRun(ctx context.Context, admin *pgx.Conn, pool *db.DB, n int) (runResult, error) {
	if err := reset(ctx, admin, "ayb.jobs"); err != nil {
		return runResult{}, err
	}
	args := json.RawMessage(`{}`)
	batch := make([]job.EnqueueParams, batchSize)
	for i := range batch {
		batch[i] = job.EnqueueParams{Kind: "noop", Args: args}
	}
	start := time.Now()
	for done := 0; done < n; done += batchSize {
		k := min(batchSize, n-done)
		if _, err := job.Enqueue(ctx, pool.Pool, batch[:k]); err != nil {
			return runResult{}, err
		}
	}
	insert := float64(n) / time.Since(start).Seconds()

	var completed atomic.Int64
	finished := make(chan time.Time, 1)
	reg := job.NewRegistry()
	reg.Handle("noop", func(ctx context.Context, j *job.Job) error { return nil }, job.KindOptions{})
	w := job.NewWorker(pool, reg, job.Options{Queues: map[string]int{"default": *queueWorkers}, Logger: quietLog(),
		OnFinalized: func(rs []job.Result) {
			c := 0
			for _, r := range rs {
				if r.State == "completed" {
					c++
				}
			}
			if completed.Add(int64(c)) == int64(n) {
				finished <- time.Now()
			}
		}})
	start = time.Now()
	if err := w.Start(ctx); err != nil {
		return runResult{}, err
	}
	var end time.Time
	select {
	case end = <-finished:
	case <-time.After(10 * time.Minute):
		return runResult{}, fmt.Errorf("only %d of %d completed", completed.Load(), n)
	}
	_ = w.Stop(ctx)
	return runResult{insert: insert, work: float64(n) / end.Sub(start).Seconds()}, nil
}

func riverClient(pool *pgxpool.Pool, w *noopWorker) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	return river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema:            "river",
		Logger:            quietLog(),
		FetchCooldown:     2 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2000}},
		Workers:           workers,
	})
}

func riverRun(ctx context.Context, admin *pgx.Conn, pool *pgxpool.Pool, n int) (runResult, error) {
	if err := reset(ctx, admin, "river.river_job"); err != nil {
		return runResult{}, err
	}
	client, err := riverClient(pool, &noopWorker{})
	if err != nil {
		return runResult{}, err
	}
	batch := make([]river.InsertManyParams, batchSize)
	for i := range batch {
		batch[i] = river.InsertManyParams{Args: noopArgs{}}
	}
	start := time.Now()
	for done := 0; done < n; done += batchSize {
		k := min(batchSize, n-done)
		if _, err := client.InsertMany(ctx, batch[:k]); err != nil {
			return runResult{}, err
		}
	}
	insert := float64(n) / time.Since(start).Seconds()

	events, cancel := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: n + 1000,
		Kinds: []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled}})
	defer cancel()
	start = time.Now()
	if err := client.Start(ctx); err != nil {
		return runResult{}, err
	}
	timeout := time.After(10 * time.Minute)
	var end time.Time
	for got := 0; got < n; got++ {
		select {
		case <-events:
		case <-timeout:
			return runResult{}, fmt.Errorf("only %d of %d completed", got, n)
		}
	}
	end = time.Now()
	if err := client.Stop(ctx); err != nil {
		return runResult{}, err
	}
	return runResult{insert: insert, work: float64(n) / end.Sub(start).Seconds()}, nil
}

// aybLatency enqueues one job at a time (each its own transaction, so one
// NOTIFY each) and measures until its handler starts.
func aybLatency(ctx context.Context, admin *pgx.Conn, pool *db.DB, samples int) ([]time.Duration, error) {
	if err := reset(ctx, admin, "ayb.jobs"); err != nil {
		return nil, err
	}
	started := make(chan time.Time, 1)
	reg := job.NewRegistry()
	reg.Handle("noop", func(ctx context.Context, j *job.Job) error { started <- time.Now(); return nil }, job.KindOptions{})
	w := job.NewWorker(pool, reg, job.Options{Queues: map[string]int{"default": 100}, Logger: quietLog()})
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	defer w.Stop(ctx)
	time.Sleep(100 * time.Millisecond)
	out := make([]time.Duration, 0, samples)
	one := []job.EnqueueParams{{Kind: "noop"}}
	for range samples {
		t0 := time.Now()
		if _, err := w.Enqueue(ctx, one); err != nil {
			return nil, err
		}
		select {
		case t1 := <-started:
			out = append(out, t1.Sub(t0))
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("job did not start within 10s")
		}
	}
	return out, nil
}

func riverLatency(ctx context.Context, admin *pgx.Conn, pool *pgxpool.Pool, samples int) ([]time.Duration, error) {
	if err := reset(ctx, admin, "river.river_job"); err != nil {
		return nil, err
	}
	w := &noopWorker{started: make(chan time.Time, 1)}
	client, err := riverClient(pool, w)
	if err != nil {
		return nil, err
	}
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	defer client.Stop(ctx)
	time.Sleep(500 * time.Millisecond) // leader election, listener
	out := make([]time.Duration, 0, samples)
	for range samples {
		t0 := time.Now()
		if _, err := client.Insert(ctx, noopArgs{}, nil); err != nil {
			return nil, err
		}
		select {
		case t1 := <-w.started:
			out = append(out, t1.Sub(t0))
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("job did not start within 10s")
		}
	}
	return out, nil
}

// rawCeiling is the physical limit on this machine: one connection looping
// a 1,000-row SKIP LOCKED claim (UPDATE ... RETURNING) and a completion
// UPDATE over ayb.jobs, with no function calls, no handlers and no Go
// scheduling in between. perf.md §1.2 measured ~39k jobs/s with 100-row
// claims under pgbench; here every statement commits with synchronous_commit
// on, and on a loaded machine the WAL flush per commit dominates, so the
// batch is 1,000 rows (our worker's claim size) to make it a ceiling for
// the batch sizes both queues really use.
func rawCeiling(ctx context.Context, admin *pgx.Conn, url string, n int) (float64, error) {
	if err := reset(ctx, admin, "ayb.jobs"); err != nil {
		return 0, err
	}
	if _, err := admin.Exec(ctx, "insert into ayb.jobs (kind) select 'noop' from generate_series(1, $1)", n); err != nil {
		return 0, err
	}
	if _, err := admin.Exec(ctx, "vacuum analyze ayb.jobs"); err != nil {
		return 0, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	const claim = `with c as (
		select id from ayb.jobs where state = 'available' and queue = 'default' and scheduled_at <= now()
		order by priority, scheduled_at, id limit 1000 for update skip locked)
	update ayb.jobs j set state = 'running', attempt = j.attempt + 1, attempted_at = now(), attempted_by = 'raw',
		lease_until = now() + interval '30 seconds'
	from c where j.id = c.id returning j.id`
	const complete = `update ayb.jobs set state = 'completed', finalized_at = now(), lease_until = null where id = any($1) and state = 'running'`
	start := time.Now()
	done := 0
	for {
		rows, err := conn.Query(ctx, claim)
		if err != nil {
			return 0, err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return 0, err
		}
		if len(ids) == 0 {
			break
		}
		if _, err := conn.Exec(ctx, complete, ids); err != nil {
			return 0, err
		}
		done += len(ids)
	}
	if done != n {
		return 0, fmt.Errorf("raw loop worked %d of %d", done, n)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
