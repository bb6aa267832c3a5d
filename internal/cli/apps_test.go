package cli

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
)

// `ayb apps` and `ayb apikeys` against a real database, as an admin would.
func TestAppsAndAPIKeysCLI(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	db := "--database-url=" + d.AdminURL
	cfgFile := "--config=" + t.TempDir() + "/none.toml"
	var user string
	require.NoError(t, d.Admin(t).QueryRow(context.Background(), "insert into ayb.users (email) values ('cli@example.com') returning id::text").Scan(&user))
	jsonOf := func(out string) map[string]any {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &m), out)
		return m
	}

	out, code := run(t, cfgFile, "apps", "create", "Web", "--owner", user, "--limit", "600/1m", "--burst", "50", "--json", db)
	require.Equal(t, 0, code, out)
	app := jsonOf(out)
	id := app["id"].(string)
	rl := app["rate_limit"].(map[string]any)
	require.EqualValues(t, 600, rl["requests"])
	require.EqualValues(t, 60, rl["window_seconds"])
	require.EqualValues(t, 50, rl["burst"])

	out, code = run(t, cfgFile, "apps", "update", id, "--limit", "none", "--description", "the web app", "--json", db)
	require.Equal(t, 0, code, out)
	app = jsonOf(out)
	require.Nil(t, app["rate_limit"])
	require.Equal(t, "the web app", app["description"])
	require.Equal(t, "Web", app["name"])

	out, code = run(t, cfgFile, "apps", "list", db)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "Web")
	require.Contains(t, out, "unlimited")

	out, code = run(t, cfgFile, "apps", "create", "Bad", "--limit", "lots", db)
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "REQUESTS/WINDOW")

	out, code = run(t, cfgFile, "apikeys", "create", "--name", "web", "--user", user, "--app", id, "--scope", "read",
		"--tables", "posts, comments", "--expires", "720h", "--json", db)
	require.Equal(t, 0, code, out)
	c := jsonOf(out)
	key := c["api_key"].(map[string]any)
	require.Equal(t, []any{"comments", "posts"}, key["allowed_tables"])
	require.Equal(t, "read", key["scope"])
	require.NotNil(t, key["expires_at"])
	keyID := key["id"].(string)
	require.Equal(t, false, key["realtime"], "a key has no realtime access unless asked")

	out, code = run(t, cfgFile, "apikeys", "create", "--name", "live", "--user", user, "--realtime", "--json", db)
	require.Equal(t, 0, code, out)
	require.Equal(t, true, jsonOf(out)["api_key"].(map[string]any)["realtime"])
	out, code = run(t, cfgFile, "apikeys", "update", keyID, "--realtime", "--json", db)
	require.Equal(t, 0, code, out)
	require.Equal(t, true, jsonOf(out)["realtime"])
	out, code = run(t, cfgFile, "apikeys", "update", keyID, "--realtime=false", db)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "realtime")
	out, code = run(t, cfgFile, "apikeys", "update", keyID, db)
	require.NotEqual(t, 0, code, "update without --realtime changes nothing: %s", out)
	require.Contains(t, out, "--realtime=true|false")

	out, code = run(t, cfgFile, "apikeys", "create", "--name", "neither", db)
	require.NotEqual(t, 0, code, "a key needs --user or --service: %s", out)

	out, code = run(t, cfgFile, "apikeys", "rotate", keyID, "--grace", "1h", db)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "ayb_sk_")
	require.Contains(t, out, "only time the key is shown")

	out, code = run(t, cfgFile, "apikeys", "list", "--app", id, db)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "comments,posts")

	out, code = run(t, cfgFile, "apikeys", "revoke", keyID, "--json", db)
	require.Equal(t, 0, code, out)
	require.Equal(t, "revoked", jsonOf(out)["revoked_reason"])

	out, code = run(t, cfgFile, "apps", "delete", id, db)
	require.Equal(t, 0, code, out)
	out, code = run(t, cfgFile, "apps", "usage", id, "--json", db)
	require.Equal(t, 0, code, out)
	out, code = run(t, cfgFile, "apikeys", "list", "--app", id, "--active", "--json", db)
	require.Equal(t, 0, code, out)
	var live []any
	require.NoError(t, json.Unmarshal([]byte(out), &live))
	require.Empty(t, live, "deleting the app revoked the rotated key too")
}
