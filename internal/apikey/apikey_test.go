package apikey_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/apikey"
	"github.com/aybhq/ayb/internal/app"
	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/server"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testAuth stands in for the JWT authenticator: X-Test-User makes a user
// session, X-Test-Admin an admin session (role service_role, no scope).
type testAuth struct{}

func (testAuth) Authenticate(r *http.Request) (identity.Identity, error) {
	if u := r.Header.Get("X-Test-User"); u != "" {
		return identity.Identity{Role: identity.RoleAuthenticated, Claims: map[string]any{"sub": u, "role": "authenticated"}, Kind: "jwt"}, nil
	}
	if u := r.Header.Get("X-Test-Admin"); u != "" {
		return identity.Identity{Role: identity.RoleServiceRole, Claims: map[string]any{"sub": u, "role": "service_role"}, Kind: "jwt"}, nil
	}
	return identity.Anon(), nil
}

// instance is one AYB server (its own pool, key service and HTTP server).
type instance struct {
	Keys *apikey.Service
	Apps *app.Service
	DB   *db.DB
	URL  string
}

type bundle struct {
	DB    *dbtest.DB
	Inst  []*instance
	User  uuid.UUID
	Other uuid.UUID
	Admin uuid.UUID
}

func setup(t *testing.T, instances int) *bundle {
	t.Helper()
	return setupWith(t, instances, apikey.Options{})
}

func setupWith(t *testing.T, instances int, opt apikey.Options) *bundle {
	t.Helper()
	d := dbtest.New(t)
	b := &bundle{DB: d}
	conn := d.Admin(t)
	ctx := context.Background()
	for _, p := range []struct {
		dst   *uuid.UUID
		email string
		admin bool
	}{{&b.User, "user@example.com", false}, {&b.Other, "other@example.com", false}, {&b.Admin, "admin@example.com", true}} {
		require.NoError(t, conn.QueryRow(ctx, "insert into ayb.users (email, is_admin) values ($1, $2) returning id", p.email, p.admin).Scan(p.dst))
	}
	for i := 0; i < instances; i++ {
		pool, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: 4})
		require.NoError(t, err)
		opt.FlushInterval = 50 * time.Millisecond
		keys := apikey.New(pool, opt)
		rctx, cancel := context.WithCancel(ctx)
		keys.Start(rctx)
		select {
		case <-keys.Listening():
		case <-time.After(10 * time.Second):
			t.Fatal("listener did not start")
		}
		apps := app.New(pool)
		srv := server.New(server.Options{Config: config.Defaults(), DB: pool,
			Authenticator: apikey.Authenticator{Keys: keys, Next: testAuth{}}, APIKeys: keys, Apps: apps})
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(func() { hs.Close(); cancel(); pool.Close() })
		b.Inst = append(b.Inst, &instance{Keys: keys, Apps: apps, DB: pool, URL: hs.URL})
	}
	return b
}

type resp struct {
	Status int
	Header http.Header
	Body   map[string]any
}

// do sends a request; auth is "user:<uuid>", "admin:<uuid>" or an API key.
func do(t *testing.T, base, method, path, auth string, body any) resp {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		bs, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(bs)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, base+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case len(auth) > 5 && auth[:5] == "user:":
		req.Header.Set("X-Test-User", auth[5:])
	case len(auth) > 6 && auth[:6] == "admin:":
		req.Header.Set("X-Test-Admin", auth[6:])
	case auth != "":
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out := resp{Status: res.StatusCode, Header: res.Header, Body: map[string]any{}}
	_ = json.NewDecoder(res.Body).Decode(&out.Body)
	return out
}

func (b *bundle) admin() string { return "admin:" + b.Admin.String() }

// mkApp creates an app through the admin API.
func (b *bundle) mkApp(t *testing.T, name string, limit map[string]any) string {
	t.Helper()
	body := map[string]any{"name": name, "owner_id": b.User}
	if limit != nil {
		body["rate_limit"] = limit
	}
	r := do(t, b.Inst[0].URL, "POST", "/api/admin/apps", b.admin(), body)
	require.Equal(t, 201, r.Status, r.Body)
	return r.Body["id"].(string)
}

// mkKey creates a key through the admin API and returns its plaintext and id.
func (b *bundle) mkKey(t *testing.T, body map[string]any) (string, string) {
	t.Helper()
	if body["name"] == nil {
		body["name"] = "test key"
	}
	r := do(t, b.Inst[0].URL, "POST", "/api/admin/api-keys", b.admin(), body)
	require.Equal(t, 201, r.Status, r.Body)
	k := r.Body["api_key"].(map[string]any)
	return r.Body["key"].(string), k["id"].(string)
}

func countKeys(t *testing.T, d *dbtest.DB) int {
	t.Helper()
	var n int
	require.NoError(t, d.Admin(t).QueryRow(context.Background(), "select count(*) from ayb.api_keys").Scan(&n))
	return n
}

func TestKeyFormat(t *testing.T) {
	t.Parallel()
	s, err := apikey.Generate()
	require.NoError(t, err)
	require.Regexp(t, `^ayb_sk_[0-9A-Za-z]{49}$`, s.Plaintext)
	require.True(t, apikey.WellFormed(s.Plaintext))
	require.Equal(t, s.Plaintext[:15], s.Prefix)
	require.Len(t, s.Hash, 32)
	// One changed character breaks the checksum.
	bad := []byte(s.Plaintext)
	if bad[20] == 'a' {
		bad[20] = 'b'
	} else {
		bad[20] = 'a'
	}
	require.False(t, apikey.WellFormed(string(bad)))
	s2, err := apikey.Generate()
	require.NoError(t, err)
	require.NotEqual(t, s.Plaintext, s2.Plaintext)
}

// The negative matrix in this area: scope-limited keys cannot mint keys,
// user keys never reach /api/admin, and nothing is written on refusal.
func TestScopeMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	base := b.Inst[0].URL
	appID := b.mkApp(t, "matrix", nil)
	readKey, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "read"})
	writeKey, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "write"})
	fullKey, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full"})
	adminUserKey, _ := b.mkKey(t, map[string]any{"user_id": b.Admin, "scope": "full"})
	svcFull, _ := b.mkKey(t, map[string]any{"scope": "full"})
	svcRead, _ := b.mkKey(t, map[string]any{"scope": "read"})
	before := countKeys(t, b.DB)

	for _, k := range []struct{ name, key string }{{"read", readKey}, {"write", writeKey}} {
		r := do(t, base, "POST", "/api/auth/api-keys", k.key, map[string]any{"name": "minted", "scope": "full"})
		require.Equal(t, 403, r.Status, k.name)
		require.Equal(t, apierror.CodeInsufficientScope, r.Body["code"], k.name)
		r = do(t, base, "GET", "/api/auth/api-keys", k.key, nil)
		require.Equal(t, 403, r.Status, k.name)
	}
	require.Equal(t, before, countKeys(t, b.DB), "a refused mint writes nothing")

	adminRoutes := []struct{ method, path string }{
		{"GET", "/api/admin/apps"}, {"POST", "/api/admin/apps"}, {"GET", "/api/admin/apps/" + appID},
		{"PATCH", "/api/admin/apps/" + appID}, {"DELETE", "/api/admin/apps/" + appID},
		{"GET", "/api/admin/apps/" + appID + "/usage"},
		{"GET", "/api/admin/api-keys"}, {"POST", "/api/admin/api-keys"},
		{"DELETE", "/api/admin/api-keys/" + uuid.NewString()}, {"POST", "/api/admin/api-keys/" + uuid.NewString() + "/rotate"},
		{"GET", "/api/admin/anything-else"},
	}
	for _, rt := range adminRoutes {
		for _, k := range []struct{ name, key string }{
			{"user read key", readKey}, {"user full key", fullKey}, {"admin user's key", adminUserKey},
			{"read service key", svcRead}, {"user session", "user:" + b.User.String()},
		} {
			r := do(t, base, rt.method, rt.path, k.key, map[string]any{"name": "x"})
			require.Equal(t, 403, r.Status, "%s %s with %s: %v", rt.method, rt.path, k.name, r.Body)
		}
		r := do(t, base, rt.method, rt.path, "", nil)
		require.Equal(t, 401, r.Status, "%s %s anonymous", rt.method, rt.path)
	}
	require.Equal(t, before, countKeys(t, b.DB))
	var apps int
	require.NoError(t, b.DB.Admin(t).QueryRow(context.Background(), "select count(*) from ayb.apps where deleted_at is null").Scan(&apps))
	require.Equal(t, 1, apps)

	// Full-scope credentials do reach their endpoints.
	r := do(t, base, "POST", "/api/auth/api-keys", fullKey, map[string]any{"name": "minted", "scope": "read"})
	require.Equal(t, 201, r.Status, r.Body)
	r = do(t, base, "GET", "/api/admin/apps", svcFull, nil)
	require.Equal(t, 200, r.Status, r.Body)
	r = do(t, base, "POST", "/api/auth/api-keys", "user:"+b.User.String(), map[string]any{"name": "session-made", "scope": "write"})
	require.Equal(t, 201, r.Status, r.Body)

	// Self-service cannot make service keys, keys for others, or keys of
	// apps the user does not own.
	r = do(t, base, "POST", "/api/auth/api-keys", "user:"+b.Other.String(), map[string]any{"name": "x", "scope": "read", "user_id": b.User})
	require.Equal(t, 403, r.Status)
	r = do(t, base, "POST", "/api/auth/api-keys", "user:"+b.Other.String(), map[string]any{"name": "x", "scope": "read", "app_id": appID})
	require.Equal(t, 403, r.Status, r.Body)
	r = do(t, base, "POST", "/api/auth/api-keys", svcFull, map[string]any{"name": "x", "scope": "read"})
	require.Equal(t, 403, r.Status, r.Body)
}

func TestRequireFullScopeAndAdmin(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	user := identity.Identity{Role: "authenticated", Claims: map[string]any{"sub": uuid.NewString()}, Kind: "jwt"}
	admin := identity.Identity{Role: "service_role", Claims: map[string]any{"sub": uuid.NewString()}, Kind: "jwt"}
	key := func(role, scope string) identity.Identity {
		return identity.Identity{Role: role, Claims: map[string]any{"scope": scope}, Kind: "api_key", ReadOnly: scope == "read"}
	}
	cases := []struct {
		name        string
		id          identity.Identity
		full, admin int
	}{
		{"anon", identity.Anon(), 401, 401},
		{"user session", user, 204, 403},
		{"admin session", admin, 204, 204},
		{"user read key", key("authenticated", "read"), 403, 403},
		{"user write key", key("authenticated", "write"), 403, 403},
		{"user full key", key("authenticated", "full"), 204, 403},
		{"service write key", key("service_role", "write"), 403, 403},
		{"service full key", key("service_role", "full"), 204, 204},
		{"oauth token with full among scopes", key("authenticated", "read full"), 204, 403},
	}
	for _, c := range cases {
		for _, g := range []struct {
			mw   func(http.Handler) http.Handler
			want int
		}{{apikey.RequireFullScope, c.full}, {apikey.RequireAdmin, c.admin}} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/", nil)
			g.mw(ok).ServeHTTP(rec, req.WithContext(identity.With(req.Context(), c.id)))
			require.Equal(t, g.want, rec.Code, c.name)
		}
	}
}

// A read key's transaction is READ ONLY: a volatile function that inserts
// fails with 403 insufficient_scope, and nothing is written.
func TestReadKeyTransactionIsReadOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	b.DB.Exec(t, `create table public.log (id serial primary key, body text);
		create function public.write_log(t text) returns void language sql volatile as $$ insert into public.log (body) values (t) $$;`)
	readKey, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "read"})
	writeKey, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "write"})
	ctx := context.Background()
	k, err := b.Inst[0].Keys.Verify(ctx, readKey)
	require.NoError(t, err)
	id := k.Identity()
	require.True(t, id.ReadOnly)
	require.False(t, id.CanWrite())
	require.Equal(t, apikey.KindAPIKey, id.Kind)
	err = b.Inst[0].DB.InTx(ctx, id, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "select public.write_log('through a read key')")
		return err
	})
	require.Error(t, err)
	ae := apierror.As(err)
	require.Equal(t, 403, ae.Status)
	require.Equal(t, apierror.CodeInsufficientScope, ae.Code)

	k, err = b.Inst[0].Keys.Verify(ctx, writeKey)
	require.NoError(t, err)
	require.NoError(t, b.Inst[0].DB.InTx(ctx, k.Identity(), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "select public.write_log('through a write key')")
		return err
	}))
	var bodies []string
	rows, err := b.DB.Admin(t).Query(ctx, "select body from public.log")
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		bodies = append(bodies, s)
	}
	require.Equal(t, []string{"through a write key"}, bodies)
}

func TestKeyIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	ctx := context.Background()
	appID := b.mkApp(t, "ident", nil)
	restricted, rid := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "write", "app_id": appID,
		"allowed_tables": []string{"posts"}, "allowed_functions": []string{"vote"}})
	tablesOnly, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "write", "allowed_tables": []string{"posts", "public.tags"}})
	svc, _ := b.mkKey(t, map[string]any{"scope": "write"})

	k, err := b.Inst[0].Keys.Verify(ctx, restricted)
	require.NoError(t, err)
	id := k.Identity()
	require.Equal(t, identity.RoleAuthenticated, id.Role)
	require.Equal(t, b.User.String(), id.Subject())
	require.Equal(t, "write", id.Scope())
	require.Equal(t, rid, id.Claims["key_id"])
	require.Equal(t, appID, id.Claims["app_id"])
	require.Equal(t, "user@example.com", id.Claims["email"])
	require.True(t, id.TableAllowed("posts"))
	require.False(t, id.TableAllowed("users"))
	require.Equal(t, []string{"vote"}, id.AllowedFunctions)
	require.True(t, id.CanWrite())

	k, err = b.Inst[0].Keys.Verify(ctx, tablesOnly)
	require.NoError(t, err)
	id = k.Identity()
	require.Equal(t, []string{"posts", "public.tags"}, id.AllowedTables)
	require.NotNil(t, id.AllowedFunctions, "tables restricted and no functions listed: RPC is none")
	require.Empty(t, id.AllowedFunctions)

	k, err = b.Inst[0].Keys.Verify(ctx, svc)
	require.NoError(t, err)
	id = k.Identity()
	require.Equal(t, identity.RoleServiceRole, id.Role)
	require.Nil(t, id.AllowedTables)
	require.Nil(t, id.AllowedFunctions)
	// The sub is not a uuid, so auth.uid() is null for a service key.
	var uid *string
	require.NoError(t, b.Inst[0].DB.InTx(ctx, id, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select auth.uid()::text").Scan(&uid)
	}))
	require.Nil(t, uid)
}

// A policy using auth.app_id() lets the app's key through and refuses
// another app's key and a plain user session.
func TestAppPolicy(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	ctx := context.Background()
	appA := b.mkApp(t, "app-a", nil)
	appB := b.mkApp(t, "app-b", nil)
	b.DB.Exec(t, `create table public.orders (id serial primary key, item text not null);
		alter table public.orders enable row level security;
		create policy app_a_only on public.orders for all using (auth.app_id() = '`+appA+`') with check (auth.app_id() = '`+appA+`');
		insert into public.orders (item) values ('seed');`)
	keyA, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "write", "app_id": appA})
	keyB, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "write", "app_id": appB})

	run := func(id identity.Identity) (int, error) {
		var n int
		err := b.Inst[0].DB.InTx(ctx, id, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, "select count(*) from public.orders").Scan(&n); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "insert into public.orders (item) values ('new')")
			return err
		})
		return n, err
	}
	ka, err := b.Inst[0].Keys.Verify(ctx, keyA)
	require.NoError(t, err)
	n, err := run(ka.Identity())
	require.NoError(t, err)
	require.Equal(t, 1, n)

	kb, err := b.Inst[0].Keys.Verify(ctx, keyB)
	require.NoError(t, err)
	n, err = run(kb.Identity())
	require.Error(t, err)
	require.Equal(t, 403, apierror.As(err).Status)
	require.Equal(t, 0, n)

	session := identity.Identity{Role: identity.RoleAuthenticated, Claims: map[string]any{"sub": b.User.String(), "role": "authenticated"}, Kind: "jwt"}
	n, err = run(session)
	require.Error(t, err)
	require.Equal(t, 0, n)
	var total int
	require.NoError(t, b.DB.Admin(t).QueryRow(ctx, "select count(*) from public.orders").Scan(&total))
	require.Equal(t, 2, total)
}

// A full key can mint keys, but none wider than itself.
func TestKeyMintsOnlyNarrowerKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	base := b.Inst[0].URL
	appID := b.mkApp(t, "minting", nil)
	other := b.mkApp(t, "elsewhere", nil)
	minter, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full", "app_id": appID,
		"allowed_tables": []string{"posts", "tags"}, "rate_limit": map[string]any{"requests": 60, "window_seconds": 60}})
	before := countKeys(t, b.DB)
	for _, bad := range []map[string]any{
		{"name": "x", "scope": "read", "allowed_tables": []string{"users"}},
		{"name": "x", "scope": "read", "app_id": other},
		{"name": "x", "scope": "read", "rate_limit": map[string]any{"requests": 1000, "window_seconds": 60}},
	} {
		r := do(t, base, "POST", "/api/auth/api-keys", minter, bad)
		require.Equal(t, 403, r.Status, "%v: %v", bad, r.Body)
		require.Equal(t, apierror.CodeInsufficientScope, r.Body["code"])
	}
	require.Equal(t, before, countKeys(t, b.DB))
	r := do(t, base, "POST", "/api/auth/api-keys", minter, map[string]any{"name": "child", "scope": "read", "allowed_tables": []string{"posts"}})
	require.Equal(t, 201, r.Status, r.Body)
	k := r.Body["api_key"].(map[string]any)
	require.Equal(t, appID, k["app_id"], "inherits the app")
	require.Equal(t, []any{"posts"}, k["allowed_tables"])
	require.EqualValues(t, 60, k["rate_limit"].(map[string]any)["requests"], "inherits the limit")
	r = do(t, base, "POST", "/api/auth/api-keys", minter, map[string]any{"name": "child2", "scope": "write"})
	require.Equal(t, 201, r.Status, r.Body)
	require.Equal(t, []any{"posts", "tags"}, r.Body["api_key"].(map[string]any)["allowed_tables"], "inherits the table list")
	// A restricted key cannot rotate (which would copy a wider key).
	r = do(t, base, "POST", "/api/auth/api-keys/"+k["id"].(string)+"/rotate", minter, nil)
	require.Equal(t, 403, r.Status)
}
