// Package auth is AYB's end-user authentication: users with argon2id
// passwords, sessions with rotating single-use refresh tokens, ES256 access
// tokens signed by keys kept in ayb.signing_keys (JWKS published), emailed
// links for verification, password reset, magic sign-in and email change,
// throttling stored in Postgres, admin users whose sessions act as
// service_role, and the Authenticator that turns a bearer token into the
// request's identity after checking its session is still live.
package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/mail"
)

// Service is the auth area: its handlers, its Authenticator and the
// operations the CLI calls.
type Service struct {
	cfg      config.Auth
	pubURL   string
	db       *db.DB
	keys     *KeyStore
	hasher   *Hasher
	mail     *mail.Worker
	now      func() time.Time
	issuer   string
	audience string
	trusted  []*net.IPNet
	oauth    map[string]*oauthProvider
	http     *http.Client
	verified *tokenCache
}

// Options are the service's dependencies.
type Options struct {
	Config config.Config
	DB     *db.DB
	// Mail, when set, is kicked after a commit that enqueued mail.
	Mail *mail.Worker
	// Now is the clock (tests inject one).
	Now func() time.Time
	// HTTPClient talks to OAuth providers (default: 10 s timeout).
	HTTPClient *http.Client
}

// New builds the service and loads (or creates) the signing keys.
func New(ctx context.Context, opt Options) (*Service, error) {
	cfg := opt.Config
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{
		cfg:      cfg.Auth,
		pubURL:   cfg.PublicURL(),
		db:       opt.DB,
		hasher:   NewHasher(cfg.Auth.ArgonMemoryKiB, cfg.Auth.ArgonIterations, cfg.Auth.HashConcurrency),
		mail:     opt.Mail,
		now:      now,
		verified: newTokenCache(20_000),
		issuer:   cfg.Auth.Issuer,
		audience: cfg.Auth.Audience,
		http:     opt.HTTPClient,
	}
	if s.issuer == "" {
		// All instances behind one public URL share one issuer. Without a
		// configured public_url the default URL holds each instance's own
		// port, so the issuer falls back to a constant instead.
		s.issuer = "ayb"
		if cfg.Server.PublicURL != "" {
			s.issuer = s.pubURL
		}
	}
	if s.audience == "" {
		s.audience = "authenticated"
	}
	if s.cfg.AccessTokenTTL.Duration <= 0 {
		s.cfg.AccessTokenTTL.Duration = 15 * time.Minute
	}
	if s.cfg.RefreshTokenTTL.Duration <= 0 {
		s.cfg.RefreshTokenTTL.Duration = 30 * 24 * time.Hour
	}
	if s.cfg.MinPasswordLength <= 0 {
		s.cfg.MinPasswordLength = 8
	}
	if s.http == nil {
		s.http = &http.Client{Timeout: 10 * time.Second}
	}
	for _, c := range cfg.Server.TrustedProxies {
		if !strings.Contains(c, "/") {
			if strings.Contains(c, ":") {
				c += "/128"
			} else {
				c += "/32"
			}
		}
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			return nil, fmt.Errorf("server.trusted_proxies %q: %w", c, err)
		}
		s.trusted = append(s.trusted, n)
	}
	oauth, err := newOAuthProviders(cfg.Auth.OAuthProviders)
	if err != nil {
		return nil, err
	}
	s.oauth = oauth
	// Retired keys verify for one access-token lifetime plus a minute of leeway.
	s.keys = NewKeyStore(opt.DB, s.cfg.AccessTokenTTL.Duration+time.Minute, now)
	if err := s.keys.Load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Keys returns the key store (JWKS, reloads).
func (s *Service) Keys() *KeyStore { return s.keys }

// Hasher returns the password hasher.
func (s *Service) Hasher() *Hasher { return s.hasher }

// User is an account as the API shows it.
type User struct {
	ID              string         `json:"id"`
	Email           string         `json:"email"`
	EmailVerifiedAt *time.Time     `json:"email_verified_at"`
	Metadata        map[string]any `json:"metadata"`
	IsAdmin         bool           `json:"is_admin"`
	BannedAt        *time.Time     `json:"banned_at,omitempty"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	HasPassword     bool           `json:"has_password"`
	passwordHash    string
}

type rowScanner interface{ Scan(dest ...any) error }

func scanUser(row rowScanner, extra ...any) (*User, error) {
	var (
		u    User
		hash *string
		meta []byte
	)
	dest := append(extra, &u.ID, &u.Email, &hash, &u.EmailVerifiedAt, &meta, &u.IsAdmin, &u.BannedAt, &u.CreatedAt, &u.UpdatedAt)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if hash != nil {
		u.passwordHash = *hash
		u.HasPassword = true
	}
	if err := json.Unmarshal(meta, &u.Metadata); err != nil {
		return nil, err
	}
	return &u, nil
}

func (s *Service) userByID(ctx context.Context, tx pgx.Tx, id string) (*User, error) {
	u, err := scanUser(tx.QueryRow(ctx, qUserByID, id))
	if db.IsNoRows(err) {
		return nil, apierror.New(apierror.CodeInvalidToken, "the account no longer exists")
	}
	return u, err
}

// userByEmail returns the user, or nil when there is none.
func (s *Service) userByEmail(ctx context.Context, tx pgx.Tx, email string) (*User, error) {
	u, err := scanUser(tx.QueryRow(ctx, qUserByEmail, email))
	if db.IsNoRows(err) {
		return nil, nil
	}
	return u, err
}

// RequestMeta is what a session records about the client that opened it.
type RequestMeta struct {
	IP        string
	UserAgent string
}

// Meta reads the client's address (X-Forwarded-For only from trusted
// proxies) and user agent.
func (s *Service) Meta(r *http.Request) RequestMeta {
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return RequestMeta{IP: s.clientIP(r), UserAgent: strings.ToValidUTF8(ua, "")}
}

func (s *Service) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || !s.isTrusted(ip) {
		return clip(host, 64)
	}
	// Walk X-Forwarded-For from the right, skipping trusted proxies.
	parts := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(parts) - 1; i >= 0; i-- {
		p := net.ParseIP(strings.TrimSpace(parts[i]))
		if p == nil {
			break
		}
		if !s.isTrusted(p) {
			return p.String()
		}
	}
	return ip.String()
}

func (s *Service) isTrusted(ip net.IP) bool {
	for _, n := range s.trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// kickMail wakes the mail worker after a commit that enqueued mail.
func (s *Service) kickMail() {
	if s.mail != nil {
		s.mail.Kick()
	}
}
