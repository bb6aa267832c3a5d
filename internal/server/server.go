// Package server is AYB's HTTP server: it wires the areas' handlers into one
// router (routes.go), adds the cross-cutting middleware (request id, logs,
// recovery, body limit, CORS, identity) and shuts down gracefully.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/apikey"
	"github.com/aybhq/ayb/internal/app"
	"github.com/aybhq/ayb/internal/auth"
	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/realtime"
	"github.com/aybhq/ayb/internal/rest"
	"github.com/aybhq/ayb/internal/schema"
	"github.com/aybhq/ayb/internal/web"
)

// Authenticator resolves the credential on a request to an identity. A
// request without a credential is anonymous; a credential that fails to
// verify is an error (401), never silently anonymous.
type Authenticator interface {
	Authenticate(r *http.Request) (identity.Identity, error)
}

// Server holds what the handlers need.
type Server struct {
	cfg      config.Config
	db       *db.DB
	auth     Authenticator
	users    *auth.Service
	version  string
	handler  http.Handler
	rest     *rest.Handler // nil without a schema cache
	apiKeys  *apikey.Service
	apps     *app.Service
	realtime *realtime.Service
	started  time.Time
}

// Options are the server's dependencies.
type Options struct {
	Config        config.Config
	DB            *db.DB
	Authenticator Authenticator
	// Auth serves /api/auth and the JWKS (nil: those routes are absent).
	Auth    *auth.Service
	Version string
	// Schema is the REST API's schema cache; the REST routes are served
	// when it is set.
	Schema *schema.Cache
	// APIKeys and Apps (both optional) serve /api/admin/api-keys,
	// /api/auth/api-keys and /api/admin/apps, and APIKeys rate-limits
	// requests made with keys.
	APIKeys *apikey.Service
	Apps    *app.Service
	// Realtime serves /api/realtime (nil: not mounted).
	Realtime *realtime.Service
}

// New builds the server and its router.
func New(opt Options) *Server {
	s := &Server{cfg: opt.Config, db: opt.DB, auth: opt.Authenticator, users: opt.Auth, version: opt.Version,
		apiKeys: opt.APIKeys, apps: opt.Apps, realtime: opt.Realtime, started: time.Now()}
	if s.auth == nil {
		s.auth = noCredentials{}
	}
	if opt.Schema != nil {
		s.rest = rest.New(opt.DB, opt.Schema)
	}
	s.handler = s.routes()
	return s
}

// Handler returns the root handler (for tests).
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves on the configured address until ctx is cancelled, then shuts
// down gracefully within the configured timeout. ready (may be nil) receives
// the bound address once listening.
func (s *Server) Run(ctx context.Context, ready func(addr string)) error {
	ln, err := Listen(s.cfg)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln, ready)
}

// Listen binds the configured address. `ayb start` binds before it starts
// PostgreSQL, so a port in use fails at once (and the managed cluster can
// never pick the same port).
func Listen(cfg config.Config) (net.Listener, error) {
	addr := net.JoinHostPort(cfg.Server.Host, strconv.Itoa(cfg.Server.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve is Run on a listener the caller bound.
func (s *Server) Serve(ctx context.Context, ln net.Listener, ready func(addr string)) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down", "grace", s.cfg.Server.ShutdownTimeout.Duration.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Server.ShutdownTimeout.Duration)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// identify resolves the caller once per request and puts the identity in
// the request context for handlers and db.InTx.
func (s *Server) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.auth.Authenticate(r)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(identity.With(r.Context(), id)))
	})
}

// identifyInTx is identify for routes whose every database access goes
// through db.InTx or db.InBatch: an authenticator that can leave the
// session check to the request's own transaction (AuthenticateDeferred)
// does so, saving a round trip per request.
func (s *Server) identifyInTx(next http.Handler) http.Handler {
	d, ok := s.auth.(interface {
		AuthenticateDeferred(r *http.Request) (identity.Identity, error)
	})
	if !ok {
		return s.identify(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := d.AuthenticateDeferred(r)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(identity.With(r.Context(), id)))
	})
}

// noCredentials is the authenticator before any credential verifier is
// wired: no credential is anonymous, any credential is refused.
type noCredentials struct{}

func (noCredentials) Authenticate(r *http.Request) (identity.Identity, error) {
	if r.Header.Get("Authorization") != "" || r.URL.Query().Get("token") != "" {
		return identity.Identity{}, apierror.New(apierror.CodeInvalidToken, "this server verifies no credentials")
	}
	return identity.Anon(), nil
}
