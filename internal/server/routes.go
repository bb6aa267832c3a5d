package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/apikey"
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

	// Auth: public endpoints (no identity needed; emailed links are GET pages).
	if a := s.users; a != nil {
		r.Method(http.MethodGet, "/.well-known/jwks.json", web.Handler(a.HandleJWKS))
		r.Method(http.MethodPost, "/api/auth/register", web.Handler(a.HandleRegister))
		r.Method(http.MethodPost, "/api/auth/login", web.Handler(a.HandleLogin))
		r.Method(http.MethodPost, "/api/auth/refresh", web.Handler(a.HandleRefresh))
		r.Method(http.MethodPost, "/api/auth/verify/resend", web.Handler(a.HandleVerifyResend))
		r.Method(http.MethodGet, "/api/auth/verify", web.Handler(a.HandleVerifyPage))
		r.Method(http.MethodPost, "/api/auth/reset", web.Handler(a.HandleResetRequest))
		r.Method(http.MethodGet, "/api/auth/reset", web.Handler(a.HandleResetPage))
		r.Method(http.MethodPost, "/api/auth/reset/form", web.Handler(a.HandleResetForm))
		r.Method(http.MethodPost, "/api/auth/reset/confirm", web.Handler(a.HandleResetConfirm))
		r.Method(http.MethodPost, "/api/auth/magic-link", web.Handler(a.HandleMagicLinkRequest))
		r.Method(http.MethodGet, "/api/auth/magic-link/confirm", web.Handler(a.HandleMagicLinkPage))
		r.Method(http.MethodPost, "/api/auth/magic-link/verify", web.Handler(a.HandleMagicLinkVerify))
		r.Method(http.MethodGet, "/api/auth/email/confirm", web.Handler(a.HandleEmailChangePage))
		r.Method(http.MethodGet, "/api/auth/oauth/{provider}", web.Handler(a.HandleOAuthStart))
		r.Method(http.MethodGet, "/api/auth/oauth/{provider}/callback", web.Handler(a.HandleOAuthCallback))
		r.Method(http.MethodPost, "/api/auth/oauth/token", web.Handler(a.HandleOAuthToken))
	}

	// REST data routes (internal/rest): every database access they make
	// goes through db.InTx or db.InBatch, so s.identifyInTx leaves an access
	// token's session check to the request's own transaction (a 401 all the
	// same when the session has ended, before anything is read or written).
	if s.rest != nil {
		r.Group(func(r chi.Router) {
			r.Use(s.identifyInTx)
			if s.apiKeys != nil {
				r.Use(s.apiKeys.RateLimit)
			}
			r.Method(http.MethodGet, "/api/collections/{table}", web.Handler(s.rest.List))
			r.Method(http.MethodPost, "/api/collections/{table}", web.Handler(s.rest.Create))
			r.Method(http.MethodPost, "/api/collections/{table}/batch", web.Handler(s.rest.Batch))
			r.Method(http.MethodGet, "/api/collections/{table}/{id}", web.Handler(s.rest.Get))
			r.Method(http.MethodPatch, "/api/collections/{table}/{id}", web.Handler(s.rest.Update))
			r.Method(http.MethodDelete, "/api/collections/{table}/{id}", web.Handler(s.rest.Delete))
			r.Method(http.MethodPost, "/api/rpc/{function}", web.Handler(s.rest.RPC))
			r.Method(http.MethodGet, "/api/rpc/{function}", web.Handler(s.rest.RPC))
		})
	}

	// Everything below knows its caller: s.identify resolves the credential
	// (API key, else JWT, else anonymous) and checks it fully, session
	// included, once per request.
	r.Group(func(r chi.Router) {
		r.Use(s.identify)
		// Per-key and per-app rate limits: right after identity, before
		// any handler does work.
		if s.apiKeys != nil {
			r.Use(s.apiKeys.RateLimit)
		}

		// Auth: the signed-in user's own account and sessions.
		if a := s.users; a != nil {
			r.Method(http.MethodPost, "/api/auth/logout", web.Handler(a.HandleLogout))
			r.Method(http.MethodGet, "/api/auth/me", web.Handler(a.HandleMe))
			r.Method(http.MethodPatch, "/api/auth/me", web.Handler(a.HandleUpdateMe))
			r.Method(http.MethodGet, "/api/auth/sessions", web.Handler(a.HandleSessions))
			r.Method(http.MethodDelete, "/api/auth/sessions/{id}", web.Handler(a.HandleRevokeSession))
			r.Method(http.MethodGet, "/api/auth/identities", web.Handler(a.HandleIdentities))
			// Account-changing endpoints: a scoped credential (API key,
			// OAuth token) needs scope "full".
			r.Group(func(r chi.Router) {
				r.Use(apikey.RequireFullScope)
				r.Method(http.MethodDelete, "/api/auth/me", web.Handler(a.HandleDeleteMe))
				r.Method(http.MethodPost, "/api/auth/password", web.Handler(a.HandleChangePassword))
				r.Method(http.MethodPost, "/api/auth/email", web.Handler(a.HandleEmailChange))
				r.Method(http.MethodDelete, "/api/auth/identities/{provider}", web.Handler(a.HandleUnlinkIdentity))
			})
		}
		// A user's own API keys (UserRoutes applies RequireFullScope).
		if s.apiKeys != nil {
			r.Mount("/api/auth/api-keys", s.apiKeys.UserRoutes())
		}

		// REST schema documents (internal/rest); the data routes are below.
		if s.rest != nil {
			r.Method(http.MethodGet, "/api/schema", web.Handler(s.rest.Schema))
			r.Method(http.MethodGet, "/api/openapi.json", web.Handler(s.rest.OpenAPI))
		}

		// Realtime: SSE change streams under RLS.
		if rt := s.realtime; rt != nil {
			r.Method(http.MethodGet, "/api/realtime", web.Handler(rt.Stream))
			r.Method(http.MethodPost, "/api/realtime/{connection}/token", web.Handler(rt.Handover))
		}

		// Admin API: every /api/admin route is behind RequireAdmin
		// (service_role; a user's key never is).
		r.Route("/api/admin", func(r chi.Router) {
			r.Use(apikey.RequireAdmin)
			r.Method(http.MethodGet, "/stats", web.Handler(s.handleStats))
			if s.apps != nil {
				r.Mount("/apps", s.apps.AdminRoutes(apikey.RequireAdmin))
			}
			if s.apiKeys != nil {
				r.Mount("/api-keys", s.apiKeys.AdminRoutes())
			}
			// Users: the same operations as `ayb users`.
			if a := s.users; a != nil {
				r.Method(http.MethodGet, "/users", web.Handler(a.HandleAdminListUsers))
				r.Method(http.MethodPost, "/users", web.Handler(a.HandleAdminCreateUser))
				r.Method(http.MethodPatch, "/users/{id}", web.Handler(a.HandleAdminUpdateUser))
				r.Method(http.MethodDelete, "/users/{id}", web.Handler(a.HandleAdminDeleteUser))
			}

			// Jobs, schedules and materialized views.
			jobs, mv := job.NewAdmin(s.db), matview.NewAdmin(s.db)
			r.Method(http.MethodGet, "/jobs", web.Handler(jobs.ListJobs))
			r.Method(http.MethodPost, "/jobs", web.Handler(jobs.EnqueueJob))
			r.Method(http.MethodGet, "/jobs/stats", web.Handler(jobs.JobStats))
			r.Method(http.MethodGet, "/jobs/{id}", web.Handler(jobs.GetJob))
			r.Method(http.MethodPost, "/jobs/{id}/cancel", web.Handler(jobs.CancelJob))
			r.Method(http.MethodPost, "/jobs/{id}/retry", web.Handler(jobs.RetryJob))
			r.Method(http.MethodGet, "/schedules", web.Handler(jobs.ListSchedules))
			r.Method(http.MethodPost, "/schedules", web.Handler(jobs.CreateSchedule))
			r.Method(http.MethodGet, "/schedules/{name}", web.Handler(jobs.GetSchedule))
			r.Method(http.MethodPut, "/schedules/{name}", web.Handler(jobs.UpdateSchedule))
			r.Method(http.MethodDelete, "/schedules/{name}", web.Handler(jobs.DeleteSchedule))
			r.Method(http.MethodPost, "/schedules/{name}/enable", web.Handler(jobs.EnableSchedule))
			r.Method(http.MethodPost, "/schedules/{name}/disable", web.Handler(jobs.DisableSchedule))
			r.Method(http.MethodPost, "/schedules/{name}/run", web.Handler(jobs.RunSchedule))
			r.Method(http.MethodGet, "/matviews", web.Handler(mv.List))
			r.Method(http.MethodPost, "/matviews", web.Handler(mv.Register))
			r.Method(http.MethodGet, "/matviews/{view}", web.Handler(mv.Get))
			r.Method(http.MethodPatch, "/matviews/{view}", web.Handler(mv.Update))
			r.Method(http.MethodDelete, "/matviews/{view}", web.Handler(mv.Unregister))
			r.Method(http.MethodPost, "/matviews/{view}/refresh", web.Handler(mv.Refresh))
			r.Method(http.MethodGet, "/matviews/{view}/refreshes", web.Handler(mv.History))

			if rt := s.realtime; rt != nil {
				r.Method(http.MethodGet, "/realtime/tables", web.Handler(rt.AdminList))
				r.Method(http.MethodPost, "/realtime/tables", web.Handler(rt.AdminEnable))
				r.Method(http.MethodDelete, "/realtime/tables/{table}", web.Handler(rt.AdminDisable))
			}
		})
	})
	return r
}
