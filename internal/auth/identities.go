package auth

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/web"
)

// Identity is a provider account linked to the user.
type Identity struct {
	Provider      string    `json:"provider"`
	Subject       string    `json:"subject"`
	Email         *string   `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// HandleIdentities: GET /api/auth/identities — the caller's linked providers.
func (s *Service) HandleIdentities(w http.ResponseWriter, r *http.Request) error {
	id, err := user(r)
	if err != nil {
		return err
	}
	out := []Identity{}
	err = s.db.System(r.Context(), func(tx pgx.Tx) error {
		rows, err := tx.Query(r.Context(), qIdentitiesList, id.Subject())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var i Identity
			if err := rows.Scan(&i.Provider, &i.Subject, &i.Email, &i.EmailVerified, &i.CreatedAt, &i.UpdatedAt); err != nil {
				return err
			}
			out = append(out, i)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

// HandleUnlinkIdentity: DELETE /api/auth/identities/{provider}. The last
// way to sign in (no password, no other provider) cannot be unlinked.
func (s *Service) HandleUnlinkIdentity(w http.ResponseWriter, r *http.Request) error {
	id, err := user(r)
	if err != nil {
		return err
	}
	provider := chi.URLParam(r, "provider")
	if len(provider) > 64 {
		return apierror.NotFound("no such linked provider")
	}
	err = s.db.System(r.Context(), func(tx pgx.Tx) error {
		var subject string
		err := tx.QueryRow(r.Context(), qIdentityUnlink, id.Subject(), provider).Scan(&subject)
		if !db.IsNoRows(err) {
			return err
		}
		var exists bool
		if err := tx.QueryRow(r.Context(), qIdentityExists, id.Subject(), provider).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return apierror.Conflict("this is the account's only way to sign in").
				WithHint("set a password (POST /api/auth/password) or link another provider first")
		}
		return apierror.NotFound("no such linked provider")
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
