package apikey

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/ratelimit"
	"github.com/aybhq/ayb/internal/web"
)

// hasFullScope: no scope claim (a user's own session) or the word "full".
func hasFullScope(id identity.Identity) bool {
	s := id.Scope()
	if s == "" {
		return !id.ReadOnly
	}
	for _, w := range strings.Fields(s) {
		if w == identity.ScopeFull {
			return !id.ReadOnly
		}
	}
	return false
}

// RequireAdmin admits only admin credentials: role service_role with full
// scope (an admin's session, or a full-scope service key). A user key is
// never admin (it acts as authenticated); a read- or write-scoped service
// key may use the data API but not /api/admin.
func RequireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := identity.From(r.Context())
		switch {
		case id.Role == identity.RoleAnon:
			web.WriteError(w, r, apierror.Unauthorized("admin credentials are required"))
		case !id.IsAdmin():
			web.WriteError(w, r, apierror.Forbidden("admin credentials are required"))
		case !hasFullScope(id):
			web.WriteError(w, r, apierror.New(apierror.CodeInsufficientScope, "this credential's scope does not reach the admin API").
				WithHint("use an admin session or a service key with scope full"))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// RequireFullScope guards account-changing endpoints (mint keys, change
// password or email, delete the account): the caller must be signed in and
// its credential must be unscoped (a user's own session) or scope full. A
// read or write key gets 403 insufficient_scope.
func RequireFullScope(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := identity.From(r.Context())
		switch {
		case id.Role == identity.RoleAnon:
			web.WriteError(w, r, apierror.Unauthorized("sign in first"))
		case !hasFullScope(id):
			web.WriteError(w, r, apierror.New(apierror.CodeInsufficientScope, "this credential's scope does not allow account changes").
				WithHint("use your session, or a key with scope full"))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// RateLimit enforces the per-key and per-app limits of requests made with
// an API key, and counts per-app usage. It runs after authentication (it
// reads the identity). Requests under a limit get RateLimit-* headers;
// refused ones get 429 with Retry-After. Other requests pass untouched.
func (s *Service) RateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := identity.From(r.Context())
		if id.Kind != KindAPIKey {
			next.ServeHTTP(w, r)
			return
		}
		keyID, err := uuid.Parse(claim(id, "key_id"))
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		var appID uuid.UUID
		hasApp := false
		if a, err := uuid.Parse(claim(id, "app_id")); err == nil {
			appID, hasApp = a, true
		}
		k, known := s.limitOf(keyID)
		if known && !k.Limited {
			if hasApp {
				s.countUsage(appID, false)
			}
			next.ServeHTTP(w, r)
			return
		}
		lease := 1
		if known {
			lease = ratelimit.LeaseSize(k.Capacity)
		}
		if s.opt.MaxLease > 0 {
			lease = min(lease, s.opt.MaxLease)
		}
		res, err := s.leases.Allow(r.Context(), keyID.String(), lease, func(ctx2 context.Context, n int) (int, ratelimit.Result, error) {
			return s.take(ctx2, keyID, n)
		})
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		if hasApp {
			s.countUsage(appID, !res.Allowed)
		}
		if !res.Allowed {
			what := "API key"
			if hasApp {
				what = "app"
			}
			web.WriteError(w, r, ratelimit.Refused(res, what))
			return
		}
		ratelimit.SetHeaders(w.Header(), res)
		next.ServeHTTP(w, r)
	})
}

func claim(id identity.Identity, name string) string {
	s, _ := id.Claims[name].(string)
	return s
}

// limitOf returns the cached key with id (whether it or its app is
// limited), if it is cached.
func (s *Service) limitOf(id uuid.UUID) (Key, bool) {
	if !s.healthy.Load() {
		return Key{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.byID[id]
	if e == nil {
		return Key{}, false
	}
	return e.key, true
}
