package apikey_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/apierror"
)

// The realtime right through the admin and user APIs: closed by default,
// granted on create or by PATCH, shown in lists, carried on the identity,
// kept by rotation, and never widened by a key that lacks it.
func TestKeyRealtimeRight(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	base := b.Inst[0].URL
	ctx := context.Background()
	user := "user:" + b.User.String()

	plain, plainID := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full"})
	live, liveID := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full", "realtime": true})
	r := do(t, base, "GET", "/api/admin/api-keys/"+plainID, b.admin(), nil)
	require.Equal(t, false, r.Body["realtime"], "a key has no realtime access unless asked: %v", r.Body)
	r = do(t, base, "GET", "/api/auth/api-keys/"+liveID, user, nil)
	require.Equal(t, true, r.Body["realtime"], r.Body)

	for key, want := range map[string]bool{plain: false, live: true} {
		k, err := b.Inst[1].Keys.Verify(ctx, key)
		require.NoError(t, err)
		id := k.Identity()
		require.Equal(t, want, id.Realtime)
		require.Equal(t, want, id.RealtimeAllowed())
	}

	// What an open stream's key check sees.
	cases := map[string]bool{plainID: false, liveID: true, "not-a-uuid": false,
		"00000000-0000-0000-0000-000000000000": false}
	ok, err := b.Inst[0].Keys.StreamableKeys(ctx, slices.Collect(maps.Keys(cases)))
	require.NoError(t, err)
	require.Equal(t, map[string]bool{liveID: true}, ok, "one query answers for every key")
	ok, err = b.Inst[0].Keys.StreamableKeys(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, ok)
	banned, bannedID := b.mkKey(t, map[string]any{"user_id": b.Other, "scope": "read", "realtime": true})
	require.NotEmpty(t, banned)
	ok, err = b.Inst[0].Keys.StreamableKeys(ctx, []string{bannedID, liveID})
	require.NoError(t, err)
	require.Equal(t, map[string]bool{bannedID: true, liveID: true}, ok)
	_, err = b.DB.Admin(t).Exec(ctx, "update ayb.users set banned_at = now() where id = $1", b.Other)
	require.NoError(t, err)
	ok, err = b.Inst[0].Keys.StreamableKeys(ctx, []string{bannedID, liveID})
	require.NoError(t, err)
	require.Equal(t, map[string]bool{liveID: true}, ok, "a banned user's key may not stream")

	// PATCH needs realtime and nothing else.
	before := countKeys(t, b.DB)
	for _, bad := range []map[string]any{{}, {"realtime": "yes"}, {"realtime": true, "scope": "read"}} {
		r = do(t, base, "PATCH", "/api/admin/api-keys/"+plainID, b.admin(), bad)
		require.Equal(t, 400, r.Status, "%v: %v", bad, r.Body)
	}
	r = do(t, base, "PATCH", "/api/admin/api-keys/"+plainID, "admin:"+b.Admin.String(), map[string]any{"realtime": true})
	require.Equal(t, 200, r.Status, r.Body)
	require.Equal(t, true, r.Body["realtime"])
	require.Equal(t, before, countKeys(t, b.DB), "an update makes no key")
	// The other instance drops its cached copy (NOTIFY) and sees the grant.
	require.Eventually(t, func() bool {
		k, err := b.Inst[1].Keys.Verify(ctx, plain)
		return err == nil && k.Identity().RealtimeAllowed()
	}, 5*time.Second, 20*time.Millisecond, "instance 2 kept the stale key")

	// A user changes only their own keys.
	r = do(t, base, "PATCH", "/api/auth/api-keys/"+plainID, "user:"+b.Other.String(), map[string]any{"realtime": false})
	require.Equal(t, 404, r.Status, r.Body)
	r = do(t, base, "PATCH", "/api/auth/api-keys/"+plainID, user, map[string]any{"realtime": false})
	require.Equal(t, 200, r.Status, r.Body)
	require.Equal(t, false, r.Body["realtime"])

	// A key without realtime can neither mint nor grant it; one with it can.
	r = do(t, base, "POST", "/api/auth/api-keys", plain, map[string]any{"name": "child", "scope": "read", "realtime": true})
	require.Equal(t, 403, r.Status, r.Body)
	require.Equal(t, apierror.CodeInsufficientScope, r.Body["code"])
	r = do(t, base, "PATCH", "/api/auth/api-keys/"+plainID, plain, map[string]any{"realtime": true})
	require.Equal(t, 403, r.Status, r.Body)
	require.Equal(t, apierror.CodeInsufficientScope, r.Body["code"])
	require.Equal(t, before, countKeys(t, b.DB))
	r = do(t, base, "POST", "/api/auth/api-keys", live, map[string]any{"name": "child", "scope": "read", "realtime": true})
	require.Equal(t, 201, r.Status, r.Body)
	require.Equal(t, true, r.Body["api_key"].(map[string]any)["realtime"])
	r = do(t, base, "PATCH", "/api/auth/api-keys/"+plainID, live, map[string]any{"realtime": true})
	require.Equal(t, 200, r.Status, r.Body)

	// A restricted key cannot change keys at all.
	restricted, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full", "realtime": true,
		"allowed_tables": []string{"posts"}})
	r = do(t, base, "PATCH", "/api/auth/api-keys/"+plainID, restricted, map[string]any{"realtime": false})
	require.Equal(t, 403, r.Status, r.Body)

	// Rotation keeps the setting; a revoked key cannot be changed.
	r = do(t, base, "POST", "/api/admin/api-keys/"+liveID+"/rotate", b.admin(), nil)
	require.Equal(t, 201, r.Status, r.Body)
	require.Equal(t, true, r.Body["api_key"].(map[string]any)["realtime"])
	r = do(t, base, "PATCH", "/api/admin/api-keys/"+liveID, b.admin(), map[string]any{"realtime": false})
	require.Equal(t, 400, r.Status, r.Body)
	r = do(t, base, "PATCH", "/api/admin/api-keys/00000000-0000-0000-0000-000000000000", b.admin(), map[string]any{"realtime": true})
	require.Equal(t, 404, r.Status, r.Body)
}
