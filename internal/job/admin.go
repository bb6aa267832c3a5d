package job

import (
	"context"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/web"
)

// RequireAdmin refuses callers that are not admins (service_role).
func RequireAdmin(ctx context.Context) error {
	if !identity.From(ctx).IsAdmin() {
		return apierror.Forbidden("admin only")
	}
	return nil
}

// Admin serves /api/admin/jobs and /api/admin/schedules. Every handler
// checks the caller is an admin, then calls the SQL API as the server.
type Admin struct{ db *db.DB }

// NewAdmin returns the admin handlers.
func NewAdmin(d *db.DB) *Admin { return &Admin{db: d} }

func (a *Admin) sys(r *http.Request, fn func(tx pgx.Tx) error) error {
	if err := RequireAdmin(r.Context()); err != nil {
		return err
	}
	return a.db.System(r.Context(), fn)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apierror.BadRequest("job id must be a positive integer")
	}
	return id, nil
}

// ListJobs: GET /api/admin/jobs?state=&queue=&kind=&before_id=&limit=
func (a *Admin) ListJobs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := Filter{State: q.Get("state"), Queue: q.Get("queue"), Kind: q.Get("kind")}
	for key, dst := range map[string]*int64{"before_id": &f.BeforeID} {
		if v := q.Get(key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return apierror.BadRequest(key + " must be an integer")
			}
			*dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return apierror.BadRequest("limit must be between 1 and 1000")
		}
		f.Limit = n
	}
	var items []Record
	err := a.sys(r, func(tx pgx.Tx) (err error) { items, err = List(r.Context(), tx, f); return })
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// JobStats: GET /api/admin/jobs/stats
func (a *Admin) JobStats(w http.ResponseWriter, r *http.Request) error {
	var s []QueueStats
	err := a.sys(r, func(tx pgx.Tx) (err error) { s, err = Stats(r.Context(), tx); return })
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"queues": s})
	return nil
}

// GetJob: GET /api/admin/jobs/{id}
func (a *Admin) GetJob(w http.ResponseWriter, r *http.Request) error {
	return a.oneJob(w, r, Get)
}

// CancelJob: POST /api/admin/jobs/{id}/cancel
func (a *Admin) CancelJob(w http.ResponseWriter, r *http.Request) error {
	return a.oneJob(w, r, Cancel)
}

// RetryJob: POST /api/admin/jobs/{id}/retry
func (a *Admin) RetryJob(w http.ResponseWriter, r *http.Request) error {
	return a.oneJob(w, r, Retry)
}

func (a *Admin) oneJob(w http.ResponseWriter, r *http.Request, fn func(context.Context, Querier, int64) (*Record, error)) error {
	if err := RequireAdmin(r.Context()); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var j *Record
	if err := a.sys(r, func(tx pgx.Tx) (err error) { j, err = fn(r.Context(), tx, id); return }); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, j)
	return nil
}

// EnqueueJob: POST /api/admin/jobs {kind, args, queue, priority, run_at |
// delay, max_attempts, unique_key, unique_window, tags} -> 201 {id, duplicate}
// (200 when a duplicate's id is returned).
func (a *Admin) EnqueueJob(w http.ResponseWriter, r *http.Request) error {
	if err := RequireAdmin(r.Context()); err != nil {
		return err
	}
	var p EnqueueParams
	if err := web.DecodeJSON(r, &p); err != nil {
		return err
	}
	if err := ValidateEnqueue(p); err != nil {
		return err
	}
	var res []Enqueued
	err := a.sys(r, func(tx pgx.Tx) (err error) { res, err = Enqueue(r.Context(), tx, []EnqueueParams{p}); return })
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if res[0].Duplicate {
		status = http.StatusOK
	}
	web.WriteJSON(w, status, res[0])
	return nil
}

// ListSchedules: GET /api/admin/schedules
func (a *Admin) ListSchedules(w http.ResponseWriter, r *http.Request) error {
	var items []Schedule
	err := a.sys(r, func(tx pgx.Tx) (err error) { items, err = ListSchedules(r.Context(), tx, ""); return })
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// GetSchedule: GET /api/admin/schedules/{name}
func (a *Admin) GetSchedule(w http.ResponseWriter, r *http.Request) error {
	var s *Schedule
	err := a.sys(r, func(tx pgx.Tx) (err error) { s, err = GetSchedule(r.Context(), tx, chi.URLParam(r, "name")); return })
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, s)
	return nil
}

// CreateSchedule: POST /api/admin/schedules {name, cron, kind, ...} -> 201;
// 409 if the name exists.
func (a *Admin) CreateSchedule(w http.ResponseWriter, r *http.Request) error {
	return a.putSchedule(w, r, "")
}

// UpdateSchedule: PUT /api/admin/schedules/{name} (replaces it).
func (a *Admin) UpdateSchedule(w http.ResponseWriter, r *http.Request) error {
	return a.putSchedule(w, r, chi.URLParam(r, "name"))
}

func (a *Admin) putSchedule(w http.ResponseWriter, r *http.Request, name string) error {
	if err := RequireAdmin(r.Context()); err != nil {
		return err
	}
	var p ScheduleParams
	if err := web.DecodeJSON(r, &p); err != nil {
		return err
	}
	if name != "" {
		if p.Name != "" && p.Name != name {
			return apierror.Validation("name in the body differs from the path")
		}
		p.Name = name
	}
	var s *Schedule
	err := a.sys(r, func(tx pgx.Tx) error {
		existing, err := ListSchedules(r.Context(), tx, p.Name)
		if err != nil {
			return err
		}
		if name == "" && len(existing) > 0 {
			return apierror.New(apierror.CodeAlreadyExists, "schedule "+p.Name+" already exists").WithHint("PUT /api/admin/schedules/" + p.Name + " replaces it")
		}
		if name != "" && len(existing) == 0 {
			return apierror.NotFound("schedule " + name + " not found")
		}
		s, err = UpsertSchedule(r.Context(), tx, p)
		return err
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if name == "" {
		status = http.StatusCreated
	}
	web.WriteJSON(w, status, s)
	return nil
}

// DeleteSchedule: DELETE /api/admin/schedules/{name}
func (a *Admin) DeleteSchedule(w http.ResponseWriter, r *http.Request) error {
	err := a.sys(r, func(tx pgx.Tx) error { return DeleteSchedule(r.Context(), tx, chi.URLParam(r, "name")) })
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// EnableSchedule: POST /api/admin/schedules/{name}/enable
func (a *Admin) EnableSchedule(w http.ResponseWriter, r *http.Request) error {
	return a.setEnabled(w, r, true)
}

// DisableSchedule: POST /api/admin/schedules/{name}/disable
func (a *Admin) DisableSchedule(w http.ResponseWriter, r *http.Request) error {
	return a.setEnabled(w, r, false)
}

func (a *Admin) setEnabled(w http.ResponseWriter, r *http.Request, on bool) error {
	var s *Schedule
	err := a.sys(r, func(tx pgx.Tx) (err error) {
		s, err = SetScheduleEnabled(r.Context(), tx, chi.URLParam(r, "name"), on)
		return
	})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, s)
	return nil
}

// RunSchedule: POST /api/admin/schedules/{name}/run -> 201 {id}
func (a *Admin) RunSchedule(w http.ResponseWriter, r *http.Request) error {
	var id int64
	err := a.sys(r, func(tx pgx.Tx) (err error) {
		id, err = RunScheduleNow(r.Context(), tx, chi.URLParam(r, "name"))
		return
	})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, map[string]any{"id": id})
	return nil
}
