// Package job runs AYB's background jobs. The queue itself is SQL (schema
// ayb: ayb.job_enqueue, ayb.job_claim, ayb.job_complete, ...; see the jobs
// migration); this package is the thin Go side: workers that claim jobs in
// batches, run handlers registered by kind, heartbeat leases and report
// results in batches; the cron scheduler; the built-in kinds; and the admin
// HTTP handlers and store functions shared with the CLI.
package job

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aybhq/ayb/internal/db"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// query returns the named fixed query from queries/<name>.sql.
func query(name string) string { return db.QueryFile(queryFiles, name) }

var (
	qClaim            = query("claim")
	qComplete         = query("complete")
	qFail             = query("fail")
	qRelease          = query("release")
	qHeartbeat        = query("heartbeat")
	qRescue           = query("rescue")
	qEnqueueMany      = query("enqueue_many")
	qRegisterKinds    = query("register_kinds")
	qRunSQL           = query("run_sql")
	qHousekeeping     = query("housekeeping")
	qAsServiceRole    = query("as_service_role")
	qList             = query("list")
	qGet              = query("get")
	qCancel           = query("cancel")
	qRetry            = query("retry")
	qStats            = query("stats")
	qSchedulesList    = query("schedules_list")
	qScheduleUpsert   = query("schedule_upsert")
	qScheduleEnable   = query("schedule_enable")
	qScheduleDisable  = query("schedule_disable")
	qScheduleDelete   = query("schedule_delete")
	qScheduleRunNow   = query("schedule_run_now")
	qSchedulerDue     = query("scheduler_due")
	qSchedulerSetNext = query("scheduler_set_next")
	qSchedulerFire    = query("scheduler_fire")
	qNow              = query("now")
)

// Channel is the NOTIFY channel of the queue: payloads 'insert:<queue>'
// (jobs became due), 'cancel:<id>' (a running job was cancelled) and
// 'schedule:<name>' (a schedule changed).
const Channel = "ayb_jobs"

// Querier is what store functions need: a transaction, a connection or a
// pool. HTTP handlers and the CLI pass theirs.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Job is a claimed job as its handler sees it.
type Job struct {
	ID          int64           `json:"id"`
	Queue       string          `json:"queue"`
	Kind        string          `json:"kind"`
	Args        json.RawMessage `json:"args"`
	Priority    int             `json:"priority"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	AttemptedAt time.Time       `json:"attempted_at"`
	Tags        []string        `json:"tags"`
}

// Handler runs one job. Returning nil completes it; an error fails the
// attempt (retried with backoff until max attempts); Discard(err) fails it
// for good. ctx is cancelled when the job is cancelled, its kind's timeout
// passes, its lease is lost, or shutdown's grace period ends.
type Handler func(ctx context.Context, j *Job) error

// KindOptions tune one kind.
type KindOptions struct {
	// Timeout bounds one attempt; 0 means no timeout (long jobs keep their
	// lease by heartbeat).
	Timeout time.Duration
}

type discardError struct{ err error }

func (d discardError) Error() string { return d.err.Error() }
func (d discardError) Unwrap() error { return d.err }

// Discard wraps err so the job is discarded without further attempts.
func Discard(err error) error { return discardError{err} }

// Context causes a handler may see.
var (
	ErrCancelled = errors.New("job cancelled")
	ErrLeaseLost = errors.New("job lease lost (rescued by another worker)")
	ErrShutdown  = errors.New("worker shutting down")
)

type kindEntry struct {
	h   Handler
	opt KindOptions
}

// Registry maps kinds to handlers.
type Registry struct {
	mu sync.RWMutex
	m  map[string]kindEntry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]kindEntry{}} }

// Handle registers the handler of a kind (replacing any earlier one).
func (r *Registry) Handle(kind string, h Handler, opt KindOptions) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[kind] = kindEntry{h, opt}
}

func (r *Registry) get(kind string) (kindEntry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.m[kind]
	return e, ok
}

// Kinds lists the registered kinds.
func (r *Registry) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for k := range r.m {
		out = append(out, k)
	}
	return out
}

// EnqueueParams is one job to enqueue. Zero values take the defaults
// (queue "default", priority 0, due now, 20 attempts).
type EnqueueParams struct {
	Kind         string          `json:"kind"`
	Args         json.RawMessage `json:"args,omitempty"`
	Queue        string          `json:"queue,omitempty"`
	Priority     int             `json:"priority,omitempty"`
	RunAt        *time.Time      `json:"run_at,omitempty"`
	Delay        string          `json:"delay,omitempty"` // a duration, e.g. "30s"
	MaxAttempts  int             `json:"max_attempts,omitempty"`
	UniqueKey    string          `json:"unique_key,omitempty"`
	UniqueWindow string          `json:"unique_window,omitempty"` // a duration, e.g. "1h"
	// Tags: the SQL API takes one tag list per call, so the first job's tags
	// apply to the whole batch.
	Tags []string `json:"tags,omitempty"`
}

// Enqueued is the result for one enqueued job.
type Enqueued struct {
	ID        int64 `json:"id"`
	Duplicate bool  `json:"duplicate"`
}

// Enqueue inserts jobs in one call of ayb.job_enqueue (arrays), inside q's
// transaction when q is one: a rolled-back enqueue never runs.
func Enqueue(ctx context.Context, q Querier, jobs []EnqueueParams) ([]Enqueued, error) {
	n := len(jobs)
	if n == 0 {
		return nil, nil
	}
	kinds := make([]string, n)
	args := make([]*string, n)
	queues := make([]*string, n)
	prios := make([]int16, n)
	runAt := make([]*time.Time, n)
	maxAtt := make([]*int32, n)
	var keys []*string
	var windows []*time.Duration
	var delays []string
	var tags []string
	for i, j := range jobs {
		kinds[i] = j.Kind
		if len(j.Args) > 0 {
			s := string(j.Args)
			args[i] = &s
		}
		if j.Queue != "" {
			s := j.Queue
			queues[i] = &s
		}
		prios[i] = int16(j.Priority)
		runAt[i] = j.RunAt
		if j.MaxAttempts > 0 {
			v := int32(j.MaxAttempts)
			maxAtt[i] = &v
		}
		if j.UniqueKey != "" || j.UniqueWindow != "" {
			if keys == nil {
				keys = make([]*string, n)
				windows = make([]*time.Duration, n)
			}
			if j.UniqueKey != "" {
				s := j.UniqueKey
				keys[i] = &s
			}
			if j.UniqueWindow != "" {
				d, err := time.ParseDuration(j.UniqueWindow)
				if err != nil {
					return nil, fmt.Errorf("job %d: unique_window %q: want a duration such as 1h", i, j.UniqueWindow)
				}
				windows[i] = &d
			}
		}
		if j.Delay != "" {
			if delays == nil {
				delays = make([]string, n)
			}
			delays[i] = j.Delay
		}
		if i == 0 {
			tags = j.Tags
		}
	}
	if delays != nil {
		// Resolve delays against the database clock, like run_at defaults.
		var now time.Time
		if err := q.QueryRow(ctx, qNow).Scan(&now); err != nil {
			return nil, err
		}
		for i, d := range delays {
			if d == "" {
				continue
			}
			if runAt[i] != nil {
				return nil, fmt.Errorf("job %d: give run_at or delay, not both", i)
			}
			dur, err := time.ParseDuration(d)
			if err != nil {
				return nil, fmt.Errorf("job %d: delay %q: want a duration such as 30s or 5m", i, d)
			}
			t := now.Add(dur)
			runAt[i] = &t
		}
	}
	// Arrays whose every element takes the default go as NULL (the SQL side
	// pads them): a 5,000-job batch then sends two arrays, not six. Measured
	// (tests/bench queue, 5k batches, loaded 2-core machine): insert went from
	// 12-19k jobs/s to 30-44k jobs/s in the runs after this change, River
	// InsertMany 10-28k in the same runs.
	var pArgs, pQueues, pPrios, pRunAt, pMaxAtt any
	for i := range n {
		if args[i] != nil {
			pArgs = args
		}
		if queues[i] != nil {
			pQueues = queues
		}
		if prios[i] != 0 {
			pPrios = prios
		}
		if runAt[i] != nil {
			pRunAt = runAt
		}
		if maxAtt[i] != nil {
			pMaxAtt = maxAtt
		}
	}
	rows, err := q.Query(ctx, qEnqueueMany, kinds, pArgs, pQueues, pPrios, pRunAt, pMaxAtt, keys, windows, tags)
	if err != nil {
		return nil, err
	}
	out := make([]Enqueued, 0, n)
	for rows.Next() {
		var e Enqueued
		if err := rows.Scan(&e.ID, &e.Duplicate); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
