// Package apikey is AYB's API keys: generating them (shown once, stored as
// SHA-256), verifying them with a short in-process cache that every
// instance drops on a NOTIFY when a key, its app or its user changes, the
// Authenticator that turns a key into an identity (role, claims, scope,
// table and function allow-lists), the per-key and per-app rate-limit
// middleware, the admin-only and full-scope guards, and the HTTP handlers
// for /api/auth/api-keys and /api/admin/api-keys.
package apikey

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/ratelimit"
)

// Channel is the NOTIFY channel that carries "key:<id>", "app:<id>" and
// "user:<id>" when something a cached key depends on changes.
const Channel = "ayb_apikeys"

// Error codes (also in package apierror's catalog).
const (
	CodeInvalid = apierror.CodeAPIKeyInvalid
	CodeRevoked = apierror.CodeAPIKeyRevoked
	CodeExpired = apierror.CodeAPIKeyExpired
)

// Options tune a Service. Zero values take defaults.
type Options struct {
	// CacheTTL bounds how long a verified key is trusted without a lookup
	// even if no NOTIFY came (default 30 s). With the listener down the
	// cache is not used at all.
	CacheTTL time.Duration
	// FlushInterval is how often usage counts and last_used_at go to the
	// database (default 1 s).
	FlushInterval time.Duration
	// Now is the clock for cache ages and expiry (tests).
	Now func() time.Time
	// MaxLease caps how many tokens an instance takes from a shared bucket
	// at once (default: ratelimit.LeaseSize of the bucket). 1 makes every
	// limited request one statement: exact to the token, more database load.
	MaxLease int
	// LimiterClock, when set, is passed to the limiter instead of the
	// database's clock (tests freeze it). Leave it nil in production: the
	// database clock is the one all instances share.
	LimiterClock func() time.Time
}

// Service verifies keys and runs the background work behind them.
type Service struct {
	db  *db.DB
	opt Options

	mu      sync.RWMutex
	cache   map[string]*entry // by string(hash)
	byID    map[uuid.UUID]*entry
	gen     atomic.Uint64 // bumped on every invalidation
	healthy atomic.Bool   // the LISTEN connection is up

	leases ratelimit.Leases

	flushMu      sync.Mutex // one Flush at a time, so a Flush returns after any in flight
	usageMu      sync.Mutex
	usage        map[uuid.UUID]*usageCount
	touched      map[uuid.UUID]time.Time // key -> when this instance last wrote last_used_at
	pendingTouch map[uuid.UUID]bool

	listening chan struct{}
	stopped   chan struct{}
}

type usageCount struct{ requests, rejected int64 }

// Key is a verified key as the request path needs it.
type Key struct {
	ID               uuid.UUID
	Kind             string // "user" or "service"
	UserID           *uuid.UUID
	AppID            *uuid.UUID
	Scope            string
	AllowedTables    []string
	AllowedFunctions []string
	ExpiresAt        *time.Time
	RevokedAt        *time.Time
	Email            *string
	UserBanned       bool
	AppDeleted       bool
	// Realtime is the key's right to open realtime streams.
	Realtime bool
	// Limited is true when the key or its app has a rate limit; Capacity is
	// the smaller burst of the two (for lease sizing).
	Limited  bool
	Capacity int
}

type entry struct {
	key     Key
	fetched time.Time
}

// New returns a service; call Start to run its listener and flusher.
func New(d *db.DB, opt Options) *Service {
	if opt.CacheTTL <= 0 {
		opt.CacheTTL = 30 * time.Second
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{
		db: d, opt: opt,
		cache:        map[string]*entry{},
		usage:        map[uuid.UUID]*usageCount{},
		touched:      map[uuid.UUID]time.Time{},
		pendingTouch: map[uuid.UUID]bool{},
		listening:    make(chan struct{}),
		stopped:      make(chan struct{}),
	}
}

// Start runs the LISTEN loop, the flusher and the sweeper until ctx ends;
// it returns at once. When ctx ends the pending usage is flushed; Wait
// returns after that (call it before closing the pool).
func (s *Service) Start(ctx context.Context) {
	go s.listen(ctx)
	go func() {
		defer close(s.stopped)
		s.flushLoop(ctx)
	}()
}

// Wait blocks until the background work started by Start has stopped.
func (s *Service) Wait() { <-s.stopped }

// Listening is closed once the first LISTEN succeeded (tests, readiness).
func (s *Service) Listening() <-chan struct{} { return s.listening }

// Verify resolves a plaintext key. It returns apierror 401s for malformed,
// unknown, revoked and expired keys.
func (s *Service) Verify(ctx context.Context, plaintext string) (Key, error) {
	if !WellFormed(plaintext) {
		return Key{}, apierror.New(CodeInvalid, "the API key is malformed").
			WithHint("API keys look like ayb_sk_ followed by 49 letters and digits")
	}
	h := string(Hash(plaintext))
	now := s.opt.Now()
	k, ok := s.cached(h, now)
	if !ok {
		g := s.gen.Load()
		var err error
		k, err = s.lookup(ctx, []byte(h))
		if err != nil {
			return Key{}, err
		}
		s.store(h, k, g, now)
	}
	if k.RevokedAt != nil || k.UserBanned || k.AppDeleted {
		return Key{}, apierror.New(CodeRevoked, "the API key has been revoked")
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return Key{}, apierror.New(CodeExpired, "the API key has expired")
	}
	s.markUsed(k.ID)
	return k, nil
}

func (s *Service) cached(h string, now time.Time) (Key, bool) {
	if !s.healthy.Load() {
		return Key{}, false
	}
	s.mu.RLock()
	e := s.cache[h]
	s.mu.RUnlock()
	if e == nil || now.Sub(e.fetched) > s.opt.CacheTTL {
		return Key{}, false
	}
	return e.key, true
}

// store caches k unless an invalidation happened since the lookup began
// (generation g): otherwise a lookup racing a revoke could cache the key
// as it was before the revoke.
func (s *Service) store(h string, k Key, g uint64, now time.Time) {
	if !s.healthy.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen.Load() != g {
		return
	}
	if len(s.cache) >= 50000 {
		s.cache, s.byID = map[string]*entry{}, map[uuid.UUID]*entry{}
	}
	e := &entry{key: k, fetched: now}
	s.cache[h] = e
	s.byID[k.ID] = e
}

func (s *Service) lookup(ctx context.Context, hash []byte) (Key, error) {
	var k Key
	var keyReq, appReq, keyBurst, appBurst *int
	var banned, appDeleted *time.Time
	err := s.db.Pool.QueryRow(ctx, query("verify"), hash).Scan(
		&k.ID, &k.Kind, &k.UserID, &k.AppID, &k.Scope, &k.AllowedTables, &k.AllowedFunctions,
		&k.ExpiresAt, &k.RevokedAt, &k.Email, &banned, &appDeleted,
		&keyReq, &keyBurst, &appReq, &appBurst, &k.Realtime)
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, apierror.New(CodeInvalid, "the API key is not known")
	}
	if err != nil {
		return Key{}, db.Translate(err)
	}
	k.UserBanned = banned != nil
	k.AppDeleted = appDeleted != nil
	capOf := func(req, burst *int) int {
		if burst != nil {
			return *burst
		}
		return *req
	}
	if keyReq != nil {
		k.Limited, k.Capacity = true, capOf(keyReq, keyBurst)
	}
	if appReq != nil {
		c := capOf(appReq, appBurst)
		if !k.Limited || c < k.Capacity {
			k.Capacity = c
		}
		k.Limited = true
	}
	return k, nil
}

// invalidate drops cached keys that match a NOTIFY payload ("key:<id>",
// "app:<id>", "user:<id>"); anything else drops everything.
func (s *Service) invalidate(payload string) {
	kind, idText, _ := strings.Cut(payload, ":")
	id, err := uuid.Parse(idText)
	s.mu.Lock()
	s.gen.Add(1)
	if err != nil {
		s.cache, s.byID = map[string]*entry{}, map[uuid.UUID]*entry{}
		s.mu.Unlock()
		return
	}
	for h, e := range s.cache {
		k := e.key
		switch {
		case kind == "key" && k.ID == id,
			kind == "app" && k.AppID != nil && *k.AppID == id,
			kind == "user" && k.UserID != nil && *k.UserID == id:
			delete(s.cache, h)
			delete(s.byID, k.ID)
			s.leases.Forget(k.ID.String())
		}
	}
	s.mu.Unlock()
}

func (s *Service) clear() {
	s.mu.Lock()
	s.gen.Add(1)
	s.cache, s.byID = map[string]*entry{}, map[uuid.UUID]*entry{}
	s.mu.Unlock()
}

// listen follows Channel on the DB's shared LISTEN connection until ctx
// ends. While that connection is down the cache is off: every request looks
// its key up, so a revoke is never missed.
func (s *Service) listen(ctx context.Context) {
	var first sync.Once
	sub := s.db.Listen(Channel, db.Handler{
		Notify: s.invalidate,
		Up: func() {
			s.clear()
			s.healthy.Store(true)
			first.Do(func() { close(s.listening) })
		},
		Down: func(err error) {
			s.healthy.Store(false)
			s.clear()
			slog.Warn("api key cache off until the database listener is back: keys are looked up on every request", "err", err)
		},
	})
	<-ctx.Done()
	sub.Stop()
	s.healthy.Store(false)
	s.clear()
}

// markUsed notes a use of key id, for last_used_at (written by the flusher
// at most once a minute per key per instance; the SQL also skips keys used
// in the last minute, so the database sees about one write a minute).
func (s *Service) markUsed(id uuid.UUID) {
	now := s.opt.Now()
	s.usageMu.Lock()
	if t, ok := s.touched[id]; !ok || now.Sub(t) >= time.Minute {
		s.touched[id] = now
		s.pendingTouch[id] = true
	}
	s.usageMu.Unlock()
}

func (s *Service) countUsage(app uuid.UUID, rejected bool) {
	s.usageMu.Lock()
	c := s.usage[app]
	if c == nil {
		c = &usageCount{}
		s.usage[app] = c
	}
	if rejected {
		c.rejected++
	} else {
		c.requests++
	}
	s.usageMu.Unlock()
}

func (s *Service) flushLoop(ctx context.Context) {
	t := time.NewTicker(s.opt.FlushInterval)
	defer t.Stop()
	sweep := time.NewTicker(10 * time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = s.Flush(fctx)
			cancel()
			return
		case <-t.C:
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				slog.Warn("api key usage flush failed; will retry", "err", err)
			}
		case <-sweep.C:
			if _, err := s.db.Pool.Exec(ctx, query("sweep")); err != nil && ctx.Err() == nil {
				slog.Warn("rate-limit sweep failed", "err", err)
			}
		}
	}
}

// Flush writes pending usage counts and last_used_at marks (one statement).
// On failure the counts are kept for the next flush.
func (s *Service) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.usageMu.Lock()
	if len(s.usage) == 0 && len(s.pendingTouch) == 0 {
		s.usageMu.Unlock()
		return nil
	}
	usage, touch := s.usage, s.pendingTouch
	s.usage, s.pendingTouch = map[uuid.UUID]*usageCount{}, map[uuid.UUID]bool{}
	if len(s.touched) > 100000 {
		s.touched = map[uuid.UUID]time.Time{}
	}
	s.usageMu.Unlock()

	touchIDs := make([]uuid.UUID, 0, len(touch))
	for id := range touch {
		touchIDs = append(touchIDs, id)
	}
	apps := make([]uuid.UUID, 0, len(usage))
	reqs := make([]int64, 0, len(usage))
	rejs := make([]int64, 0, len(usage))
	for id, c := range usage {
		apps = append(apps, id)
		reqs = append(reqs, c.requests)
		rejs = append(rejs, c.rejected)
	}
	_, err := s.db.Pool.Exec(ctx, query("flush"), touchIDs, apps, reqs, rejs)
	if err != nil {
		s.usageMu.Lock()
		for id, c := range usage {
			cur := s.usage[id]
			if cur == nil {
				cur = &usageCount{}
				s.usage[id] = cur
			}
			cur.requests += c.requests
			cur.rejected += c.rejected
		}
		for id := range touch {
			s.pendingTouch[id] = true
		}
		s.usageMu.Unlock()
		return db.Translate(err)
	}
	return nil
}

// take is one ayb.apikey_take statement for key id.
func (s *Service) take(ctx context.Context, id uuid.UUID, count int) (int, ratelimit.Result, error) {
	var granted int
	var limit *int
	var window, reset, retry *float64
	var remaining *int
	var at *time.Time
	if s.opt.LimiterClock != nil {
		t := s.opt.LimiterClock()
		at = &t
	}
	err := s.db.Pool.QueryRow(ctx, query("take"), id, count, at).Scan(&granted, &limit, &window, &remaining, &reset, &retry)
	if err != nil {
		return 0, ratelimit.Result{}, db.Translate(err)
	}
	r := ratelimit.Result{Allowed: granted > 0}
	if limit != nil {
		r.Limit = *limit
		r.Window = time.Duration(*window * float64(time.Second))
		r.Remaining = *remaining
		r.Reset = time.Duration(*reset * float64(time.Second))
		r.RetryAfter = time.Duration(*retry * float64(time.Second))
	}
	return granted, r, nil
}
