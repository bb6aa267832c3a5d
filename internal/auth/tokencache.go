package auth

import (
	"sync"
	"time"

	"github.com/aybhq/ayb/internal/identity"
)

// tokenCache remembers access tokens whose signature, issuer, audience and
// shape have been verified, so that a client sending the same token on
// every request pays for one ES256 verification (about 70 µs of CPU here,
// most of a GET's cost) per token rather than per request.
//
// It is sound because a verified token's validity depends only on its bytes,
// the verifying key and the clock: the entry is keyed by the whole token
// string, is used only while its signing key is still in the key set, and
// expires with the token (plus the parser's leeway). It holds no shared
// state: each instance reaches the same answers on its own, and session
// revocation is checked separately on every request.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[string]cachedToken
	max     int
}

type cachedToken struct {
	claims *AccessClaims
	id     identity.Identity // built from claims, claims JSON encoded once
	kid    string
	until  time.Time // expiry plus leeway
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{entries: make(map[string]cachedToken), max: max}
}

// get returns the claims of a token verified earlier and still unexpired at
// now. The caller checks that the entry's kid still verifies.
func (c *tokenCache) get(raw string, now time.Time) (cachedToken, bool) {
	c.mu.RLock()
	e, ok := c.entries[raw]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return cachedToken{}, false
	}
	return e, true
}

// put remembers a verified token. When the cache is full it first drops
// expired entries, and if that frees too little, everything: a cold cache
// costs one verification per live token, never a wrong answer.
func (c *tokenCache) put(raw string, e cachedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, v := range c.entries {
			if !now.Before(v.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max*3/4 {
			clear(c.entries)
		}
	}
	c.entries[raw] = e
}
