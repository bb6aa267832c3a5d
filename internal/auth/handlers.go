package auth

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/web"
)

// The HTTP handlers. Routes are listed in internal/server/routes.go.

type credentials struct {
	Email    string         `json:"email"`
	Password string         `json:"password"`
	Metadata map[string]any `json:"metadata"`
}

// HandleRegister: POST /api/auth/register {email, password, metadata?}.
func (s *Service) HandleRegister(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	tokens, u, err := s.Register(r.Context(), in.Email, in.Password, in.Metadata, s.Meta(r))
	if err != nil {
		return err
	}
	if tokens == nil {
		web.WriteJSON(w, http.StatusCreated, map[string]any{"user": u, "confirmation_sent": true})
		return nil
	}
	web.WriteJSON(w, http.StatusCreated, tokens)
	return nil
}

// HandleLogin: POST /api/auth/login {email, password}.
func (s *Service) HandleLogin(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	tokens, err := s.Login(r.Context(), in.Email, in.Password, s.Meta(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, tokens)
	return nil
}

// HandleRefresh: POST /api/auth/refresh {refresh_token}.
func (s *Service) HandleRefresh(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	tokens, err := s.Refresh(r.Context(), in.RefreshToken)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, tokens)
	return nil
}

// HandleJWKS: GET /.well-known/jwks.json.
func (s *Service) HandleJWKS(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	web.WriteRawJSON(w, http.StatusOK, s.keys.JWKS())
	return nil
}

// user returns the signed-in caller, or 401.
func user(r *http.Request) (identity.Identity, error) {
	id := identity.From(r.Context())
	if sid, _ := id.Claims["session_id"].(string); sid == "" || id.Subject() == "" {
		return id, apierror.Unauthorized("sign in first").WithHint("send Authorization: Bearer <access_token>")
	}
	return id, nil
}

// HandleLogout: POST /api/auth/logout {scope: "local" (default) | "global"}.
func (s *Service) HandleLogout(w http.ResponseWriter, r *http.Request) error {
	id, err := user(r)
	if err != nil {
		return err
	}
	var in struct {
		Scope string `json:"scope"`
	}
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	if len(body) > 0 {
		if err := web.DecodeJSONBytes(body, &in); err != nil {
			return err
		}
	}
	if q := r.URL.Query().Get("scope"); q != "" {
		in.Scope = q
	}
	switch in.Scope {
	case "", "local":
	case "global":
	default:
		return apierror.Validation(`scope must be "local" or "global"`).WithDetails(map[string]string{"field": "scope"})
	}
	if err := s.Logout(r.Context(), id, in.Scope == "global"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// HandleMe: GET /api/auth/me.
func (s *Service) HandleMe(w http.ResponseWriter, r *http.Request) error {
	id, err := user(r)
	if err != nil {
		return err
	}
	u, err := s.Me(r.Context(), id)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, u)
	return nil
}

// HandleUpdateMe: PATCH /api/auth/me {metadata}.
func (s *Service) HandleUpdateMe(w http.ResponseWriter, r *http.Request) error {
	id, err := user(r)
	if err != nil {
		return err
	}
	var in struct {
		Metadata map[string]any `json:"metadata"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Metadata == nil {
		return apierror.Validation("metadata (an object) is required").WithDetails(map[string]string{"field": "metadata"})
	}
	u, err := s.UpdateMetadata(r.Context(), id, in.Metadata)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, u)
	return nil
}

// HandleDeleteMe: DELETE /api/auth/me.
func (s *Service) HandleDeleteMe(w http.ResponseWriter, r *http.Request) error {
	id, err := user(r)
	if err != nil {
		return err
	}
	if err := s.DeleteAccount(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// HandleChangePassword: POST /api/auth/password {current_password, new_password}.
func (s *Service) HandleChangePassword(w http.ResponseWriter, r *http.Request) error {
	id, err := user(r)
	if err != nil {
		return err
	}
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	tokens, err := s.ChangePassword(r.Context(), id, in.Current, in.New, s.Meta(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, tokens)
	return nil
}

// HandleSessions: GET /api/auth/sessions.
func (s *Service) HandleSessions(w http.ResponseWriter, r *http.Request) error {
	id, err := user(r)
	if err != nil {
		return err
	}
	list, err := s.Sessions(r.Context(), id)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, list)
	return nil
}

// HandleRevokeSession: DELETE /api/auth/sessions/{id}.
func (s *Service) HandleRevokeSession(w http.ResponseWriter, r *http.Request) error {
	id, err := user(r)
	if err != nil {
		return err
	}
	if err := s.RevokeSession(r.Context(), id, chi.URLParam(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type emailOnly struct {
	Email string `json:"email"`
}

func (s *Service) linkRequest(purpose string) web.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in emailOnly
		if err := web.DecodeJSON(r, &in); err != nil {
			return err
		}
		if err := s.RequestLink(r.Context(), purpose, in.Email, s.Meta(r)); err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, map[string]any{"message": "if the account exists, an email is on its way"})
		return nil
	}
}

// HandleVerifyResend: POST /api/auth/verify/resend {email}.
func (s *Service) HandleVerifyResend(w http.ResponseWriter, r *http.Request) error {
	return s.linkRequest(purposeVerify)(w, r)
}

// HandleResetRequest: POST /api/auth/reset {email}.
func (s *Service) HandleResetRequest(w http.ResponseWriter, r *http.Request) error {
	return s.linkRequest(purposeReset)(w, r)
}

// HandleMagicLinkRequest: POST /api/auth/magic-link {email}.
func (s *Service) HandleMagicLinkRequest(w http.ResponseWriter, r *http.Request) error {
	return s.linkRequest(purposeMagicLink)(w, r)
}

// HandleVerifyPage: GET /api/auth/verify?token= (the emailed link).
func (s *Service) HandleVerifyPage(w http.ResponseWriter, r *http.Request) error {
	_, err := s.VerifyEmail(r.Context(), r.URL.Query().Get("token"))
	return s.finish(w, r, purposeVerify, err, nil, "Email confirmed", "Your email address is confirmed. You can close this page.")
}

// HandleResetPage: GET /api/auth/reset?token= (the emailed link): a form
// that posts the new password to HandleResetForm. Opening it does not use
// the link up.
func (s *Service) HandleResetPage(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	if !s.LinkValid(r.Context(), purposeReset, token) {
		return s.finish(w, r, purposeReset, errInvalidLink, nil, "", "")
	}
	return writePage(w, http.StatusOK, page{Title: "Choose a new password", ResetToken: token,
		Action: "/api/auth/reset/form", MinLength: s.cfg.MinPasswordLength})
}

// HandleResetForm: POST /api/auth/reset/form (form-encoded token, password).
func (s *Service) HandleResetForm(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return apierror.BadRequest("could not read the form").WithCause(err)
	}
	token, password := r.PostForm.Get("token"), r.PostForm.Get("password")
	err := s.ResetPassword(r.Context(), token, password)
	if ae := apierror.As(err); err != nil && ae.Code == apierror.CodeWeakPassword {
		return writePage(w, http.StatusBadRequest, page{Title: "Choose a new password", Error: ae.Message,
			ResetToken: token, Action: "/api/auth/reset/form", MinLength: s.cfg.MinPasswordLength})
	}
	return s.finish(w, r, purposeReset, err, nil, "Password changed", "Your password is changed and every session signed out. Sign in with the new password.")
}

// HandleResetConfirm: POST /api/auth/reset/confirm {token, password} (JSON, for apps).
func (s *Service) HandleResetConfirm(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.ResetPassword(r.Context(), in.Token, in.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// HandleMagicLinkPage: GET /api/auth/magic-link/confirm?token= (the emailed
// link): signs in and redirects to the app with the tokens in the fragment.
func (s *Service) HandleMagicLinkPage(w http.ResponseWriter, r *http.Request) error {
	tokens, err := s.MagicLogin(r.Context(), r.URL.Query().Get("token"), s.Meta(r))
	return s.finish(w, r, purposeMagicLink, err, tokens, "Signed in",
		"You are signed in. This server has no app URL (auth.site_url) to take you to; return to the app.")
}

// HandleMagicLinkVerify: POST /api/auth/magic-link/verify {token} (JSON, for
// apps that catch the link themselves).
func (s *Service) HandleMagicLinkVerify(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Token string `json:"token"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	tokens, err := s.MagicLogin(r.Context(), in.Token, s.Meta(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, tokens)
	return nil
}

// HandleEmailChange: POST /api/auth/email {email}.
func (s *Service) HandleEmailChange(w http.ResponseWriter, r *http.Request) error {
	id, err := user(r)
	if err != nil {
		return err
	}
	var in emailOnly
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.RequestEmailChange(r.Context(), id.Subject(), in.Email, s.Meta(r)); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusAccepted, map[string]any{"message": "a confirmation link was sent to the new address"})
	return nil
}

// HandleEmailChangePage: GET /api/auth/email/confirm?token= (the link sent
// to the new address).
func (s *Service) HandleEmailChangePage(w http.ResponseWriter, r *http.Request) error {
	_, err := s.ConfirmEmailChange(r.Context(), r.URL.Query().Get("token"))
	return s.finish(w, r, purposeEmailChange, err, nil, "Email changed", "Your account now uses this address.")
}
