package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/aybhq/ayb/internal/apierror"
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
		// API routes are added here by area.
		if rt := s.realtime; rt != nil {
			r.Method(http.MethodGet, "/api/realtime", web.Handler(rt.Stream))
			r.Method(http.MethodPost, "/api/realtime/{connection}/token", web.Handler(rt.Handover))
			r.Method(http.MethodGet, "/api/admin/realtime/tables", web.Handler(rt.AdminList))
			r.Method(http.MethodPost, "/api/admin/realtime/tables", web.Handler(rt.AdminEnable))
			r.Method(http.MethodDelete, "/api/admin/realtime/tables/{table}", web.Handler(rt.AdminDisable))
		}
	})
	return r
}
