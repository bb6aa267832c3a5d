// Package realtime streams row changes to clients over Server-Sent Events,
// obeying every SELECT policy and column grant of the subscriber.
//
// Capture is in SQL (ayb.realtime_enable installs a row trigger that logs
// each change, with its row images, to ayb.realtime_events and sends one
// NOTIFY per transaction while some instance waits for it; see signalGate).
// Every AYB instance runs one Service: it LISTENs,
// reads the log below the commit-safe horizon (ayb.realtime_horizon), checks
// visibility for all of its subscribers in batches (ayb.realtime_check
// evaluates the table's policies on the logged row image under each
// subscriber's role and claims), and writes the visible events to its own
// clients. Event ids are the log's ids, so a client resumes on any instance
// with Last-Event-ID, within the retention: the job queue prunes the log
// (PruneKind, scheduled every minute).
package realtime

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
)

// Channel is the NOTIFY channel the capture trigger signals (payload empty).
const Channel = "ayb_realtime"

var (
	//go:embed queries/read.sql
	qRead string
	//go:embed queries/horizon.sql
	qHorizon string
	//go:embed queries/pruned_through.sql
	qPrunedThrough string
	//go:embed queries/resolve.sql
	qResolve string
	//go:embed queries/columns.sql
	qColumns string
	//go:embed queries/check.sql
	qCheck string
	//go:embed queries/rows.sql
	qRows string
	//go:embed queries/filter.sql
	qFilterTemplate string
	//go:embed queries/enable.sql
	qEnable string
	//go:embed queries/disable.sql
	qDisable string
	//go:embed queries/list.sql
	qList string
)

// FilterCompiler compiles a subscription filter, written in the REST filter
// grammar, into an SQL boolean expression over one row of a table. The lead
// wires internal/filter here.
type FilterCompiler interface {
	Compile(t FilterTable, filter string) (CompiledFilter, error)
}

// FilterTable is what a FilterCompiler needs to know about the table.
type FilterTable struct {
	// Name is the table as Postgres prints its regclass ("rows", "app.items").
	Name string
	// Alias is the quoted identifier the expression must qualify columns with.
	Alias string
	// Columns are the columns the subscriber may select (and so filter on).
	Columns []string
	// FirstParam is the number of the first placeholder the expression may
	// use ($FirstParam, $FirstParam+1, ...).
	FirstParam int
}

// CompiledFilter is a compiled filter: SQL with placeholders, their values
// in order, and the columns it reads (each must be selectable).
type CompiledFilter struct {
	SQL     string
	Args    []any
	Columns []string
}

// SessionChecker tells which of a set of sessions are still live; a
// stream whose session is not is closed. The service asks once per
// SessionCheckInterval for all of its streams, so 1,000 streams cost one
// query per interval, not 1,000.
type SessionChecker interface {
	LiveSessions(ctx context.Context, sessionIDs []string) (map[string]bool, error)
}

// KeyChecker tells which of a set of API keys may still stream: live (not
// revoked, expired or orphaned) and granted realtime access. Like sessions,
// asked once per interval for every stream opened with a key.
type KeyChecker interface {
	StreamableKeys(ctx context.Context, keyIDs []string) (map[string]bool, error)
}

// Options configure a Service. Zero values take defaults.
type Options struct {
	// URL connects as the server's login role; the service opens its own
	// small pool so visibility checks never take REST's connections.
	URL string
	// PoolSize is the checker pool size (default 3).
	PoolSize int32
	// Listener is the DB whose shared LISTEN connection carries the change
	// signals: the server passes its own, so that an instance holds one
	// listening connection (each one is woken by every NOTIFY in the
	// database). Default: the service's own pool's.
	Listener *db.DB
	// Filters compiles subscription filters; nil refuses filters (400).
	Filters FilterCompiler
	// Sessions checks session liveness; nil skips revocation checks.
	Sessions SessionChecker
	// Keys re-checks API keys at SessionCheckInterval; nil skips it.
	Keys KeyChecker
	// Heartbeat is the SSE comment interval (default 15s).
	Heartbeat time.Duration
	// SessionCheckInterval is how often each stream re-checks its session
	// (default 30s).
	SessionCheckInterval time.Duration
	// PollInterval bounds the wait between reads when no NOTIFY arrives
	// (default 1s; covers writers that aborted after taking ids).
	PollInterval time.Duration
	// Buffer is how many frames a client may lag before it is disconnected
	// with a resumable "slow_client" close (default 1024).
	Buffer int
	// MaxShown bounds how many row keys per stream are remembered for
	// leave events (default 10,000).
	MaxShown int
	// BatchSize is the most events read and checked at once (default 500).
	BatchSize int
	// Coalesce is how long the reader waits after a signal before reading,
	// so a check covers the transactions that commit together (default
	// 10ms).
	Coalesce time.Duration
	// RoundInterval is the least time between the starts of two rounds
	// that delivered events (default 100ms): a change after a quiet spell
	// is checked after Coalesce, while a steady stream of changes is
	// checked in rounds this far apart. Each round has a cost per
	// subscriber whatever its events, so under load fewer, larger rounds
	// cost less. In `make bench` (1,000 subscribers, membership policy),
	// against the former single 50ms wait: a change after 300ms of quiet
	// arrives in 15ms instead of 55ms (p50); at 100 writes/s delivery p50
	// is 57ms instead of 34ms (p99 108ms, goal < 300ms) and the checker
	// backends use ~35% less CPU. The wait also grows to the last round's
	// duration, up to 200ms.
	RoundInterval time.Duration
}

func (o *Options) defaults() {
	if o.PoolSize <= 0 {
		o.PoolSize = 3
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.SessionCheckInterval <= 0 {
		o.SessionCheckInterval = 30 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Buffer <= 0 {
		o.Buffer = 1024
	}
	if o.MaxShown <= 0 {
		o.MaxShown = 10000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.RoundInterval == 0 {
		o.RoundInterval = 100 * time.Millisecond
	}
	if o.Coalesce == 0 {
		o.Coalesce = 10 * time.Millisecond
	}
}

// Service is one instance's realtime hub.
type Service struct {
	opt  Options
	own  *db.DB // the checker pool
	pool *pgxpool.Pool

	mu     sync.Mutex
	cursor int64 // every event <= cursor has been handed to live subscribers
	subs   map[string]*subscriber
	// subTables counts the registered streams following each table, so a
	// round can tell without visiting every stream whether any follows a
	// table other than the ones that changed (see recheck).
	subTables map[string]int

	wake chan struct{}
	done chan struct{}
	// fanout holds a token per stream being written to (see flushFrames).
	fanout chan struct{}
	// Checks counts (subscriber-claims x event image) visibility checks.
	checks     atomic.Int64
	judgeNanos atomic.Int64
	// needClaims: table+"\n"+role -> when its policy last asked for the
	// subscribers' claims (see claimsNeeded).
	needClaims sync.Map
	claimIDs   claimIDs
	judgeCalls atomic.Int64
	// eventsRead counts the log events the hub read.
	eventsRead atomic.Int64
	// readersGen moves when a subscriber registers, leaves, goes live or
	// changes identity; plan is rebuilt then (by the hub goroutine, under
	// mu; unregister drops it).
	readersGen atomic.Uint64
	plan       *readerPlan
	stopped    chan struct{}
	// gate is held while the hub waits for signals (hub goroutine only).
	gate *signalGate
}

// New opens the service's pool and positions it at the log's horizon.
func New(ctx context.Context, opt Options) (*Service, error) {
	opt.defaults()
	d, err := db.Open(ctx, opt.URL, db.PoolOptions{MaxConns: opt.PoolSize, AppName: "ayb-realtime",
		AfterConnect: lowerBackendPriority})
	if err != nil {
		return nil, fmt.Errorf("realtime: %w", err)
	}
	if opt.Listener == nil {
		opt.Listener = d
	}
	s := &Service{opt: opt, own: d, pool: d.Pool, subs: map[string]*subscriber{}, subTables: map[string]int{},
		wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}),
		fanout: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1)),
		gate:   &signalGate{cfg: d.Pool.Config().ConnConfig, retry: opt.PollInterval}}
	if err := s.pool.QueryRow(ctx, qHorizon).Scan(&s.cursor); err != nil {
		d.Close()
		return nil, fmt.Errorf("realtime: horizon: %w", err)
	}
	return s, nil
}

// EventsRead returns how many change events the hub read from the log. An
// instance with no streams reads none (see drain).
func (s *Service) EventsRead() int64 { return s.eventsRead.Load() }

// Checks returns how many visibility checks (claims x row image) ran.
func (s *Service) Checks() int64 { return s.checks.Load() }

// CheckRounds returns how many batched check rounds ran and their total
// time (filters and visibility, one table, all subscribers).
func (s *Service) CheckRounds() (int64, time.Duration) {
	return s.judgeCalls.Load(), time.Duration(s.judgeNanos.Load())
}

// Close ends every stream (with a resumable close event) and the pool.
func (s *Service) Close() {
	s.mu.Lock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	subs := make([]*subscriber, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.fail(closeShutdown)
	}
	s.own.Close()
}

// Run listens for change signals and delivers events until ctx ends. Start
// it once per instance, after New.
func (s *Service) Run(ctx context.Context) error {
	defer close(s.stopped)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	go s.listen(ctx)
	go s.checkCredentials(ctx)
	gate := s.gate
	defer gate.drop(nil)
	var lastRound time.Time // start of the last round that had events
	for {
		began := time.Now()
		n, err := s.drain(ctx)
		if err != nil && ctx.Err() == nil {
			slog.Warn("realtime: read events", "err", err)
		}
		busy := time.Since(began)
		s.mu.Lock()
		idle := len(s.subs) == 0
		s.mu.Unlock()
		if n > 0 {
			lastRound = began // and drain released the gate
		} else if err == nil && !idle && !gate.held && gate.hold(ctx) {
			continue // waiting from now on: first read what writers that skipped committed
		}
		// Waiting (or idle, with no stream, or the database failing): for
		// a signal, or PollInterval at most. Reading in rounds: until the
		// next round is due (as below), signal or not.
		rounds := !gate.held && !idle && err == nil
		next := s.opt.PollInterval
		if rounds {
			next = max(s.opt.Coalesce, time.Until(lastRound.Add(s.opt.RoundInterval)), min(busy, 200*time.Millisecond))
		}
		t := time.NewTimer(next)
		signalled := false
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.wake:
			signalled = true
		case <-t.C:
		}
		t.Stop()
		if rounds && !signalled {
			continue
		}
		// Wait at least Coalesce; until RoundInterval after the last round
		// with events; and at least as long as the last round took (up to
		// 200ms), so the checker never runs more than about half the time
		// and batches grow under load instead of rounds multiplying.
		now := time.Now()
		wait := max(s.opt.Coalesce, lastRound.Add(s.opt.RoundInterval).Sub(now), min(busy, 200*time.Millisecond))
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
	}
}

// checkCredentials closes, every SessionCheckInterval, the streams whose
// session ended or whose API key was revoked, expired or lost its realtime
// access: one query for all sessions and one for all keys of this
// instance's streams.
func (s *Service) checkCredentials(ctx context.Context) {
	if s.opt.Sessions == nil && s.opt.Keys == nil {
		return
	}
	t := time.NewTicker(s.opt.SessionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		subs := make([]*subscriber, 0, len(s.subs))
		for _, sub := range s.subs {
			subs = append(subs, sub)
		}
		s.mu.Unlock()
		bySession, byKey := map[string][]*subscriber{}, map[string][]*subscriber{}
		for _, sub := range subs {
			id := sub.identity()
			if sid, _ := id.Claims["session_id"].(string); sid != "" && s.opt.Sessions != nil {
				bySession[sid] = append(bySession[sid], sub)
			}
			if k, _ := id.Claims["key_id"].(string); id.Kind == identity.KindAPIKey && s.opt.Keys != nil {
				byKey[k] = append(byKey[k], sub)
			}
		}
		if len(bySession) > 0 {
			failUnconfirmed(ctx, bySession, s.opt.Sessions.LiveSessions, closeSessionRevoked, "session")
		}
		if len(byKey) > 0 {
			failUnconfirmed(ctx, byKey, s.opt.Keys.StreamableKeys, closeKeyRevoked, "api key")
		}
	}
}

// failUnconfirmed asks check which of groups' ids are still good and closes,
// with reason, the streams of every other id. On error it closes nothing
// (the next interval asks again).
func failUnconfirmed(ctx context.Context, groups map[string][]*subscriber,
	check func(context.Context, []string) (map[string]bool, error), reason, what string) {
	good, err := check(ctx, slices.Collect(maps.Keys(groups)))
	if err != nil {
		slog.Warn("realtime: "+what+" check", "err", err)
		return
	}
	for id, l := range groups {
		if !good[id] {
			for _, sub := range l {
				sub.fail(reason)
			}
		}
	}
}

// listen wakes the reader on every signal on Channel, and after every
// (re)connect of the listener, since signals may have been missed.
func (s *Service) listen(ctx context.Context) {
	sub := s.opt.Listener.Listen(Channel, db.Handler{
		Notify: func(string) { s.signal() },
		Up:     s.signal,
	})
	<-ctx.Done()
	sub.Stop()
}

func (s *Service) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// drain reads and delivers every readable event to the live subscribers,
// and says how many it read.
func (s *Service) drain(ctx context.Context) (int, error) {
	n := 0
	for {
		s.mu.Lock()
		from, idle := s.cursor, len(s.subs) == 0
		s.mu.Unlock()
		if idle {
			// No stream to deliver to: nothing to read, and no signal
			// needed (writers may skip NOTIFY as far as this instance
			// goes). The first stream to register moves the cursor to the
			// horizon (register).
			s.gate.release(ctx)
			return n, nil
		}
		evs, err := s.read(ctx, from, s.opt.BatchSize)
		if err != nil {
			return n, err
		}
		if len(evs) == 0 {
			return n, nil
		}
		n += len(evs)
		s.eventsRead.Add(int64(len(evs)))
		// Changes are coming: read in rounds from now on, and let writers
		// skip their NOTIFY (see signalGate), before this round's work.
		s.gate.release(ctx)
		s.mu.Lock()
		s.cursor = max(s.cursor, evs[len(evs)-1].ID) // register may have moved it on
		plan := s.livePlan()
		s.mu.Unlock()
		if len(plan.subs) > 0 {
			s.deliver(ctx, evs, plan)
		}
		if len(evs) < s.opt.BatchSize {
			return n, nil
		}
	}
}

// event is one row of the log.
type event struct {
	ID        int64
	Table     string
	Op        string
	PK        map[string]any
	Record    map[string]any
	OldRecord map[string]any
	CreatedAt time.Time
	// raw JSON of the images, passed back to the visibility check
	rawRecord, rawOld []byte
}

func (s *Service) read(ctx context.Context, after int64, limit int) ([]event, error) {
	rows, err := s.pool.Query(ctx, qRead, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (event, error) {
		var e event
		if err := r.Scan(&e.ID, &e.Table, &e.Op, &e.PK, &e.rawRecord, &e.rawOld, &e.CreatedAt); err != nil {
			return e, err
		}
		if e.rawRecord != nil {
			if err := json.Unmarshal(e.rawRecord, &e.Record); err != nil {
				return e, err
			}
		}
		if e.rawOld != nil {
			if err := json.Unmarshal(e.rawOld, &e.OldRecord); err != nil {
				return e, err
			}
		}
		return e, nil
	})
}

// register adds a subscriber. With resume it starts after lastID and
// catches up on its own before going live; otherwise it starts at the
// current cursor. horizon is ayb.realtime_horizon() read before the call.
func (s *Service) register(sub *subscriber, resume bool, lastID, horizon int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return errors.New("realtime: shutting down")
	default:
	}
	if len(s.subs) == 0 {
		// With no stream the hub reads nothing (drain): move the cursor
		// past what committed before this stream, as reading and
		// delivering to nobody would have; the hub then waits for signals
		// again.
		s.cursor = max(s.cursor, horizon)
		defer s.signal()
	}
	if resume {
		sub.pos = lastID
	} else {
		sub.pos = s.cursor
		sub.live = true
	}
	s.readersChanged()
	sub.mu.Lock()
	sub.kid = s.claimIDs.acquire(sub.key)
	sub.mu.Unlock()
	if _, dup := s.subs[sub.id]; !dup {
		for t := range sub.tables {
			s.subTables[t]++
		}
	}
	s.subs[sub.id] = sub
	return nil
}

func (s *Service) unregister(sub *subscriber) {
	s.mu.Lock()
	_, ok := s.subs[sub.id]
	if ok {
		delete(s.subs, sub.id)
		if len(s.subs) == 0 {
			s.signal() // the hub lets writers skip their NOTIFY
		}
		s.readersChanged()
		// Let go of the plan now rather than at the next event: it holds
		// every live subscriber, shown rows included.
		s.plan = nil
		for t := range sub.tables {
			if s.subTables[t]--; s.subTables[t] <= 0 {
				delete(s.subTables, t)
			}
		}
	}
	s.mu.Unlock()
	if ok {
		sub.mu.Lock()
		key := sub.key
		sub.mu.Unlock()
		s.claimIDs.release(key)
	}
}

func (s *Service) lookup(id string) *subscriber {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs[id]
}

// catchUp replays the log from sub.pos to the hub's cursor for one
// subscriber, then marks it live (the hub delivers from there on).
func (s *Service) catchUp(ctx context.Context, sub *subscriber) error {
	for {
		s.mu.Lock()
		target := s.cursor
		if sub.position() >= target {
			sub.live = true
			s.readersChanged()
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		evs, err := s.read(ctx, sub.position(), s.opt.BatchSize)
		if err != nil {
			return err
		}
		n := 0
		for n < len(evs) && evs[n].ID <= target {
			n++
		}
		evs = evs[:n]
		if len(evs) == 0 {
			// The hub is ahead of what this read could see; retry shortly.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		s.deliver(ctx, evs, newReaderPlan(0, []*subscriber{sub}))
		if sub.isClosed() {
			return nil
		}
		sub.advance(evs[len(evs)-1].ID)
	}
}

// Stats is this instance's realtime hub: its open streams and its counters
// since start.
type Stats struct {
	Streams     int     `json:"streams"`
	EventsRead  int64   `json:"events_read"`
	Checks      int64   `json:"checks"`
	CheckRounds int64   `json:"check_rounds"`
	CheckMs     float64 `json:"check_ms"`
}

// Stats reports the hub's streams and counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	n := len(s.subs)
	s.mu.Unlock()
	rounds, d := s.CheckRounds()
	return Stats{Streams: n, EventsRead: s.EventsRead(), Checks: s.Checks(), CheckRounds: rounds,
		CheckMs: float64(d.Microseconds()) / 1000}
}
