package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"math/big"
	"strings"
)

// Plaintext keys look like ayb_sk_<43 base62 chars: 256 random bits><6
// base62 chars: CRC32 of everything before>. The fixed prefix lets secret
// scanners match `ayb_sk_[0-9A-Za-z]{49}`; the checksum lets them (and us)
// tell a real key from a random string without a database lookup.
const (
	Prefix        = "ayb_sk_"
	randomLen     = 43
	checksumLen   = 6
	plaintextLen  = len(Prefix) + randomLen + checksumLen
	displayPrefix = len(Prefix) + 8
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func encode62(n *big.Int, width int) string {
	b := make([]byte, width)
	q := new(big.Int).Set(n)
	r := new(big.Int)
	sixtyTwo := big.NewInt(62)
	for i := width - 1; i >= 0; i-- {
		q.DivMod(q, sixtyTwo, r)
		b[i] = base62[r.Int64()]
	}
	return string(b)
}

func checksum(s string) string {
	return encode62(new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(s)))), checksumLen)
}

// Secret is a freshly generated key: the plaintext (shown once), the
// prefix kept for display and the SHA-256 kept for lookup.
type Secret struct {
	Plaintext string
	Prefix    string
	Hash      []byte
}

// Generate makes a new key from 32 bytes of crypto/rand.
func Generate() (Secret, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Secret{}, err
	}
	body := Prefix + encode62(new(big.Int).SetBytes(raw), randomLen)
	pt := body + checksum(body)
	return Secret{Plaintext: pt, Prefix: pt[:displayPrefix], Hash: Hash(pt)}, nil
}

// Hash is the stored form of a plaintext key. SHA-256 suffices because the
// secret has 256 random bits: unlike a password it cannot be guessed, so a
// slow KDF would only slow every request down.
func Hash(plaintext string) []byte {
	h := sha256.Sum256([]byte(plaintext))
	return h[:]
}

// LooksLikeKey reports whether s has the key prefix (it may still be
// malformed).
func LooksLikeKey(s string) bool { return strings.HasPrefix(s, Prefix) }

// WellFormed reports whether s has the key's shape and a valid checksum.
func WellFormed(s string) bool {
	if len(s) != plaintextLen || !LooksLikeKey(s) {
		return false
	}
	for i := len(Prefix); i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	body := s[:len(s)-checksumLen]
	return checksum(body) == s[len(s)-checksumLen:]
}
