package apikey

import (
	"net/http"
	"strings"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/identity"
)

// KindAPIKey is identity.Identity.Kind for requests made with an API key.
const KindAPIKey = identity.KindAPIKey

// Next is what the Authenticator delegates other credentials to; it has
// server.Authenticator's method set (declared here so this package need not
// import package server).
type Next interface {
	Authenticate(r *http.Request) (identity.Identity, error)
}

// Authenticator resolves API keys and hands every other credential to Next.
// A key may come as "Authorization: Bearer ayb_sk_...", as an "apikey"
// header, or as ?token= (EventSource cannot set headers). It satisfies
// server.Authenticator.
type Authenticator struct {
	Keys *Service
	// Next handles everything that is not an API key (the JWT
	// authenticator). Nil: no credential is anonymous, any other is refused.
	Next Next
}

// Authenticate implements server.Authenticator.
func (a Authenticator) Authenticate(r *http.Request) (identity.Identity, error) {
	if tok, ok := keyFrom(r); ok {
		k, err := a.Keys.Verify(r.Context(), tok)
		if err != nil {
			return identity.Identity{}, err
		}
		return k.Identity(), nil
	}
	if a.Next != nil {
		return a.Next.Authenticate(r)
	}
	if r.Header.Get("Authorization") != "" || r.URL.Query().Get("token") != "" {
		return identity.Identity{}, apierror.New(apierror.CodeInvalidToken, "this credential is not an API key, and no other verifier is configured")
	}
	return identity.Anon(), nil
}

// AuthenticateDeferred is Authenticate for the REST data routes: an API key
// is resolved as always; any other credential goes to Next's
// AuthenticateDeferred when it has one (the JWT authenticator, which leaves
// the session check to the request's transaction).
func (a Authenticator) AuthenticateDeferred(r *http.Request) (identity.Identity, error) {
	if _, ok := keyFrom(r); !ok {
		if d, ok := a.Next.(interface {
			AuthenticateDeferred(r *http.Request) (identity.Identity, error)
		}); ok {
			return d.AuthenticateDeferred(r)
		}
	}
	return a.Authenticate(r)
}

func keyFrom(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "bearer") && LooksLikeKey(strings.TrimSpace(tok)) {
			return strings.TrimSpace(tok), true
		}
		return "", false
	}
	if h := r.Header.Get("apikey"); LooksLikeKey(h) {
		return h, true
	}
	if t := r.URL.Query().Get("token"); LooksLikeKey(t) {
		return t, true
	}
	return "", false
}

// Identity is what a request made with k runs as. A user key acts as its
// user (role authenticated, sub = user id) and is never admin, whatever the
// user is; a service key acts as service_role. A read-scoped key runs its
// transaction READ ONLY, so no SQL path (volatile functions, triggers) can
// write through it.
func (k Key) Identity() identity.Identity {
	claims := map[string]any{
		"key_id": k.ID.String(),
		"scope":  k.Scope,
	}
	role := identity.RoleServiceRole
	if k.Kind == "user" && k.UserID != nil {
		role = identity.RoleAuthenticated
		claims["sub"] = k.UserID.String()
		if k.Email != nil {
			claims["email"] = *k.Email
		}
	} else {
		// Not a uuid, so auth.uid() is null for service keys.
		claims["sub"] = "service_key:" + k.ID.String()
	}
	claims["role"] = role
	if k.AppID != nil {
		claims["app_id"] = k.AppID.String()
	}
	if k.ExpiresAt != nil {
		claims["exp"] = k.ExpiresAt.Unix()
	}
	id := identity.Identity{
		Role:     role,
		Claims:   claims,
		ReadOnly: k.Scope == identity.ScopeRead,
		Kind:     KindAPIKey,
		Realtime: k.Realtime,
	}
	if len(k.AllowedTables) > 0 {
		id.AllowedTables = append([]string(nil), k.AllowedTables...)
		// With tables restricted, RPC is limited to the listed functions
		// (none when the list is empty).
		id.AllowedFunctions = append([]string{}, k.AllowedFunctions...)
	} else if len(k.AllowedFunctions) > 0 {
		id.AllowedFunctions = append([]string(nil), k.AllowedFunctions...)
	}
	return id
}
