package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/config"
)

// fakeProvider is a real HTTP OAuth server on loopback: OIDC (discovery,
// JWKS, RS256 id_token with nonce) or GitHub-style (token, /user,
// /user/emails). Its authorize endpoint "consents" at once and redirects
// back with a code; its token endpoint enforces PKCE (S256).
type fakeProvider struct {
	srv           *httptest.Server
	oidc          bool
	key           *rsa.PrivateKey
	mu            sync.Mutex
	codes         map[string]grant
	Subject       string
	Email         string
	EmailVerified bool
	badNonce      bool
}

type grant struct{ challenge, nonce, redirect string }

func newProvider(t *testing.T, oidc bool) *fakeProvider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p := &fakeProvider{oidc: oidc, key: key, codes: map[string]grant{}, Subject: "sub-1", Email: "oa@example.com", EmailVerified: true}
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize",
			"token_endpoint": p.srv.URL + "/token", "jwks_uri": p.srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())}}})
	})
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("client_id") != "cid" {
			http.Error(w, "bad request", 400)
			return
		}
		code := base64.RawURLEncoding.EncodeToString(sha256.New().Sum([]byte(q.Get("state") + time.Now().String())))[:24]
		p.mu.Lock()
		p.codes[code] = grant{q.Get("code_challenge"), q.Get("nonce"), q.Get("redirect_uri")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	tokenPath := "/token"
	if !oidc {
		tokenPath = "/login/oauth/access_token"
	}
	mux.HandleFunc(tokenPath, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		g, ok := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || r.PostForm.Get("client_secret") != "csecret" || r.PostForm.Get("redirect_uri") != g.redirect ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		out := map[string]any{"access_token": "at-" + p.Subject, "token_type": "bearer"}
		if oidc {
			nonce := g.nonce
			if p.badNonce {
				nonce = "other"
			}
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": p.srv.URL, "aud": "cid", "sub": p.Subject,
				"exp": time.Now().Add(time.Minute).Unix(), "iat": time.Now().Unix(), "nonce": nonce,
				"email": p.Email, "email_verified": p.EmailVerified})
			tok.Header["kid"] = "k1"
			s, _ := tok.SignedString(key)
			out["id_token"] = s
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-"+p.Subject {
			w.WriteHeader(401)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id": 4242, "login": "octo", "email": nil})
	})
	mux.HandleFunc("/user/emails", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode([]map[string]any{{"email": "other@example.com", "primary": false, "verified": true},
			{"email": p.Email, "primary": true, "verified": p.EmailVerified}})
	})
	return p
}

type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(u string) *http.Response {
	b.t.Helper()
	res, err := b.c.Get(u)
	require.NoError(b.t, err)
	res.Body.Close()
	return res
}

// start begins a login and returns the provider's callback URL (after its
// instant consent), without following it.
func (b *browser) start(e *env, provider, query string) string {
	b.t.Helper()
	res := b.get(e.srv.URL + "/api/auth/oauth/" + provider + query)
	require.Equal(b.t, http.StatusFound, res.StatusCode)
	res = b.get(res.Header.Get("Location"))
	require.Equal(b.t, http.StatusFound, res.StatusCode)
	cb := res.Header.Get("Location")
	require.True(b.t, strings.HasPrefix(cb, e.srv.URL+"/api/auth/oauth/"+provider+"/callback?"), cb)
	return cb
}

// finish opens the callback and returns the fragment of the redirect to the app.
func (b *browser) finish(cb string) (url.Values, *http.Response) {
	b.t.Helper()
	res := b.get(cb)
	require.Equal(b.t, http.StatusSeeOther, res.StatusCode)
	loc, err := url.Parse(res.Header.Get("Location"))
	require.NoError(b.t, err)
	f, _ := url.ParseQuery(loc.Fragment)
	return f, res
}

func oauthEnv(t *testing.T) (*env, *fakeProvider, *fakeProvider) {
	op := newProvider(t, true)
	gh := newProvider(t, false)
	gh.Email = "gh@example.com"
	e := setup(t, func(c *config.Config) {
		c.Auth.SiteURL = "https://app.example/"
		c.Auth.OAuthProviders = map[string]config.OAuthProvider{
			"myidp": {Kind: "oidc", Issuer: op.srv.URL, ClientID: "cid", ClientSecret: "csecret"},
			"github": {Kind: "github", ClientID: "cid", ClientSecret: "csecret", AuthURL: gh.srv.URL + "/authorize",
				TokenURL: gh.srv.URL + "/login/oauth/access_token", UserURL: gh.srv.URL + "/user", EmailsURL: gh.srv.URL + "/user/emails"},
		}
	})
	return e, op, gh
}

func TestOAuthOIDC(t *testing.T) {
	t.Parallel()
	e, op, _ := oauthEnv(t)
	b := newBrowser(t)

	// Happy path: new verified account.
	f, _ := b.finish(b.start(e, "myidp", ""))
	require.Empty(t, f.Get("error"), f)
	access := f.Get("access_token")
	me := e.do("GET", "/api/auth/me", access, nil)
	require.Equal(t, 200, me.Status, string(me.Body))
	require.Equal(t, "oa@example.com", me.str("email"))
	require.NotNil(t, me.JSON["email_verified_at"])
	uid := me.str("id")

	// Replayed callback: refused.
	cb := b.start(e, "myidp", "")
	f, _ = b.finish(cb)
	require.NotEmpty(t, f.Get("access_token"))
	require.Equal(t, uid, e.do("GET", "/api/auth/me", f.Get("access_token"), nil).str("id"), "same identity, same user")
	f, _ = b.finish(cb)
	require.Equal(t, "oauth_failed", f.Get("error"))
	require.Empty(t, f.Get("access_token"))

	// Tampered state: refused.
	cb = b.start(e, "myidp", "")
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("state", q.Get("state")+"x")
	u.RawQuery = q.Encode()
	f, _ = b.finish(u.String())
	require.Equal(t, "oauth_failed", f.Get("error"))

	// Another browser (no binding cookie) cannot finish this browser's flow.
	cb = b.start(e, "myidp", "")
	f, _ = newBrowser(t).finish(cb)
	require.Equal(t, "oauth_failed", f.Get("error"))
	require.Empty(t, f.Get("access_token"))

	// Code injection: the attacker's code (issued for the attacker's PKCE
	// challenge) in the victim's callback fails the verifier at the provider.
	attacker := newBrowser(t)
	acb, _ := url.Parse(attacker.start(e, "myidp", ""))
	vcb, _ := url.Parse(b.start(e, "myidp", ""))
	vq := vcb.Query()
	vq.Set("code", acb.Query().Get("code"))
	vcb.RawQuery = vq.Encode()
	f, _ = b.finish(vcb.String())
	require.Equal(t, "oauth_failed", f.Get("error"))

	// A bad nonce in the id_token is refused.
	op.mu.Lock()
	op.badNonce = true
	op.mu.Unlock()
	f, _ = b.finish(b.start(e, "myidp", ""))
	require.Equal(t, "oauth_failed", f.Get("error"))
	var identities int
	require.NoError(t, e.db.Admin(t).QueryRow(t.Context(), "select count(*) from ayb.identities").Scan(&identities))
	require.Equal(t, 1, identities)
}

// An unverified provider email never takes over a password account; a
// verified one links when the account's email is verified too.
func TestOAuthLinking(t *testing.T) {
	t.Parallel()
	e, op, _ := oauthEnv(t)
	victim := e.register("victim@example.com", pw)
	op.mu.Lock()
	op.Subject, op.Email, op.EmailVerified = "attacker", "victim@example.com", false
	op.mu.Unlock()
	b := newBrowser(t)
	f, _ := b.finish(b.start(e, "myidp", ""))
	require.Equal(t, "already_exists", f.Get("error"))
	require.Empty(t, f.Get("access_token"))

	// Provider says verified, but the local account is not: still refused.
	op.mu.Lock()
	op.EmailVerified = true
	op.mu.Unlock()
	f, _ = b.finish(b.start(e, "myidp", ""))
	require.Equal(t, "already_exists", f.Get("error"))

	// Both verified: linked to the same account.
	e.db.Exec(t, "update ayb.users set email_verified_at = now() where email = 'victim@example.com'")
	f, _ = b.finish(b.start(e, "myidp", ""))
	require.Empty(t, f.Get("error"))
	me := e.do("GET", "/api/auth/me", f.Get("access_token"), nil)
	require.Equal(t, e.do("GET", "/api/auth/me", victim.str("access_token"), nil).str("id"), me.str("id"))
}

// GitHub-style provider, tokens delivered by a one-time code.
func TestOAuthGitHubCodeExchange(t *testing.T) {
	t.Parallel()
	e, _, _ := oauthEnv(t)
	b := newBrowser(t)
	res := b.get(b.start(e, "github", "?flow=code&redirect_to="+url.QueryEscape("https://app.example/done")))
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	loc, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "/done", loc.Path)
	require.Empty(t, loc.Fragment, "no tokens in the URL with flow=code")
	code := loc.Query().Get("code")
	require.NotEmpty(t, code)

	tok := e.do("POST", "/api/auth/oauth/token", "", map[string]any{"code": code})
	require.Equal(t, 200, tok.Status, string(tok.Body))
	me := e.do("GET", "/api/auth/me", tok.str("access_token"), nil)
	require.Equal(t, "gh@example.com", me.str("email"))
	require.Equal(t, 200, e.do("POST", "/api/auth/refresh", "", map[string]any{"refresh_token": tok.str("refresh_token")}).Status)
	require.Equal(t, 401, e.do("POST", "/api/auth/oauth/token", "", map[string]any{"code": code}).Status, "a code works once")

	// Identities: listed; the only way to sign in cannot be unlinked until
	// a password is set.
	at := tok.str("access_token")
	ids := e.do("GET", "/api/auth/identities", at, nil)
	require.Equal(t, 200, ids.Status)
	require.Contains(t, string(ids.Body), `"provider":"github"`)
	require.Equal(t, 409, e.do("DELETE", "/api/auth/identities/github", at, nil).Status)
	ch := e.do("POST", "/api/auth/password", at, map[string]any{"new_password": "now with a password"})
	require.Equal(t, 200, ch.Status, string(ch.Body))
	at = ch.str("access_token")
	require.Equal(t, 204, e.do("DELETE", "/api/auth/identities/github", at, nil).Status)
	require.Equal(t, 404, e.do("DELETE", "/api/auth/identities/github", at, nil).Status)

	// A redirect_to outside the app URL is ignored.
	for _, evil := range []string{"https://evil.example/", "https://app.example.evil.test/", "https://app.example@evil.test/",
		"//evil.test/", "http://app.example/", "javascript:alert(1)"} {
		res = b.get(b.start(e, "github", "?redirect_to="+url.QueryEscape(evil)))
		require.True(t, strings.HasPrefix(res.Header.Get("Location"), "https://app.example/#"), "%s: %s", evil, res.Header.Get("Location"))
	}
	require.Equal(t, 404, e.do("GET", "/api/auth/oauth/nope", "", nil).Status)
}
