package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
)

func run(t *testing.T, cfgFile string, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append(args, cfgFile), &out, &errb)
	return out.String() + errb.String(), code
}

// The account CLI end to end against a real database.
func TestUsersAdminKeysCLI(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	db := "--database-url=" + d.AdminURL
	cfgFile := "--config=" + t.TempDir() + "/none.toml"

	out, code := run(t, cfgFile, "admin", "create", db, "--email", "Root@Example.com", "--password", "admin password 1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "created admin user root@example.com")

	out, code = run(t, cfgFile, "admin", "login", db, "--email", "root@example.com", "--password", "admin password 1")
	require.Equal(t, 0, code, out)
	var tok map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &tok))
	require.NotEmpty(t, tok["access_token"])

	out, code = run(t, cfgFile, "users", "create", db, "--email", "u@example.com")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "password: ")
	out, code = run(t, cfgFile, "admin", "login", db, "--email", "u@example.com", "--password", "wrong password")
	require.NotEqual(t, 0, code, out)

	out, code = run(t, cfgFile, "users", "list", db)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "root@example.com")
	require.Contains(t, out, "u@example.com")

	out, code = run(t, cfgFile, "users", "set-password", db, "--email", "u@example.com", "--password", "new user password")
	require.Equal(t, 0, code, out)
	out, code = run(t, cfgFile, "users", "ban", db, "--email", "u@example.com")
	require.Equal(t, 0, code, out)
	var banned bool
	require.NoError(t, d.Admin(t).QueryRow(context.Background(), "select banned_at is not null from ayb.users where email = 'u@example.com'").Scan(&banned))
	require.True(t, banned)
	out, code = run(t, cfgFile, "users", "delete", db, "--email", "u@example.com")
	require.Equal(t, 0, code, out)
	out, code = run(t, cfgFile, "users", "delete", db, "--email", "u@example.com")
	require.NotEqual(t, 0, code, out)

	out, code = run(t, cfgFile, "keys", "rotate", db)
	require.Equal(t, 0, code, out)
	var keys, live int
	require.NoError(t, d.Admin(t).QueryRow(context.Background(), "select count(*), count(*) filter (where retired_at is null) from ayb.signing_keys").Scan(&keys, &live))
	require.Equal(t, 2, keys)
	require.Equal(t, 1, live)
}
