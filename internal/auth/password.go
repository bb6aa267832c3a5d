package auth

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/aybhq/ayb/internal/apierror"
)

//go:generate go run ./cmd/gencommonpasswords

//go:embed common_passwords.txt
var commonPasswordsFile string

var commonPasswords = func() map[string]struct{} {
	m := make(map[string]struct{}, 12000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			m[w] = struct{}{}
		}
	}
	return m
}()

// maxPasswordBytes caps what is ever hashed: longer input is refused before
// any work (argon2 cost does not grow with length, but a cap keeps request
// handling predictable and matches what password managers generate).
const maxPasswordBytes = 256

// Hasher hashes and checks passwords with argon2id. A semaphore caps how
// many hashes run at once, so memory stays bounded under load: at the
// defaults (19 MiB, 2 passes, 1 lane; OWASP's argon2id baseline) 4 slots
// hold at most 76 MiB, however many logins arrive.
type Hasher struct {
	memoryKiB  uint32
	iterations uint32
	sem        chan struct{}
	// dummy is a hash of a random password at the current parameters,
	// checked when the email is unknown so both answers take the same time.
	dummy string
}

// NewHasher returns a hasher at the given parameters.
func NewHasher(memoryKiB, iterations, concurrency int) *Hasher {
	if memoryKiB < 8*1024 {
		memoryKiB = 8 * 1024
	}
	if iterations < 1 {
		iterations = 1
	}
	if concurrency < 1 {
		concurrency = 1
	}
	h := &Hasher{memoryKiB: uint32(memoryKiB), iterations: uint32(iterations), sem: make(chan struct{}, concurrency)}
	h.dummy = h.encode(randomBytes(16), randomBytes(16))
	return h
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return apierror.New(apierror.CodeUnavailable, "the server is busy; try again").WithCause(ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

func (h *Hasher) key(password, salt []byte, memoryKiB, iterations uint32) []byte {
	return argon2.IDKey(password, salt, iterations, memoryKiB, 1, 32)
}

func (h *Hasher) encode(password, salt []byte) string {
	k := h.key(password, salt, h.memoryKiB, h.iterations)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=1$%s$%s", argon2.Version, h.memoryKiB, h.iterations,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(k))
}

// Hash returns the PHC-format argon2id hash of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.encode([]byte(password), randomBytes(16)), nil
}

// Verify reports whether password matches encoded. An empty encoded (an
// unknown user, or one with no password) is checked against the dummy hash
// so the work and the answer are the same as for a wrong password.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	real := encoded != ""
	if !real {
		encoded = h.dummy
	}
	mem, iter, salt, want, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	// Stored hashes with parameters above the configured ones would let one
	// row use unbounded memory; cap at 4x the configured memory.
	if mem > 4*h.memoryKiB || iter > 16 {
		return false, errors.New("auth: stored password hash parameters are out of range")
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	got := h.key([]byte(password), salt, mem, iter)
	h.release()
	return real && subtle.ConstantTimeCompare(got, want) == 1, nil
}

func parseHash(s string) (mem, iter uint32, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return 0, 0, nil, nil, errors.New("auth: not an argon2id hash")
	}
	var p uint32
	if _, err = fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iter, &p); err != nil || p != 1 {
		return 0, 0, nil, nil, errors.New("auth: bad argon2id parameters")
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return
	}
	key, err = base64.RawStdEncoding.DecodeString(parts[5])
	return
}

// CheckPassword applies the password policy: length in characters between
// min and the cap, and not on the list of common passwords.
func CheckPassword(password string, minLen int) error {
	if len(password) > maxPasswordBytes {
		return apierror.New(apierror.CodeWeakPassword, fmt.Sprintf("password is longer than %d bytes", maxPasswordBytes)).
			WithDetails(map[string]string{"field": "password"})
	}
	if !utf8.ValidString(password) {
		return apierror.New(apierror.CodeWeakPassword, "password is not valid UTF-8").WithDetails(map[string]string{"field": "password"})
	}
	if utf8.RuneCountInString(password) < minLen {
		return apierror.New(apierror.CodeWeakPassword, fmt.Sprintf("password must be at least %d characters", minLen)).
			WithDetails(map[string]string{"field": "password"})
	}
	if _, common := commonPasswords[strings.ToLower(password)]; common {
		return apierror.New(apierror.CodeWeakPassword, "password is too common").
			WithDetails(map[string]string{"field": "password"}).WithHint("choose a password that is not on lists of common passwords")
	}
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// randomToken returns n random bytes as base64url (for opaque tokens).
func randomToken(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

// GeneratePassword returns a random password (for the CLI): 24 base64url
// characters, 144 bits.
func GeneratePassword() string { return randomToken(18) }
