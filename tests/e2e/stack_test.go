package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
)

// A new user's path through the whole stack, on the real binary: sign up,
// write and read rows under RLS, mint a read-only key, and see every
// credential's limits hold on every path.
func TestNewUserJourney(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	d.Exec(t, `
		create table public.notes (
			id bigserial primary key,
			owner uuid not null default auth.uid(),
			body text not null check (length(body) > 0)
		);
		alter table public.notes enable row level security;
		create policy own on public.notes using (owner = auth.uid()) with check (owner = auth.uid());
		create function public.note_count() returns bigint language sql stable as 'select count(*) from public.notes';
		create function public.add_note(body text) returns void language sql volatile as 'insert into public.notes(body) values (body)';`)
	in := Start(t, StartOptions{
		DatabaseURL: d.URL,
		Env:         []string{"AYB_DATABASE_ADMIN_URL=" + d.AdminURL},
	})
	anon := &Client{t: t, Base: in.URL}

	signUp := func(email string) *Client {
		r := anon.Do("POST", "/api/auth/register", map[string]any{"email": email, "password": "a sturdy passphrase 42"})
		require.Equal(t, 201, r.Status, string(r.Raw))
		tok, _ := r.JSON(t)["access_token"].(string)
		require.NotEmpty(t, tok)
		return anon.With(tok)
	}
	alice := signUp("alice@example.com")
	bob := signUp("bob@example.com")

	// Emails differing only in case are one account.
	r := anon.Do("POST", "/api/auth/register", map[string]any{"email": "ALICE@example.com", "password": "another passphrase 42"})
	require.Equal(t, 409, r.Status, string(r.Raw))

	// Writes and reads under RLS.
	r = alice.Do("POST", "/api/collections/notes", map[string]any{"body": "alice's note"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	noteID := r.JSON(t)["id"]
	r = alice.Do("GET", "/api/collections/notes", nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Len(t, r.JSON(t)["items"], 1)
	r = bob.Do("GET", "/api/collections/notes", nil)
	require.Equal(t, 200, r.Status)
	require.Len(t, r.JSON(t)["items"], 0, "bob sees none of alice's rows")
	r = bob.Do("GET", fmt.Sprintf("/api/collections/notes/%v", noteID), nil)
	require.Equal(t, 404, r.Status)
	r = anon.Do("GET", "/api/collections/notes", nil)
	require.Contains(t, []int{200, 401, 403, 404}, r.Status)
	if r.Status == 200 {
		require.Len(t, r.JSON(t)["items"], 0)
	}
	r = alice.Do("POST", "/api/rpc/note_count", map[string]any{})
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "1")

	// Bad input: clear 4xx with the error body, nothing written.
	for _, body := range []any{map[string]any{"body": ""}, map[string]any{"nope": 1}, map[string]any{"body": "x", "owner": "not-a-uuid"}} {
		r = alice.Do("POST", "/api/collections/notes", body)
		require.Equal(t, 400, r.Status, string(r.Raw))
		e := r.JSON(t)
		require.Contains(t, e, "code")
		require.Contains(t, e, "message")
	}
	r = alice.Do("GET", "/api/collections/notes", nil)
	require.Len(t, r.JSON(t)["items"], 1, "failed writes left nothing")

	// A read-only key acts as alice but cannot write, by any path.
	r = alice.Do("POST", "/api/auth/api-keys", map[string]any{"name": "reader", "scope": "read"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	key := r.JSON(t)["key"].(string)
	require.True(t, strings.HasPrefix(key, "ayb_"), key)
	reader := anon.With(key)
	r = reader.Do("GET", "/api/collections/notes", nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Len(t, r.JSON(t)["items"], 1)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/collections/notes", map[string]any{"body": "via key"}},
		{"POST", "/api/rpc/add_note", map[string]any{"body": "via key"}},
		{"POST", "/api/auth/api-keys", map[string]any{"name": "x", "scope": "full"}},
		{"POST", "/api/auth/password", map[string]any{"current_password": "a sturdy passphrase 42", "new_password": "a brand new passphrase 7"}},
		{"DELETE", "/api/auth/me", nil},
	} {
		r = reader.Do(c.method, c.path, c.body)
		require.Equal(t, 403, r.Status, "%s %s: %s", c.method, c.path, r.Raw)
	}
	r = alice.Do("GET", "/api/collections/notes", nil)
	require.Len(t, r.JSON(t)["items"], 1, "nothing was written through the read key")

	// Users are not admins.
	for _, p := range []string{"/api/admin/apps", "/api/admin/api-keys"} {
		require.Equal(t, 403, alice.Do("GET", p, nil).Status, p)
		require.Equal(t, 403, reader.Do("GET", p, nil).Status, p)
	}

	// Logout kills the access token at once, on every path: the REST data
	// routes check the session inside the request's own transaction, the
	// others before the handler. Nothing is read or written with it.
	r = alice.Do("POST", "/api/auth/logout", map[string]any{})
	require.Contains(t, []int{200, 204}, r.Status, string(r.Raw))
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/collections/notes", nil},
		{"GET", fmt.Sprintf("/api/collections/notes/%v", noteID), nil},
		{"POST", "/api/collections/notes", map[string]any{"body": "after logout"}},
		{"PATCH", fmt.Sprintf("/api/collections/notes/%v", noteID), map[string]any{"body": "after logout"}},
		{"POST", "/api/collections/notes/batch", map[string]any{"operations": []any{
			map[string]any{"method": "create", "body": map[string]any{"body": "after logout"}}}}},
		{"POST", "/api/rpc/add_note", map[string]any{"body": "after logout"}},
		{"DELETE", fmt.Sprintf("/api/collections/notes/%v", noteID), nil},
		{"GET", "/api/auth/me", nil},
	} {
		r = alice.Do(c.method, c.path, c.body)
		require.Equal(t, 401, r.Status, "%s %s: %s", c.method, c.path, r.Raw)
		require.Equal(t, "invalid_token", r.JSON(t)["code"], "%s %s", c.method, c.path)
	}
	var notes int
	var body string
	require.NoError(t, d.Admin(t).QueryRow(context.Background(), "select count(*), min(body) from public.notes").Scan(&notes, &body))
	require.Equal(t, 1, notes, "nothing was written after logout")
	require.Equal(t, "alice's note", body)
}
