package auth

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
)

// Session revocation reasons (the CHECK on ayb.sessions.revoked_reason).
const (
	reasonLogout         = "logout"
	reasonLogoutAll      = "logout_all"
	reasonPasswordChange = "password_change"
	reasonPasswordReset  = "password_reset"
	reasonReuse          = "refresh_reuse"
	reasonBan            = "ban"
	reasonByUser         = "revoked_by_user"
	reasonAdmin          = "admin"
)

// startSession opens a session for u in tx and returns its first tokens.
func (s *Service) startSession(ctx context.Context, tx pgx.Tx, u *User, method string, m RequestMeta) (*Tokens, error) {
	if u.BannedAt != nil {
		return nil, apierror.New(apierror.CodeUserBanned, "this account is banned")
	}
	sid, err := s.openSession(ctx, tx, u, method, m)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, tx, u, sid, nil, s.now())
}

// openSession inserts a session row (no tokens yet) and returns its id.
func (s *Service) openSession(ctx context.Context, tx pgx.Tx, u *User, method string, m RequestMeta) (string, error) {
	if u.BannedAt != nil {
		return "", apierror.New(apierror.CodeUserBanned, "this account is banned")
	}
	now := s.now()
	var sid string
	err := tx.QueryRow(ctx, qSessionInsert, u.ID, method, m.UserAgent, m.IP, now, now.Add(s.cfg.RefreshTokenTTL.Duration)).Scan(&sid)
	return sid, err
}

// issue adds a refresh token to session sid (chained to parent) and signs
// an access token.
func (s *Service) issue(ctx context.Context, tx pgx.Tx, u *User, sid string, parent *int64, now time.Time) (*Tokens, error) {
	refresh := randomToken(32)
	var rid int64
	if err := tx.QueryRow(ctx, qRefreshInsert, sid, hashToken(refresh), parent, now).Scan(&rid); err != nil {
		return nil, err
	}
	access, exp, err := s.signAccess(u, sid, now)
	if err != nil {
		return nil, err
	}
	return &Tokens{
		AccessToken: access, TokenType: "bearer",
		ExpiresIn: int(s.cfg.AccessTokenTTL.Duration.Seconds()), ExpiresAt: exp.Unix(),
		RefreshToken: refresh, User: u,
	}, nil
}

// Refresh uses a refresh token once and returns the next pair. Presenting
// a token that was already used revokes its whole session (the family), so
// a stolen token stops working for the thief and the victim alike; of two
// concurrent refreshes of one token exactly one succeeds.
func (s *Service) Refresh(ctx context.Context, token string) (*Tokens, error) {
	if token == "" || len(token) > 128 {
		return nil, apierror.New(apierror.CodeInvalidToken, "invalid refresh token")
	}
	h := hashToken(token)
	var out *Tokens
	reused := false
	err := s.db.System(ctx, func(tx pgx.Tx) error {
		now := s.now()
		var (
			rid  int64
			sid  string
			live bool
		)
		u, err := scanUser(tx.QueryRow(ctx, qRefreshConsume, h, now), &rid, &sid, &live)
		if db.IsNoRows(err) {
			var revoked string
			err := tx.QueryRow(ctx, qRefreshReused, h, now).Scan(&revoked)
			if err == nil {
				reused = true
				if _, err := tx.Exec(ctx, qNotify, "session:"+revoked); err != nil {
					return err
				}
				return nil
			}
			if !db.IsNoRows(err) {
				return err
			}
			return apierror.New(apierror.CodeInvalidToken, "invalid refresh token")
		}
		if err != nil {
			return err
		}
		if !live {
			return apierror.New(apierror.CodeInvalidToken, "the session has ended").WithHint("sign in again")
		}
		if _, err := tx.Exec(ctx, qSessionTouch, sid, now, now.Add(s.cfg.RefreshTokenTTL.Duration)); err != nil {
			return err
		}
		out, err = s.issue(ctx, tx, u, sid, &rid, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if reused {
		return nil, apierror.New(apierror.CodeInvalidToken, "this refresh token was already used; the session has been revoked").
			WithHint("sign in again")
	}
	return out, nil
}

// Logout ends the caller's session, or all of the user's sessions.
func (s *Service) Logout(ctx context.Context, id identity.Identity, all bool) error {
	sid, _ := id.Claims["session_id"].(string)
	return s.db.System(ctx, func(tx pgx.Tx) error {
		now := s.now()
		if all {
			_, err := tx.Exec(ctx, qSessionsRevokeUser, id.Subject(), now, reasonLogoutAll)
			return err
		}
		_, err := tx.Exec(ctx, qSessionRevoke, sid, id.Subject(), now, reasonLogout)
		if db.IsNoRows(err) {
			return nil
		}
		return err
	})
}

// SessionInfo is one of the user's live sessions (a device).
type SessionInfo struct {
	ID          string     `json:"id"`
	AAL         string     `json:"aal"`
	Method      string     `json:"method"`
	UserAgent   string     `json:"user_agent"`
	IP          string     `json:"ip"`
	CreatedAt   time.Time  `json:"created_at"`
	RefreshedAt *time.Time `json:"refreshed_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	Current     bool       `json:"current"`
}

// Sessions lists the user's live sessions.
func (s *Service) Sessions(ctx context.Context, id identity.Identity) ([]SessionInfo, error) {
	cur, _ := id.Claims["session_id"].(string)
	out := []SessionInfo{}
	err := s.db.System(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qSessionsList, id.Subject(), s.now())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var si SessionInfo
			if err := rows.Scan(&si.ID, &si.AAL, &si.Method, &si.UserAgent, &si.IP, &si.CreatedAt, &si.RefreshedAt, &si.ExpiresAt); err != nil {
				return err
			}
			si.Current = si.ID == cur
			out = append(out, si)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeSession ends one of the user's own sessions.
func (s *Service) RevokeSession(ctx context.Context, id identity.Identity, sessionID string) error {
	if !isUUID(sessionID) {
		return apierror.NotFound("no such session")
	}
	return s.db.System(ctx, func(tx pgx.Tx) error {
		var got string
		err := tx.QueryRow(ctx, qSessionRevoke, sessionID, id.Subject(), s.now(), reasonByUser).Scan(&got)
		if db.IsNoRows(err) {
			return apierror.NotFound("no such session")
		}
		return err
	})
}

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context, id identity.Identity) (*User, error) {
	var u *User
	err := s.db.System(ctx, func(tx pgx.Tx) (err error) {
		u, err = s.userByID(ctx, tx, id.Subject())
		return err
	})
	return u, err
}

// UpdateMetadata merges patch into the caller's metadata (null removes a key).
func (s *Service) UpdateMetadata(ctx context.Context, id identity.Identity, patch map[string]any) (*User, error) {
	b, err := json.Marshal(patch)
	if err != nil {
		return nil, apierror.Validation("metadata must be a JSON object")
	}
	var u *User
	err = s.db.System(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, qUserMergeMetadata, id.Subject(), b))
		if db.IsNoRows(err) {
			return apierror.New(apierror.CodeInvalidToken, "the account no longer exists")
		}
		return err
	})
	return u, err
}

// DeleteAccount deletes the caller's account; its sessions go with it.
func (s *Service) DeleteAccount(ctx context.Context, id identity.Identity) error {
	return s.db.System(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qUserDelete, id.Subject()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qNotify, "user:"+id.Subject())
		return err
	})
}

// ChangePassword checks the current password (when the account has one),
// sets the new one, ends every session of the user and opens a new one for
// the caller.
func (s *Service) ChangePassword(ctx context.Context, id identity.Identity, current, next string, m RequestMeta) (*Tokens, error) {
	if err := CheckPassword(next, s.cfg.MinPasswordLength); err != nil {
		return nil, err
	}
	if len(current) > maxPasswordBytes {
		return nil, apierror.Validation("current_password is too long")
	}
	var u *User
	if err := s.db.System(ctx, func(tx pgx.Tx) (err error) { u, err = s.userByID(ctx, tx, id.Subject()); return }); err != nil {
		return nil, err
	}
	if u.HasPassword {
		ok, err := s.hasher.Verify(ctx, current, u.passwordHash)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, apierror.New(apierror.CodeInvalidCredentials, "the current password is wrong").
				WithDetails(map[string]string{"field": "current_password"})
		}
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return nil, err
	}
	var out *Tokens
	err = s.db.System(ctx, func(tx pgx.Tx) error {
		now := s.now()
		if _, err := tx.Exec(ctx, qUserSetPassword, u.ID, hash); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qSessionsRevokeUser, u.ID, now, reasonPasswordChange); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qNotify, "user:"+u.ID); err != nil {
			return err
		}
		u.HasPassword = true
		out, err = s.startSession(ctx, tx, u, "password", m)
		return err
	})
	return out, err
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
