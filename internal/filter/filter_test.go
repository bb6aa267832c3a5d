package filter

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/apierror"
)

var testCols = map[string]*Column{
	"id":      {Name: "id", Type: "bigint", Category: "N"},
	"title":   {Name: "title", Type: "text", Category: "S"},
	"price":   {Name: "price", Type: "numeric", Category: "N"},
	"done":    {Name: "done", Type: "boolean", Category: "B"},
	"owner":   {Name: "owner", Type: "uuid", Category: "U"},
	"at":      {Name: "at", Type: "timestamp with time zone", Category: "D"},
	"meta":    {Name: "meta", Type: "jsonb", Category: "U"},
	"tags":    {Name: "tags", Type: "text[]", Category: "A", ElemType: "text", ElemCategory: "S"},
	"scores":  {Name: "scores", Type: "integer[]", Category: "A", ElemType: "integer", ElemCategory: "N"},
	"mood":    {Name: "mood", Type: "public.mood", Category: "E"},
	"Weird\"": {Name: "Weird\"", Type: "text", Category: "S"},
}

func resolve(name string) (*Column, bool) { c, ok := testCols[name]; return c, ok }

func compile(t *testing.T, f string) (Compiled, error) {
	t.Helper()
	n, err := Parse(f)
	if err != nil {
		return Compiled{}, err
	}
	return Compile(n, resolve, "t", 0)
}

func TestCompile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		filter string
		sql    string
		args   []any
	}{
		{"", "true", nil},
		{"   ", "true", nil},
		{"id = 5", `"t"."id" = $1::text::bigint`, []any{"5"}},
		{"id != 5", `"t"."id" <> $1::text::bigint`, []any{"5"}},
		{"id > 5 && id >= 6 && id < 7 && id <= 8", `((("t"."id" > $1::text::bigint AND "t"."id" >= $2::text::bigint) AND "t"."id" < $3::text::bigint) AND "t"."id" <= $4::text::bigint)`, []any{"5", "6", "7", "8"}},
		{"price = -.5", `"t"."price" = $1::text::numeric`, []any{"-.5"}},
		{"price = 1e3", `"t"."price" = $1::text::numeric`, []any{"1e3"}},
		{"title ~ 'ab'", `"t"."title" LIKE $1`, []any{"%ab%"}},
		{"title ~ 'ab%'", `"t"."title" LIKE $1`, []any{"ab%"}},
		{"title !~ 'ab'", `"t"."title" NOT LIKE $1`, []any{"%ab%"}},
		{"title ~* 'AB'", `"t"."title" ILIKE $1`, []any{"%AB%"}},
		{"title !~* 'AB'", `"t"."title" NOT ILIKE $1`, []any{"%AB%"}},
		{"id ~ 12", `"t"."id"::text LIKE $1`, []any{"%12%"}},
		{"title = null", `"t"."title" IS NULL`, nil},
		{"title != NULL", `"t"."title" IS NOT NULL`, nil},
		{"title IN ('a', 'b')", `"t"."title" = any($1::text[]::text[])`, []any{[]string{"a", "b"}}},
		{"id not in (1,2)", `NOT ("t"."id" = any($1::text[]::bigint[]))`, []any{[]string{"1", "2"}}},
		{"done = true || done = false", `("t"."done" = $1::text::boolean OR "t"."done" = $2::text::boolean)`, []any{"true", "false"}},
		{"done = true OR NOT done = false", `("t"."done" = $1::text::boolean OR NOT ("t"."done" = $2::text::boolean))`, []any{"true", "false"}},
		{"!(id = 1 AND title = 'x')", `NOT (("t"."id" = $1::text::bigint AND "t"."title" = $2::text::text))`, []any{"1", "x"}},
		{"owner = '00000000-0000-0000-0000-000000000001'", `"t"."owner" = $1::text::uuid`, []any{"00000000-0000-0000-0000-000000000001"}},
		{"at > '2024-01-01'", `"t"."at" > $1::text::timestamp with time zone`, []any{"2024-01-01"}},
		{"mood = 'happy'", `"t"."mood" = $1::text::public.mood`, []any{"happy"}},
		{"meta.lang = 'en'", `("t"."meta"::jsonb #> $1::text[]) = to_jsonb($2::text)`, []any{[]string{"lang"}, "en"}},
		{"meta->a->b > 2", `("t"."meta"::jsonb #> $1::text[]) > to_jsonb($2::text::numeric)`, []any{[]string{"a", "b"}, "2"}},
		{"meta.x = null", `("t"."meta"::jsonb #>> $1::text[]) IS NULL`, []any{[]string{"x"}}},
		{"meta.x ~ 'q'", `("t"."meta"::jsonb #>> $1::text[]) LIKE $2`, []any{[]string{"x"}, "%q%"}},
		{"meta.tags ?= 'go'", `("t"."meta"::jsonb #> $1::text[]) @> jsonb_build_array(to_jsonb($2::text))`, []any{[]string{"tags"}, "go"}},
		{"tags ?= 'go'", `$1::text::text = any("t"."tags")`, []any{"go"}},
		{"tags @> ('a','b')", `"t"."tags" @> $1::text[]::text[]`, []any{[]string{"a", "b"}}},
		{"scores @> 3", `"t"."scores" @> $1::text[]::integer[]`, []any{[]string{"3"}}},
		{`title = "it's"`, `"t"."title" = $1::text::text`, []any{"it's"}},
		{`title = 'it''s' && title = 'a\'b'`, `("t"."title" = $1::text::text AND "t"."title" = $2::text::text)`, []any{"it's", "a'b"}},
	}
	for _, tc := range cases {
		got, err := compile(t, tc.filter)
		require.NoError(t, err, tc.filter)
		require.Equal(t, tc.sql, got.SQL, tc.filter)
		require.Equal(t, tc.args, got.Args, tc.filter)
		assertSafeSQL(t, got.SQL)
	}
}

func TestOffset(t *testing.T) {
	t.Parallel()
	n, err := Parse("id = 1 && title = 'x'")
	require.NoError(t, err)
	c, err := Compile(n, resolve, "t0", 3)
	require.NoError(t, err)
	require.Equal(t, `("t0"."id" = $4::text::bigint AND "t0"."title" = $5::text::text)`, c.SQL)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("(", MaxDepth+1) + "id = 1" + strings.Repeat(")", MaxDepth+1)
	many := strings.TrimSuffix(strings.Repeat("id = 1 && ", MaxTerms+1), " && ")
	cases := []struct{ filter, want string }{
		{"nope = 1", `unknown column "nope"`},
		{"id = 'x'", `column "id" (bigint): expected a number`},
		{"id = 1.5", `expected a whole number`},
		{"done = 1", `column "done" (boolean): expected true or false`},
		{"title = 5", `column "title" (text): expected a quoted string`},
		{"owner = 'abc'", `expected a UUID`},
		{"title > null", "null can only be compared with = or !="},
		{"title in ('a', null)", "null can only be compared with = or !="},
		{"title ?= 'a'", "?= and @> need an array or a JSON path"},
		{"tags = 'a'", "an array column takes"},
		{"title.x = 1", "only json and jsonb columns have paths"},
		{"id =", "expected a value"},
		{"id 5", "expected an operator"},
		{"= 5", "expected a column name"},
		{"(id = 1", "expected ) but found the end"},
		{"id = 1)", `unexpected )`},
		{"id = 'abc", "unterminated string"},
		{"id = 1 && ", "expected a column name"},
		{"id = 1abc", "malformed number"},
		{"id = 1 ; drop table x", `unexpected character ";"`},
		{"id in 1", "expected ( after IN"},
		{"id not like 1", "expected IN after NOT"},
		{"id === 1", "expected a value"},
		{"meta..x = 1", `malformed number`},
		{deep, "nested deeper than"},
		{strings.Repeat("!", MaxDepth+1) + "id = 1", "nested deeper than"},
		{many, "more than 200 comparisons"},
		{strings.Repeat("x", MaxLength+1), "longer than"},
		{"title = '\xff'", "not valid UTF-8"},
		{"title = 'é' && ü = 1", `unexpected character "ü"`},
	}
	for _, tc := range cases {
		_, err := compile(t, tc.filter)
		require.Error(t, err, tc.filter)
		e := apierror.As(err)
		require.Equal(t, 400, e.Status, tc.filter)
		require.Contains(t, e.Message, tc.want, tc.filter)
	}
	n, err := Parse("id in (" + strings.TrimSuffix(strings.Repeat("1,", MaxListSize+1), ",") + ")")
	require.Nil(t, n)
	require.ErrorContains(t, err, "more than 1000 values")
}

// sqlWord lists every word the compiler may write. Anything else in the SQL
// would have to come from somewhere else, i.e. the filter text.
var sqlWords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IS": true, "NULL": true, "LIKE": true, "ILIKE": true,
	"any": true, "true": true, "text": true, "jsonb": true, "to_jsonb": true, "numeric": true, "boolean": true,
	"jsonb_build_array": true,
}

var (
	quotedIdentRE = regexp.MustCompile(`"(?:[^"]|"")*"`)
	castRE        = regexp.MustCompile(`::([a-z_. ]+?)(\[\])?(?:\)|,| |$|::)`)
	paramRE       = regexp.MustCompile(`\$[0-9]+`)
	wordRE        = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	punctRE       = regexp.MustCompile(`^[\s()\[\],.:<>=#@]*$`)
)

// assertSafeSQL proves the SQL holds only quoted identifiers of known
// columns (or the alias), casts to their types, parameter markers, the
// compiler's fixed words and punctuation: no literal from the filter text.
func assertSafeSQL(t testing.TB, sql string) {
	t.Helper()
	known := map[string]bool{`"t"`: true, `"t0"`: true}
	types := map[string]bool{}
	for _, c := range testCols {
		known[`"`+strings.ReplaceAll(c.Name, `"`, `""`)+`"`] = true
		types[c.Type] = true
		types[c.ElemType] = true
	}
	for _, id := range quotedIdentRE.FindAllString(sql, -1) {
		if !known[id] {
			t.Fatalf("unknown quoted identifier %s in %s", id, sql)
		}
	}
	rest := quotedIdentRE.ReplaceAllString(sql, " ")
	for _, m := range castRE.FindAllStringSubmatch(rest, -1) {
		if !types[m[1]] && !sqlWords[m[1]] {
			t.Fatalf("cast to unknown type %q in %s", m[1], sql)
		}
	}
	for ty := range types {
		if ty != "" {
			rest = strings.ReplaceAll(rest, "::"+ty, " ")
		}
	}
	rest = paramRE.ReplaceAllString(rest, " ")
	for _, w := range wordRE.FindAllString(rest, -1) {
		if !sqlWords[w] {
			t.Fatalf("unexpected word %q in %s", w, sql)
		}
	}
	rest = wordRE.ReplaceAllString(rest, " ")
	if !punctRE.MatchString(rest) {
		t.Fatalf("unexpected characters %q in %s", rest, sql)
	}
}

// TestUserInputNeverReachesSQL feeds hostile values through every operator
// and checks each appears only among the parameters.
func TestUserInputNeverReachesSQL(t *testing.T) {
	t.Parallel()
	evil := []string{`x'); drop table users; --`, `"; select 1; --`, `$9x`, `\' or 1=1 --`, `%' OR '1'='1`, `robert"); DROP`, "a\x00b"}
	ops := []string{"=", "!=", ">", ">=", "<", "<=", "~", "!~", "~*", "!~*"}
	for _, e := range evil {
		q := "'" + strings.ReplaceAll(strings.ReplaceAll(e, `\`, `\\`), "'", "''") + "'"
		var filters []string
		for _, op := range ops {
			filters = append(filters, "title "+op+" "+q, "meta.k "+op+" "+q, "at "+op+" "+q)
		}
		filters = append(filters, "title in ("+q+", "+q+")", "tags ?= "+q, "tags @> ("+q+")", "meta.a ?= "+q, "meta.a in ("+q+")")
		for _, f := range filters {
			c, err := compile(t, f)
			require.NoError(t, err, f)
			assertSafeSQL(t, c.SQL)
			require.NotContains(t, c.SQL, e, f)
			require.Contains(t, fmt.Sprint(c.Args), strings.Trim(e, "%"), f)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"id = 1", "title ~ 'a' && (done = true || meta.x.y != null)", "tags @> ('a','b')",
		"!(id in (1,2,3))", "meta->k ?= 5", "title !~* \"x\"", "((((id=1))))", "id = -1.5e3",
		"title = 'it''s'", "NOT id > 1 AND price <= .5 OR at < '2020-01-01'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			if apierror.As(err).Status != 400 {
				t.Fatalf("parse error is not a 400: %v", err)
			}
			return
		}
		c, err := Compile(n, resolve, "t", 0)
		if err != nil {
			if apierror.As(err).Status != 400 {
				t.Fatalf("compile error is not a 400: %v", err)
			}
			return
		}
		assertSafeSQL(t, c.SQL)
	})
}
