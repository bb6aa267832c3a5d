package apikey

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/ratelimit"
)

// Info is a key as lists and the admin API show it (never its secret).
type Info struct {
	ID               uuid.UUID       `json:"id"`
	Name             string          `json:"name"`
	KeyPrefix        string          `json:"key_prefix"`
	Kind             string          `json:"kind"`
	UserID           *uuid.UUID      `json:"user_id"`
	AppID            *uuid.UUID      `json:"app_id"`
	Scope            string          `json:"scope"`
	AllowedTables    []string        `json:"allowed_tables"`
	AllowedFunctions []string        `json:"allowed_functions"`
	RateLimit        *ratelimit.Spec `json:"rate_limit"`
	ExpiresAt        *time.Time      `json:"expires_at"`
	LastUsedAt       *time.Time      `json:"last_used_at"`
	CreatedAt        time.Time       `json:"created_at"`
	CreatedBy        *uuid.UUID      `json:"created_by"`
	RotatedFrom      *uuid.UUID      `json:"rotated_from"`
	RevokedAt        *time.Time      `json:"revoked_at"`
	RevokedBy        *uuid.UUID      `json:"revoked_by"`
	RevokedReason    *string         `json:"revoked_reason"`
	// Realtime is whether the key may open realtime (SSE) streams.
	Realtime bool `json:"realtime"`
}

// Created is a new key: the plaintext, shown this once, and its record.
type Created struct {
	Key    string `json:"key"`
	APIKey Info   `json:"api_key"`
}

// CreateParams describe a key to create. UserID nil makes a service key
// (admins only).
type CreateParams struct {
	Name             string          `json:"name"`
	UserID           *uuid.UUID      `json:"user_id"`
	Scope            string          `json:"scope"`
	AppID            *uuid.UUID      `json:"app_id"`
	AllowedTables    []string        `json:"allowed_tables"`
	AllowedFunctions []string        `json:"allowed_functions"`
	ExpiresAt        *time.Time      `json:"expires_at"`
	RateLimit        *ratelimit.Spec `json:"rate_limit"`
	// Realtime grants the key realtime (SSE) access; without it the key is
	// refused on /api/realtime.
	Realtime bool `json:"realtime"`
}

func scanInfo(row pgx.Row) (Info, error) {
	var k Info
	var req *int
	var win *float64
	var burst *int
	err := row.Scan(&k.ID, &k.Name, &k.KeyPrefix, &k.Kind, &k.UserID, &k.AppID, &k.Scope,
		&k.AllowedTables, &k.AllowedFunctions, &req, &win, &burst,
		&k.ExpiresAt, &k.LastUsedAt, &k.CreatedAt, &k.CreatedBy, &k.RotatedFrom,
		&k.RevokedAt, &k.RevokedBy, &k.RevokedReason, &k.Realtime)
	k.RateLimit = ratelimit.SpecOf(req, win, burst)
	return k, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Create stores a new key (ayb.apikey_create). actor is who asks (audit);
// asUser set means a user creating a key for themself (the SQL then refuses
// other users, service keys and apps they do not own).
func (s *Service) Create(ctx context.Context, p CreateParams, actor, asUser *uuid.UUID) (Created, error) {
	sec, err := Generate()
	if err != nil {
		return Created{}, apierror.Internal(err)
	}
	var req, burst *int
	var win *float64
	if p.RateLimit != nil {
		req, burst = &p.RateLimit.Requests, p.RateLimit.Burst
		win = &p.RateLimit.WindowSeconds
	}
	info, err := scanInfo(s.db.Pool.QueryRow(ctx, query("create"),
		p.Name, sec.Hash, sec.Prefix, p.UserID, p.Scope, p.AppID, nonNil(p.AllowedTables), nonNil(p.AllowedFunctions),
		p.ExpiresAt, req, win, burst, actor, asUser, p.Realtime))
	if err != nil {
		return Created{}, db.Translate(err)
	}
	return Created{Key: sec.Plaintext, APIKey: info}, nil
}

// ListParams filter List; zero values mean all.
type ListParams struct {
	UserID         *uuid.UUID
	AppID          *uuid.UUID
	ID             *uuid.UUID
	IncludeRevoked bool
}

// List returns keys, newest first.
func (s *Service) List(ctx context.Context, p ListParams) ([]Info, error) {
	rows, err := s.db.Pool.Query(ctx, query("list"), p.UserID, p.AppID, p.IncludeRevoked, p.ID)
	if err != nil {
		return nil, db.Translate(err)
	}
	defer rows.Close()
	out := []Info{}
	for rows.Next() {
		k, err := scanInfo(rows)
		if err != nil {
			return nil, db.Translate(err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, db.Translate(err)
	}
	return out, nil
}

// Get returns one key (as user asUser, when set: only their own).
func (s *Service) Get(ctx context.Context, id uuid.UUID, asUser *uuid.UUID) (Info, error) {
	ks, err := s.List(ctx, ListParams{ID: &id, UserID: asUser, IncludeRevoked: true})
	if err != nil {
		return Info{}, err
	}
	if len(ks) == 0 {
		return Info{}, apierror.NotFound("api key " + id.String() + " not found")
	}
	return ks[0], nil
}

// Revoke revokes a key; every instance refuses it once the NOTIFY lands
// (milliseconds after commit).
func (s *Service) Revoke(ctx context.Context, id uuid.UUID, actor, asUser *uuid.UUID) (Info, error) {
	k, err := scanInfo(s.db.Pool.QueryRow(ctx, query("revoke"), id, actor, asUser))
	if err != nil {
		return Info{}, db.Translate(err)
	}
	return k, nil
}

// Rotate creates a key with the same settings as id and retires id: at
// once (grace nil or 0) or after grace, so both work while clients switch.
func (s *Service) Rotate(ctx context.Context, id uuid.UUID, grace *time.Duration, actor, asUser *uuid.UUID) (Created, error) {
	sec, err := Generate()
	if err != nil {
		return Created{}, apierror.Internal(err)
	}
	var g *float64
	if grace != nil {
		v := grace.Seconds()
		g = &v
	}
	info, err := scanInfo(s.db.Pool.QueryRow(ctx, query("rotate"), id, sec.Hash, sec.Prefix, g, actor, asUser))
	if err != nil {
		return Created{}, db.Translate(err)
	}
	return Created{Key: sec.Plaintext, APIKey: info}, nil
}

// SetRealtime grants (true) or withdraws (false) a live key's realtime
// access (as user asUser, when set: only their own keys). New streams see
// the change on every instance once the NOTIFY lands; open streams close at
// their next key check (realtime.KeyChecker).
func (s *Service) SetRealtime(ctx context.Context, id uuid.UUID, realtime bool, asUser *uuid.UUID) (Info, error) {
	k, err := scanInfo(s.db.Pool.QueryRow(ctx, query("set_realtime"), id, realtime, asUser))
	if err != nil {
		return Info{}, db.Translate(err)
	}
	return k, nil
}

// StreamableKeys returns which of the keys may still hold a realtime
// stream: not revoked, expired or orphaned (banned user, deleted app), and
// granted realtime access, in one query. It satisfies realtime.KeyChecker;
// an id that is not a uuid is simply not streamable.
func (s *Service) StreamableKeys(ctx context.Context, keyIDs []string) (map[string]bool, error) {
	ids := make([]uuid.UUID, 0, len(keyIDs))
	for _, k := range keyIDs {
		if id, err := uuid.Parse(k); err == nil {
			ids = append(ids, id)
		}
	}
	ok := map[string]bool{}
	if len(ids) == 0 {
		return ok, nil
	}
	rows, err := s.db.Pool.Query(ctx, query("streamable"), ids)
	if err != nil {
		return nil, db.Translate(err)
	}
	var id uuid.UUID
	_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
		ok[id.String()] = true
		return nil
	})
	if err != nil {
		return nil, db.Translate(err)
	}
	return ok, nil
}
