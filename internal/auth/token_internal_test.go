package auth

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/dbtest"
)

// Only ES256 tokens signed by our keys, for our issuer and audience,
// unexpired, at a full session level, with a live session, pass.
func TestAuthenticateRefusesForgedTokens(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.Auth.ArgonMemoryKiB = 8 * 1024
	s, err := New(ctx, Options{Config: cfg, DB: d.DB})
	require.NoError(t, err)
	_, err = s.CreateUser(ctx, "tok@example.com", "token test password", false)
	require.NoError(t, err)
	good, err := s.Login(ctx, "tok@example.com", "token test password", RequestMeta{})
	require.NoError(t, err)

	req := func(tok string) error {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, err := s.Authenticate(r)
		return err
	}
	require.NoError(t, req(good.AccessToken))

	key, err := s.keys.signing()
	require.NoError(t, err)
	claims := func(mut func(*AccessClaims)) *AccessClaims {
		c, err := s.ParseAccess(ctx, good.AccessToken)
		require.NoError(t, err)
		mut(c)
		return c
	}
	sign := func(c *AccessClaims) string {
		tk := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tk.Header["kid"] = key.kid
		out, err := tk.SignedString(key.private)
		require.NoError(t, err)
		return out
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(func(*AccessClaims) {}))
	hs.Header["kid"] = key.kid
	hsTok, _ := hs.SignedString([]byte("secret"))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(func(*AccessClaims) {})).SignedString(jwt.UnsafeAllowNoneSignatureType)
	tampered := good.AccessToken[:len(good.AccessToken)-4] + "AAAA"

	for name, tok := range map[string]string{
		"hs256":         hsTok,
		"none":          none,
		"tampered":      tampered,
		"garbage":       "not.a.jwt",
		"expired":       sign(claims(func(c *AccessClaims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour)) })),
		"wrong aud":     sign(claims(func(c *AccessClaims) { c.Audience = jwt.ClaimStrings{"other"} })),
		"wrong iss":     sign(claims(func(c *AccessClaims) { c.Issuer = "https://evil.example" })),
		"mfa pending":   sign(claims(func(c *AccessClaims) { c.AAL = "aal0" })),
		"odd role":      sign(claims(func(c *AccessClaims) { c.Role = "postgres" })),
		"other session": sign(claims(func(c *AccessClaims) { c.SessionID = "00000000-0000-0000-0000-000000000000" })),
		"other user":    sign(claims(func(c *AccessClaims) { c.Subject = "00000000-0000-0000-0000-000000000000" })),
		"unknown kid": func() string {
			tk := jwt.NewWithClaims(jwt.SigningMethodES256, claims(func(*AccessClaims) {}))
			tk.Header["kid"] = "0123456789abcdef"
			out, _ := tk.SignedString(key.private)
			return out
		}(),
	} {
		err := req(tok)
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "invalid_token", name)

		// The REST data routes verify the same way; only the session check
		// moves into the request's transaction.
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		id, err := s.AuthenticateDeferred(r)
		if name == "other session" || name == "other user" {
			require.NoError(t, err, name)
			require.NotNil(t, id.Session, name)
			require.Equal(t, id.Subject(), id.Session.UserID, name)
			continue
		}
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "invalid_token", name)
	}
	// No credential is anonymous; a non-bearer credential is refused.
	r, _ := http.NewRequest("GET", "/", nil)
	id, err := s.Authenticate(r)
	require.NoError(t, err)
	require.Equal(t, "anon", id.Role)
	r.Header.Set("Authorization", "Basic dTpw")
	_, err = s.Authenticate(r)
	require.Error(t, err)
}

// A token verified once is answered from the cache only while it is
// unexpired by the service's clock and its signing key is still in the key
// set; the claims handed out are copies.
func TestVerifiedTokenCache(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.Auth.ArgonMemoryKiB = 8 * 1024
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	s, err := New(ctx, Options{Config: cfg, DB: d.DB, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	require.NoError(t, err)
	_, err = s.CreateUser(ctx, "cache@example.com", "token cache password", false)
	require.NoError(t, err)
	tok, err := s.Login(ctx, "cache@example.com", "token cache password", RequestMeta{})
	require.NoError(t, err)

	c, err := s.ParseAccess(ctx, tok.AccessToken)
	require.NoError(t, err)
	c.Subject = "changed by a caller"
	again, err := s.ParseAccess(ctx, tok.AccessToken)
	require.NoError(t, err)
	require.NotEqual(t, "changed by a caller", again.Subject, "the cache hands out copies")
	_, cached := s.verified.get(tok.AccessToken, s.now())
	require.True(t, cached)

	// Past expiry plus leeway: refused although cached.
	clock.Add(int64(cfg.Auth.AccessTokenTTL.Duration + tokenLeeway + time.Second))
	_, err = s.ParseAccess(ctx, tok.AccessToken)
	require.Error(t, err)
	clock.Store(time.Now().UnixNano())
	_, err = s.ParseAccess(ctx, tok.AccessToken)
	require.NoError(t, err)

	// Its key gone from the key set: refused although cached.
	s.keys.mu.Lock()
	saved := s.keys.byKID
	s.keys.byKID = map[string]*signingKey{}
	s.keys.lastReload = s.now() // no reload within the second
	s.keys.mu.Unlock()
	_, err = s.ParseAccess(ctx, tok.AccessToken)
	require.Error(t, err)
	s.keys.mu.Lock()
	s.keys.byKID = saved
	s.keys.mu.Unlock()
	_, err = s.ParseAccess(ctx, tok.AccessToken)
	require.NoError(t, err)
}

func TestTokenCacheStaysBounded(t *testing.T) {
	c := newTokenCache(100)
	now := time.Now()
	for i := 0; i < 1000; i++ {
		c.put(strconv.Itoa(i), cachedToken{until: now.Add(time.Hour)}, now)
		require.LessOrEqual(t, len(c.entries), 100)
	}
	_, ok := c.get("999", now)
	require.True(t, ok)
	_, ok = c.get("999", now.Add(2*time.Hour))
	require.False(t, ok, "expired entries are never answered")
}
