package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/db"
)

// AlgES256 is the one signing algorithm (ECDSA P-256, SHA-256).
const AlgES256 = "ES256"

// signingKey is one row of ayb.signing_keys, parsed.
type signingKey struct {
	kid     string
	private *ecdsa.PrivateKey
	created time.Time
	retired *time.Time
}

// KeyStore holds the keys from ayb.signing_keys: the newest unretired one
// signs; every key listed verifies. All instances read the same table; a
// rotation elsewhere reaches this one by NOTIFY, or at the latest when a token
// with an unknown kid arrives (reloads are at most one per second).
type KeyStore struct {
	db *db.DB
	// keep is how long a retired key still verifies: the longest access
	// token lifetime plus leeway.
	keep time.Duration
	now  func() time.Time

	mu         sync.RWMutex
	signer     *signingKey
	byKID      map[string]*signingKey
	jwks       []byte
	lastReload time.Time
	reloadMu   sync.Mutex
}

// NewKeyStore returns a store; call Load before use.
func NewKeyStore(d *db.DB, keep time.Duration, now func() time.Time) *KeyStore {
	if now == nil {
		now = time.Now
	}
	return &KeyStore{db: d, keep: keep, now: now, byKID: map[string]*signingKey{}}
}

// Load reads the keys, creating the first one if the table has none. Two
// instances starting at once create one key: the insert runs under an
// advisory lock and only when no unretired key exists.
func (k *KeyStore) Load(ctx context.Context) error {
	if err := k.reload(ctx); err != nil {
		return err
	}
	k.mu.RLock()
	have := k.signer != nil
	k.mu.RUnlock()
	if have {
		return nil
	}
	kid, der, err := newKey()
	if err != nil {
		return err
	}
	err = k.db.System(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qKeysLock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qKeysInsertFirst, kid, AlgES256, der, k.now())
		return err
	})
	if err != nil {
		return fmt.Errorf("auth: create first signing key: %w", err)
	}
	return k.reload(ctx)
}

// Rotate adds a new signing key and retires the current one, in one
// transaction under the key lock, and tells every instance. It returns the
// new kid. The CLI (`ayb keys rotate`) calls it with no running server.
func Rotate(ctx context.Context, d *db.DB, now time.Time) (string, error) {
	kid, der, err := newKey()
	if err != nil {
		return "", err
	}
	err = d.System(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qKeysLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qKeysRetire, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qKeysInsert, kid, AlgES256, der, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qNotify, "keys")
		return err
	})
	return kid, err
}

func newKey() (kid string, der []byte, err error) {
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, err
	}
	der, err = x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		return "", nil, err
	}
	return hex.EncodeToString(randomBytes(8)), der, nil
}

// reload replaces the in-memory keys with the table's.
func (k *KeyStore) reload(ctx context.Context) error {
	var keys []*signingKey
	err := k.db.System(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qKeysList, k.now().Add(-k.keep))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				sk  signingKey
				alg string
				der []byte
			)
			if err := rows.Scan(&sk.kid, &alg, &der, &sk.created, &sk.retired); err != nil {
				return err
			}
			if alg != AlgES256 {
				continue
			}
			parsed, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return fmt.Errorf("auth: signing key %s: %w", sk.kid, err)
			}
			ec, ok := parsed.(*ecdsa.PrivateKey)
			if !ok {
				return fmt.Errorf("auth: signing key %s is not ECDSA", sk.kid)
			}
			sk.private = ec
			keys = append(keys, &sk)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	byKID := make(map[string]*signingKey, len(keys))
	var signer *signingKey
	jwks := jwkSet{Keys: []jwk{}}
	for _, sk := range keys {
		byKID[sk.kid] = sk
		if sk.retired == nil && signer == nil {
			signer = sk // newest first
		}
		jwks.Keys = append(jwks.Keys, publicJWK(sk))
	}
	body, err := json.Marshal(jwks)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.byKID, k.signer, k.jwks, k.lastReload = byKID, signer, body, k.now()
	k.mu.Unlock()
	return nil
}

// Reload re-reads the keys (on NOTIFY).
func (k *KeyStore) Reload(ctx context.Context) error { return k.reload(ctx) }

// signing returns the current signing key.
func (k *KeyStore) signing() (*signingKey, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.signer == nil {
		return nil, errors.New("auth: no signing key loaded")
	}
	return k.signer, nil
}

// public returns the verifying key for kid, reloading once (at most once a
// second across requests) when kid is unknown: a key rotated on another
// instance is found without waiting for the NOTIFY.
func (k *KeyStore) public(ctx context.Context, kid string) (*ecdsa.PublicKey, bool) {
	k.mu.RLock()
	sk, ok := k.byKID[kid]
	last := k.lastReload
	k.mu.RUnlock()
	if ok {
		return &sk.private.PublicKey, true
	}
	if len(kid) < 8 || len(kid) > 64 || k.now().Sub(last) < time.Second {
		return nil, false
	}
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	k.mu.RLock()
	sk, ok = k.byKID[kid]
	last = k.lastReload
	k.mu.RUnlock()
	if ok {
		return &sk.private.PublicKey, true
	}
	if k.now().Sub(last) < time.Second {
		return nil, false
	}
	if err := k.reload(ctx); err != nil {
		return nil, false
	}
	k.mu.RLock()
	sk, ok = k.byKID[kid]
	k.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return &sk.private.PublicKey, true
}

// has reports whether kid is in the current key set (still verifies).
func (k *KeyStore) has(kid string) bool {
	k.mu.RLock()
	_, ok := k.byKID[kid]
	k.mu.RUnlock()
	return ok
}

// JWKS returns the public keys as a JSON Web Key Set.
func (k *KeyStore) JWKS() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.jwks
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func publicJWK(sk *signingKey) jwk {
	pub := sk.private.PublicKey
	pt, _ := pub.Bytes() // uncompressed point: 0x04 || X || Y
	size := (len(pt) - 1) / 2
	return jwk{
		Kty: "EC", Crv: "P-256", Kid: sk.kid, Alg: AlgES256, Use: "sig",
		X: base64.RawURLEncoding.EncodeToString(pt[1 : 1+size]),
		Y: base64.RawURLEncoding.EncodeToString(pt[1+size:]),
	}
}
