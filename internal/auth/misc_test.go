package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/config"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// Metadata patch, account deletion, admin role, ban.
func TestMeAdminAndBan(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := e.register("ia@example.com", pw)
	tok := a.str("access_token")
	up := e.do("PATCH", "/api/auth/me", tok, map[string]any{"metadata": map[string]any{"name": "Ia", "x": 1}})
	require.Equal(t, 200, up.Status, string(up.Body))
	up = e.do("PATCH", "/api/auth/me", tok, map[string]any{"metadata": map[string]any{"x": nil}})
	require.Equal(t, map[string]any{"name": "Ia"}, up.JSON["metadata"])

	// Claims follow the contract.
	claims := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(tok, claims)
	require.NoError(t, err)
	for _, k := range []string{"sub", "role", "email", "session_id", "aal", "iss", "aud", "exp", "iat", "jti"} {
		require.Contains(t, claims, k)
	}
	require.Equal(t, "authenticated", claims["role"])

	// Admin users' tokens carry service_role.
	e.db.Exec(t, "update ayb.users set is_admin = true where email = 'ia@example.com'")
	adm := e.login("ia@example.com", pw)
	claims = jwt.MapClaims{}
	_, _, err = jwt.NewParser().ParseUnverified(adm.str("access_token"), claims)
	require.NoError(t, err)
	require.Equal(t, "service_role", claims["role"])

	// A ban ends the user's tokens on the next request and refuses login.
	e.db.Exec(t, "update ayb.users set banned_at = now() where email = 'ia@example.com'")
	require.Equal(t, 401, e.do("GET", "/api/auth/me", adm.str("access_token"), nil).Status)
	require.Equal(t, 401, e.do("POST", "/api/auth/refresh", "", map[string]any{"refresh_token": adm.str("refresh_token")}).Status)
	ban := e.do("POST", "/api/auth/login", "", map[string]any{"email": "ia@example.com", "password": pw})
	require.Equal(t, 403, ban.Status)
	require.Equal(t, "user_banned", ban.str("code"))

	b := e.register("ib@example.com", pw)
	require.Equal(t, 204, e.do("DELETE", "/api/auth/me", b.str("access_token"), nil).Status)
	require.Equal(t, 401, e.do("GET", "/api/auth/me", b.str("access_token"), nil).Status)
	require.Equal(t, 401, e.do("POST", "/api/auth/login", "", map[string]any{"email": "ib@example.com", "password": pw}).Status)
}

// Unknown email and wrong password get the same answer.
func TestLoginSameAnswerForUnknownEmail(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.register("ja@example.com", pw)
	wrong := e.do("POST", "/api/auth/login", "", map[string]any{"email": "ja@example.com", "password": "not the password"})
	unknown := e.do("POST", "/api/auth/login", "", map[string]any{"email": "jz@example.com", "password": "not the password"})
	require.Equal(t, 401, wrong.Status)
	require.Equal(t, wrong.Status, unknown.Status)
	require.Equal(t, string(wrong.Body), string(unknown.Body))
}

// Throttling per account and per IP: 429 with Retry-After, and the window
// ends (never a permanent lockout).
func TestThrottle(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *config.Config) {
		c.Auth.ThrottleAccount = 3
		c.Auth.ThrottleIP = 6
		c.Auth.ThrottleWindow = config.Duration{Duration: time.Minute}
	})
	e.register("ka@example.com", pw)
	for i := 0; i < 3; i++ {
		require.Equal(t, 401, e.do("POST", "/api/auth/login", "", map[string]any{"email": "ka@example.com", "password": "wrong password"}).Status)
	}
	r := e.do("POST", "/api/auth/login", "", map[string]any{"email": "ka@example.com", "password": pw})
	require.Equal(t, 429, r.Status)
	require.Equal(t, "rate_limited", r.str("code"))
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	// Other accounts from this IP still work until the IP limit.
	require.Equal(t, 401, e.do("POST", "/api/auth/login", "", map[string]any{"email": "kb@example.com", "password": "wrong password"}).Status)
	require.Equal(t, 401, e.do("POST", "/api/auth/login", "", map[string]any{"email": "kc@example.com", "password": "wrong password"}).Status)
	ip := e.do("POST", "/api/auth/login", "", map[string]any{"email": "kd@example.com", "password": "wrong password"})
	require.Equal(t, 429, ip.Status)
	// Shared across instances: the counts are rows in Postgres.
	var n int
	require.NoError(t, e.db.Admin(t).QueryRow(context.Background(), "select count(*) from ayb.auth_throttle where key like 'login:%'").Scan(&n))
	require.GreaterOrEqual(t, n, 2)

	e.clock.advance(61 * time.Second)
	e.login("ka@example.com", pw)
}

// Bad input → 4xx with the error body, nothing written.
func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *config.Config) { c.Server.BodyLimit = 64 * 1024 })
	e.register("la@example.com", pw)
	users := e.countRows("ayb.users")
	outbox := e.countRows("ayb.mail_outbox")
	sessions := e.countRows("ayb.sessions")

	big := strings.Repeat("x", 10*1024)
	cases := []struct {
		name, path, body string
		ct               string
		status           int
		code             string
	}{
		{"malformed json", "/api/auth/register", `{"email": "m@example.com", "password": `, "", 400, "invalid_json"},
		{"not json", "/api/auth/register", `email=m@example.com&password=abcdefghij`, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
		{"empty body", "/api/auth/register", ``, "", 400, "invalid_json"},
		{"unknown field", "/api/auth/register", `{"email":"m@example.com","password":"long enough pass","role":"service_role"}`, "", 400, "invalid_json"},
		{"two values", "/api/auth/login", `{"email":"la@example.com","password":"x"}{}`, "", 400, "invalid_json"},
		{"over the limit", "/api/auth/register", `{"email":"m@example.com","password":"` + strings.Repeat("y", 70*1024) + `"}`, "", 413, "body_too_large"},
		{"10 KB password register", "/api/auth/register", `{"email":"m@example.com","password":"` + big + `"}`, "", 400, "weak_password"},
		{"10 KB password login", "/api/auth/login", `{"email":"la@example.com","password":"` + big + `"}`, "", 400, "validation_failed"},
		{"case duplicate", "/api/auth/register", `{"email":"LA@EXAMPLE.COM","password":"long enough pass"}`, "", 409, "already_exists"},
		{"sql in email", "/api/auth/register", `{"email":"x'; drop table ayb.users; --@example.com","password":"long enough pass"}`, "", 400, "validation_failed"},
		{"sql in login", "/api/auth/login", `{"email":"' or 1=1 --","password":"' or '1'='1"}`, "", 400, "validation_failed"},
		{"sql in password", "/api/auth/login", `{"email":"la@example.com","password":"' or '1'='1"}`, "", 401, "invalid_credentials"},
		{"sql in refresh", "/api/auth/refresh", `{"refresh_token":"' or used_at is null --"}`, "", 401, "invalid_token"},
		{"sql in verify link", "/api/auth/verify/resend", `{"email":"la@example.com' --"}`, "", 400, "validation_failed"},
		{"display name email", "/api/auth/register", `{"email":"Eve <eve@example.com>","password":"long enough pass"}`, "", 400, "validation_failed"},
		{"common password", "/api/auth/register", `{"email":"m@example.com","password":"Password123"}`, "", 400, "weak_password"},
		{"short password", "/api/auth/register", `{"email":"m@example.com","password":"x7!k"}`, "", 400, "weak_password"},
		{"metadata not object", "/api/auth/register", `{"email":"m@example.com","password":"long enough pass","metadata":[1]}`, "", 400, "invalid_json"},
		{"wrong type", "/api/auth/login", `{"email":1,"password":"x"}`, "", 400, "invalid_json"},
	}
	for _, c := range cases {
		r := e.do("POST", c.path, "", c.body)
		if c.ct != "" {
			req := mustReq(t, e, c.path, c.body, c.ct)
			r = e.send(req)
		}
		require.Equal(t, c.status, r.Status, "%s: %s", c.name, r.Body)
		require.Equal(t, c.code, r.str("code"), c.name)
		require.Contains(t, r.JSON, "message", c.name)
		require.Contains(t, r.JSON, "details", c.name)
		require.Contains(t, r.JSON, "hint", c.name)
	}
	// NFC vs NFD spelling of the same address is the same account.
	nfc := e.register("zoë@example.com", pw)
	require.NotEmpty(t, nfc.str("access_token"))
	nfd := e.do("POST", "/api/auth/register", "", map[string]any{"email": "ZOE\u0308@example.com", "password": pw})
	require.Equal(t, 409, nfd.Status, string(nfd.Body))
	e.login("zoe\u0308@EXAMPLE.com", pw)

	// Authenticated endpoints: metacharacters are data, never SQL.
	tok := nfc.str("access_token")
	up := e.do("PATCH", "/api/auth/me", tok, map[string]any{"metadata": map[string]any{"n'; drop table ayb.users; --": "x' or '1'='1"}})
	require.Equal(t, 200, up.Status, string(up.Body))
	require.Equal(t, "x' or '1'='1", up.JSON["metadata"].(map[string]any)["n'; drop table ayb.users; --"])
	require.Equal(t, 404, e.do("DELETE", "/api/auth/sessions/'%20or%201=1%20--", tok, nil).Status)
	require.Equal(t, 400, e.do("PATCH", "/api/auth/me", tok, `{"metadata": "not an object"}`).Status)
	require.Equal(t, 400, e.do("POST", "/api/auth/logout", tok, `{"scope": "everything'--"}`).Status)
	require.Equal(t, 400, e.do("POST", "/api/auth/email", tok, map[string]any{"email": "a@b.c' --"}).Status)
	require.Equal(t, 200, e.do("GET", "/api/auth/me", tok, nil).Status)

	require.Equal(t, users+1, e.countRows("ayb.users"))
	require.Equal(t, outbox+1, e.countRows("ayb.mail_outbox"))
	require.Equal(t, sessions+2, e.countRows("ayb.sessions"))
	require.Equal(t, 200, e.do("GET", "/health", "", nil).Status)
}

func mustReq(t *testing.T, e *env, path, body, ct string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", ct)
	return req
}

func splitDots(s string) []string { return strings.Split(s, ".") }

func decodeSeg(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// The housekeeping job (ayb.housekeeping_run, registered by auth's
// migration) removes what ended long ago and keeps live sessions.
func TestHousekeepingSweepsEndedAuthRows(t *testing.T) {
	t.Parallel()
	e := setup(t)
	live := e.register("sw@example.com", pw)
	dead := e.login("sw@example.com", pw)
	require.Equal(t, 204, e.do("POST", "/api/auth/logout", dead.str("access_token"), nil).Status)
	e.clock.advance(49 * time.Hour)
	_, err := e.db.Admin(t).Exec(context.Background(), "select * from ayb.housekeeping_run('{}', $1)", e.clock.now())
	require.NoError(t, err)
	var sessions, tokens int
	require.NoError(t, e.db.Admin(t).QueryRow(context.Background(), "select (select count(*) from ayb.sessions), (select count(*) from ayb.one_time_tokens)").Scan(&sessions, &tokens))
	require.Equal(t, 1, sessions)
	require.Equal(t, 0, tokens, "the expired verification link is gone")
	e.clock.advance(-49 * time.Hour)
	require.Equal(t, 200, e.do("GET", "/api/auth/me", live.str("access_token"), nil).Status)
}

// LiveSessions answers for many sessions in one query: revoked, expired,
// banned-user, unknown and malformed ids are not live.
func TestLiveSessions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	sessionOf := func(r resp) string {
		claims := jwt.MapClaims{}
		_, _, err := jwt.NewParser().ParseUnverified(r.str("access_token"), claims)
		require.NoError(t, err)
		return claims["session_id"].(string)
	}
	live := sessionOf(e.register("live@example.com", pw))
	revoked := sessionOf(e.login("live@example.com", pw))
	expired := sessionOf(e.login("live@example.com", pw))
	banned := sessionOf(e.register("banned@example.com", pw))
	e.db.Exec(t, "update ayb.sessions set revoked_at = now() where id = '"+revoked+"'")
	e.db.Exec(t, "update ayb.sessions set expires_at = now() - interval '1 second' where id = '"+expired+"'")
	e.db.Exec(t, "update ayb.users set banned_at = now() where email = 'banned@example.com'")

	got, err := e.svc.LiveSessions(ctx, []string{live, revoked, expired, banned, "not-a-uuid",
		"00000000-0000-0000-0000-000000000000"})
	require.NoError(t, err)
	require.Equal(t, map[string]bool{live: true}, got)
	got, err = e.svc.LiveSessions(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}
