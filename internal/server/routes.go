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

		// REST over the exposed schemas (internal/rest).
		if s.rest != nil {
			r.Method(http.MethodGet, "/api/collections/{table}", web.Handler(s.rest.List))
			r.Method(http.MethodPost, "/api/collections/{table}", web.Handler(s.rest.Create))
			r.Method(http.MethodPost, "/api/collections/{table}/batch", web.Handler(s.rest.Batch))
			r.Method(http.MethodGet, "/api/collections/{table}/{id}", web.Handler(s.rest.Get))
			r.Method(http.MethodPatch, "/api/collections/{table}/{id}", web.Handler(s.rest.Update))
			r.Method(http.MethodDelete, "/api/collections/{table}/{id}", web.Handler(s.rest.Delete))
			r.Method(http.MethodPost, "/api/rpc/{function}", web.Handler(s.rest.RPC))
			r.Method(http.MethodGet, "/api/rpc/{function}", web.Handler(s.rest.RPC))
			r.Method(http.MethodGet, "/api/schema", web.Handler(s.rest.Schema))
			r.Method(http.MethodGet, "/api/openapi.json", web.Handler(s.rest.OpenAPI))
		}
	})
	return r
}
