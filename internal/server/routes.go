package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/job"
	"github.com/aybhq/ayb/internal/matview"
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

		// Jobs, schedules and materialized views (admin only).
		jobs, mv := job.NewAdmin(s.db), matview.NewAdmin(s.db)
		r.Method(http.MethodGet, "/api/admin/jobs", web.Handler(jobs.ListJobs))
		r.Method(http.MethodPost, "/api/admin/jobs", web.Handler(jobs.EnqueueJob))
		r.Method(http.MethodGet, "/api/admin/jobs/stats", web.Handler(jobs.JobStats))
		r.Method(http.MethodGet, "/api/admin/jobs/{id}", web.Handler(jobs.GetJob))
		r.Method(http.MethodPost, "/api/admin/jobs/{id}/cancel", web.Handler(jobs.CancelJob))
		r.Method(http.MethodPost, "/api/admin/jobs/{id}/retry", web.Handler(jobs.RetryJob))
		r.Method(http.MethodGet, "/api/admin/schedules", web.Handler(jobs.ListSchedules))
		r.Method(http.MethodPost, "/api/admin/schedules", web.Handler(jobs.CreateSchedule))
		r.Method(http.MethodGet, "/api/admin/schedules/{name}", web.Handler(jobs.GetSchedule))
		r.Method(http.MethodPut, "/api/admin/schedules/{name}", web.Handler(jobs.UpdateSchedule))
		r.Method(http.MethodDelete, "/api/admin/schedules/{name}", web.Handler(jobs.DeleteSchedule))
		r.Method(http.MethodPost, "/api/admin/schedules/{name}/enable", web.Handler(jobs.EnableSchedule))
		r.Method(http.MethodPost, "/api/admin/schedules/{name}/disable", web.Handler(jobs.DisableSchedule))
		r.Method(http.MethodPost, "/api/admin/schedules/{name}/run", web.Handler(jobs.RunSchedule))
		r.Method(http.MethodGet, "/api/admin/matviews", web.Handler(mv.List))
		r.Method(http.MethodPost, "/api/admin/matviews", web.Handler(mv.Register))
		r.Method(http.MethodGet, "/api/admin/matviews/{view}", web.Handler(mv.Get))
		r.Method(http.MethodPatch, "/api/admin/matviews/{view}", web.Handler(mv.Update))
		r.Method(http.MethodDelete, "/api/admin/matviews/{view}", web.Handler(mv.Unregister))
		r.Method(http.MethodPost, "/api/admin/matviews/{view}/refresh", web.Handler(mv.Refresh))
		r.Method(http.MethodGet, "/api/admin/matviews/{view}/refreshes", web.Handler(mv.History))
	})
	return r
}
