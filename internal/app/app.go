// Package app is AYB's apps: a named client (a Flutter app, a web app, a
// partner integration) that owns API keys, carries a rate limit that every
// instance enforces (package ratelimit, through package apikey) and shows
// in SQL as auth.app_id(). The SQL API ayb.app_* is the source of truth;
// this package calls it for the admin HTTP API (/api/admin/apps) and the
// CLI (`ayb apps`).
package app

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/ratelimit"
	"github.com/aybhq/ayb/internal/web"
)

// App is an app as the admin API shows it.
type App struct {
	ID          uuid.UUID       `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	OwnerID     *uuid.UUID      `json:"owner_id"`
	RateLimit   *ratelimit.Spec `json:"rate_limit"`
	CreatedBy   *uuid.UUID      `json:"created_by"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	DeletedAt   *time.Time      `json:"deleted_at"`
	DeletedBy   *uuid.UUID      `json:"deleted_by"`
}

// Usage is one window of an app's traffic.
type Usage struct {
	WindowStart   time.Time `json:"window_start"`
	WindowSeconds float64   `json:"window_seconds"`
	Requests      int64     `json:"requests"`
	Rejected      int64     `json:"rejected"`
}

// Service runs the app SQL API.
type Service struct{ db *db.DB }

// New returns the service.
func New(d *db.DB) *Service { return &Service{db: d} }

func scan(row pgx.Row) (App, error) {
	var a App
	var req, burst *int
	var win *float64
	err := row.Scan(&a.ID, &a.Name, &a.Description, &a.OwnerID, &req, &win, &burst,
		&a.CreatedBy, &a.CreatedAt, &a.UpdatedAt, &a.DeletedAt, &a.DeletedBy)
	a.RateLimit = ratelimit.SpecOf(req, win, burst)
	return a, err
}

func specArgs(s *ratelimit.Spec) (req *int, win *float64, burst *int) {
	if s == nil {
		return nil, nil, nil
	}
	return &s.Requests, &s.WindowSeconds, s.Burst
}

// CreateParams describe a new app.
type CreateParams struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	OwnerID     *uuid.UUID      `json:"owner_id"`
	RateLimit   *ratelimit.Spec `json:"rate_limit"`
}

// Create makes an app (ayb.app_create). actor is recorded as created_by.
func (s *Service) Create(ctx context.Context, p CreateParams, actor *uuid.UUID) (App, error) {
	req, win, burst := specArgs(p.RateLimit)
	a, err := scan(s.db.Pool.QueryRow(ctx, query("create"), p.Name, p.Description, p.OwnerID, req, win, burst, actor))
	return a, db.Translate(err)
}

// UpdateParams change what they set. ClearOwner / ClearRateLimit remove the
// owner / the limit.
type UpdateParams struct {
	Name           *string
	Description    *string
	OwnerID        *uuid.UUID
	ClearOwner     bool
	RateLimit      *ratelimit.Spec
	ClearRateLimit bool
}

// Update changes an app (ayb.app_update). Every instance applies a new rate
// limit from the next request on.
func (s *Service) Update(ctx context.Context, id uuid.UUID, p UpdateParams) (App, error) {
	req, win, burst := specArgs(p.RateLimit)
	a, err := scan(s.db.Pool.QueryRow(ctx, query("update"), id, p.Name, p.Description, p.OwnerID,
		req, win, burst, p.ClearOwner, p.ClearRateLimit))
	return a, db.Translate(err)
}

// Delete revokes the app's keys and marks it deleted, in one transaction
// (ayb.app_delete).
func (s *Service) Delete(ctx context.Context, id uuid.UUID, actor *uuid.UUID) (App, error) {
	a, err := scan(s.db.Pool.QueryRow(ctx, query("delete"), id, actor))
	return a, db.Translate(err)
}

// Get returns one app (deleted ones too, as tombstones).
func (s *Service) Get(ctx context.Context, id uuid.UUID) (App, error) {
	a, err := scan(s.db.Pool.QueryRow(ctx, query("get"), id))
	return a, db.Translate(err)
}

// List returns the apps, oldest first.
func (s *Service) List(ctx context.Context, includeDeleted bool) ([]App, error) {
	rows, err := s.db.Pool.Query(ctx, query("list"), includeDeleted)
	if err != nil {
		return nil, db.Translate(err)
	}
	defer rows.Close()
	out := []App{}
	for rows.Next() {
		a, err := scan(rows)
		if err != nil {
			return nil, db.Translate(err)
		}
		out = append(out, a)
	}
	return out, db.Translate(rows.Err())
}

// Usage returns the app's requests and 429s per window since since (zero:
// the last 24 hours), newest first. Counts reach the database about once
// a second from each instance.
func (s *Service) Usage(ctx context.Context, id uuid.UUID, since time.Time) ([]Usage, error) {
	var at *time.Time
	if !since.IsZero() {
		at = &since
	}
	rows, err := s.db.Pool.Query(ctx, query("usage"), id, at)
	if err != nil {
		return nil, db.Translate(err)
	}
	defer rows.Close()
	out := []Usage{}
	for rows.Next() {
		var u Usage
		if err := rows.Scan(&u.WindowStart, &u.WindowSeconds, &u.Requests, &u.Rejected); err != nil {
			return nil, db.Translate(err)
		}
		out = append(out, u)
	}
	return out, db.Translate(rows.Err())
}

// AdminRoutes serves /api/admin/apps. Mount it behind the admin guard
// (apikey.RequireAdmin); guard is applied here too so a missing guard
// fails closed.
//
//	GET    /               list (?include_deleted=true)
//	POST   /               create {name, description, owner_id, rate_limit: {requests, window_seconds, burst}}
//	GET    /{id}           one app
//	PATCH  /{id}           change {name, description, owner_id (null clears), rate_limit (null = unlimited)}
//	DELETE /{id}           revoke its keys and delete it
//	GET    /{id}/usage     requests and 429s per window (?since=RFC 3339)
func (s *Service) AdminRoutes(guard func(http.Handler) http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(guard)
	r.Method(http.MethodGet, "/", web.Handler(s.list))
	r.Method(http.MethodPost, "/", web.Handler(s.create))
	r.Method(http.MethodGet, "/{id}", web.Handler(s.get))
	r.Method(http.MethodPatch, "/{id}", web.Handler(s.update))
	r.Method(http.MethodDelete, "/{id}", web.Handler(s.delete))
	r.Method(http.MethodGet, "/{id}/usage", web.Handler(s.usage))
	return r
}

func actorOf(r *http.Request) *uuid.UUID {
	if u, err := uuid.Parse(identity.From(r.Context()).Subject()); err == nil {
		return &u
	}
	return nil
}

func pathID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return uuid.UUID{}, apierror.Validation("the app id must be a uuid")
	}
	return id, nil
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	inc := r.URL.Query().Get("include_deleted")
	if inc != "" && inc != "true" && inc != "false" {
		return apierror.Validation("include_deleted must be true or false")
	}
	as, err := s.List(r.Context(), inc == "true")
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"items": as})
	return nil
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	var p CreateParams
	if err := web.DecodeJSON(r, &p); err != nil {
		return err
	}
	a, err := s.Create(r.Context(), p, actorOf(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, a)
	return nil
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	a, err := s.Get(r.Context(), id)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, a)
	return nil
}

// patchBody tells "absent" from "null" for owner_id and rate_limit.
type patchBody struct {
	Name        *string                  `json:"name"`
	Description *string                  `json:"description"`
	OwnerID     nullable[uuid.UUID]      `json:"owner_id"`
	RateLimit   nullable[ratelimit.Spec] `json:"rate_limit"`
}

func (s *Service) update(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var b patchBody
	if err := web.DecodeJSON(r, &b); err != nil {
		return err
	}
	p := UpdateParams{Name: b.Name, Description: b.Description}
	if b.OwnerID.Set {
		p.OwnerID, p.ClearOwner = b.OwnerID.Value, b.OwnerID.Value == nil
	}
	if b.RateLimit.Set {
		p.RateLimit, p.ClearRateLimit = b.RateLimit.Value, b.RateLimit.Value == nil
	}
	a, err := s.Update(r.Context(), id, p)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, a)
	return nil
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	a, err := s.Delete(r.Context(), id, actorOf(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, a)
	return nil
}

func (s *Service) usage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		if since, err = time.Parse(time.RFC3339, v); err != nil {
			return apierror.Validation("since must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
		}
	}
	u, err := s.Usage(r.Context(), id, since)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"items": u})
	return nil
}
