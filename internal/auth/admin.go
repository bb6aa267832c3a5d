package auth

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
)

var qUserDeleteByEmail = q("user_delete_by_email")

// The operations behind `ayb admin` and `ayb users`. They apply the same
// rules as the HTTP API (normalized email, password policy, sessions ended
// when a password is set or a user banned).

// CreateUser creates an account with a password; admin users' sessions
// carry role service_role. Accounts made by the admin count as verified.
func (s *Service) CreateUser(ctx context.Context, email, password string, admin bool) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword(password, s.cfg.MinPasswordLength); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var u *User
	err = s.db.System(ctx, func(tx pgx.Tx) (err error) {
		u, err = s.insertUser(ctx, tx, email, &hash, nil, admin, &now)
		return err
	})
	return u, err
}

// AdminLogin signs an admin user in (password checked, is_admin required)
// and returns a session whose tokens carry service_role: a credential that
// works on every instance, survives restarts, expires, and is revoked like
// any session.
func (s *Service) AdminLogin(ctx context.Context, email, password string) (*Tokens, error) {
	t, err := s.Login(ctx, email, password, RequestMeta{IP: "cli", UserAgent: "ayb admin login"})
	if err != nil {
		return nil, err
	}
	if !t.User.IsAdmin {
		_ = s.db.System(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, qSessionsRevokeUser, t.User.ID, s.now(), reasonAdmin)
			return err
		})
		return nil, apierror.Forbidden("this account is not an admin").WithHint("ayb admin create makes one")
	}
	return t, nil
}

// ListUsers lists accounts whose email contains search ("" = all).
func (s *Service) ListUsers(ctx context.Context, search string, limit, offset int) ([]*User, error) {
	var out []*User
	err := s.db.System(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qUsersList, search, limit, offset)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	return out, err
}

func (s *Service) userForAdmin(ctx context.Context, tx pgx.Tx, email string) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	u, err := s.userByEmail(ctx, tx, email)
	if err == nil && u == nil {
		return nil, apierror.NotFound("no user with email " + email)
	}
	return u, err
}

// DeleteUser deletes an account (its sessions and identities go with it).
func (s *Service) DeleteUser(ctx context.Context, email string) error {
	return s.db.System(ctx, func(tx pgx.Tx) error {
		u, err := s.userForAdmin(ctx, tx, email)
		if err != nil {
			return err
		}
		var id string
		if err := tx.QueryRow(ctx, qUserDeleteByEmail, u.Email).Scan(&id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, qNotify, "user:"+id)
		return err
	})
}

// SetPassword sets a user's password and ends all their sessions.
func (s *Service) SetPassword(ctx context.Context, email, password string) error {
	if err := CheckPassword(password, s.cfg.MinPasswordLength); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return s.db.System(ctx, func(tx pgx.Tx) error {
		u, err := s.userForAdmin(ctx, tx, email)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qUserSetPassword, u.ID, hash); err != nil {
			return err
		}
		return s.endSessions(ctx, tx, u.ID, reasonAdmin)
	})
}

// SetBanned bans (ending every session at once) or unbans a user.
func (s *Service) SetBanned(ctx context.Context, email string, banned bool) error {
	return s.db.System(ctx, func(tx pgx.Tx) error {
		u, err := s.userForAdmin(ctx, tx, email)
		if err != nil {
			return err
		}
		var at *time.Time
		if banned {
			now := s.now()
			at = &now
		}
		if _, err := tx.Exec(ctx, qUserSetBanned, u.ID, at); err != nil {
			return err
		}
		if !banned {
			return nil
		}
		return s.endSessions(ctx, tx, u.ID, reasonBan)
	})
}

// SetAdmin grants or removes admin (service_role) for a user; their
// sessions end so no token keeps the old role.
func (s *Service) SetAdmin(ctx context.Context, email string, admin bool) error {
	return s.db.System(ctx, func(tx pgx.Tx) error {
		u, err := s.userForAdmin(ctx, tx, email)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qUserSetAdmin, u.ID, admin); err != nil {
			return err
		}
		return s.endSessions(ctx, tx, u.ID, reasonAdmin)
	})
}

func (s *Service) endSessions(ctx context.Context, tx pgx.Tx, userID, reason string) error {
	if _, err := tx.Exec(ctx, qSessionsRevokeUser, userID, s.now(), reason); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, qNotify, "user:"+userID)
	return err
}
