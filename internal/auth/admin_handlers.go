package auth

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/web"
)

// The admin API over users. routes.go mounts these under /api/admin, behind
// apikey.RequireAdmin (service_role, scope full). They call the same
// operations as `ayb users`.

func intParam(r *http.Request, name string, def, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > max {
		return 0, apierror.Validation(name + " must be a whole number from 0 to " + strconv.Itoa(max))
	}
	return n, nil
}

// HandleAdminListUsers: GET /api/admin/users?search=&limit=&offset=.
func (s *Service) HandleAdminListUsers(w http.ResponseWriter, r *http.Request) error {
	limit, err := intParam(r, "limit", 50, 1000)
	if err != nil {
		return err
	}
	offset, err := intParam(r, "offset", 0, 1<<30)
	if err != nil {
		return err
	}
	search := r.URL.Query().Get("search")
	if len(search) > 320 {
		return apierror.Validation("search is too long")
	}
	users, err := s.ListUsers(r.Context(), search, limit, offset)
	if err != nil {
		return err
	}
	if users == nil {
		users = []*User{}
	}
	web.WriteJSON(w, http.StatusOK, users)
	return nil
}

// HandleAdminCreateUser: POST /api/admin/users {email, password, is_admin?}.
func (s *Service) HandleAdminCreateUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		IsAdmin  bool   `json:"is_admin"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	u, err := s.CreateUser(r.Context(), in.Email, in.Password, in.IsAdmin)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, u)
	return nil
}

// HandleAdminUpdateUser: PATCH /api/admin/users/{id} {banned?, password?, is_admin?}.
func (s *Service) HandleAdminUpdateUser(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if !isUUID(id) {
		return apierror.NotFound("no such user")
	}
	var in struct {
		Banned   *bool   `json:"banned"`
		Password *string `json:"password"`
		IsAdmin  *bool   `json:"is_admin"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Password != nil {
		if err := CheckPassword(*in.Password, s.cfg.MinPasswordLength); err != nil {
			return err
		}
	}
	ctx := r.Context()
	if in.Password != nil {
		if err := s.SetPassword(ctx, id, *in.Password); err != nil {
			return err
		}
	}
	if in.Banned != nil {
		if err := s.SetBanned(ctx, id, *in.Banned); err != nil {
			return err
		}
	}
	if in.IsAdmin != nil {
		if err := s.SetAdmin(ctx, id, *in.IsAdmin); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// HandleAdminDeleteUser: DELETE /api/admin/users/{id}.
func (s *Service) HandleAdminDeleteUser(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if !isUUID(id) {
		return apierror.NotFound("no such user")
	}
	if err := s.DeleteUser(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
