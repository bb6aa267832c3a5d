package filter

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Column is what the compiler needs to know of a column. Every field comes
// from the schema cache, never from the filter text.
type Column struct {
	Name string // identifier, quoted by the compiler
	// Type is the SQL type, safe to write in a cast (format_type output).
	Type string
	// Category is pg_type.typcategory (N numeric, S string, B boolean, D
	// date/time, A array, U user-defined such as uuid and jsonb, ...).
	Category string
	// ElemType and ElemCategory describe the elements of an array column.
	ElemType     string
	ElemCategory string
}

// Resolver finds a column by the name written in the filter. It returns
// false for a column the caller may not see, which then reads as unknown.
type Resolver func(name string) (*Column, bool)

// Compiled is an SQL boolean expression and its parameters.
type Compiled struct {
	SQL  string
	Args []any
}

// Compile renders n as an SQL boolean expression over the relation aliased
// alias, with parameters numbered from offset+1. A nil n compiles to "true".
func Compile(n Node, resolve Resolver, alias string, offset int) (Compiled, error) {
	if n == nil {
		return Compiled{SQL: "true"}, nil
	}
	c := &compiler{resolve: resolve, alias: pgx.Identifier{alias}.Sanitize(), offset: offset}
	if err := c.node(n); err != nil {
		return Compiled{}, err
	}
	return Compiled{SQL: c.b.String(), Args: c.args}, nil
}

type compiler struct {
	resolve Resolver
	alias   string
	offset  int
	b       strings.Builder
	args    []any
}

func (c *compiler) param(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(c.offset+len(c.args))
}

func (c *compiler) node(n Node) error {
	switch n := n.(type) {
	case *And:
		return c.binary("AND", n.Left, n.Right)
	case *Or:
		return c.binary("OR", n.Left, n.Right)
	case *Not:
		c.b.WriteString("NOT (")
		if err := c.node(n.X); err != nil {
			return err
		}
		c.b.WriteString(")")
		return nil
	case *Compare:
		return c.compare(n)
	}
	return errorf(-1, "unknown expression")
}

func (c *compiler) binary(op string, l, r Node) error {
	c.b.WriteString("(")
	if err := c.node(l); err != nil {
		return err
	}
	c.b.WriteString(" " + op + " ")
	if err := c.node(r); err != nil {
		return err
	}
	c.b.WriteString(")")
	return nil
}

func (c *compiler) compare(n *Compare) error {
	col, ok := c.resolve(n.Column)
	if !ok {
		return errorf(n.Pos, "unknown column %q", n.Column).WithDetails(map[string]any{"column": n.Column})
	}
	ref := c.alias + "." + pgx.Identifier{col.Name}.Sanitize()
	if len(n.Keys) > 0 {
		if col.Type != "jsonb" && col.Type != "json" {
			return mismatch(n, col, "only json and jsonb columns have paths")
		}
		return c.jsonPath(n, col, ref)
	}
	if n.Values[0].Kind == Null && (n.Op == "=" || n.Op == "!=") {
		if n.Op == "=" {
			c.b.WriteString(ref + " IS NULL")
		} else {
			c.b.WriteString(ref + " IS NOT NULL")
		}
		return nil
	}
	for _, v := range n.Values {
		if v.Kind == Null {
			return errorf(n.Pos, "null can only be compared with = or != (column %q)", n.Column).WithDetails(map[string]any{"column": n.Column})
		}
	}
	if col.Category == "A" {
		return c.array(n, col, ref)
	}
	switch n.Op {
	case "~", "!~", "~*", "!~*":
		v := n.Values[0]
		if v.Kind != String && v.Kind != Number {
			return mismatch(n, col, "a pattern must be a string")
		}
		pat := v.Text
		if !strings.Contains(pat, "%") {
			pat = "%" + pat + "%"
		}
		lhs := ref
		if col.Category != "S" {
			lhs = ref + "::text"
		}
		op := map[string]string{"~": "LIKE", "!~": "NOT LIKE", "~*": "ILIKE", "!~*": "NOT ILIKE"}[n.Op]
		c.b.WriteString(lhs + " " + op + " " + c.param(pat))
		return nil
	case "in", "not in":
		vals := make([]string, len(n.Values))
		for i, v := range n.Values {
			s, err := scalar(n, col, v)
			if err != nil {
				return err
			}
			vals[i] = s
		}
		expr := ref + " = any(" + c.param(vals) + "::text[]::" + col.Type + "[])"
		if n.Op == "not in" {
			expr = "NOT (" + expr + ")"
		}
		c.b.WriteString(expr)
		return nil
	case "?=", "@>":
		return mismatch(n, col, "?= and @> need an array or a JSON path")
	}
	s, err := scalar(n, col, n.Values[0])
	if err != nil {
		return err
	}
	op := n.Op
	if op == "!=" {
		op = "<>"
	}
	c.b.WriteString(ref + " " + op + " " + c.param(s) + "::text::" + col.Type)
	return nil
}

func (c *compiler) array(n *Compare, col *Column, ref string) error {
	cat := col.ElemCategory
	if cat == "" {
		cat = elemCategory(col.ElemType)
	}
	elem := &Column{Name: col.Name, Type: col.ElemType, Category: cat}
	switch n.Op {
	case "?=":
		s, err := scalar(n, elem, n.Values[0])
		if err != nil {
			return err
		}
		c.b.WriteString(c.param(s) + "::text::" + col.ElemType + " = any(" + ref + ")")
		return nil
	case "@>":
		vals := make([]string, len(n.Values))
		for i, v := range n.Values {
			s, err := scalar(n, elem, v)
			if err != nil {
				return err
			}
			vals[i] = s
		}
		c.b.WriteString(ref + " @> " + c.param(vals) + "::text[]::" + col.Type)
		return nil
	}
	return mismatch(n, col, "an array column takes ?= (holds the value), @> (holds all the values) or = null")
}

// elemCategory guesses the category of an array's element type from its
// name, for value checks only (the cast in SQL is what decides).
func elemCategory(t string) string {
	switch t {
	case "smallint", "integer", "bigint", "numeric", "real", "double precision":
		return "N"
	case "boolean":
		return "B"
	case "text", "character varying", "character", "name", "citext":
		return "S"
	}
	return "U"
}

// jsonPath compares a value inside a json/jsonb column. Keys are bound as
// one text[] parameter.
func (c *compiler) jsonPath(n *Compare, col *Column, ref string) error {
	keys := c.param(n.Keys)
	target := "(" + ref + "::jsonb #> " + keys + "::text[])"
	textTarget := "(" + ref + "::jsonb #>> " + keys + "::text[])"
	v := n.Values[0]
	if v.Kind == Null {
		switch n.Op {
		case "=":
			c.b.WriteString(textTarget + " IS NULL")
		case "!=":
			c.b.WriteString(textTarget + " IS NOT NULL")
		default:
			return errorf(n.Pos, "null can only be compared with = or != (column %q)", n.Column).WithDetails(map[string]any{"column": n.Column})
		}
		return nil
	}
	for _, x := range n.Values {
		if x.Kind == Null {
			return errorf(n.Pos, "null can only be compared with = or != (column %q)", n.Column).WithDetails(map[string]any{"column": n.Column})
		}
	}
	switch n.Op {
	case "~", "!~", "~*", "!~*":
		pat := v.Text
		if !strings.Contains(pat, "%") {
			pat = "%" + pat + "%"
		}
		op := map[string]string{"~": "LIKE", "!~": "NOT LIKE", "~*": "ILIKE", "!~*": "NOT ILIKE"}[n.Op]
		c.b.WriteString(textTarget + " " + op + " " + c.param(pat))
	case "in", "not in":
		vals := make([]string, len(n.Values))
		for i, x := range n.Values {
			vals[i] = x.Text
		}
		expr := textTarget + " = any(" + c.param(vals) + "::text[])"
		if n.Op == "not in" {
			expr = "NOT (" + expr + ")"
		}
		c.b.WriteString(expr)
	case "?=", "@>":
		parts := make([]string, len(n.Values))
		for i, x := range n.Values {
			e, err := c.jsonValue(n, col, x)
			if err != nil {
				return err
			}
			parts[i] = e
		}
		c.b.WriteString(target + " @> jsonb_build_array(" + strings.Join(parts, ", ") + ")")
	default:
		e, err := c.jsonValue(n, col, v)
		if err != nil {
			return err
		}
		op := n.Op
		if op == "!=" {
			op = "<>"
		}
		c.b.WriteString(target + " " + op + " " + e)
	}
	return nil
}

func (c *compiler) jsonValue(n *Compare, col *Column, v Value) (string, error) {
	switch v.Kind {
	case String:
		return "to_jsonb(" + c.param(v.Text) + "::text)", nil
	case Number:
		s, err := number(n, col, v.Text)
		if err != nil {
			return "", err
		}
		return "to_jsonb(" + c.param(s) + "::text::numeric)", nil
	case Bool:
		return "to_jsonb(" + c.param(v.Text) + "::text::boolean)", nil
	}
	return "", mismatch(n, col, "unexpected value")
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

// scalar checks a literal against the column's type and returns the text
// bound for it (cast in SQL to the column's type).
func scalar(n *Compare, col *Column, v Value) (string, error) {
	switch col.Category {
	case "N":
		if v.Kind != Number && v.Kind != String {
			return "", mismatch(n, col, "expected a number")
		}
		s, err := number(n, col, v.Text)
		if err != nil {
			return "", err
		}
		switch col.Type {
		case "smallint", "integer", "bigint":
			if strings.ContainsAny(s, ".eE") {
				return "", mismatch(n, col, "expected a whole number")
			}
		}
		return s, nil
	case "B":
		if v.Kind != Bool {
			return "", mismatch(n, col, "expected true or false")
		}
		return v.Text, nil
	case "S":
		if v.Kind != String {
			return "", mismatch(n, col, "expected a quoted string")
		}
		return v.Text, nil
	}
	if v.Kind != String && v.Kind != Number && !(v.Kind == Bool && col.Type == "jsonb") {
		return "", mismatch(n, col, "expected a quoted string")
	}
	if col.Type == "uuid" && !uuidRE.MatchString(v.Text) {
		return "", mismatch(n, col, "expected a UUID")
	}
	return v.Text, nil
}

var numberRE = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// number checks a numeric literal (or a numeric string) against the shape
// PostgreSQL's numeric input accepts; the cast in SQL does the rest.
func number(n *Compare, col *Column, s string) (string, error) {
	if len(s) > 100 || !numberRE.MatchString(s) {
		return "", mismatch(n, col, "expected a number")
	}
	return s, nil
}

func mismatch(n *Compare, col *Column, why string) error {
	name := n.Column
	if len(n.Keys) > 0 {
		name += "." + strings.Join(n.Keys, ".")
	}
	return errorf(n.Pos, "column %q (%s): %s", name, col.Type, why).
		WithDetails(map[string]any{"column": n.Column, "type": col.Type})
}
