package auth

import (
	"net/mail"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/aybhq/ayb/internal/apierror"
)

// NormalizeEmail returns the one stored spelling of an address: trimmed,
// Unicode NFC, lower-cased. Two addresses that differ only in case or
// normalization are the same account. It refuses anything that is not a
// plain addr-spec (no display names, no comments, no control characters).
func NormalizeEmail(s string) (string, error) {
	bad := func(msg string) error {
		return apierror.Validation(msg).WithDetails(map[string]string{"field": "email"})
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", bad("email is required")
	}
	if len(s) > 320 {
		return "", bad("email is too long")
	}
	s = strings.ToLower(norm.NFC.String(s))
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '<' || r == '>' || r == '"' || r == ',' || r == '(' || r == ')' {
			return "", bad("email holds a character an address cannot have")
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", bad("email is not a valid address")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || !strings.Contains(s[at+1:], ".") || strings.HasSuffix(s, ".") {
		return "", bad("email is not a valid address")
	}
	return s, nil
}
