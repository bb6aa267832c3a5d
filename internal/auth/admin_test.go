package auth_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// The admin API answers only service_role callers and applies the same
// rules as the CLI: a ban or a new password ends the user's sessions.
func TestAdminAPI(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, err := e.svc.CreateUser(context.Background(), "boss@example.com", "boss password 1", true)
	require.NoError(t, err)
	admin := e.login("boss@example.com", "boss password 1").str("access_token")
	user := e.register("pleb@example.com", pw)

	require.Equal(t, 403, e.do("GET", "/api/admin/users", user.str("access_token"), nil).Status)
	require.Equal(t, 401, e.do("GET", "/api/admin/users", "", nil).Status, "anonymous: no user")

	list := e.do("GET", "/api/admin/users?search=pleb", admin, nil)
	require.Equal(t, 200, list.Status, string(list.Body))
	var users []map[string]any
	require.NoError(t, jsonUnmarshal(list.Body, &users))
	require.Len(t, users, 1)
	id := users[0]["id"].(string)
	require.NotContains(t, string(list.Body), "argon2", "hashes never leave the server")
	require.Equal(t, 400, e.do("GET", "/api/admin/users?limit=-1", admin, nil).Status)

	c := e.do("POST", "/api/admin/users", admin, map[string]any{"email": "new@example.com", "password": "new user password"})
	require.Equal(t, 201, c.Status, string(c.Body))
	require.Equal(t, 409, e.do("POST", "/api/admin/users", admin, map[string]any{"email": "NEW@example.com", "password": "new user password"}).Status)

	require.Equal(t, 400, e.do("PATCH", "/api/admin/users/"+id, admin, map[string]any{"password": "short"}).Status)
	require.Equal(t, 200, e.do("GET", "/api/auth/me", user.str("access_token"), nil).Status, "a refused change changes nothing")
	require.Equal(t, 204, e.do("PATCH", "/api/admin/users/"+id, admin, map[string]any{"banned": true}).Status)
	require.Equal(t, 401, e.do("GET", "/api/auth/me", user.str("access_token"), nil).Status)
	require.Equal(t, 204, e.do("PATCH", "/api/admin/users/"+id, admin, map[string]any{"banned": false, "password": "reset by admin"}).Status)
	e.login("pleb@example.com", "reset by admin")
	require.Equal(t, 204, e.do("DELETE", "/api/admin/users/"+id, admin, nil).Status)
	require.Equal(t, 404, e.do("DELETE", "/api/admin/users/"+id, admin, nil).Status)
	require.Equal(t, 404, e.do("DELETE", "/api/admin/users/not-a-uuid", admin, nil).Status)
}
