package filter

import (
	"strconv"
	"strings"
)

type tokenKind int

const (
	tEOF tokenKind = iota
	tIdent
	tString
	tNumber
	tOp
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "the end of the filter"
	case tString:
		return "a string"
	case tNumber:
		return "a number"
	case tLParen:
		return "("
	case tRParen:
		return ")"
	case tComma:
		return ","
	}
	return strconv.Quote(t.text)
}

type lexer struct {
	src string
	pos int
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && strings.IndexByte(" \t\r\n", l.src[l.pos]) >= 0 {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case c == '(':
		l.pos++
		return token{kind: tLParen, text: "(", pos: start}, nil
	case c == ')':
		l.pos++
		return token{kind: tRParen, text: ")", pos: start}, nil
	case c == ',':
		l.pos++
		return token{kind: tComma, text: ",", pos: start}, nil
	case c == '\'' || c == '"':
		return l.str(c)
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return l.number()
	case isIdentStart(c):
		return l.ident()
	}
	for _, op := range []string{"!~*", "&&", "||", "!=", ">=", "<=", "~*", "!~", "?=", "@>", "=", ">", "<", "~", "!"} {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += len(op)
			return token{kind: tOp, text: op, pos: start}, nil
		}
	}
	return token{}, errorf(start, "unexpected character %q", l.src[start:start+runeLen(l.src[start:])])
}

func runeLen(s string) int {
	for i := range s {
		if i > 0 {
			return i
		}
	}
	return len(s)
}

// ident reads a column name with an optional JSON path: a.b or a->b.
func (l *lexer) ident() (token, error) {
	start := l.pos
	for {
		for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
			l.pos++
		}
		rest := l.src[l.pos:]
		if strings.HasPrefix(rest, ".") && len(rest) > 1 && isPathKeyChar(rest[1]) {
			l.pos++
			continue
		}
		if strings.HasPrefix(rest, "->") && len(rest) > 2 && isPathKeyChar(rest[2]) {
			l.pos += 2
			continue
		}
		break
	}
	return token{kind: tIdent, text: l.src[start:l.pos], pos: start}, nil
}

func isPathKeyChar(c byte) bool { return isIdentChar(c) }

// str reads a quoted string; the quote is escaped by doubling it or with a
// backslash.
func (l *lexer) str(q byte) (token, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\\' && l.pos+1 < len(l.src) && (l.src[l.pos+1] == q || l.src[l.pos+1] == '\\'):
			b.WriteByte(l.src[l.pos+1])
			l.pos += 2
		case c == q && l.pos+1 < len(l.src) && l.src[l.pos+1] == q:
			b.WriteByte(q)
			l.pos += 2
		case c == q:
			l.pos++
			return token{kind: tString, text: b.String(), pos: start}, nil
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return token{}, errorf(start, "unterminated string")
}

// number reads an integer or decimal, with optional sign and exponent.
func (l *lexer) number() (token, error) {
	start := l.pos
	if c := l.src[l.pos]; c == '-' || c == '+' {
		l.pos++
	}
	digits := 0
	for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
		l.pos++
		digits++
	}
	if l.pos < len(l.src) && l.src[l.pos] == '.' {
		l.pos++
		for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
			l.pos++
			digits++
		}
	}
	if digits > 0 && l.pos < len(l.src) && (l.src[l.pos] == 'e' || l.src[l.pos] == 'E') {
		p := l.pos + 1
		if p < len(l.src) && (l.src[p] == '-' || l.src[p] == '+') {
			p++
		}
		if p < len(l.src) && l.src[p] >= '0' && l.src[p] <= '9' {
			for p < len(l.src) && l.src[p] >= '0' && l.src[p] <= '9' {
				p++
			}
			l.pos = p
		}
	}
	if digits == 0 {
		return token{}, errorf(start, "malformed number")
	}
	if l.pos < len(l.src) && isIdentStart(l.src[l.pos]) {
		return token{}, errorf(start, "malformed number")
	}
	if l.pos-start > 100 {
		return token{}, errorf(start, "number too long")
	}
	return token{kind: tNumber, text: l.src[start:l.pos], pos: start}, nil
}
