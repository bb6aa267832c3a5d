package auth

import (
	"context"
	"net/http"
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
