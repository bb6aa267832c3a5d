package auth_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/config"
)

const pw = "correct horse battery"

// Register → the email arrives over SMTP → GET its link → verified; the
// link works once.
func TestRegisterEmailVerification(t *testing.T) {
	t.Parallel()
	e := setup(t)
	reg := e.register("Ada@Example.com", pw)
	access := reg.str("access_token")
	require.NotEmpty(t, access)
	require.NotEmpty(t, reg.str("refresh_token"))

	me := e.do("GET", "/api/auth/me", access, nil)
	require.Equal(t, 200, me.Status, string(me.Body))
	require.Equal(t, "ada@example.com", me.str("email"))
	require.Nil(t, me.JSON["email_verified_at"])

	m := e.mail.waitFor(t, "ada@example.com", 0)
	require.Contains(t, m.Body, "Confirm your email address")
	require.Contains(t, m.Body, "text/html")
	l := link(t, m)
	require.True(t, strings.HasPrefix(l, e.srv.URL+"/api/auth/verify?token="), l)

	page := e.do("GET", l, "", nil)
	require.Equal(t, 200, page.Status, string(page.Body))
	require.Contains(t, page.Header.Get("Content-Type"), "text/html")
	require.Contains(t, string(page.Body), "Email confirmed")
	require.NotContains(t, string(page.Body), "<script")

	me = e.do("GET", "/api/auth/me", access, nil)
	require.NotNil(t, me.JSON["email_verified_at"])

	again := e.do("GET", l, "", nil)
	require.Equal(t, 400, again.Status)
	require.Contains(t, string(again.Body), "invalid, expired or already used")

	// Resend for a verified account sends nothing more; for unknown emails
	// the answer is the same.
	for _, addr := range []string{"ada@example.com", "nobody@example.com"} {
		r := e.do("POST", "/api/auth/verify/resend", "", map[string]any{"email": addr})
		require.Equal(t, 200, r.Status, string(r.Body))
	}
	require.Equal(t, 1, e.mail.count("ada@example.com"))
}

// Resend → a second link; with site_url set the page redirects to the app
// with the outcome in the fragment.
func TestVerificationResendRedirectsToSite(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *config.Config) { c.Auth.SiteURL = "https://app.example/welcome" })
	e.register("bo@example.com", pw)
	e.mail.waitFor(t, "bo@example.com", 0)
	r := e.do("POST", "/api/auth/verify/resend", "", map[string]any{"email": "BO@example.com"})
	require.Equal(t, 200, r.Status)
	l := link(t, e.mail.waitFor(t, "bo@example.com", 1))
	// The first link was replaced by the second.
	first := link(t, e.mail.waitFor(t, "bo@example.com", 0))
	require.NotEqual(t, first, l)
	old := e.do("GET", first, "", nil)
	require.Equal(t, http.StatusSeeOther, old.Status)
	require.Contains(t, old.Header.Get("Location"), "error=invalid_link")

	ok := e.do("GET", l, "", nil)
	require.Equal(t, http.StatusSeeOther, ok.Status)
	loc, err := url.Parse(ok.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "app.example", loc.Host)
	frag, _ := url.ParseQuery(loc.Fragment)
	require.Equal(t, "ok", frag.Get("status"))
	require.Equal(t, "verify_email", frag.Get("type"))
}

// Reset → link (a GET page with a form) → new password works, the old one
// does not, and every old session is dead.
func TestPasswordReset(t *testing.T) {
	t.Parallel()
	e := setup(t)
	reg := e.register("cy@example.com", pw)
	other := e.login("cy@example.com", pw)

	r := e.do("POST", "/api/auth/reset", "", map[string]any{"email": "cy@example.com"})
	require.Equal(t, 200, r.Status)
	unknown := e.do("POST", "/api/auth/reset", "", map[string]any{"email": "ghost@example.com"})
	require.Equal(t, r.Status, unknown.Status)
	require.Equal(t, string(r.Body), string(unknown.Body))

	var l string
	for i := 0; ; i++ {
		m := e.mail.waitFor(t, "cy@example.com", i)
		if strings.Contains(m.Body, "Reset your password") {
			l = link(t, m)
			break
		}
	}
	page := e.do("GET", l, "", nil)
	require.Equal(t, 200, page.Status, string(page.Body))
	require.Contains(t, string(page.Body), `<form method="post" action="/api/auth/reset/form">`)
	// Opening the page does not use the link; a weak password is refused
	// and the link still works after.
	token := strings.TrimPrefix(l, e.srv.URL+"/api/auth/reset?token=")
	token, _ = url.QueryUnescape(token)
	weak := e.postForm("/api/auth/reset/form", url.Values{"token": {token}, "password": {"password123"}})
	require.Equal(t, 400, weak.Status)
	require.Contains(t, string(weak.Body), "too common")

	done := e.postForm("/api/auth/reset/form", url.Values{"token": {token}, "password": {"a brand new secret"}})
	require.Equal(t, 200, done.Status, string(done.Body))
	require.Contains(t, string(done.Body), "Password changed")

	for _, tok := range []string{reg.str("access_token"), other.str("access_token")} {
		require.Equal(t, 401, e.do("GET", "/api/auth/me", tok, nil).Status)
	}
	require.Equal(t, 401, e.do("POST", "/api/auth/refresh", "", map[string]any{"refresh_token": other.str("refresh_token")}).Status)
	require.Equal(t, 401, e.do("POST", "/api/auth/login", "", map[string]any{"email": "cy@example.com", "password": pw}).Status)
	e.login("cy@example.com", "a brand new secret")

	again := e.postForm("/api/auth/reset/form", url.Values{"token": {token}, "password": {"another new secret"}})
	require.Equal(t, 400, again.Status)
}

func (e *env) postForm(path string, v url.Values) resp {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(v.Encode()))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.send(req)
}

// A magic link signs in once; the second use fails.
func TestMagicLinkWorksOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *config.Config) { c.Auth.SiteURL = "https://app.example/" })
	r := e.do("POST", "/api/auth/magic-link", "", map[string]any{"email": "di@example.com"})
	require.Equal(t, 200, r.Status, string(r.Body))
	m := e.mail.waitFor(t, "di@example.com", 0)
	require.Contains(t, m.Body, "Sign in to AYB")
	l := link(t, m)

	first := e.do("GET", l, "", nil)
	require.Equal(t, http.StatusSeeOther, first.Status, string(first.Body))
	loc, err := url.Parse(first.Header.Get("Location"))
	require.NoError(t, err)
	frag, _ := url.ParseQuery(loc.Fragment)
	access := frag.Get("access_token")
	require.NotEmpty(t, access, loc.String())
	require.NotEmpty(t, frag.Get("refresh_token"))
	me := e.do("GET", "/api/auth/me", access, nil)
	require.Equal(t, 200, me.Status)
	require.Equal(t, "di@example.com", me.str("email"))
	require.NotNil(t, me.JSON["email_verified_at"], "a magic link proves the mailbox")

	second := e.do("GET", l, "", nil)
	require.Equal(t, http.StatusSeeOther, second.Status)
	loc2, _ := url.Parse(second.Header.Get("Location"))
	frag2, _ := url.ParseQuery(loc2.Fragment)
	require.Equal(t, "invalid_link", frag2.Get("error"))
	require.Empty(t, frag2.Get("access_token"))
}

// Email change is confirmed through the new address.
func TestEmailChange(t *testing.T) {
	t.Parallel()
	e := setup(t)
	reg := e.register("ed@example.com", pw)
	e.register("taken@example.com", pw)
	tok := reg.str("access_token")
	require.Equal(t, 409, e.do("POST", "/api/auth/email", tok, map[string]any{"email": "TAKEN@example.com"}).Status)
	r := e.do("POST", "/api/auth/email", tok, map[string]any{"email": "ed.new@example.com"})
	require.Equal(t, 202, r.Status, string(r.Body))
	m := e.mail.waitFor(t, "ed.new@example.com", 0)
	require.Contains(t, m.Body, "Confirm your new email address")
	// Not changed until confirmed.
	require.Equal(t, "ed@example.com", e.do("GET", "/api/auth/me", tok, nil).str("email"))
	page := e.do("GET", link(t, m), "", nil)
	require.Equal(t, 200, page.Status, string(page.Body))
	me := e.do("GET", "/api/auth/me", tok, nil)
	require.Equal(t, "ed.new@example.com", me.str("email"))
	require.NotNil(t, me.JSON["email_verified_at"])
	e.login("ed.new@example.com", pw)
}

// Refresh: 100 rotations in a row; reusing an old token revokes the family
// and the current access token is refused on the next call.
func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cur := e.register("fa@example.com", pw)
	first := cur.str("refresh_token")
	for i := 0; i < 100; i++ {
		next := e.do("POST", "/api/auth/refresh", "", map[string]any{"refresh_token": cur.str("refresh_token")})
		require.Equal(t, 200, next.Status, "rotation %d: %s", i, next.Body)
		require.NotEqual(t, cur.str("refresh_token"), next.str("refresh_token"))
		cur = next
	}
	require.Equal(t, 200, e.do("GET", "/api/auth/me", cur.str("access_token"), nil).Status)

	reuse := e.do("POST", "/api/auth/refresh", "", map[string]any{"refresh_token": first})
	require.Equal(t, 401, reuse.Status)
	require.Equal(t, "invalid_token", reuse.str("code"))
	require.Equal(t, 401, e.do("GET", "/api/auth/me", cur.str("access_token"), nil).Status)
	require.Equal(t, 401, e.do("POST", "/api/auth/refresh", "", map[string]any{"refresh_token": cur.str("refresh_token")}).Status)

	// Another session of the same user is untouched.
	other := e.login("fa@example.com", pw)
	require.Equal(t, 200, e.do("GET", "/api/auth/me", other.str("access_token"), nil).Status)
}

// Two concurrent refreshes of one token: exactly one 200, one 401.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for round := 0; round < 5; round++ {
		s := e.register("ga"+string(rune('a'+round))+"@example.com", pw)
		var wg sync.WaitGroup
		codes := make([]int, 2)
		start := make(chan struct{})
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				codes[i] = e.do("POST", "/api/auth/refresh", "", map[string]any{"refresh_token": s.str("refresh_token")}).Status
			}()
		}
		close(start)
		wg.Wait()
		require.ElementsMatch(t, []int{200, 401}, codes, "round %d", round)
	}
}

// Logout ends this session; logout global ends all; sessions can be listed
// and revoked one by one; password change ends the others.
func TestLogoutSessionsAndPasswordChange(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := e.register("ha@example.com", pw)
	b := e.login("ha@example.com", pw)
	c := e.login("ha@example.com", pw)

	list := e.do("GET", "/api/auth/sessions", a.str("access_token"), nil)
	require.Equal(t, 200, list.Status)
	require.Contains(t, string(list.Body), `"current":true`)
	require.Equal(t, 3, strings.Count(string(list.Body), `"id"`))

	require.Equal(t, 204, e.do("POST", "/api/auth/logout", b.str("access_token"), nil).Status)
	require.Equal(t, 401, e.do("GET", "/api/auth/me", b.str("access_token"), nil).Status)
	require.Equal(t, 200, e.do("GET", "/api/auth/me", a.str("access_token"), nil).Status)

	// Revoke c from a.
	me := e.do("GET", "/api/auth/me", c.str("access_token"), nil)
	require.Equal(t, 200, me.Status)
	sessions := e.do("GET", "/api/auth/sessions", a.str("access_token"), nil)
	var cid string
	for _, s := range sessionList(t, sessions) {
		if s["current"] != true {
			cid = s["id"].(string)
		}
	}
	require.NotEmpty(t, cid)
	require.Equal(t, 204, e.do("DELETE", "/api/auth/sessions/"+cid, a.str("access_token"), nil).Status)
	require.Equal(t, 404, e.do("DELETE", "/api/auth/sessions/"+cid, a.str("access_token"), nil).Status)
	require.Equal(t, 401, e.do("GET", "/api/auth/me", c.str("access_token"), nil).Status)

	// Password change: wrong current password refused; then every old
	// session ends and the caller gets a new one.
	d := e.login("ha@example.com", pw)
	bad := e.do("POST", "/api/auth/password", a.str("access_token"), map[string]any{"current_password": "nope nope", "new_password": "fresh password here"})
	require.Equal(t, 401, bad.Status)
	ch := e.do("POST", "/api/auth/password", a.str("access_token"), map[string]any{"current_password": pw, "new_password": "fresh password here"})
	require.Equal(t, 200, ch.Status, string(ch.Body))
	require.Equal(t, 401, e.do("GET", "/api/auth/me", a.str("access_token"), nil).Status)
	require.Equal(t, 401, e.do("GET", "/api/auth/me", d.str("access_token"), nil).Status)
	require.Equal(t, 200, e.do("GET", "/api/auth/me", ch.str("access_token"), nil).Status)

	// Global logout.
	x := e.login("ha@example.com", "fresh password here")
	require.Equal(t, 204, e.do("POST", "/api/auth/logout", x.str("access_token"), map[string]any{"scope": "global"}).Status)
	require.Equal(t, 401, e.do("GET", "/api/auth/me", ch.str("access_token"), nil).Status)
	require.Equal(t, 401, e.do("GET", "/api/auth/me", x.str("access_token"), nil).Status)
}

func sessionList(t *testing.T, r resp) []map[string]any {
	t.Helper()
	var out []map[string]any
	require.NoError(t, jsonUnmarshal(r.Body, &out))
	return out
}
