package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/web"
)

// "Sign in with" a provider: Google and any OpenID Connect provider by
// issuer (discovery, JWKS, id_token signature and nonce checked), and
// GitHub (OAuth 2 plus its user API). The server makes the state, the PKCE
// verifier and the nonce, keeps them in ayb.oauth_flows (so any instance
// can take the callback) and binds the flow to the browser that started it
// with a cookie holding a secret whose hash is stored: a third party can
// neither choose the state nor finish another browser's flow.

const (
	oauthCookie  = "ayb_oauth"
	oauthFlowTTL = 10 * time.Minute
	exchangeTTL  = time.Minute
)

type oauthProvider struct {
	name string
	cfg  config.OAuthProvider
	oidc bool

	mu        sync.Mutex
	disc      *oidcDiscovery
	discAt    time.Time
	jwks      map[string]any
	jwksAt    time.Time
	jwksCheck time.Time
}

type oidcDiscovery struct {
	Issuer   string `json:"issuer"`
	AuthURL  string `json:"authorization_endpoint"`
	TokenURL string `json:"token_endpoint"`
	JWKSURL  string `json:"jwks_uri"`
}

func newOAuthProviders(cfgs map[string]config.OAuthProvider) (map[string]*oauthProvider, error) {
	out := map[string]*oauthProvider{}
	for name, c := range cfgs {
		if name == "" || len(name) > 64 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
			return nil, fmt.Errorf("auth.oauth_providers: name %q must be lower-case letters, digits, _ or -", name)
		}
		kind := c.Kind
		if kind == "" {
			kind = name
		}
		p := &oauthProvider{name: name, cfg: c}
		switch kind {
		case "google":
			p.oidc = true
			if p.cfg.Issuer == "" {
				p.cfg.Issuer = "https://accounts.google.com"
			}
		case "oidc":
			p.oidc = true
			if p.cfg.Issuer == "" {
				return nil, fmt.Errorf("auth.oauth_providers.%s: issuer is required for kind oidc", name)
			}
		case "github":
			def := func(v *string, d string) {
				if *v == "" {
					*v = d
				}
			}
			def(&p.cfg.AuthURL, "https://github.com/login/oauth/authorize")
			def(&p.cfg.TokenURL, "https://github.com/login/oauth/access_token")
			def(&p.cfg.UserURL, "https://api.github.com/user")
			def(&p.cfg.EmailsURL, "https://api.github.com/user/emails")
			if len(p.cfg.Scopes) == 0 {
				p.cfg.Scopes = []string{"read:user", "user:email"}
			}
		default:
			return nil, fmt.Errorf("auth.oauth_providers.%s: kind %q: want google, github or oidc", name, kind)
		}
		if p.oidc && len(p.cfg.Scopes) == 0 {
			p.cfg.Scopes = []string{"openid", "email", "profile"}
		}
		if c.ClientID == "" {
			return nil, fmt.Errorf("auth.oauth_providers.%s: client_id is required", name)
		}
		out[name] = p
	}
	return out, nil
}

func oauthError(msg string) *apierror.Error { return apierror.New(apierror.CodeOAuthFailed, msg) }

func (s *Service) provider(r *http.Request) (*oauthProvider, error) {
	p, ok := s.oauth[chi.URLParam(r, "provider")]
	if !ok {
		return nil, apierror.NotFound("no OAuth provider named " + chi.URLParam(r, "provider"))
	}
	return p, nil
}

func (s *Service) callbackURL(p *oauthProvider) string {
	return s.pubURL + "/api/auth/oauth/" + p.name + "/callback"
}

// appURL is where a finished login goes: auth.oauth_redirect_url, else
// auth.site_url. A redirect_to is honoured only inside it.
func (s *Service) appURL(redirectTo string) string {
	base := s.cfg.OAuthRedirectURL
	if base == "" {
		base = s.cfg.SiteURL
	}
	if redirectTo != "" && base != "" && strings.HasPrefix(redirectTo, strings.TrimRight(base, "/")) {
		return redirectTo
	}
	return base
}

// HandleOAuthStart: GET /api/auth/oauth/{provider}[?redirect_to=&flow=code].
func (s *Service) HandleOAuthStart(w http.ResponseWriter, r *http.Request) error {
	p, err := s.provider(r)
	if err != nil {
		return err
	}
	authURL := p.cfg.AuthURL
	if p.oidc {
		d, err := s.discovery(r.Context(), p)
		if err != nil {
			return err
		}
		if authURL == "" {
			authURL = d.AuthURL
		}
	}
	redirectTo := r.URL.Query().Get("redirect_to")
	if len(redirectTo) > 2000 {
		return apierror.Validation("redirect_to is too long")
	}
	mode := r.URL.Query().Get("flow")
	switch mode {
	case "", "fragment":
		mode = "fragment"
	case "code":
	default:
		return apierror.Validation(`flow must be "fragment" or "code"`)
	}
	state, binding, verifier, nonce := randomToken(32), randomToken(32), randomToken(32), randomToken(16)
	now := s.now()
	// The flow mode travels with redirect_to ("code:" prefix) to keep one column.
	stored := mode + ":" + redirectTo
	if _, err := s.db.Pool.Exec(r.Context(), qOAuthFlowInsert, hashToken(state), p.name, hashToken(binding), verifier, nonce, stored, now, now.Add(oauthFlowTTL)); err != nil {
		return db.Translate(err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: oauthCookie, Value: binding, Path: "/api/auth/oauth/", MaxAge: int(oauthFlowTTL.Seconds()),
		HttpOnly: true, Secure: strings.HasPrefix(s.pubURL, "https://"), SameSite: http.SameSiteLaxMode,
	})
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {p.cfg.ClientID},
		"redirect_uri":          {s.callbackURL(p)},
		"scope":                 {strings.Join(p.cfg.Scopes, " ")},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if p.oidc {
		q.Set("nonce", nonce)
	}
	sep := "?"
	if strings.Contains(authURL, "?") {
		sep = "&"
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL+sep+q.Encode(), http.StatusFound)
	return nil
}

// providerAccount is what a provider says about the user.
type providerAccount struct {
	Subject       string
	Email         string
	EmailVerified bool
}

// HandleOAuthCallback: GET /api/auth/oauth/{provider}/callback.
func (s *Service) HandleOAuthCallback(w http.ResponseWriter, r *http.Request) error {
	p, err := s.provider(r)
	if err != nil {
		return err
	}
	// The cookie is single-use whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: "", Path: "/api/auth/oauth/", MaxAge: -1, HttpOnly: true})
	tokens, code, redirectTo, err := s.oauthCallback(r, p)
	target := s.appURL(redirectTo)
	if err == nil && code != "" && target != "" {
		u, perr := url.Parse(target)
		if perr == nil {
			qv := u.Query()
			qv.Set("code", code)
			u.RawQuery = qv.Encode()
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return nil
		}
	}
	return s.finishTo(w, r, target, "oauth", err, tokens, "Signed in",
		"You are signed in. This server has no app URL (auth.oauth_redirect_url or auth.site_url) to take you to; return to the app.")
}

func (s *Service) oauthCallback(r *http.Request, p *oauthProvider) (*Tokens, string, string, error) {
	ctx := r.Context()
	qv := r.URL.Query()
	if e := qv.Get("error"); e != "" {
		return nil, "", "", oauthError("the provider refused: " + clip(e, 100))
	}
	state, code := qv.Get("state"), qv.Get("code")
	if state == "" || code == "" || len(state) > 128 || len(code) > 2048 {
		return nil, "", "", oauthError("the callback lacks state or code")
	}
	var (
		bindingHash     []byte
		verifier, nonce string
		stored          string
	)
	err := s.db.Pool.QueryRow(ctx, qOAuthFlowConsume, hashToken(state), p.name, s.now()).Scan(&bindingHash, &verifier, &nonce, &stored)
	if db.IsNoRows(err) {
		return nil, "", "", oauthError("unknown, expired or already used sign-in attempt; start again")
	}
	if err != nil {
		return nil, "", "", db.Translate(err)
	}
	mode, redirectTo, _ := strings.Cut(stored, ":")
	c, err := r.Cookie(oauthCookie)
	if err != nil || subtle.ConstantTimeCompare(hashToken(c.Value), bindingHash) != 1 {
		return nil, "", redirectTo, oauthError("this sign-in was started in another browser; start again")
	}
	acct, err := s.fetchAccount(ctx, p, code, verifier, nonce)
	if err != nil {
		return nil, "", redirectTo, err
	}
	var (
		tokens   *Tokens
		exchange string
	)
	m := s.Meta(r)
	err = s.db.System(ctx, func(tx pgx.Tx) error {
		u, err := s.linkAccount(ctx, tx, p, acct)
		if err != nil {
			return err
		}
		if mode == "code" {
			sid, err := s.openSession(ctx, tx, u, "oauth", m)
			if err != nil {
				return err
			}
			exchange = randomToken(32)
			now := s.now()
			_, err = tx.Exec(ctx, qExchangeInsert, hashToken(exchange), sid, now, now.Add(exchangeTTL))
			return err
		}
		tokens, err = s.startSession(ctx, tx, u, "oauth", m)
		return err
	})
	return tokens, exchange, redirectTo, err
}

// linkAccount finds or creates the user for a provider account. An identity
// already linked wins. Otherwise an account with the same email is linked
// only when both the provider and the account say the email is verified;
// when either does not, the login is refused (it must not take the account
// over). With no such account a new one is created.
func (s *Service) linkAccount(ctx context.Context, tx pgx.Tx, p *oauthProvider, a providerAccount) (*User, error) {
	now := s.now()
	u, err := scanUser(tx.QueryRow(ctx, qIdentityUser, p.name, a.Subject))
	if err != nil && !db.IsNoRows(err) {
		return nil, err
	}
	var email *string
	if a.Email != "" {
		email = &a.Email
	}
	if u == nil {
		if a.Email == "" {
			return nil, oauthError("the provider shared no email address").WithHint("allow access to your email at the provider")
		}
		existing, err := s.userByEmail(ctx, tx, a.Email)
		if err != nil {
			return nil, err
		}
		switch {
		case existing != nil && a.EmailVerified && existing.EmailVerifiedAt != nil:
			u = existing
		case existing != nil:
			return nil, apierror.New(apierror.CodeAlreadyExists, "an account with this email already exists and the email is not verified on both sides").
				WithHint("sign in with your password first, or verify your email")
		default:
			var verified *time.Time
			if a.EmailVerified {
				verified = &now
			}
			if u, err = s.insertUser(ctx, tx, a.Email, nil, nil, false, verified); err != nil {
				return nil, err
			}
		}
	}
	if _, err := tx.Exec(ctx, qIdentityUpsert, p.name, a.Subject, u.ID, email, a.EmailVerified, now); err != nil {
		return nil, err
	}
	return u, nil
}

// HandleOAuthToken: POST /api/auth/oauth/token {code} — the app trades the
// one-time code from a flow=code login for the session's tokens.
func (s *Service) HandleOAuthToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Code string `json:"code"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Code == "" || len(in.Code) > 128 {
		return apierror.New(apierror.CodeInvalidToken, "invalid code")
	}
	var out *Tokens
	err := s.db.System(r.Context(), func(tx pgx.Tx) error {
		now := s.now()
		var sid string
		err := tx.QueryRow(r.Context(), qExchangeConsume, hashToken(in.Code), now).Scan(&sid)
		if db.IsNoRows(err) {
			return apierror.New(apierror.CodeInvalidToken, "invalid, expired or already used code")
		}
		if err != nil {
			return err
		}
		var live bool
		u, err := scanUser(tx.QueryRow(r.Context(), qSessionUser, sid, now), &live)
		if err != nil {
			return err
		}
		if !live {
			return apierror.New(apierror.CodeInvalidToken, "the session has ended")
		}
		out, err = s.issue(r.Context(), tx, u, sid, nil, now)
		return err
	})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

// --- talking to providers ---

func (s *Service) getJSON(ctx context.Context, u, bearer string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return s.doJSON(req, v)
}

func (s *Service) doJSON(req *http.Request, v any) error {
	res, err := s.http.Do(req)
	if err != nil {
		return oauthError("the provider is unreachable").WithCause(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return oauthError("the provider's answer could not be read").WithCause(err)
	}
	if res.StatusCode/100 != 2 {
		return oauthError(fmt.Sprintf("the provider answered %d", res.StatusCode)).WithCause(errors.New(clip(string(b), 300)))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return oauthError("the provider's answer is not JSON").WithCause(err)
	}
	return nil
}

func (s *Service) discovery(ctx context.Context, p *oauthProvider) (*oidcDiscovery, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disc != nil && s.now().Sub(p.discAt) < time.Hour {
		return p.disc, nil
	}
	var d oidcDiscovery
	if err := s.getJSON(ctx, strings.TrimRight(p.cfg.Issuer, "/")+"/.well-known/openid-configuration", "", &d); err != nil {
		return nil, err
	}
	if d.Issuer != p.cfg.Issuer || d.AuthURL == "" || d.TokenURL == "" || d.JWKSURL == "" {
		return nil, oauthError("the provider's OpenID discovery document does not match its issuer")
	}
	p.disc, p.discAt = &d, s.now()
	return &d, nil
}

// exchange trades the code (with the PKCE verifier) for the token response.
func (s *Service) exchange(ctx context.Context, p *oauthProvider, tokenURL, code, verifier string, v any) error {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {s.callbackURL(p)},
		"client_id":     {p.cfg.ClientID},
		"code_verifier": {verifier},
	}
	if p.cfg.ClientSecret != "" {
		form.Set("client_secret", p.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return s.doJSON(req, v)
}

func (s *Service) fetchAccount(ctx context.Context, p *oauthProvider, code, verifier, nonce string) (providerAccount, error) {
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
		Error       string `json:"error"`
	}
	if !p.oidc {
		if err := s.exchange(ctx, p, p.cfg.TokenURL, code, verifier, &tok); err != nil {
			return providerAccount{}, err
		}
		if tok.AccessToken == "" {
			return providerAccount{}, oauthError("the provider refused the code: " + clip(tok.Error, 100))
		}
		return s.githubAccount(ctx, p, tok.AccessToken)
	}
	d, err := s.discovery(ctx, p)
	if err != nil {
		return providerAccount{}, err
	}
	tokenURL := p.cfg.TokenURL
	if tokenURL == "" {
		tokenURL = d.TokenURL
	}
	if err := s.exchange(ctx, p, tokenURL, code, verifier, &tok); err != nil {
		return providerAccount{}, err
	}
	if tok.IDToken == "" {
		return providerAccount{}, oauthError("the provider returned no id_token")
	}
	var claims struct {
		jwt.RegisteredClaims
		Nonce         string `json:"nonce"`
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"`
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "ES256"}),
		jwt.WithIssuer(p.cfg.Issuer),
		jwt.WithAudience(p.cfg.ClientID),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(time.Minute),
		jwt.WithTimeFunc(s.now),
	)
	_, err = parser.ParseWithClaims(tok.IDToken, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return s.providerKey(ctx, p, d.JWKSURL, kid)
	})
	if err != nil {
		return providerAccount{}, oauthError("the provider's id_token did not verify").WithCause(err)
	}
	if subtle.ConstantTimeCompare([]byte(claims.Nonce), []byte(nonce)) != 1 {
		return providerAccount{}, oauthError("the id_token's nonce does not match this sign-in")
	}
	if claims.Subject == "" {
		return providerAccount{}, oauthError("the id_token has no subject")
	}
	a := providerAccount{Subject: claims.Subject}
	if claims.Email != "" {
		email, err := NormalizeEmail(claims.Email)
		if err != nil {
			return providerAccount{}, oauthError("the provider's email is not a valid address")
		}
		a.Email = email
		a.EmailVerified = claims.EmailVerified == true || claims.EmailVerified == "true"
	}
	return a, nil
}

// providerKey finds the id_token's key in the provider's JWKS, refetching
// the set (at most every 10 s) when kid is unknown (provider rotation).
func (s *Service) providerKey(ctx context.Context, p *oauthProvider, jwksURL, kid string) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k, ok := p.jwks[kid]; ok && s.now().Sub(p.jwksAt) < 24*time.Hour {
		return k, nil
	}
	if s.now().Sub(p.jwksCheck) < 10*time.Second && p.jwks != nil {
		return nil, errors.New("unknown key id")
	}
	p.jwksCheck = s.now()
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Crv string `json:"crv"`
			N   string `json:"n"`
			E   string `json:"e"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := s.getJSON(ctx, jwksURL, "", &set); err != nil {
		return nil, err
	}
	keys := map[string]any{}
	for _, k := range set.Keys {
		switch k.Kty {
		case "RSA":
			n, err1 := base64.RawURLEncoding.DecodeString(k.N)
			e, err2 := base64.RawURLEncoding.DecodeString(k.E)
			if err1 != nil || err2 != nil || len(e) > 4 {
				continue
			}
			keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "EC":
			if k.Crv != "P-256" {
				continue
			}
			x, err1 := base64.RawURLEncoding.DecodeString(k.X)
			y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
			if err1 != nil || err2 != nil {
				continue
			}
			raw := append([]byte{4}, append(leftPad(x, 32), leftPad(y, 32)...)...)
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
			if err != nil {
				continue
			}
			keys[k.Kid] = pub
		}
	}
	p.jwks, p.jwksAt = keys, s.now()
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, errors.New("unknown key id")
}

func leftPad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(make([]byte, n-len(b)), b...)
}

// githubAccount reads the GitHub user and its primary verified email.
func (s *Service) githubAccount(ctx context.Context, p *oauthProvider, token string) (providerAccount, error) {
	var gu struct {
		ID    json.Number `json:"id"`
		Email string      `json:"email"`
	}
	if err := s.getJSON(ctx, p.cfg.UserURL, token, &gu); err != nil {
		return providerAccount{}, err
	}
	if gu.ID.String() == "" {
		return providerAccount{}, oauthError("the provider returned no user id")
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := s.getJSON(ctx, p.cfg.EmailsURL, token, &emails); err != nil {
		return providerAccount{}, err
	}
	// Primary first, then verified ones.
	sort.SliceStable(emails, func(i, j int) bool { return emails[i].Primary && !emails[j].Primary })
	a := providerAccount{Subject: gu.ID.String()}
	for _, e := range emails {
		if norm, err := NormalizeEmail(e.Email); err == nil && (e.Primary || e.Verified) {
			a.Email, a.EmailVerified = norm, e.Verified
			break
		}
	}
	if a.Email == "" && gu.Email != "" {
		if norm, err := NormalizeEmail(gu.Email); err == nil {
			a.Email = norm
		}
	}
	return a, nil
}
