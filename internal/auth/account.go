package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/mail"
)

// Purposes of emailed links (ayb.one_time_tokens.purpose).
const (
	purposeVerify      = "verify_email"
	purposeReset       = "password_reset"
	purposeMagicLink   = "magic_link"
	purposeEmailChange = "email_change"
)

// Register creates an account and signs it in (unless verified email is
// required, then it returns the user and no tokens). The verification email
// is written to the outbox in the same transaction.
func (s *Service) Register(ctx context.Context, email, password string, metadata map[string]any, m RequestMeta) (*Tokens, *User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckPassword(password, s.cfg.MinPasswordLength); err != nil {
		return nil, nil, err
	}
	if metadata == nil {
		metadata = map[string]any{}
	}
	meta, err := json.Marshal(metadata)
	if err != nil {
		return nil, nil, apierror.Validation("metadata must be a JSON object")
	}
	if err := s.throttle(ctx, "register", m, ""); err != nil {
		return nil, nil, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, nil, err
	}
	var (
		out *Tokens
		u   *User
	)
	err = s.db.System(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = s.insertUser(ctx, tx, email, &hash, meta, false, nil)
		if err != nil {
			return err
		}
		if err := s.sendLink(ctx, tx, u, purposeVerify, ""); err != nil {
			return err
		}
		if s.cfg.RequireVerified {
			return nil
		}
		out, err = s.startSession(ctx, tx, u, "password", m)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	s.kickMail()
	return out, u, nil
}

func (s *Service) insertUser(ctx context.Context, tx pgx.Tx, email string, hash *string, meta []byte, admin bool, verified *time.Time) (*User, error) {
	if meta == nil {
		meta = []byte("{}")
	}
	u, err := scanUser(tx.QueryRow(ctx, qUserInsert, email, hash, meta, admin, verified))
	if db.IsNoRows(err) {
		return nil, apierror.New(apierror.CodeAlreadyExists, "an account with this email already exists").
			WithDetails(map[string]string{"field": "email"})
	}
	return u, err
}

// Login checks email and password. An unknown email costs the same hash and
// gets the same answer as a wrong password.
func (s *Service) Login(ctx context.Context, email, password string, m RequestMeta) (*Tokens, error) {
	if len(password) > maxPasswordBytes {
		return nil, apierror.Validation(fmt.Sprintf("password is longer than %d bytes", maxPasswordBytes)).
			WithDetails(map[string]string{"field": "password"})
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if password == "" {
		return nil, apierror.Validation("password is required").WithDetails(map[string]string{"field": "password"})
	}
	if err := s.throttle(ctx, "login", m, email); err != nil {
		return nil, err
	}
	var u *User
	if err := s.db.System(ctx, func(tx pgx.Tx) (err error) { u, err = s.userByEmail(ctx, tx, email); return }); err != nil {
		return nil, err
	}
	stored := ""
	if u != nil {
		stored = u.passwordHash
	}
	ok, err := s.hasher.Verify(ctx, password, stored)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierror.New(apierror.CodeInvalidCredentials, "invalid email or password")
	}
	if u.BannedAt != nil {
		return nil, apierror.New(apierror.CodeUserBanned, "this account is banned")
	}
	if s.cfg.RequireVerified && u.EmailVerifiedAt == nil {
		return nil, apierror.New(apierror.CodeEmailNotVerified, "confirm your email address before signing in").
			WithHint("ask for a new link with POST /api/auth/verify/resend")
	}
	method := "password"
	if u.IsAdmin {
		method = "admin"
	}
	var out *Tokens
	err = s.db.System(ctx, func(tx pgx.Tx) (err error) { out, err = s.startSession(ctx, tx, u, method, m); return })
	return out, err
}

// linkPaths are the GET pages emailed links open.
var linkPaths = map[string]string{
	purposeVerify:      "/api/auth/verify",
	purposeReset:       "/api/auth/reset",
	purposeMagicLink:   "/api/auth/magic-link/confirm",
	purposeEmailChange: "/api/auth/email/confirm",
}

func (s *Service) ttlFor(purpose string) time.Duration {
	var d time.Duration
	switch purpose {
	case purposeVerify, purposeEmailChange:
		d = s.cfg.VerifyTTL.Duration
	case purposeReset:
		d = s.cfg.ResetTTL.Duration
	case purposeMagicLink:
		d = s.cfg.MagicLinkTTL.Duration
	}
	if d <= 0 {
		d = time.Hour
	}
	return d
}

// sendLink creates a one-time token for purpose and writes its email to
// the outbox, both in tx. For email change, newEmail is the recipient and
// the address the link confirms.
func (s *Service) sendLink(ctx context.Context, tx pgx.Tx, u *User, purpose, newEmail string) error {
	token := randomToken(32)
	now := s.now()
	ttl := s.ttlFor(purpose)
	var emailCol *string
	to := u.Email
	if purpose == purposeEmailChange {
		emailCol, to = &newEmail, newEmail
	}
	if _, err := tx.Exec(ctx, qOTTInsert, hashToken(token), u.ID, purpose, emailCol, now, now.Add(ttl)); err != nil {
		return err
	}
	link := s.pubURL + linkPaths[purpose] + "?token=" + url.QueryEscape(token)
	msg, err := mail.Render(purpose, to, mail.Data{Email: to, Link: link, ExpiresIn: humanDuration(ttl)})
	if err != nil {
		return err
	}
	return mail.Enqueue(ctx, tx, msg, purpose)
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d >= time.Hour:
		return "1 hour"
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	return "1 minute"
}

// RequestLink handles "send me a link" requests (verification resend,
// password reset, magic link). It answers the same whether or not the
// account exists, so it cannot be used to learn which emails have
// accounts. Magic links create the account when it does not exist.
func (s *Service) RequestLink(ctx context.Context, purpose, email string, m RequestMeta) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if purpose == purposeMagicLink && !s.cfg.MagicLinkEnabled {
		return apierror.Forbidden("sign-in by email link is disabled on this server")
	}
	if err := s.throttle(ctx, purpose, m, email); err != nil {
		return err
	}
	sent := false
	err = s.db.System(ctx, func(tx pgx.Tx) error {
		u, err := s.userByEmail(ctx, tx, email)
		if err != nil {
			return err
		}
		if u == nil {
			if purpose != purposeMagicLink {
				return nil
			}
			if u, err = s.insertUser(ctx, tx, email, nil, nil, false, nil); err != nil {
				return err
			}
		}
		if u.BannedAt != nil || (purpose == purposeVerify && u.EmailVerifiedAt != nil) {
			return nil
		}
		sent = true
		return s.sendLink(ctx, tx, u, purpose, "")
	})
	if err == nil && sent {
		s.kickMail()
	}
	return err
}

// consume uses a link token once, in tx, returning its user (and the new
// address for email change).
func (s *Service) consume(ctx context.Context, tx pgx.Tx, purpose, token string) (*User, string, error) {
	if token == "" || len(token) > 128 {
		return nil, "", errInvalidLink
	}
	var (
		uid   string
		email *string
	)
	err := tx.QueryRow(ctx, qOTTConsume, hashToken(token), purpose, s.now()).Scan(&uid, &email)
	if db.IsNoRows(err) {
		return nil, "", errInvalidLink
	}
	if err != nil {
		return nil, "", err
	}
	u, err := s.userByID(ctx, tx, uid)
	if err != nil {
		return nil, "", err
	}
	if email != nil {
		return u, *email, nil
	}
	return u, "", nil
}

var errInvalidLink = apierror.New(apierror.CodeInvalidLink, "this link is invalid, expired or already used").
	WithHint("ask for a new link")

// LinkValid reports whether a link token can still be used (for the reset
// form page, which must not use it up).
func (s *Service) LinkValid(ctx context.Context, purpose, token string) bool {
	if token == "" || len(token) > 128 {
		return false
	}
	var ok bool
	err := s.db.Pool.QueryRow(ctx, qOTTPeek, hashToken(token), purpose, s.now()).Scan(&ok)
	return err == nil && ok
}

// VerifyEmail uses a verification link.
func (s *Service) VerifyEmail(ctx context.Context, token string) (*User, error) {
	var u *User
	err := s.db.System(ctx, func(tx pgx.Tx) error {
		var err error
		if u, _, err = s.consume(ctx, tx, purposeVerify, token); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, qUserMarkVerified, u.ID, s.now())
		return err
	})
	return u, err
}

// ResetPassword uses a reset link: it sets the new password, marks the
// email verified (the link proved the mailbox) and ends every session.
func (s *Service) ResetPassword(ctx context.Context, token, password string) error {
	if err := CheckPassword(password, s.cfg.MinPasswordLength); err != nil {
		return err
	}
	if !s.LinkValid(ctx, purposeReset, token) {
		return errInvalidLink
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return s.db.System(ctx, func(tx pgx.Tx) error {
		u, _, err := s.consume(ctx, tx, purposeReset, token)
		if err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.Exec(ctx, qUserSetPassword, u.ID, hash); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qUserMarkVerified, u.ID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qSessionsRevokeUser, u.ID, now, reasonPasswordReset); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, qNotify, "user:"+u.ID)
		return err
	})
}

// MagicLogin uses a magic link and opens a session.
func (s *Service) MagicLogin(ctx context.Context, token string, m RequestMeta) (*Tokens, error) {
	var out *Tokens
	err := s.db.System(ctx, func(tx pgx.Tx) error {
		u, _, err := s.consume(ctx, tx, purposeMagicLink, token)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qUserMarkVerified, u.ID, s.now()); err != nil {
			return err
		}
		if u.EmailVerifiedAt == nil {
			now := s.now()
			u.EmailVerifiedAt = &now
		}
		out, err = s.startSession(ctx, tx, u, "magic_link", m)
		return err
	})
	return out, err
}

// RequestEmailChange sends a confirmation link to the new address; the
// address changes only when that link is opened.
func (s *Service) RequestEmailChange(ctx context.Context, userID, newEmail string, m RequestMeta) error {
	newEmail, err := NormalizeEmail(newEmail)
	if err != nil {
		return err
	}
	if err := s.throttle(ctx, purposeEmailChange, m, newEmail); err != nil {
		return err
	}
	err = s.db.System(ctx, func(tx pgx.Tx) error {
		u, err := s.userByID(ctx, tx, userID)
		if err != nil {
			return err
		}
		if u.Email == newEmail {
			return apierror.Validation("this is already the account's email").WithDetails(map[string]string{"field": "email"})
		}
		other, err := s.userByEmail(ctx, tx, newEmail)
		if err != nil {
			return err
		}
		if other != nil {
			return apierror.New(apierror.CodeAlreadyExists, "an account with this email already exists").
				WithDetails(map[string]string{"field": "email"})
		}
		return s.sendLink(ctx, tx, u, purposeEmailChange, newEmail)
	})
	if err == nil {
		s.kickMail()
	}
	return err
}

// ConfirmEmailChange uses an email-change link.
func (s *Service) ConfirmEmailChange(ctx context.Context, token string) (*User, error) {
	var u *User
	err := s.db.System(ctx, func(tx pgx.Tx) error {
		var (
			err   error
			email string
		)
		if u, email, err = s.consume(ctx, tx, purposeEmailChange, token); err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.Exec(ctx, qUserSetEmail, u.ID, email, now); err != nil {
			if ae := apierror.As(db.Translate(err)); ae.Code == "23505" {
				return apierror.New(apierror.CodeAlreadyExists, "an account with this email already exists")
			}
			return err
		}
		u.Email, u.EmailVerifiedAt = email, &now
		return nil
	})
	return u, err
}
