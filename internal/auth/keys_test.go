package auth_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/auth"
	"github.com/aybhq/ayb/internal/server"
)

// Two instances on one database: one first key between them, a session
// made on one refreshes on the other, and after a rotation on one, tokens
// from both keys verify on both; JWKS lists both keys.
func TestTwoInstancesAndKeyRotation(t *testing.T) {
	t.Parallel()
	a := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	svcB, err := auth.New(ctx, auth.Options{Config: a.cfg, DB: a.db.DB})
	require.NoError(t, err)
	go svcB.Listen(ctx)
	srvB := httptest.NewServer(server.New(server.Options{Config: a.cfg, DB: a.db.DB, Authenticator: svcB, Auth: svcB}).Handler())
	t.Cleanup(srvB.Close)
	b := &env{t: t, db: a.db, svc: svcB, srv: srvB, mail: a.mail, clock: a.clock, cfg: a.cfg}
	require.Equal(t, 1, a.countRows("ayb.signing_keys"), "two instances created one key")

	s := a.register("ma@example.com", pw)
	oldAccess := s.str("access_token")
	require.Equal(t, 200, b.do("GET", "/api/auth/me", oldAccess, nil).Status)
	r := b.do("POST", "/api/auth/refresh", "", map[string]any{"refresh_token": s.str("refresh_token")})
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, 200, a.do("GET", "/api/auth/me", r.str("access_token"), nil).Status)

	kid, err := auth.Rotate(ctx, a.db.DB, time.Now())
	require.NoError(t, err)

	// B learns of the rotation by NOTIFY; wait until it signs with the new key.
	var newOnB resp
	require.Eventually(t, func() bool {
		newOnB = b.do("POST", "/api/auth/login", "", map[string]any{"email": "ma@example.com", "password": pw})
		return newOnB.Status == 200 && kidOf(t, newOnB.str("access_token")) == kid
	}, 10*time.Second, 50*time.Millisecond)
	newOnA := a.login("ma@example.com", pw)
	require.Eventually(t, func() bool {
		newOnA = a.login("ma@example.com", pw)
		return kidOf(t, newOnA.str("access_token")) == kid
	}, 10*time.Second, 50*time.Millisecond)
	for _, e := range []*env{a, b} {
		for _, tok := range []string{oldAccess, newOnA.str("access_token"), newOnB.str("access_token")} {
			require.Equal(t, 200, e.do("GET", "/api/auth/me", tok, nil).Status)
		}
		jwks := e.do("GET", "/.well-known/jwks.json", "", nil)
		require.Equal(t, 200, jwks.Status)
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		require.NoError(t, json.Unmarshal(jwks.Body, &set))
		require.Len(t, set.Keys, 2)
		for _, k := range set.Keys {
			require.Equal(t, "EC", k["kty"])
			require.Empty(t, k["d"], "no private part in JWKS")
		}
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	var h struct {
		Kid string `json:"kid"`
	}
	parts := splitDots(tok)
	require.Len(t, parts, 3)
	b, err := decodeSeg(parts[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &h))
	return h.Kid
}
