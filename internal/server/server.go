// Package server is AYB's HTTP server: it wires the areas' handlers into one
// router (routes.go), adds the cross-cutting middleware (request id, logs,
// recovery, body limit, CORS, identity) and shuts down gracefully.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/realtime"
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
	version  string
	realtime *realtime.Service
	handler  http.Handler
}

// Options are the server's dependencies.
type Options struct {
	Config        config.Config
	DB            *db.DB
	Authenticator Authenticator
	Version       string
	// Realtime serves /api/realtime (nil: not mounted).
	Realtime *realtime.Service
}

// New builds the server and its router.
func New(opt Options) *Server {
	s := &Server{cfg: opt.Config, db: opt.DB, auth: opt.Authenticator, version: opt.Version, realtime: opt.Realtime}
	if s.auth == nil {
		s.auth = noCredentials{}
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
	addr := net.JoinHostPort(s.cfg.Server.Host, strconv.Itoa(s.cfg.Server.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
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

// noCredentials is the authenticator before any credential verifier is
// wired: no credential is anonymous, any credential is refused.
type noCredentials struct{}

func (noCredentials) Authenticate(r *http.Request) (identity.Identity, error) {
	if r.Header.Get("Authorization") != "" || r.URL.Query().Get("token") != "" {
		return identity.Identity{}, apierror.New(apierror.CodeInvalidToken, "this server verifies no credentials")
	}
	return identity.Anon(), nil
}
