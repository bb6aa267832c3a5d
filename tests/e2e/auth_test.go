package e2e

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
)

// Two server instances on one database: a session created through one
// refreshes through the other; after `ayb keys rotate`, tokens from both
// keys verify on both (the rotation reaches each instance by NOTIFY).
func TestAuthTwoInstancesAndKeyRotation(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	dir := t.TempDir() // the first start writes ayb.toml with every default here
	opt := StartOptions{DatabaseURL: d.URL, Dir: dir, Env: []string{"AYB_DATABASE_ADMIN_URL=" + d.AdminURL, "AYB_LOG_LEVEL=warn"}}
	a := &Client{t: t, Base: Start(t, opt).URL}
	b := &Client{t: t, Base: Start(t, opt).URL}

	reg := a.Do("POST", "/api/auth/register", map[string]any{"email": "two@example.com", "password": "two instances pw"})
	require.Equal(t, 201, reg.Status, string(reg.Raw))
	tokens := reg.JSON(t)
	oldAccess := tokens["access_token"].(string)
	require.Equal(t, 200, b.With(oldAccess).Do("GET", "/api/auth/me", nil).Status)
	ref := b.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": tokens["refresh_token"]})
	require.Equal(t, 200, ref.Status, string(ref.Raw))
	require.Equal(t, 200, a.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": ref.JSON(t)["refresh_token"]}).Status)

	out, err := Run(t, dir, nil, "keys", "rotate", "--database-url", d.AdminURL)
	require.NoError(t, err, out)
	require.Contains(t, out, "new signing key ")
	kid := strings.TrimSuffix(strings.Fields(strings.SplitN(out, "new signing key ", 2)[1])[0], ";")

	newTokens := map[*Client]string{}
	for _, c := range []*Client{a, b} {
		require.Eventually(t, func() bool {
			l := c.Do("POST", "/api/auth/login", map[string]any{"email": "two@example.com", "password": "two instances pw"})
			if l.Status != 200 {
				return false
			}
			tok := l.JSON(t)["access_token"].(string)
			newTokens[c] = tok
			return strings.Contains(jwtHeader(t, tok), kid)
		}, 15*time.Second, 100*time.Millisecond, "instance never signed with the new key")
	}
	for _, c := range []*Client{a, b} {
		for _, tok := range []string{oldAccess, newTokens[a], newTokens[b]} {
			r := c.With(tok).Do("GET", "/api/auth/me", nil)
			require.Equal(t, 200, r.Status, string(r.Raw))
		}
	}
}

func jwtHeader(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	return string(b)
}
