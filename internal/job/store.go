package job

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
)

// Record is a job row as admins see it.
type Record struct {
	ID          int64           `json:"id"`
	Queue       string          `json:"queue"`
	Kind        string          `json:"kind"`
	Args        json.RawMessage `json:"args"`
	Priority    int16           `json:"priority"`
	State       string          `json:"state"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	AttemptedAt *time.Time      `json:"attempted_at"`
	AttemptedBy *string         `json:"attempted_by"`
	LeaseUntil  *time.Time      `json:"lease_until"`
	FinalizedAt *time.Time      `json:"finalized_at"`
	Errors      json.RawMessage `json:"errors"`
	UniqueKey   *string         `json:"unique_key"`
	Tags        []string        `json:"tags"`
	CreatedAt   time.Time       `json:"created_at"`
}

func scanRecord(r pgx.CollectableRow) (Record, error) {
	var j Record
	err := r.Scan(&j.ID, &j.Queue, &j.Kind, &j.Args, &j.Priority, &j.State, &j.Attempt, &j.MaxAttempts, &j.ScheduledAt,
		&j.AttemptedAt, &j.AttemptedBy, &j.LeaseUntil, &j.FinalizedAt, &j.Errors, &j.UniqueKey, &j.Tags, &j.CreatedAt)
	return j, err
}

// States lists the job states.
var States = []string{"available", "scheduled", "running", "retryable", "completed", "discarded", "cancelled"}

// Filter selects jobs to list; empty fields match all. Jobs come newest
// first; BeforeID pages (pass the last id seen).
type Filter struct {
	State    string
	Queue    string
	Kind     string
	BeforeID int64
	Limit    int
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// List returns jobs matching f.
func List(ctx context.Context, q Querier, f Filter) ([]Record, error) {
	if f.State != "" && !contains(States, f.State) {
		return nil, apierror.Validation("unknown state " + f.State).WithHint("one of " + strings.Join(States, ", "))
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var before *int64
	if f.BeforeID > 0 {
		before = &f.BeforeID
	}
	rows, err := q.Query(ctx, qList, nullable(f.State), nullable(f.Queue), nullable(f.Kind), before, f.Limit)
	if err != nil {
		return nil, db.Translate(err)
	}
	out, err := pgx.CollectRows(rows, scanRecord)
	if err != nil {
		return nil, db.Translate(err)
	}
	if out == nil {
		out = []Record{}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Get returns one job.
func Get(ctx context.Context, q Querier, id int64) (*Record, error) {
	rows, err := q.Query(ctx, qGet, id)
	if err != nil {
		return nil, db.Translate(err)
	}
	j, err := pgx.CollectExactlyOneRow(rows, scanRecord)
	if err != nil {
		if db.IsNoRows(err) {
			return nil, apierror.NotFound("job not found")
		}
		return nil, db.Translate(err)
	}
	return &j, nil
}

// Cancel cancels a job (ayb.job_cancel) and returns it.
func Cancel(ctx context.Context, q Querier, id int64) (*Record, error) {
	if _, err := q.Exec(ctx, qCancel, id); err != nil {
		return nil, db.Translate(err)
	}
	return Get(ctx, q, id)
}

// Retry makes a job available again (ayb.job_retry) and returns it.
func Retry(ctx context.Context, q Querier, id int64) (*Record, error) {
	if _, err := q.Exec(ctx, qRetry, id); err != nil {
		return nil, db.Translate(err)
	}
	return Get(ctx, q, id)
}

// QueueStats counts one queue's jobs by state.
type QueueStats struct {
	Queue  string           `json:"queue"`
	States map[string]int64 `json:"states"`
	// OldestWaitingSeconds is the age of the oldest due job, if any.
	OldestWaitingSeconds *float64 `json:"oldest_waiting_seconds"`
}

// Stats counts jobs per queue and state.
func Stats(ctx context.Context, q Querier) ([]QueueStats, error) {
	rows, err := q.Query(ctx, qStats)
	if err != nil {
		return nil, db.Translate(err)
	}
	defer rows.Close()
	byQueue := map[string]*QueueStats{}
	var out []QueueStats
	var order []string
	now := time.Now()
	for rows.Next() {
		var queue, state string
		var n int64
		var oldest *time.Time
		if err := rows.Scan(&queue, &state, &n, &oldest); err != nil {
			return nil, db.Translate(err)
		}
		s, ok := byQueue[queue]
		if !ok {
			s = &QueueStats{Queue: queue, States: map[string]int64{}}
			for _, st := range States {
				s.States[st] = 0
			}
			byQueue[queue] = s
			order = append(order, queue)
		}
		s.States[state] = n
		if oldest != nil && oldest.Before(now) {
			age := now.Sub(*oldest).Seconds()
			if s.OldestWaitingSeconds == nil || age > *s.OldestWaitingSeconds {
				s.OldestWaitingSeconds = &age
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, db.Translate(err)
	}
	for _, q := range order {
		out = append(out, *byQueue[q])
	}
	if out == nil {
		out = []QueueStats{}
	}
	return out, nil
}

// Schedule is a schedule row.
type Schedule struct {
	Name           string          `json:"name"`
	Cron           string          `json:"cron"`
	Timezone       string          `json:"timezone"`
	Kind           string          `json:"kind"`
	Args           json.RawMessage `json:"args"`
	Queue          string          `json:"queue"`
	Priority       int16           `json:"priority"`
	MaxAttempts    int             `json:"max_attempts"`
	Enabled        bool            `json:"enabled"`
	CatchUp        bool            `json:"catch_up"`
	NextRunAt      *time.Time      `json:"next_run_at"`
	LastFireAt     *time.Time      `json:"last_fire_at"`
	LastEnqueuedAt *time.Time      `json:"last_enqueued_at"`
	LastJobID      *int64          `json:"last_job_id"`
	LastError      *string         `json:"last_error"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// ScheduleParams create or replace a schedule. Nil pointers take defaults
// (timezone UTC, queue default, priority 0, 20 attempts, enabled, catch-up).
type ScheduleParams struct {
	Name        string          `json:"name"`
	Cron        string          `json:"cron"`
	Timezone    string          `json:"timezone,omitempty"`
	Kind        string          `json:"kind"`
	Args        json.RawMessage `json:"args,omitempty"`
	Queue       string          `json:"queue,omitempty"`
	Priority    *int            `json:"priority,omitempty"`
	MaxAttempts *int            `json:"max_attempts,omitempty"`
	Enabled     *bool           `json:"enabled,omitempty"`
	CatchUp     *bool           `json:"catch_up,omitempty"`
}

// ListSchedules returns every schedule (or the one named).
func ListSchedules(ctx context.Context, q Querier, name string) ([]Schedule, error) {
	rows, err := q.Query(ctx, qSchedulesList, nullable(name))
	if err != nil {
		return nil, db.Translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Schedule, error) {
		var s Schedule
		err := r.Scan(&s.Name, &s.Cron, &s.Timezone, &s.Kind, &s.Args, &s.Queue, &s.Priority, &s.MaxAttempts, &s.Enabled, &s.CatchUp,
			&s.NextRunAt, &s.LastFireAt, &s.LastEnqueuedAt, &s.LastJobID, &s.LastError, &s.CreatedAt, &s.UpdatedAt)
		return s, err
	})
	if err != nil {
		return nil, db.Translate(err)
	}
	if out == nil {
		out = []Schedule{}
	}
	return out, nil
}

// GetSchedule returns one schedule.
func GetSchedule(ctx context.Context, q Querier, name string) (*Schedule, error) {
	ss, err := ListSchedules(ctx, q, name)
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, apierror.NotFound("schedule " + name + " not found")
	}
	return &ss[0], nil
}

// UpsertSchedule validates p (cron, time zone) and creates or replaces the
// schedule (ayb.schedule_upsert).
func UpsertSchedule(ctx context.Context, q Querier, p ScheduleParams) (*Schedule, error) {
	if p.Name == "" || p.Kind == "" || p.Cron == "" {
		return nil, apierror.Validation("name, cron and kind are required")
	}
	if _, err := ParseCron(p.Cron); err != nil {
		return nil, apierror.Validation(err.Error()).WithHint("five fields (minute hour day month weekday), six with seconds first, or @hourly, @daily, @every 30s")
	}
	if p.Timezone == "" {
		p.Timezone = "UTC"
	}
	if _, err := time.LoadLocation(p.Timezone); err != nil || p.Timezone == "Local" {
		return nil, apierror.Validation("unknown time zone " + p.Timezone).WithHint("use an IANA name such as Europe/Berlin")
	}
	if len(p.Args) == 0 {
		p.Args = json.RawMessage("{}")
	}
	if !json.Valid(p.Args) {
		return nil, apierror.Validation("args must be JSON")
	}
	if p.Queue == "" {
		p.Queue = "default"
	}
	prio, maxAtt, enabled, catchUp := 0, 20, true, true
	if p.Priority != nil {
		prio = *p.Priority
	}
	if p.MaxAttempts != nil {
		maxAtt = *p.MaxAttempts
	}
	if p.Enabled != nil {
		enabled = *p.Enabled
	}
	if p.CatchUp != nil {
		catchUp = *p.CatchUp
	}
	if _, err := q.Exec(ctx, qScheduleUpsert, p.Name, p.Cron, p.Kind, string(p.Args), p.Timezone, p.Queue, prio, maxAtt, enabled, catchUp); err != nil {
		return nil, db.Translate(err)
	}
	return GetSchedule(ctx, q, p.Name)
}

// SetScheduleEnabled enables or disables a schedule.
func SetScheduleEnabled(ctx context.Context, q Querier, name string, enabled bool) (*Schedule, error) {
	sql := qScheduleDisable
	if enabled {
		sql = qScheduleEnable
	}
	if _, err := q.Exec(ctx, sql, name); err != nil {
		return nil, db.Translate(err)
	}
	return GetSchedule(ctx, q, name)
}

// DeleteSchedule deletes a schedule.
func DeleteSchedule(ctx context.Context, q Querier, name string) error {
	if _, err := q.Exec(ctx, qScheduleDelete, name); err != nil {
		return db.Translate(err)
	}
	return nil
}

// RunScheduleNow enqueues a schedule's job now and returns its id.
func RunScheduleNow(ctx context.Context, q Querier, name string) (int64, error) {
	var id int64
	if err := q.QueryRow(ctx, qScheduleRunNow, name).Scan(&id); err != nil {
		return 0, db.Translate(err)
	}
	return id, nil
}

// ValidateEnqueue checks an admin's enqueue request before it is written.
func ValidateEnqueue(p EnqueueParams) error {
	if p.Kind == "" {
		return apierror.Validation("kind is required")
	}
	if len(p.Args) > 0 && !json.Valid(p.Args) {
		return apierror.Validation("args must be JSON")
	}
	if p.Priority < 0 || p.Priority > 9 {
		return apierror.Validation("priority must be between 0 (first) and 9 (last)")
	}
	if p.MaxAttempts < 0 || p.MaxAttempts > 1000 {
		return apierror.Validation("max_attempts must be between 1 and 1000")
	}
	if p.RunAt != nil && p.Delay != "" {
		return apierror.Validation("give run_at or delay, not both")
	}
	if p.Delay != "" {
		if d, err := time.ParseDuration(p.Delay); err != nil || d < 0 {
			return apierror.Validation("delay must be a duration such as 30s or 5m")
		}
	}
	if p.UniqueWindow != "" {
		if d, err := time.ParseDuration(p.UniqueWindow); err != nil || d < 0 {
			return apierror.Validation("unique_window must be a duration such as 1h")
		}
	}
	return nil
}
