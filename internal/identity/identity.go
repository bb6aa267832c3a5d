// Package identity carries who is making a request, from the credential
// check to the database transaction that runs as them. It is the one value
// handlers pass to db.InTx; policies see it through auth.jwt().
package identity

import (
	"context"
	"encoding/json"
	"regexp"
	"time"
)

// The API roles. Requests run as exactly one of them; never as the login role.
const (
	RoleAnon          = "anon"
	RoleAuthenticated = "authenticated"
	RoleServiceRole   = "service_role"
)

// Scopes a credential can carry (API keys, OAuth tokens).
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
	ScopeFull  = "full"
)

// Identity is the resolved caller. Claims is the JSON object that becomes
// request.jwt.claims; it always holds at least "role".
type Identity struct {
	Role   string
	Claims map[string]any
	// ReadOnly runs the request's transaction READ ONLY (read-scoped keys).
	ReadOnly bool
	// AllowedTables restricts which tables the credential may touch (empty = all).
	AllowedTables []string
	// AllowedFunctions restricts RPC (nil = all unless AllowedTables is set).
	AllowedFunctions []string
	// Kind says what credential produced this: "anon", "jwt", "api_key", "oauth", "admin".
	Kind string
	// Realtime is an API key's right to open realtime streams. It matters
	// only when Kind is "api_key" (see RealtimeAllowed): every other
	// credential streams as it always has.
	Realtime bool
	// Session, when set, is a session the database must find live in the
	// request's own transaction: db.InTx and db.InBatch run
	// ayb.require_session first and answer 401 when it has ended. Only
	// routes whose every database access goes through those two may carry an
	// identity with a pending check (the REST data routes); everywhere else
	// the authenticator checks the session before the handler runs.
	Session *SessionCheck

	// claimsJSON, when set (WithEncodedClaims), is Claims encoded once for
	// an identity reused across requests (a cached verified token).
	claimsJSON []byte
}

// WithEncodedClaims returns the identity with its claims encoded once, so
// that each request reusing it skips the encoding. Its Claims must not be
// modified afterwards.
func (i Identity) WithEncodedClaims() (Identity, error) {
	i.claimsJSON = nil
	b, err := i.ClaimsJSON()
	if err != nil {
		return i, err
	}
	i.claimsJSON = b
	return i, nil
}

// SessionCheck names the session an access token belongs to, and the time
// (the server's clock when the token was verified) at which it must be live.
type SessionCheck struct {
	ID     string // a UUID, validated by the authenticator
	UserID string // a UUID, validated by the authenticator
	At     time.Time
}

// Anon is the identity of a request that carries no credential.
func Anon() Identity {
	return Identity{Role: RoleAnon, Claims: map[string]any{"role": RoleAnon}, Kind: "anon"}
}

// ClaimsJSON renders the claims for set_config('request.jwt.claims', ...).
func (i Identity) ClaimsJSON() ([]byte, error) {
	if i.claimsJSON != nil {
		return i.claimsJSON, nil
	}
	c := i.Claims
	if c == nil {
		c = map[string]any{}
	}
	if _, ok := c["role"]; !ok {
		c = clone(c)
		c["role"] = i.Role
	}
	return json.Marshal(c)
}

// IsUUID reports whether s is a UUID in its hyphenated text form (either
// case): what auth.uid() accepts as a user id, and what may be written into
// SQL text as a session or user id.
func IsUUID(s string) bool { return uuidPattern.MatchString(s) }

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Subject returns the "sub" claim, or "".
func (i Identity) Subject() string { s, _ := i.Claims["sub"].(string); return s }

// Scope returns the "scope" claim, or "" when the credential is unscoped (a
// user's own session, which has every right the user has).
func (i Identity) Scope() string { s, _ := i.Claims["scope"].(string); return s }

// IsAdmin reports whether the identity acts as service_role.
func (i Identity) IsAdmin() bool { return i.Role == RoleServiceRole }

// CanWrite reports whether the credential's scope allows writes.
func (i Identity) CanWrite() bool {
	s := i.Scope()
	return !i.ReadOnly && (s == "" || s == ScopeWrite || s == ScopeFull || hasWord(s, ScopeWrite) || hasWord(s, ScopeFull))
}

// KindAPIKey is Kind for requests made with an API key.
const KindAPIKey = "api_key"

// RealtimeAllowed reports whether the credential may open or take over a
// realtime stream: an API key only when it was granted realtime access;
// sessions, anonymous callers and other credentials always.
func (i Identity) RealtimeAllowed() bool { return i.Kind != KindAPIKey || i.Realtime }

// TableAllowed reports whether the credential may touch the named table.
func (i Identity) TableAllowed(name string) bool {
	if len(i.AllowedTables) == 0 {
		return true
	}
	for _, t := range i.AllowedTables {
		if t == name {
			return true
		}
	}
	return false
}

func hasWord(s, w string) bool {
	start := 0
	for j := 0; j <= len(s); j++ {
		if j == len(s) || s[j] == ' ' {
			if s[start:j] == w {
				return true
			}
			start = j + 1
		}
	}
	return false
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

type ctxKey struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the identity in ctx, or Anon when there is none.
func From(ctx context.Context) Identity {
	if id, ok := ctx.Value(ctxKey{}).(Identity); ok {
		return id
	}
	return Anon()
}
