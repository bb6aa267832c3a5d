package matview

import (
	"context"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/job"
	"github.com/aybhq/ayb/internal/web"
)

// Admin serves /api/admin/matviews. {view} is "view" or "schema.view".
type Admin struct{ db *db.DB }

// NewAdmin returns the admin handlers.
func NewAdmin(d *db.DB) *Admin { return &Admin{db: d} }

func (a *Admin) sys(r *http.Request, fn func(tx pgx.Tx) error) error {
	if err := job.RequireAdmin(r.Context()); err != nil {
		return err
	}
	return a.db.System(r.Context(), fn)
}

// List: GET /api/admin/matviews
func (a *Admin) List(w http.ResponseWriter, r *http.Request) error {
	var items []Matview
	if err := a.sys(r, func(tx pgx.Tx) (err error) { items, err = List(r.Context(), tx); return }); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// Get: GET /api/admin/matviews/{view}
func (a *Admin) Get(w http.ResponseWriter, r *http.Request) error {
	var m *Matview
	if err := a.sys(r, func(tx pgx.Tx) (err error) { m, err = Get(r.Context(), tx, chi.URLParam(r, "view")); return }); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, m)
	return nil
}

// Register: POST /api/admin/matviews {view, mode, schedule, timezone,
// refresh_on_change, debounce} -> 201. 404 if no such materialized view,
// 409 if registered already or concurrent mode lacks its prerequisites.
func (a *Admin) Register(w http.ResponseWriter, r *http.Request) error {
	if err := job.RequireAdmin(r.Context()); err != nil {
		return err
	}
	var p Params
	if err := web.DecodeJSON(r, &p); err != nil {
		return err
	}
	var m *Matview
	if err := a.sys(r, func(tx pgx.Tx) (err error) { m, err = Register(r.Context(), tx, p); return }); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, m)
	return nil
}

// Update: PATCH /api/admin/matviews/{view} {mode?, schedule?, timezone?,
// refresh_on_change?, debounce?}; schedule "" removes the schedule.
func (a *Admin) Update(w http.ResponseWriter, r *http.Request) error {
	if err := job.RequireAdmin(r.Context()); err != nil {
		return err
	}
	var p Params
	if err := web.DecodeJSON(r, &p); err != nil {
		return err
	}
	view := chi.URLParam(r, "view")
	if p.View != "" && p.View != view {
		return apierror.Validation("view in the body differs from the path")
	}
	p.View = view
	var m *Matview
	if err := a.sys(r, func(tx pgx.Tx) (err error) { m, err = Update(r.Context(), tx, p); return }); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, m)
	return nil
}

// Unregister: DELETE /api/admin/matviews/{view} (the view itself stays).
func (a *Admin) Unregister(w http.ResponseWriter, r *http.Request) error {
	if err := a.sys(r, func(tx pgx.Tx) error { return Unregister(r.Context(), tx, chi.URLParam(r, "view")) }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Refresh: POST /api/admin/matviews/{view}/refresh -> 200 with the history
// record; 409 if a refresh of the view is running or the concurrent
// prerequisites are missing; 404 if the view is gone (recorded). The refresh
// runs to its end even if the client goes away.
func (a *Admin) Refresh(w http.ResponseWriter, r *http.Request) error {
	if err := job.RequireAdmin(r.Context()); err != nil {
		return err
	}
	h, err := RefreshNow(context.WithoutCancel(r.Context()), a.db, chi.URLParam(r, "view"), "manual")
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, h)
	return nil
}

// History: GET /api/admin/matviews/{view}/refreshes?limit=
func (a *Admin) History(w http.ResponseWriter, r *http.Request) error {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return apierror.BadRequest("limit must be between 1 and 1000")
		}
		limit = n
	}
	var items []Refresh
	err := a.sys(r, func(tx pgx.Tx) (err error) {
		items, err = History(r.Context(), tx, chi.URLParam(r, "view"), limit)
		return
	})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}
