package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/apikey"
	"github.com/aybhq/ayb/internal/web"
)

// routes is the table of every route the server answers.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(web.WithRequestID, web.Logger, web.Recover,
		web.BodyLimit(s.cfg.Server.BodyLimit), web.CORS(s.cfg.Server.CORSOrigins))
	r.NotFound(web.Handler(func(w http.ResponseWriter, r *http.Request) error {
		return apierror.NotFound("no route for " + r.Method + " " + r.URL.Path)
	}).ServeHTTP)
	r.MethodNotAllowed(web.Handler(func(w http.ResponseWriter, r *http.Request) error {
		return apierror.New(apierror.CodeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path)
	}).ServeHTTP)

	r.Method(http.MethodGet, "/health", web.Handler(s.health))

	r.Group(func(r chi.Router) {
		r.Use(s.identify)
		// Per-key and per-app rate limits: right after identity, before
		// any handler does work.
		if s.apiKeys != nil {
			r.Use(s.apiKeys.RateLimit)
		}
		// API routes are added here by area.

		// Admin API: every /api/admin group is behind apikey.RequireAdmin.
		r.Route("/api/admin", func(r chi.Router) {
			r.Use(apikey.RequireAdmin)
			if s.apps != nil {
				r.Mount("/apps", s.apps.AdminRoutes(apikey.RequireAdmin))
			}
			if s.apiKeys != nil {
				r.Mount("/api-keys", s.apiKeys.AdminRoutes())
			}
		})
		// A user's own keys (full scope only: UserRoutes applies
		// apikey.RequireFullScope).
		if s.apiKeys != nil {
			r.Mount("/api/auth/api-keys", s.apiKeys.UserRoutes())
		}
	})
	return r
}
