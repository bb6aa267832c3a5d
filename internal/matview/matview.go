// Package matview refreshes registered materialized views: on demand, on a
// schedule (a schedule of job kind matview.refresh) or after their source
// tables change (statement triggers that enqueue one debounced job). The
// registry, the locking and the history are SQL (ayb.matview_register,
// ayb.matview_refresh, ...); this package calls them for the job worker,
// the admin HTTP API and the CLI.
package matview

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/job"
)

//go:embed queries/*.sql
var queryFiles embed.FS

func query(name string) string {
	b, err := queryFiles.ReadFile("queries/" + name + ".sql")
	if err != nil {
		panic("matview: missing query " + name)
	}
	return strings.TrimSpace(string(b))
}

var (
	qList          = query("list")
	qRegister      = query("register")
	qUpdate        = query("update")
	qUnregister    = query("unregister")
	qRefresh       = query("refresh")
	qHistory       = query("history")
	qNoStmtTimeout = query("no_statement_timeout")
)

// Channel is the NOTIFY channel that carries 'schema.view' after each
// successful refresh.
const Channel = "matview_refreshed"

// Kind is the job kind that refreshes a view; args {"view": "schema.view"}.
const Kind = "matview.refresh"

// Matview is one registration.
type Matview struct {
	ID              int64      `json:"id"`
	View            string     `json:"view"`
	Schema          string     `json:"schema"`
	Name            string     `json:"name"`
	Mode            string     `json:"mode"`
	Schedule        *string    `json:"schedule"`
	Timezone        *string    `json:"timezone"`
	RefreshOnChange bool       `json:"refresh_on_change"`
	DebounceSeconds float64    `json:"debounce_seconds"`
	LastRefreshAt   *time.Time `json:"last_refresh_at"`
	LastDurationMS  *float64   `json:"last_duration_ms"`
	LastStatus      *string    `json:"last_status"`
	LastError       *string    `json:"last_error"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

// Refresh is one entry of a view's refresh history.
type Refresh struct {
	ID          int64     `json:"id"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	DurationMS  float64   `json:"duration_ms"`
	Status      string    `json:"status"`
	Error       *string   `json:"error"`
	ErrorCode   *string   `json:"error_code"`
	TriggeredBy string    `json:"triggered_by"`
}

// Params register or update a view. On update, nil fields keep their value;
// Schedule "" removes the schedule.
type Params struct {
	View            string  `json:"view"`
	Mode            *string `json:"mode,omitempty"`
	Schedule        *string `json:"schedule,omitempty"`
	Timezone        *string `json:"timezone,omitempty"`
	RefreshOnChange *bool   `json:"refresh_on_change,omitempty"`
	Debounce        *string `json:"debounce,omitempty"` // Go duration, e.g. "2s"
}

func (p Params) validate() (*time.Duration, error) {
	if strings.TrimSpace(p.View) == "" {
		return nil, apierror.Validation("view is required (view or schema.view)")
	}
	if p.Mode != nil && *p.Mode != "standard" && *p.Mode != "concurrent" {
		return nil, apierror.Validation("mode must be standard or concurrent")
	}
	if p.Schedule != nil && *p.Schedule != "" {
		if _, err := job.ParseCron(*p.Schedule); err != nil {
			return nil, apierror.Validation(err.Error())
		}
	}
	if p.Timezone != nil {
		if _, err := time.LoadLocation(*p.Timezone); err != nil || *p.Timezone == "" || *p.Timezone == "Local" {
			return nil, apierror.Validation("unknown time zone " + *p.Timezone).WithHint("use an IANA name such as Europe/Berlin")
		}
	}
	if p.Debounce != nil {
		d, err := time.ParseDuration(*p.Debounce)
		if err != nil || d < 0 || d > 24*time.Hour {
			return nil, apierror.Validation("debounce must be a duration between 0s and 24h, such as 2s")
		}
		return &d, nil
	}
	return nil, nil
}

// Register registers a view (ayb.matview_register).
func Register(ctx context.Context, q job.Querier, p Params) (*Matview, error) {
	deb, err := p.validate()
	if err != nil {
		return nil, err
	}
	mode := "standard"
	if p.Mode != nil {
		mode = *p.Mode
	}
	tz := "UTC"
	if p.Timezone != nil {
		tz = *p.Timezone
	}
	var sched *string
	if p.Schedule != nil && *p.Schedule != "" {
		sched = p.Schedule
	}
	onChange := p.RefreshOnChange != nil && *p.RefreshOnChange
	d := 2 * time.Second
	if deb != nil {
		d = *deb
	}
	if _, err := q.Exec(ctx, qRegister, p.View, mode, sched, tz, onChange, d); err != nil {
		return nil, db.Translate(err)
	}
	return Get(ctx, q, p.View)
}

// Update changes a registration (ayb.matview_update).
func Update(ctx context.Context, q job.Querier, p Params) (*Matview, error) {
	deb, err := p.validate()
	if err != nil {
		return nil, err
	}
	if _, err := q.Exec(ctx, qUpdate, p.View, p.Mode, p.Schedule, p.Timezone, p.RefreshOnChange, deb); err != nil {
		return nil, db.Translate(err)
	}
	return Get(ctx, q, p.View)
}

// Unregister removes a registration; the view itself stays.
func Unregister(ctx context.Context, q job.Querier, view string) error {
	if _, err := q.Exec(ctx, qUnregister, view); err != nil {
		return db.Translate(err)
	}
	return nil
}

// List returns every registration.
func List(ctx context.Context, q job.Querier) ([]Matview, error) { return list(ctx, q, nil) }

// Get returns one registration (404 if not registered).
func Get(ctx context.Context, q job.Querier, view string) (*Matview, error) {
	ms, err := list(ctx, q, &view)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, apierror.NotFound("materialized view " + view + " is not registered")
	}
	return &ms[0], nil
}

func list(ctx context.Context, q job.Querier, view *string) ([]Matview, error) {
	rows, err := q.Query(ctx, qList, view)
	if err != nil {
		return nil, db.Translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Matview, error) {
		var m Matview
		err := r.Scan(&m.ID, &m.Schema, &m.Name, &m.Mode, &m.Schedule, &m.Timezone, &m.RefreshOnChange, &m.DebounceSeconds,
			&m.LastRefreshAt, &m.LastDurationMS, &m.LastStatus, &m.LastError, &m.CreatedAt, &m.UpdatedAt)
		m.View = m.Schema + "." + m.Name
		return m, err
	})
	if err != nil {
		return nil, db.Translate(err)
	}
	if out == nil {
		out = []Matview{}
	}
	return out, nil
}

// History returns a view's latest refreshes, newest first.
func History(ctx context.Context, q job.Querier, view string, limit int) ([]Refresh, error) {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	rows, err := q.Query(ctx, qHistory, view, limit)
	if err != nil {
		return nil, db.Translate(err)
	}
	out, err := pgx.CollectRows(rows, scanRefresh)
	if err != nil {
		return nil, db.Translate(err)
	}
	if out == nil {
		out = []Refresh{}
	}
	return out, nil
}

func scanRefresh(r pgx.CollectableRow) (Refresh, error) {
	var h Refresh
	err := r.Scan(&h.ID, &h.StartedAt, &h.FinishedAt, &h.DurationMS, &h.Status, &h.Error, &h.ErrorCode, &h.TriggeredBy)
	return h, err
}

// RefreshNow refreshes a registered view (ayb.matview_refresh) in its own
// transaction with statement_timeout off, so a long refresh is never killed
// by a timeout meant for requests. The refresh is recorded either way; a
// failed one returns its record and an error: 404 when the view is gone,
// 409 when another refresh is running or concurrent mode lacks its unique
// index, else the refresh's own error.
func RefreshNow(ctx context.Context, d *db.DB, view, triggeredBy string) (*Refresh, error) {
	if triggeredBy == "" {
		triggeredBy = "manual"
	}
	var h Refresh
	err := d.System(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qNoStmtTimeout); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, qRefresh, view, triggeredBy)
		if err != nil {
			return err
		}
		h, err = pgx.CollectExactlyOneRow(rows, scanRefresh)
		return err
	})
	if err != nil {
		return nil, err
	}
	if h.Status == "error" {
		code := "internal_error"
		if h.ErrorCode != nil {
			code = *h.ErrorCode
		}
		msg := "refresh failed"
		if h.Error != nil {
			msg = *h.Error
		}
		e := apierror.New(code, msg).WithDetails(h)
		if e.Status >= 500 {
			e.Status = 500
		}
		return &h, e
	}
	return &h, nil
}

// RegisterJob registers the matview.refresh job kind: no timeout (the job
// keeps its lease by heartbeat however long the refresh takes).
func RegisterJob(reg *job.Registry, d *db.DB) {
	reg.Handle(Kind, func(ctx context.Context, j *job.Job) error {
		var a struct {
			View        string `json:"view"`
			TriggeredBy string `json:"triggered_by"`
		}
		if err := json.Unmarshal(j.Args, &a); err != nil || a.View == "" {
			return job.Discard(errors.New(`matview.refresh: args must be {"view": "schema.view"}`))
		}
		by := a.TriggeredBy
		if by == "" {
			by = "job"
		}
		_, err := RefreshNow(ctx, d, a.View, fmt.Sprintf("%s (job %d)", by, j.ID))
		if err != nil {
			if ae := apierror.As(err); ae.Status == 404 {
				return job.Discard(err)
			}
			return err
		}
		return nil
	}, job.KindOptions{})
}
