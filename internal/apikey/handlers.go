package apikey

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/web"
)

// AdminRoutes serves /api/admin/api-keys. Mount it behind RequireAdmin
// (it also applies RequireAdmin itself, so a missing guard fails closed).
//
//	GET    /               list (?user_id, ?app_id, ?include_revoked=false)
//	POST   /               create {name, user_id (null = service key), scope, app_id, allowed_tables, allowed_functions, expires_at, rate_limit, realtime}
//	GET    /{id}           one key
//	PATCH  /{id}           {realtime}: grant or withdraw realtime access
//	DELETE /{id}           revoke
//	POST   /{id}/rotate    {grace_seconds} -> a new key; the old one works for grace_seconds more
func (s *Service) AdminRoutes() http.Handler {
	r := chi.NewRouter()
	r.Use(RequireAdmin)
	r.Method(http.MethodGet, "/", web.Handler(s.adminList))
	r.Method(http.MethodPost, "/", web.Handler(s.adminCreate))
	r.Method(http.MethodGet, "/{id}", web.Handler(s.adminGet))
	r.Method(http.MethodPatch, "/{id}", web.Handler(s.adminUpdate))
	r.Method(http.MethodDelete, "/{id}", web.Handler(s.adminRevoke))
	r.Method(http.MethodPost, "/{id}/rotate", web.Handler(s.adminRotate))
	return r
}

// UserRoutes serves /api/auth/api-keys: a signed-in user's own keys. It
// applies RequireFullScope: a read or write key can neither see nor mint
// nor revoke keys.
//
//	GET    /               list own keys
//	POST   /               create {name, scope, app_id (an app the user owns), allowed_tables, allowed_functions, expires_at, rate_limit, realtime}
//	PATCH  /{id}           {realtime}: grant or withdraw realtime access to an own key
//	DELETE /{id}           revoke own key
//	POST   /{id}/rotate    {grace_seconds}
func (s *Service) UserRoutes() http.Handler {
	r := chi.NewRouter()
	r.Use(RequireFullScope)
	r.Method(http.MethodGet, "/", web.Handler(s.userList))
	r.Method(http.MethodPost, "/", web.Handler(s.userCreate))
	r.Method(http.MethodGet, "/{id}", web.Handler(s.userGet))
	r.Method(http.MethodPatch, "/{id}", web.Handler(s.userUpdate))
	r.Method(http.MethodDelete, "/{id}", web.Handler(s.userRevoke))
	r.Method(http.MethodPost, "/{id}/rotate", web.Handler(s.userRotate))
	return r
}

// actorOf is the caller's user id, for audit columns (nil for service keys).
func actorOf(id identity.Identity) *uuid.UUID {
	if u, err := uuid.Parse(id.Subject()); err == nil {
		return &u
	}
	return nil
}

// userOf is the signed-in user behind a request, or 403 for credentials
// that have none (service keys).
func userOf(r *http.Request) (uuid.UUID, identity.Identity, error) {
	id := identity.From(r.Context())
	u := actorOf(id)
	if u == nil || id.Role == identity.RoleAnon {
		return uuid.UUID{}, id, apierror.Forbidden("this credential has no user").
			WithHint("service keys are managed at /api/admin/api-keys")
	}
	return *u, id, nil
}

func pathID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return uuid.UUID{}, apierror.Validation("the key id must be a uuid")
	}
	return id, nil
}

func queryUUID(r *http.Request, name string) (*uuid.UUID, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	u, err := uuid.Parse(v)
	if err != nil {
		return nil, apierror.Validation(name + " must be a uuid").WithDetails(map[string]string{"field": name})
	}
	return &u, nil
}

func includeRevoked(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("include_revoked")
	if v == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, apierror.Validation("include_revoked must be true or false")
	}
	return b, nil
}

type rotateBody struct {
	GraceSeconds *float64 `json:"grace_seconds"`
}

func graceOf(r *http.Request) (*time.Duration, error) {
	if r.ContentLength == 0 {
		return nil, nil
	}
	var b rotateBody
	if err := web.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	if b.GraceSeconds == nil {
		return nil, nil
	}
	if *b.GraceSeconds < 0 || *b.GraceSeconds > 30*86400 {
		return nil, apierror.Validation("grace_seconds must be between 0 and 2592000")
	}
	d := time.Duration(*b.GraceSeconds * float64(time.Second))
	return &d, nil
}

func (s *Service) adminList(w http.ResponseWriter, r *http.Request) error {
	var p ListParams
	var err error
	if p.UserID, err = queryUUID(r, "user_id"); err != nil {
		return err
	}
	if p.AppID, err = queryUUID(r, "app_id"); err != nil {
		return err
	}
	if p.IncludeRevoked, err = includeRevoked(r); err != nil {
		return err
	}
	ks, err := s.List(r.Context(), p)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"items": ks})
	return nil
}

func (s *Service) adminCreate(w http.ResponseWriter, r *http.Request) error {
	var p CreateParams
	if err := web.DecodeJSON(r, &p); err != nil {
		return err
	}
	c, err := s.Create(r.Context(), p, actorOf(identity.From(r.Context())), nil)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Service) adminGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	k, err := s.Get(r.Context(), id, nil)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, k)
	return nil
}

func (s *Service) adminRevoke(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	k, err := s.Revoke(r.Context(), id, actorOf(identity.From(r.Context())), nil)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, k)
	return nil
}

func (s *Service) adminRotate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	grace, err := graceOf(r)
	if err != nil {
		return err
	}
	c, err := s.Rotate(r.Context(), id, grace, actorOf(identity.From(r.Context())), nil)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Service) userList(w http.ResponseWriter, r *http.Request) error {
	u, _, err := userOf(r)
	if err != nil {
		return err
	}
	inc, err := includeRevoked(r)
	if err != nil {
		return err
	}
	ks, err := s.List(r.Context(), ListParams{UserID: &u, IncludeRevoked: inc})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"items": ks})
	return nil
}

func (s *Service) userGet(w http.ResponseWriter, r *http.Request) error {
	u, _, err := userOf(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	k, err := s.Get(r.Context(), id, &u)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, k)
	return nil
}

// userCreate mints a key for the caller. A key minting a key (scope full)
// can only mint one no wider than itself: same app, a subset of its tables
// and functions, and no later expiry.
func (s *Service) userCreate(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userOf(r)
	if err != nil {
		return err
	}
	var p CreateParams
	if err := web.DecodeJSON(r, &p); err != nil {
		return err
	}
	if p.UserID != nil && *p.UserID != u {
		return apierror.New(apierror.CodeForbidden, "you may only create keys for yourself")
	}
	p.UserID = &u
	if id.Kind == KindAPIKey {
		if err := narrower(id, &p); err != nil {
			return err
		}
		if err := s.narrowerLimit(r, id, u, &p); err != nil {
			return err
		}
	}
	c, err := s.Create(r.Context(), p, &u, &u)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, c)
	return nil
}

func narrower(id identity.Identity, p *CreateParams) error {
	refuse := func(msg string) error {
		return apierror.New(apierror.CodeInsufficientScope, msg).WithHint("a key can only mint keys no wider than itself")
	}
	if app := claim(id, "app_id"); app != "" {
		if p.AppID == nil {
			a, _ := uuid.Parse(app)
			p.AppID = &a
		} else if p.AppID.String() != app {
			return refuse("this key belongs to app " + app + " and cannot mint keys for another app")
		}
	}
	if len(id.AllowedTables) > 0 {
		if len(p.AllowedTables) == 0 {
			p.AllowedTables = append([]string(nil), id.AllowedTables...)
		}
		for _, t := range p.AllowedTables {
			if !slices.Contains(id.AllowedTables, t) {
				return refuse("table " + t + " is not allowed to this key")
			}
		}
	}
	if id.AllowedFunctions != nil {
		if len(p.AllowedFunctions) == 0 && len(id.AllowedTables) == 0 {
			p.AllowedFunctions = append([]string(nil), id.AllowedFunctions...)
		}
		for _, f := range p.AllowedFunctions {
			if !slices.Contains(id.AllowedFunctions, f) {
				return refuse("function " + f + " is not allowed to this key")
			}
		}
	}
	if p.Realtime && !id.Realtime {
		return refuse("this key has no realtime access and cannot mint a key that has")
	}
	if exp, ok := id.Claims["exp"].(int64); ok {
		limit := time.Unix(exp, 0)
		if p.ExpiresAt == nil || p.ExpiresAt.After(limit) {
			p.ExpiresAt = &limit
		}
	}
	return nil
}

// narrowerLimit keeps a minting key's own rate limit on what it mints: the
// new key inherits it, or must not be faster.
func (s *Service) narrowerLimit(r *http.Request, id identity.Identity, u uuid.UUID, p *CreateParams) error {
	keyID, err := uuid.Parse(claim(id, "key_id"))
	if err != nil {
		return apierror.Forbidden("this key has no id")
	}
	minter, err := s.Get(r.Context(), keyID, &u)
	if err != nil {
		return err
	}
	ml := minter.RateLimit
	if ml == nil {
		return nil
	}
	if p.RateLimit == nil {
		p.RateLimit = ml
		return nil
	}
	if float64(p.RateLimit.Requests)/p.RateLimit.WindowSeconds > float64(ml.Requests)/ml.WindowSeconds {
		return apierror.New(apierror.CodeInsufficientScope, "the new key's rate limit is higher than this key's").
			WithHint("a key can only mint keys no wider than itself")
	}
	return nil
}

func (s *Service) userRevoke(w http.ResponseWriter, r *http.Request) error {
	u, _, err := userOf(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	k, err := s.Revoke(r.Context(), id, &u, &u)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, k)
	return nil
}

func (s *Service) userRotate(w http.ResponseWriter, r *http.Request) error {
	u, caller, err := userOf(r)
	if err != nil {
		return err
	}
	// A rotated key has the old key's rights; a restricted key must not
	// obtain a fresh copy of a wider one.
	if caller.Kind == KindAPIKey && (caller.AllowedTables != nil || caller.AllowedFunctions != nil ||
		claim(caller, "app_id") != "" || caller.Claims["exp"] != nil) {
		return apierror.New(apierror.CodeInsufficientScope, "a restricted key cannot rotate keys").
			WithHint("rotate with your session or an unrestricted full key")
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	grace, err := graceOf(r)
	if err != nil {
		return err
	}
	c, err := s.Rotate(r.Context(), id, grace, &u, &u)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, c)
	return nil
}

// updateBody is what PATCH /{id} may change. Realtime is required: it is
// the only setting a live key can change (others need a new key).
type updateBody struct {
	Realtime *bool `json:"realtime"`
}

func updateOf(r *http.Request) (bool, error) {
	var b updateBody
	if err := web.DecodeJSON(r, &b); err != nil {
		return false, err
	}
	if b.Realtime == nil {
		return false, apierror.Validation("give realtime: true or false").
			WithDetails(map[string]string{"field": "realtime"}).
			WithHint("other settings are fixed; rotate or create a new key to change them")
	}
	return *b.Realtime, nil
}

func (s *Service) adminUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rt, err := updateOf(r)
	if err != nil {
		return err
	}
	k, err := s.SetRealtime(r.Context(), id, rt, nil)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, k)
	return nil
}

// userUpdate changes the caller's own key. A key may do it only if it is
// unrestricted (as for rotation), and may grant realtime only if it has it.
func (s *Service) userUpdate(w http.ResponseWriter, r *http.Request) error {
	u, caller, err := userOf(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rt, err := updateOf(r)
	if err != nil {
		return err
	}
	if caller.Kind == KindAPIKey {
		if caller.AllowedTables != nil || caller.AllowedFunctions != nil ||
			claim(caller, "app_id") != "" || caller.Claims["exp"] != nil {
			return apierror.New(apierror.CodeInsufficientScope, "a restricted key cannot change keys").
				WithHint("change it with your session or an unrestricted full key")
		}
		if rt && !caller.Realtime {
			return apierror.New(apierror.CodeInsufficientScope, "this key has no realtime access and cannot grant it").
				WithHint("a key can only grant rights it has itself")
		}
	}
	k, err := s.SetRealtime(r.Context(), id, rt, &u)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, k)
	return nil
}
