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

	r.Group(func(r chi.Router) {
		r.Use(s.identify)
		// API routes are added here by area.

		// Auth: the signed-in user's own account and sessions.
		if a := s.users; a != nil {
			r.Method(http.MethodPost, "/api/auth/logout", web.Handler(a.HandleLogout))
			r.Method(http.MethodGet, "/api/auth/me", web.Handler(a.HandleMe))
			r.Method(http.MethodPatch, "/api/auth/me", web.Handler(a.HandleUpdateMe))
			r.Method(http.MethodDelete, "/api/auth/me", web.Handler(a.HandleDeleteMe))
			r.Method(http.MethodPost, "/api/auth/password", web.Handler(a.HandleChangePassword))
			r.Method(http.MethodPost, "/api/auth/email", web.Handler(a.HandleEmailChange))
			r.Method(http.MethodGet, "/api/auth/sessions", web.Handler(a.HandleSessions))
			r.Method(http.MethodDelete, "/api/auth/sessions/{id}", web.Handler(a.HandleRevokeSession))
			r.Method(http.MethodGet, "/api/auth/identities", web.Handler(a.HandleIdentities))
			r.Method(http.MethodDelete, "/api/auth/identities/{provider}", web.Handler(a.HandleUnlinkIdentity))
			// Admin (service_role) API over users; the same operations as `ayb users`.
			r.Method(http.MethodGet, "/api/auth/admin/users", web.Handler(a.HandleAdminListUsers))
			r.Method(http.MethodPost, "/api/auth/admin/users", web.Handler(a.HandleAdminCreateUser))
			r.Method(http.MethodPatch, "/api/auth/admin/users/{id}", web.Handler(a.HandleAdminUpdateUser))
			r.Method(http.MethodDelete, "/api/auth/admin/users/{id}", web.Handler(a.HandleAdminDeleteUser))
		}
	})
	return r
}
