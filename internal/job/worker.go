package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/db"
)

// Options configure a Worker. Zero values take the defaults in brackets.
type Options struct {
	// ID names this worker in attempted_by [host:pid:random].
	ID string
	// Queues maps each queue to work to its concurrency [{"default": 10}].
	Queues map[string]int
	// Lease is how long a claim holds a job before another worker may
	// rescue it; running jobs renew it every Lease/3 [30s].
	Lease time.Duration
	// PollInterval is the fallback when no NOTIFY arrives [1s].
	PollInterval time.Duration
	// FetchCooldown is the pause between two claims of one queue when the
	// last claim filled every free slot [0].
	FetchCooldown time.Duration
	// RescueInterval is how often expired leases are looked for [Lease/2].
	RescueInterval time.Duration
	// MaxCompleteBatch bounds one completion statement [5000].
	MaxCompleteBatch int
	// OnFinalized, if set, is called after each batch of results has been
	// committed (or refused, State "refused"): for tests and benchmarks.
	OnFinalized func([]Result)
	Logger      *slog.Logger
}

// Result is what became of one attempt.
type Result struct {
	ID      int64
	Attempt int
	Kind    string
	// State: completed, retryable, discarded, released, refused (the job
	// was no longer ours: cancelled or rescued), cancelled, lost.
	State string
	Err   error
}

type outcome int

const (
	outComplete outcome = iota
	outFail
	outDiscard
	outRelease
)

type result struct {
	job *Job
	out outcome
	err error
}

type running struct {
	attempt int
	cancel  context.CancelCauseFunc
}

// Worker claims and runs jobs for its queues. Several workers (in one
// process or many) share the queue safely.
type Worker struct {
	db  *db.DB
	reg *Registry
	opt Options
	log *slog.Logger

	mu      sync.Mutex
	running map[int64]*running

	wake      map[string]chan struct{}
	slotFreed map[string]chan struct{}

	results       chan result
	completerDone chan struct{}
	stopFetch     chan struct{}
	fetchers      sync.WaitGroup
	handlers      sync.WaitGroup
	aux           sync.WaitGroup
	sub           *db.Subscription // on Channel
	auxCancel     context.CancelFunc
	baseCtx       context.Context
	baseCancel    context.CancelFunc
	stopOnce      sync.Once
}

// NewWorker builds a worker over the server's pool.
func NewWorker(d *db.DB, reg *Registry, opt Options) *Worker {
	if opt.ID == "" {
		host, _ := os.Hostname()
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		opt.ID = host + ":" + strconv.Itoa(os.Getpid()) + ":" + hex.EncodeToString(b)
	}
	if len(opt.Queues) == 0 {
		opt.Queues = map[string]int{"default": 10}
	}
	if opt.Lease <= 0 {
		opt.Lease = 30 * time.Second
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = time.Second
	}
	if opt.RescueInterval <= 0 {
		opt.RescueInterval = max(opt.Lease/2, 500*time.Millisecond)
	}
	if opt.MaxCompleteBatch <= 0 {
		opt.MaxCompleteBatch = 5000
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	w := &Worker{
		db: d, reg: reg, opt: opt, log: opt.Logger.With("worker", opt.ID),
		running:       map[int64]*running{},
		wake:          map[string]chan struct{}{},
		slotFreed:     map[string]chan struct{}{},
		results:       make(chan result, 10000),
		completerDone: make(chan struct{}),
		stopFetch:     make(chan struct{}),
	}
	for q := range opt.Queues {
		w.wake[q] = make(chan struct{}, 1)
		w.slotFreed[q] = make(chan struct{}, 1)
	}
	return w
}

// ID returns the worker's id.
func (w *Worker) ID() string { return w.opt.ID }

// listenWait bounds how long Start waits for the shared listener.
const listenWait = 30 * time.Second

// Start registers the worker's kinds and starts claiming. It returns once
// the NOTIFY listener is listening.
func (w *Worker) Start(ctx context.Context) error {
	if kinds := w.reg.Kinds(); len(kinds) > 0 {
		if _, err := w.db.Pool.Exec(ctx, qRegisterKinds, kinds); err != nil {
			return fmt.Errorf("jobs: register kinds: %w", db.Translate(err))
		}
	}
	w.baseCtx, w.baseCancel = context.WithCancel(context.WithoutCancel(ctx))
	auxCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.auxCancel = cancel
	// NOTIFYs wake fetchers at once and cancel running jobs; after a
	// reconnect every fetcher looks, since some may have been missed.
	w.sub = w.db.Listen(Channel, db.Handler{Notify: w.notified, Up: w.wakeAll})
	w.aux.Add(2)
	go w.heartbeat(auxCtx)
	go w.rescue(auxCtx)
	go w.complete()
	select {
	case <-w.sub.Ready():
	case <-ctx.Done():
		cancel()
		w.sub.Stop()
		return ctx.Err()
	case <-time.After(listenWait):
		cancel()
		w.sub.Stop()
		return fmt.Errorf("jobs: could not LISTEN %s within %s (the database listener logs why)", Channel, listenWait)
	}
	for q, n := range w.opt.Queues {
		w.fetchers.Add(1)
		go w.fetch(q, n)
	}
	return nil
}

// Run starts the worker, works until ctx is cancelled, then stops with the
// given grace period.
func (w *Worker) Run(ctx context.Context, grace time.Duration) error {
	if err := w.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return w.Stop(sctx)
}

// Stop stops claiming, lets running jobs finish until ctx is done, then
// cancels the rest and gives them back to the queue (job_release), flushes
// every pending result and closes the listener.
func (w *Worker) Stop(ctx context.Context) error {
	w.stopOnce.Do(func() {
		close(w.stopFetch)
		w.fetchers.Wait()
		done := make(chan struct{})
		go func() { w.handlers.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			w.mu.Lock()
			for _, r := range w.running {
				r.cancel(ErrShutdown)
			}
			w.mu.Unlock()
			select {
			case <-done:
			case <-time.After(time.Second):
			}
		}
		// Flush what the handlers reported.
		w.results <- result{} // sentinel: flush and exit
		<-w.completerDone
		// Handlers still stuck past the grace period: give their jobs back.
		w.mu.Lock()
		var ids []int64
		var atts []int32
		for id, r := range w.running {
			ids = append(ids, id)
			atts = append(atts, int32(r.attempt))
		}
		w.running = map[int64]*running{}
		w.mu.Unlock()
		if len(ids) > 0 {
			rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if _, err := w.db.Pool.Exec(rctx, qRelease, ids, atts); err != nil {
				w.log.Error("jobs: release on shutdown", "err", err, "jobs", len(ids))
			}
			cancel()
		}
		w.auxCancel()
		w.aux.Wait()
		w.sub.Stop()
		w.baseCancel()
	})
	return nil
}

func (w *Worker) fetch(queue string, concurrency int) {
	defer w.fetchers.Done()
	inFlight := make(chan struct{}, concurrency)
	wake, freed := w.wake[queue], w.slotFreed[queue]
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-w.stopFetch:
			return
		default:
		}
		free := concurrency - len(inFlight)
		if free <= 0 {
			select {
			case <-freed:
			case <-w.stopFetch:
				return
			}
			continue
		}
		jobs, err := w.claim(queue, free)
		if err != nil {
			w.log.Error("jobs: claim", "queue", queue, "err", err)
		}
		for _, j := range jobs {
			inFlight <- struct{}{}
			w.handlers.Add(1)
			go func() {
				w.run(j)
				<-inFlight
				select {
				case freed <- struct{}{}:
				default:
				}
			}()
		}
		if err == nil && len(jobs) == free {
			// More jobs are likely waiting. Let slots free up before the
			// next claim so it is a batch, not a trickle: every claim is a
			// commit (a WAL flush), and a burst of 1-job claims made the
			// burn-down fsync-bound on the loaded 2-core machine.
			if w.opt.FetchCooldown > 0 {
				time.Sleep(w.opt.FetchCooldown)
			}
			minBatch := max(1, concurrency/4)
			if concurrency-len(inFlight) < minBatch {
				wait := time.NewTimer(5 * time.Millisecond)
			refill:
				for concurrency-len(inFlight) < minBatch {
					select {
					case <-freed:
					case <-wait.C:
						break refill
					case <-w.stopFetch:
						wait.Stop()
						return
					}
				}
				wait.Stop()
			}
			continue
		}
		timer.Reset(w.opt.PollInterval)
		select {
		case <-wake:
		case <-timer.C:
		case <-w.stopFetch:
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

func (w *Worker) claim(queue string, n int) ([]*Job, error) {
	ctx, cancel := context.WithTimeout(w.baseCtx, 30*time.Second)
	defer cancel()
	rows, err := w.db.Pool.Query(ctx, qClaim, w.opt.ID, queue, n, w.opt.Lease)
	if err != nil {
		return nil, err
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Job, error) {
		j := &Job{}
		var prio int16
		err := r.Scan(&j.ID, &j.Queue, &j.Kind, &j.Args, &prio, &j.Attempt, &j.MaxAttempts, &j.ScheduledAt, &j.AttemptedAt, &j.Tags)
		j.Priority = int(prio)
		return j, err
	})
	if err != nil {
		return nil, err
	}
	// Register before any handler runs so heartbeats and cancels see them.
	return jobs, nil
}

func (w *Worker) run(j *Job) {
	defer w.handlers.Done()
	ctx, cancel := context.WithCancelCause(w.baseCtx)
	defer cancel(nil)
	w.mu.Lock()
	w.running[j.ID] = &running{attempt: j.Attempt, cancel: cancel}
	w.mu.Unlock()

	entry, ok := w.reg.get(j.Kind)
	var err error
	if !ok {
		err = fmt.Errorf("no handler registered for kind %q on worker %s", j.Kind, w.opt.ID)
	} else {
		hctx := ctx
		if entry.opt.Timeout > 0 {
			var tcancel context.CancelFunc
			hctx, tcancel = context.WithTimeoutCause(ctx, entry.opt.Timeout,
				fmt.Errorf("job timed out after %s", entry.opt.Timeout))
			defer tcancel()
		}
		err = call(hctx, entry.h, j)
		if err != nil && hctx.Err() != nil && context.Cause(hctx) != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w (%v)", context.Cause(hctx), err)
		}
	}
	w.mu.Lock()
	_, mine := w.running[j.ID]
	delete(w.running, j.ID)
	w.mu.Unlock()
	if !mine {
		return // released at shutdown already
	}
	cause := context.Cause(ctx)
	var r result
	switch {
	case errors.Is(cause, ErrCancelled) || errors.Is(cause, ErrLeaseLost):
		// No longer ours; any report would be refused.
		if w.opt.OnFinalized != nil {
			w.opt.OnFinalized([]Result{{ID: j.ID, Attempt: j.Attempt, Kind: j.Kind, State: "lost", Err: cause}})
		}
		return
	case errors.Is(cause, ErrShutdown):
		r = result{job: j, out: outRelease}
	case err == nil:
		r = result{job: j, out: outComplete}
	default:
		var d discardError
		if errors.As(err, &d) {
			r = result{job: j, out: outDiscard, err: err}
		} else {
			r = result{job: j, out: outFail, err: err}
		}
	}
	select {
	case w.results <- r:
	case <-w.completerDone:
		w.flush([]result{r}) // the completer has exited (shutdown): report directly
	}
}

// call runs a handler, turning a panic into an error so the worker lives.
func call(ctx context.Context, h Handler, j *Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return h(ctx, j)
}

// complete is the batch completer: it takes every result that is ready
// (up to MaxCompleteBatch) and reports them in one statement per outcome,
// so a busy queue completes thousands of jobs per round trip while a quiet
// one completes each job at once (no timer: the batch grows while the
// previous statement runs). River's batch completer was worth ~4.5x in
// their numbers (perf.md §1.5); here, burning down 200k no-op jobs, this
// worker ran at 1.1-2.5x River v0.51.2 in alternating runs (README).
func (w *Worker) complete() {
	defer close(w.completerDone)
	for {
		first := <-w.results
		if first.job == nil {
			w.drainAndFlush()
			return
		}
		batch := []result{first}
		stop := false
	drain:
		for len(batch) < w.opt.MaxCompleteBatch {
			select {
			case r := <-w.results:
				if r.job == nil {
					stop = true
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		w.flush(batch)
		if stop {
			w.drainAndFlush()
			return
		}
	}
}

func (w *Worker) drainAndFlush() {
	var batch []result
	for {
		select {
		case r := <-w.results:
			if r.job != nil {
				batch = append(batch, r)
			}
		default:
			if len(batch) > 0 {
				w.flush(batch)
			}
			return
		}
	}
}

func (w *Worker) flush(batch []result) {
	var cIDs, fIDs, rIDs []int64
	var cAtt, fAtt, rAtt []int32
	var fErr []string
	var fDiscard []bool
	for _, r := range batch {
		switch r.out {
		case outComplete:
			cIDs = append(cIDs, r.job.ID)
			cAtt = append(cAtt, int32(r.job.Attempt))
		case outFail, outDiscard:
			fIDs = append(fIDs, r.job.ID)
			fAtt = append(fAtt, int32(r.job.Attempt))
			fErr = append(fErr, r.err.Error())
			fDiscard = append(fDiscard, r.out == outDiscard)
		case outRelease:
			rIDs = append(rIDs, r.job.ID)
			rAtt = append(rAtt, int32(r.job.Attempt))
		}
	}
	states := make(map[int64]string, len(batch))
	retry(w.log, "complete", func(ctx context.Context) error {
		if len(cIDs) > 0 {
			rows, err := w.db.Pool.Query(ctx, qComplete, cIDs, cAtt)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			for _, id := range ids {
				states[id] = "completed"
			}
		}
		return nil
	})
	retry(w.log, "fail", func(ctx context.Context) error {
		if len(fIDs) > 0 {
			rows, err := w.db.Pool.Query(ctx, qFail, fIDs, fAtt, fErr, fDiscard)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				var st string
				if err := rows.Scan(&id, &st); err != nil {
					rows.Close()
					return err
				}
				states[id] = st
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	retry(w.log, "release", func(ctx context.Context) error {
		if len(rIDs) > 0 {
			rows, err := w.db.Pool.Query(ctx, qRelease, rIDs, rAtt)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			for _, id := range ids {
				states[id] = "released"
			}
		}
		return nil
	})
	for _, r := range batch {
		if r.out == outFail || r.out == outDiscard {
			w.log.Warn("jobs: attempt failed", "job", r.job.ID, "kind", r.job.Kind, "attempt", r.job.Attempt, "err", firstLine(r.err))
		}
	}
	if w.opt.OnFinalized != nil {
		out := make([]Result, len(batch))
		for i, r := range batch {
			st, ok := states[r.job.ID]
			if !ok {
				st = "refused"
			}
			out[i] = Result{ID: r.job.ID, Attempt: r.job.Attempt, Kind: r.job.Kind, State: st, Err: r.err}
		}
		w.opt.OnFinalized(out)
	}
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// retry runs a reporting statement until it succeeds or a minute passes:
// a result lost here would run the job again after its lease expires.
func retry(log *slog.Logger, what string, fn func(ctx context.Context) error) {
	deadline := time.Now().Add(time.Minute)
	for wait := 50 * time.Millisecond; ; wait = min(wait*2, 5*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := fn(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log.Error("jobs: giving up reporting results; leases will expire and the jobs run again", "op", what, "err", err)
			return
		}
		log.Warn("jobs: reporting results failed; retrying", "op", what, "err", err)
		time.Sleep(wait)
	}
}

// heartbeat renews the leases of running jobs every Lease/3 and cancels
// the ones this worker no longer holds.
func (w *Worker) heartbeat(ctx context.Context) {
	defer w.aux.Done()
	t := time.NewTicker(w.opt.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		ids := make([]int64, 0, len(w.running))
		atts := make([]int32, 0, len(w.running))
		for id, r := range w.running {
			ids = append(ids, id)
			atts = append(atts, int32(r.attempt))
		}
		w.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, w.opt.Lease/3)
		rows, err := w.db.Pool.Query(hctx, qHeartbeat, ids, atts, w.opt.Lease)
		var held []int64
		if err == nil {
			held, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		}
		cancel()
		if err != nil {
			w.log.Warn("jobs: heartbeat", "err", err)
			continue
		}
		keep := make(map[int64]bool, len(held))
		for _, id := range held {
			keep[id] = true
		}
		w.mu.Lock()
		for i, id := range ids {
			if r, ok := w.running[id]; ok && !keep[id] && r.attempt == int(atts[i]) {
				r.cancel(ErrLeaseLost)
			}
		}
		w.mu.Unlock()
	}
}

// rescue returns jobs of dead workers (expired leases) to the queue.
func (w *Worker) rescue(ctx context.Context) {
	defer w.aux.Done()
	t := time.NewTicker(w.opt.RescueInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var n int
		err := w.db.Pool.QueryRow(rctx, qRescue).Scan(&n)
		cancel()
		if err != nil {
			w.log.Warn("jobs: rescue", "err", err)
		} else if n > 0 {
			w.log.Info("jobs: rescued jobs with expired leases", "count", n)
		}
	}
}

func (w *Worker) wakeAll() {
	for _, c := range w.wake {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

func (w *Worker) notified(payload string) {
	kind, arg, _ := strings.Cut(payload, ":")
	switch kind {
	case "insert":
		if c, ok := w.wake[arg]; ok {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	case "cancel":
		id, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			return
		}
		w.mu.Lock()
		if r, ok := w.running[id]; ok {
			r.cancel(ErrCancelled)
		}
		w.mu.Unlock()
	}
}

// Enqueue enqueues jobs outside any transaction (each call commits on its
// own) and wakes this worker's fetchers of their queues at once, without
// waiting for the NOTIFY round trip (River does the same for non-transactional
// inserts). Other instances still hear the NOTIFY. To enqueue inside a
// transaction, use the package-level Enqueue.
func (w *Worker) Enqueue(ctx context.Context, jobs []EnqueueParams) ([]Enqueued, error) {
	res, err := Enqueue(ctx, w.db.Pool, jobs)
	if err != nil {
		return nil, db.Translate(err)
	}
	for _, j := range jobs {
		q := j.Queue
		if q == "" {
			q = "default"
		}
		if j.RunAt == nil && j.Delay == "" {
			w.notified("insert:" + q)
		}
	}
	return res, nil
}
