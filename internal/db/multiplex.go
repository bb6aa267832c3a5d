package db

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The multiplexer carries the read requests of many callers on a few
// connections of its own. Each connection's loop takes every request
// waiting in the shared queue, writes all their pipelines in one write,
// each ending in its own Sync (so each is its own implicit transaction,
// with its own role and claims, and an error in one skips only to its own
// Sync), and reads the results back in order. Postgres then wakes once per
// batch instead of once per request, and the server writes and reads once
// per batch: on the 2-core bench machine that is most of what a GET by key
// costs beyond the query itself (a perf profile puts half the server's time
// in the kernel, waking the backend and being woken). Npgsql's
// "Multiplexing" mode and auto-pipelining Redis clients do the same.
//
// Only read-only requests are multiplexed (DB.Read): they take no locks a
// writer holds for long, so one request seldom waits on another, and one
// whose connection broke can run again on the pool. A request still waits
// for the requests ahead of it in its batch; the batch size is capped, and
// when every multiplexing connection has had a batch in flight for longer
// than muxHold, waiting requests (and new ones) take pool connections
// instead, so a slow query holds up at most its own batch.
type multiplexer struct {
	cfg   *pgx.ConnConfig
	after func(context.Context, *pgx.Conn) error
	jobs  chan *muxJob
	quit  chan struct{}
	wg    sync.WaitGroup
	n     int32
	// stalled counts the loops whose batch has been in flight longer than
	// hold; when it reaches n, requests go to the pool.
	stalled atomic.Int32
	hold    time.Duration
	// stmtCap bounds the statements each connection keeps prepared.
	stmtCap int
	// counters for MultiplexStats
	batches, requests, toPool, lost atomic.Int64
}

// MultiplexStats counts DB.Read's requests: batches sent on multiplexing
// connections, requests answered there, requests that ran on the pool
// instead (stalled connections, a full queue, a lost connection), and
// multiplexing connections lost.
type MultiplexStats struct {
	Connections int   `json:"connections"` // database.multiplex (0: off)
	Batches     int64 `json:"batches"`
	Requests    int64 `json:"requests"`
	ToPool      int64 `json:"to_pool"`
	Lost        int64 `json:"lost"`
}

// MultiplexStats reports the multiplexer's counters (zero when it is off).
func (d *DB) MultiplexStats() MultiplexStats {
	if d.mux == nil {
		return MultiplexStats{}
	}
	return MultiplexStats{Connections: int(d.mux.n), Batches: d.mux.batches.Load(), Requests: d.mux.requests.Load(),
		ToPool: d.mux.toPool.Load(), Lost: d.mux.lost.Load()}
}

const (
	muxMaxBatch = 16
	muxQueue    = 1024
	muxHold     = 5 * time.Millisecond
	muxStmtCap  = 256
)

const (
	jobQueued int32 = iota
	jobTaken
	jobAbandoned
)

type muxJob struct {
	state atomic.Int32
	// stmts are the statements of the request: the session check (when
	// sess), the setup, then one per query.
	stmts []muxStmt
	sess  bool
	qs    []*Query
	// sent is how many of stmts went out (an argument that fails to encode
	// stops the rest); err is the first error; divert asks the caller to run
	// the request on the pool instead.
	sent   int
	sds    []*pgconn.StatementDescription
	err    error
	divert bool
	done   chan struct{} // one value when the job is finished or diverted
}

type muxStmt struct {
	sql  string
	args []any
}

var jobPool = sync.Pool{New: func() any { return &muxJob{done: make(chan struct{}, 1)} }}

// recycle returns a finished job to jobPool, dropping what it referenced.
func recycle(j *muxJob) {
	clear(j.stmts)
	clear(j.sds)
	j.qs, j.err = nil, nil
	jobPool.Put(j)
}

// muxLockTimeout is the multiplexing connections' lock_timeout: a read
// that would wait for a lock (behind an ALTER TABLE, a non-concurrent
// REFRESH MATERIALIZED VIEW), at prepare or at run time, fails fast instead
// of holding up the reads batched after it, and runs again on the pool,
// where it may wait.
const muxLockTimeout = "10ms"

func newMultiplexer(cfg *pgx.ConnConfig, after func(context.Context, *pgx.Conn) error, conns int) *multiplexer {
	cfg = cfg.Copy()
	cfg.RuntimeParams["lock_timeout"] = muxLockTimeout
	m := &multiplexer{cfg: cfg, after: after, jobs: make(chan *muxJob, muxQueue), quit: make(chan struct{}),
		n: int32(conns), hold: muxHold, stmtCap: muxStmtCap}
	for i := 0; i < conns; i++ {
		m.wg.Add(1)
		go m.loop()
	}
	return m
}

// close stops the loops, closes their connections and sends every request
// still waiting to the pool.
func (m *multiplexer) close() {
	close(m.quit)
	m.wg.Wait()
	m.divertQueued()
}

// outcome is what became of a submitted job.
type outcome int

const (
	ranHere   outcome = iota // it ran on a multiplexing connection: j.err is its error
	runOnPool                // the caller runs it on the pool
	abandoned                // ctx ended while it waited; j stays in the queue, not to be reused
)

// submit runs j on a multiplexing connection, unless every connection is
// stalled, the queue is full, the multiplexer closed or the job was
// diverted (runOnPool).
func (m *multiplexer) submit(ctx context.Context, j *muxJob) outcome {
	o := m.submitOnce(ctx, j)
	switch o {
	case ranHere:
		m.requests.Add(1)
	case runOnPool:
		m.toPool.Add(1)
	}
	return o
}

func (m *multiplexer) submitOnce(ctx context.Context, j *muxJob) outcome {
	if m.stalled.Load() >= m.n {
		return runOnPool
	}
	select {
	case <-m.quit:
		return runOnPool
	case m.jobs <- j:
	default:
		return runOnPool
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		if j.state.CompareAndSwap(jobQueued, jobAbandoned) {
			return abandoned // the loop that takes it from the queue drops it
		}
		<-j.done // already in a batch: its results are on their way
	case <-m.quit:
		if j.state.CompareAndSwap(jobQueued, jobAbandoned) {
			return runOnPool // no loop will take it now
		}
		<-j.done
	}
	if j.divert {
		return runOnPool
	}
	return ranHere
}

// divertQueued hands every request waiting in the queue back to its caller.
func (m *multiplexer) divertQueued() {
	for {
		select {
		case j := <-m.jobs:
			if j.state.CompareAndSwap(jobQueued, jobTaken) {
				j.divert = true
				j.done <- struct{}{}
			}
		default:
			return
		}
	}
}

// loop is one multiplexing connection: it takes batches from the queue
// until quit, connecting (again) when it has to.
func (m *multiplexer) loop() {
	defer m.wg.Done()
	c := &muxConn{m: m, stmts: map[string]*list.Element{}}
	defer c.closeConn()
	var mu sync.Mutex // guards inFlight and stalled against the watchdog
	inFlight, stalled := false, false
	var watchdog *time.Timer
	watchdog = time.AfterFunc(time.Hour, func() {
		mu.Lock()
		defer mu.Unlock()
		if !inFlight {
			return
		}
		if !stalled {
			stalled = true
			m.stalled.Add(1)
		}
		if m.stalled.Load() >= m.n {
			m.divertQueued()
		}
		watchdog.Reset(m.hold) // keep diverting while the batch runs
	})
	watchdog.Stop()
	batch := make([]*muxJob, 0, muxMaxBatch)
	backoff := 50 * time.Millisecond
	for {
		var first *muxJob
		select {
		case first = <-m.jobs:
		case <-m.quit:
			return
		}
		batch = batch[:0]
		take := func(j *muxJob) { // unless its caller abandoned it
			if j.state.CompareAndSwap(jobQueued, jobTaken) {
				batch = append(batch, j)
			}
		}
		take(first)
	drain:
		for len(batch) < muxMaxBatch {
			select {
			case j := <-m.jobs:
				take(j)
			default:
				break drain
			}
		}
		if len(batch) == 0 {
			continue
		}
		if c.conn != nil && c.conn.IsClosed() {
			c.closeConn()
		}
		if c.conn == nil {
			if err := c.connect(); err != nil {
				slog.Warn("db: multiplexing connection", "error", err)
				divert(batch)
				select {
				case <-time.After(backoff):
				case <-m.quit:
					return
				}
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			backoff = 50 * time.Millisecond
		}
		m.batches.Add(1)
		mu.Lock()
		inFlight = true
		watchdog.Reset(m.hold)
		mu.Unlock()
		finished, err := c.run(batch)
		mu.Lock()
		inFlight = false
		watchdog.Stop()
		if stalled {
			stalled = false
			m.stalled.Add(-1)
		}
		mu.Unlock()
		if err != nil {
			// The connection broke: the requests not yet answered were
			// read-only, so they run again on the pool.
			slog.Warn("db: multiplexing connection lost", "error", err)
			m.lost.Add(1)
			c.closeConn()
			divert(batch[finished:])
		}
	}
}

func divert(batch []*muxJob) {
	for _, j := range batch {
		j.divert = true
		j.done <- struct{}{}
	}
}

// muxConn is one loop's connection and its prepared statements, kept in
// least-recently-used order and capped at stmtCap.
type muxConn struct {
	m     *multiplexer
	conn  *pgx.Conn
	stmts map[string]*list.Element // sql -> *muxPrepared
	lru   list.List
	seq   int
	stale []string // statements to deallocate before the next batch
	eqb   pgx.ExtendedQueryBuilder
}

type muxPrepared struct {
	sql string
	sd  *pgconn.StatementDescription
}

func (c *muxConn) connect() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, c.m.cfg)
	if err != nil {
		return err
	}
	if c.m.after != nil {
		if err := c.m.after(ctx, conn); err != nil {
			conn.Close(ctx)
			return err
		}
	}
	c.conn = conn
	return nil
}

func (c *muxConn) closeConn() {
	if c.conn != nil {
		c.conn.Close(context.Background())
		c.conn = nil
	}
	c.stmts = map[string]*list.Element{}
	c.lru.Init()
	c.stale = nil
}

// prepared returns sql's statement description, preparing it on a miss
// (and deallocating the least recently used one past the cap). A PgError
// is the statement's own (bad SQL, a dropped relation); other errors mean
// the connection broke.
func (c *muxConn) prepared(sql string) (*pgconn.StatementDescription, error) {
	if e, ok := c.stmts[sql]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*muxPrepared).sd, nil
	}
	for c.lru.Len() >= c.m.stmtCap {
		c.retire(c.lru.Back().Value.(*muxPrepared).sql)
	}
	if err := c.deallocateStale(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.seq++
	sd, err := c.conn.Prepare(ctx, "ayb_mux_"+strconv.Itoa(c.seq), sql)
	if err != nil {
		return nil, err
	}
	c.stmts[sql] = c.lru.PushFront(&muxPrepared{sql: sql, sd: sd})
	return sd, nil
}

func (c *muxConn) forget(sql string) {
	if e, ok := c.stmts[sql]; ok {
		c.lru.Remove(e)
		delete(c.stmts, sql)
	}
}

// retire forgets sql's statement now and deallocates it before the next
// batch (not in the middle of this one's pipeline).
func (c *muxConn) retire(sql string) {
	if e, ok := c.stmts[sql]; ok {
		c.stale = append(c.stale, e.Value.(*muxPrepared).sd.Name)
		c.forget(sql)
	}
}

// deallocateStale deallocates the retired and evicted statements. A
// PgError (the statement is already gone) is fine; another error means the
// connection broke.
func (c *muxConn) deallocateStale() error {
	for len(c.stale) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := c.conn.Deallocate(ctx, c.stale[0])
		cancel()
		var pe *pgconn.PgError
		if err != nil && !errors.As(err, &pe) {
			return err
		}
		c.stale = c.stale[1:]
	}
	return nil
}

// run sends the batch as one pipeline and hands each job its results. It
// returns how many jobs it finished; an error means the connection broke
// and the rest were not.
func (c *muxConn) run(batch []*muxJob) (finished int, err error) {
	if err := c.deallocateStale(); err != nil {
		return 0, err
	}
	// Prepare first: a pipeline in flight cannot prepare and wait for the
	// description its parameters are encoded by.
	for _, j := range batch {
		j.err, j.sent, j.sds = nil, 0, j.sds[:0]
		for _, s := range j.stmts {
			sd, err := c.prepared(s.sql)
			if err != nil {
				var pe *pgconn.PgError
				if !errors.As(err, &pe) {
					return 0, err
				}
				if pe.Code == "55P03" {
					j.divert = true // it would wait for a lock: the pool may wait
				} else {
					j.err = err // the statement's own error: the job fails alone
				}
				break
			}
			j.sds = append(j.sds, sd)
		}
	}
	tm := c.conn.TypeMap()
	p := c.conn.PgConn().StartPipeline(context.Background())
	for _, j := range batch {
		if j.err != nil || j.divert {
			continue
		}
		for i, sd := range j.sds {
			if err := c.eqb.Build(tm, sd, j.stmts[i].args); err != nil {
				j.err = fmt.Errorf("db: encode arguments: %w", err)
				break
			}
			// By name, with a Describe: pgx's SendQueryStatement queues each
			// statement's description, and after an error skips the failed
			// request's statements but not their descriptions, so the
			// requests after it would decode with the wrong ones.
			p.SendQueryPrepared(sd.Name, c.eqb.ParamValues, c.eqb.ParamFormats, c.eqb.ResultFormats)
			j.sent++
		}
		if j.sent > 0 {
			p.SendPipelineSync()
		}
	}
	if err := p.Flush(); err != nil {
		return 0, err
	}
	for _, j := range batch {
		if j.sent > 0 {
			if err := c.read(p, j); err != nil {
				_ = p.Close()
				return finished, err
			}
		}
		finished++
		j.done <- struct{}{}
	}
	return finished, p.Close()
}

// read takes one job's results up to its Sync. A statement's error can
// come with its result (GetResults) or while its rows are read (Close).
func (c *muxConn) read(p *pgconn.Pipeline, j *muxJob) error {
	first := len(j.stmts) - len(j.qs)
	for _, q := range j.qs {
		q.Found = false
	}
	// fail records statement k's error; it returns the error back when it
	// means the connection is gone (a terminated backend says FATAL first).
	fail := func(k int, err error) error {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Severity == "FATAL" || pe.Severity == "PANIC" {
			return err
		}
		if pe.Code == "55P03" && j.err == nil {
			j.divert = true // it would wait for a lock: the pool may wait
			return nil
		}
		if (pe.Code == "0A000" || pe.Code == "26000") && k < j.sent {
			// A plan that no longer fits (a schema change altered its
			// result type) or a statement gone: prepare it again before
			// its next use here, and run this read on the pool, which
			// prepares its own; a read may run twice.
			c.retire(j.stmts[k].sql)
			if j.err == nil {
				j.divert = true
				return nil
			}
		}
		if j.err == nil {
			j.err = err
			if k == 0 && j.sess {
				j.err = sessionError(err)
			}
		}
		return nil
	}
	for k := 0; ; k++ {
		res, err := p.GetResults()
		if err != nil {
			if err := fail(k, err); err != nil {
				return err
			}
			continue
		}
		switch r := res.(type) {
		case *pgconn.PipelineSync:
			return nil
		case *pgconn.ResultReader:
			if k < first || j.err != nil {
				if _, err := r.Close(); err != nil {
					if err := fail(k, err); err != nil {
						return err
					}
				}
				continue
			}
			q := j.qs[k-first]
			rows := pgx.RowsFromResultReader(c.conn.TypeMap(), r)
			var scanErr error
			if rows.Next() {
				scanErr = rows.Scan(q.Dest...)
				q.Found = true
			}
			rows.Close()
			if err := rows.Err(); err != nil && err != scanErr {
				if err := fail(k, err); err != nil {
					return err
				}
			}
			if scanErr != nil && j.err == nil {
				j.err = scanErr // ours, not the statement's: the connection is fine
			}
		}
	}
}
