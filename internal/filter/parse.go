// Package filter is AYB's filter language (PocketBase-compatible, with
// additions): `title ~ 'draft' && (views > 10 || meta.lang = 'en')`. Parse
// turns text into an AST under limits on length and nesting; Compile turns
// an AST into an SQL boolean expression against columns the caller resolves
// (from the schema cache), with every value a bound parameter. The REST API
// uses it for ?filter=, realtime for subscription filters.
//
// Grammar:
//
//	expr     = or
//	or       = and { ("||" | "OR") and }
//	and      = unary { ("&&" | "AND") unary }
//	unary    = ("!" | "NOT") unary | "(" expr ")" | compare
//	compare  = path op value | path ["NOT"] "IN" "(" value { "," value } ")"
//	path     = ident { ("." | "->") key }
//	op       = "=" | "!=" | ">" | ">=" | "<" | "<=" | "~" | "!~" | "~*" | "!~*" | "?=" | "@>"
//	value    = 'string' | "string" | number | true | false | null | "(" value { "," value } ")"
//
// ~ and !~ are LIKE and NOT LIKE, ~* and !~* ILIKE and NOT ILIKE; a pattern
// without % is wrapped in %...% (a substring match). = null and != null are
// IS NULL and IS NOT NULL. ?= is "the array holds the value", @> "the array
// holds all the values" (a value or a parenthesized list).
package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aybhq/ayb/internal/apierror"
)

// Limits on what Parse accepts.
const (
	MaxLength   = 10000 // bytes of filter text
	MaxDepth    = 32    // nesting of parentheses and NOT
	MaxTerms    = 200   // comparisons
	MaxListSize = 1000  // values in one IN (...) list
	MaxPathKeys = 16    // keys in one JSON path
)

// Node is an AST node: *And, *Or, *Not or *Compare.
type Node interface{ node() }

// And is Left AND Right.
type And struct{ Left, Right Node }

// Or is Left OR Right.
type Or struct{ Left, Right Node }

// Not negates X.
type Not struct{ X Node }

// Compare is one comparison of a column (or a JSON path in it) with values.
type Compare struct {
	Column string
	Keys   []string // JSON path keys after the column, if any
	Op     string   // =, !=, >, >=, <, <=, ~, !~, ~*, !~*, ?=, @>, in, not in
	Values []Value  // one value, or the list of IN / @>
	Pos    int      // byte offset of the column in the filter text
}

func (*And) node()     {}
func (*Or) node()      {}
func (*Not) node()     {}
func (*Compare) node() {}

// Kinds of values.
const (
	String = iota
	Number
	Bool
	Null
)

// Value is a literal from the filter text.
type Value struct {
	Kind int
	Text string // the string's content, the number as written, "true"/"false"
}

// Error is a parse or compile error; it renders as a 400.
func errorf(pos int, format string, args ...any) *apierror.Error {
	msg := fmt.Sprintf(format, args...)
	if pos >= 0 {
		msg = fmt.Sprintf("filter: %s (at character %d)", msg, pos+1)
	} else {
		msg = "filter: " + msg
	}
	return apierror.New(apierror.CodeBadRequest, msg)
}

// Parse parses filter text. Empty (or blank) text gives a nil Node.
func Parse(text string) (Node, error) {
	if len(text) > MaxLength {
		return nil, errorf(-1, "longer than %d characters", MaxLength).WithDetails(map[string]any{"limit": MaxLength})
	}
	if !utf8.ValidString(text) {
		return nil, errorf(-1, "not valid UTF-8")
	}
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	p := &parser{lx: lexer{src: text}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, errorf(p.tok.pos, "unexpected %s", p.tok.describe())
	}
	return n, nil
}

type parser struct {
	lx    lexer
	tok   token
	terms int
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) isWord(w string) bool {
	return p.tok.kind == tIdent && strings.EqualFold(p.tok.text, w)
}

func (p *parser) or(depth int) (Node, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for (p.tok.kind == tOp && p.tok.text == "||") || p.isWord("or") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		left = &Or{left, right}
	}
	return left, nil
}

func (p *parser) and(depth int) (Node, error) {
	left, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for (p.tok.kind == tOp && p.tok.text == "&&") || p.isWord("and") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		left = &And{left, right}
	}
	return left, nil
}

func (p *parser) unary(depth int) (Node, error) {
	if depth >= MaxDepth {
		return nil, errorf(p.tok.pos, "nested deeper than %d levels", MaxDepth).WithDetails(map[string]any{"limit": MaxDepth})
	}
	switch {
	case (p.tok.kind == tOp && p.tok.text == "!") || p.isWord("not"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Not{x}, nil
	case p.tok.kind == tLParen:
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, errorf(p.tok.pos, "expected ) but found %s", p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		return x, nil
	}
	return p.compare()
}

func (p *parser) compare() (Node, error) {
	if p.tok.kind != tIdent {
		return nil, errorf(p.tok.pos, "expected a column name but found %s", p.tok.describe())
	}
	p.terms++
	if p.terms > MaxTerms {
		return nil, errorf(p.tok.pos, "more than %d comparisons", MaxTerms).WithDetails(map[string]any{"limit": MaxTerms})
	}
	c := &Compare{Pos: p.tok.pos}
	parts, err := splitPath(p.tok.text, p.tok.pos)
	if err != nil {
		return nil, err
	}
	c.Column, c.Keys = parts[0], parts[1:]
	if err := p.advance(); err != nil {
		return nil, err
	}
	// NOT IN / IN
	if p.isWord("not") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.isWord("in") {
			return nil, errorf(p.tok.pos, "expected IN after NOT but found %s", p.tok.describe())
		}
		c.Op = "not in"
	} else if p.isWord("in") {
		c.Op = "in"
	}
	if c.Op != "" {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tLParen {
			return nil, errorf(p.tok.pos, "expected ( after IN but found %s", p.tok.describe())
		}
		vals, err := p.list()
		if err != nil {
			return nil, err
		}
		c.Values = vals
		return c, nil
	}
	if p.tok.kind != tOp || !compareOps[p.tok.text] {
		return nil, errorf(p.tok.pos, "expected an operator after %q but found %s", p.tok.text, p.tok.describe())
	}
	c.Op = p.tok.text
	if err := p.advance(); err != nil {
		return nil, err
	}
	if c.Op == "@>" && p.tok.kind == tLParen {
		vals, err := p.list()
		if err != nil {
			return nil, err
		}
		c.Values = vals
		return c, nil
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	c.Values = []Value{v}
	return c, nil
}

var compareOps = map[string]bool{
	"=": true, "!=": true, ">": true, ">=": true, "<": true, "<=": true,
	"~": true, "!~": true, "~*": true, "!~*": true, "?=": true, "@>": true,
}

// list parses "(" value { "," value } ")" starting at "(".
func (p *parser) list() ([]Value, error) {
	open := p.tok.pos
	if err := p.advance(); err != nil {
		return nil, err
	}
	var vals []Value
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		if len(vals) > MaxListSize {
			return nil, errorf(open, "a list holds more than %d values", MaxListSize).WithDetails(map[string]any{"limit": MaxListSize})
		}
		if p.tok.kind == tComma {
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		}
		if p.tok.kind != tRParen {
			return nil, errorf(p.tok.pos, "expected , or ) in the list but found %s", p.tok.describe())
		}
		return vals, p.advance()
	}
}

func (p *parser) value() (Value, error) {
	t := p.tok
	var v Value
	switch {
	case t.kind == tString:
		v = Value{Kind: String, Text: t.text}
	case t.kind == tNumber:
		v = Value{Kind: Number, Text: t.text}
	case p.isWord("true"), p.isWord("false"):
		v = Value{Kind: Bool, Text: strings.ToLower(t.text)}
	case p.isWord("null"):
		v = Value{Kind: Null}
	default:
		return v, errorf(t.pos, "expected a value ('text', a number, true, false or null) but found %s", t.describe())
	}
	return v, p.advance()
}

// splitPath splits "meta.a.b" or "meta->a->b" into column and keys.
func splitPath(s string, pos int) ([]string, error) {
	s = strings.ReplaceAll(s, "->", ".")
	parts := strings.Split(s, ".")
	for _, x := range parts {
		if x == "" {
			return nil, errorf(pos, "empty key in path %q", s)
		}
	}
	if len(parts)-1 > MaxPathKeys {
		return nil, errorf(pos, "path %q has more than %d keys", s, MaxPathKeys)
	}
	return parts, nil
}
