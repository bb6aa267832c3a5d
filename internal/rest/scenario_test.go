package rest_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type scenario struct {
	name     string
	method   string
	url      string
	body     string
	headers  map[string]string
	status   int
	contains []string // substrings of the response body
	ids      []int64  // for lists: the item ids, in order
}

func q(filter string) string { return "/api/collections/items?filter=" + url.QueryEscape(filter) }

func TestScenarios(t *testing.T) {
	t.Parallel()
	b := setup(t)
	huge := strings.TrimSuffix(strings.Repeat("id = 1 || ", 150), " || ")
	tooLong := strings.Repeat("id = 1 || ", 1200)
	deep := strings.Repeat("(", 40) + "id = 1" + strings.Repeat(")", 40)
	okDeep := strings.Repeat("(", 20) + "id = 1" + strings.Repeat(")", 20)
	all := []int64{1, 2, 3, 4, 5}
	cases := []scenario{
		// filters: every operator
		{name: "no filter", method: "GET", url: "/api/collections/items", status: 200, ids: all},
		{name: "empty filter", method: "GET", url: q(""), status: 200, ids: all},
		{name: "blank filter", method: "GET", url: q("   "), status: 200, ids: all},
		{name: "=", method: "GET", url: q("qty = 5"), status: 200, ids: []int64{1}},
		{name: "!=", method: "GET", url: q("qty != 5"), status: 200, ids: []int64{2, 3, 5}},
		{name: ">", method: "GET", url: q("qty > 5"), status: 200, ids: []int64{2, 5}},
		{name: ">=", method: "GET", url: q("qty >= 7"), status: 200, ids: []int64{2, 5}},
		{name: "<", method: "GET", url: q("price < 1.5"), status: 200, ids: []int64{2}},
		{name: "<=", method: "GET", url: q("price <= 1.5"), status: 200, ids: []int64{1, 2}},
		{name: "~ like with implied %", method: "GET", url: q("name ~ 'an'"), status: 200, ids: []int64{2}},
		{name: "~ with explicit %", method: "GET", url: q("name ~ 'a%'"), status: 200, ids: []int64{1}},
		{name: "~ literal percent in value", method: "GET", url: q("name ~ 'date 100%'"), status: 200, ids: []int64{4}},
		{name: "!~", method: "GET", url: q("name !~ 'a'"), status: 200, ids: []int64{3, 5}},
		{name: "~ is case-sensitive", method: "GET", url: q("name ~ 'cherry'"), status: 200, ids: []int64{}},
		{name: "~* ilike", method: "GET", url: q("name ~* 'CHERRY'"), status: 200, ids: []int64{3}},
		{name: "!~* not ilike", method: "GET", url: q("name !~* 'A'"), status: 200, ids: []int64{3, 5}},
		{name: "IN", method: "GET", url: q("name IN ('apple', 'Cherry', 'nope')"), status: 200, ids: []int64{1, 3}},
		{name: "NOT IN", method: "GET", url: q("id not in (1, 2)"), status: 200, ids: []int64{3, 4, 5}},
		{name: "= null", method: "GET", url: q("qty = null"), status: 200, ids: []int64{4}},
		{name: "!= null", method: "GET", url: q("uid != null"), status: 200, ids: []int64{1, 2}},
		{name: "&&", method: "GET", url: q("ok = true && qty > 1"), status: 200, ids: []int64{1}},
		{name: "AND keyword", method: "GET", url: q("ok = false AND qty > 8"), status: 200, ids: []int64{2}},
		{name: "||", method: "GET", url: q("id = 1 || id = 5"), status: 200, ids: []int64{1, 5}},
		{name: "OR keyword", method: "GET", url: q("id = 1 or id = 2"), status: 200, ids: []int64{1, 2}},
		{name: "!", method: "GET", url: q("!(id = 1 || id = 2)"), status: 200, ids: []int64{3, 4, 5}},
		{name: "NOT keyword", method: "GET", url: q("NOT ok = true"), status: 200, ids: []int64{2, 5}},
		{name: "precedence && over ||", method: "GET", url: q("id = 1 || id = 2 && ok = true"), status: 200, ids: []int64{1}},
		{name: "parentheses", method: "GET", url: q("(id = 1 || id = 2) && ok = false"), status: 200, ids: []int64{2}},
		{name: "boolean", method: "GET", url: q("ok = true"), status: 200, ids: []int64{1, 3}},
		{name: "timestamp", method: "GET", url: q("at >= '2024-02-01' && at < '2024-05-01'"), status: 200, ids: []int64{2, 3}},
		{name: "uuid", method: "GET", url: q("uid = '22222222-2222-2222-2222-222222222222'"), status: 200, ids: []int64{2}},
		{name: "enum", method: "GET", url: q("mood = 'sad'"), status: 200, ids: []int64{2, 5}},
		{name: "string with quote", method: "GET", url: q(`name = 'it''s'`), status: 200, ids: []int64{5}},
		{name: "double-quoted string", method: "GET", url: q(`name = "it's"`), status: 200, ids: []int64{5}},
		{name: "json path dot", method: "GET", url: q("meta.color = 'red'"), status: 200, ids: []int64{1}},
		{name: "json path arrow", method: "GET", url: q("meta->color = 'yellow'"), status: 200, ids: []int64{2}},
		{name: "json nested path", method: "GET", url: q("meta.deep.k = 'v'"), status: 200, ids: []int64{1}},
		{name: "json number compare", method: "GET", url: q("meta.size > 3"), status: 200, ids: []int64{2}},
		{name: "json null or missing", method: "GET", url: q("meta.color = null"), status: 200, ids: []int64{3, 4, 5}},
		{name: "json like", method: "GET", url: q("meta.color ~ 'ell'"), status: 200, ids: []int64{2}},
		{name: "json in", method: "GET", url: q("meta.color in ('red','yellow')"), status: 200, ids: []int64{1, 2}},
		{name: "json array contains", method: "GET", url: q("meta.tags ?= 'fruit'"), status: 200, ids: []int64{1}},
		{name: "array contains one", method: "GET", url: q("tags ?= 'fruit'"), status: 200, ids: []int64{1, 2}},
		{name: "array contains all", method: "GET", url: q("tags @> ('fruit', 'red')"), status: 200, ids: []int64{1}},
		{name: "int array contains", method: "GET", url: q("nums ?= 2"), status: 200, ids: []int64{1, 2}},
		{name: "huge filter (150 terms)", method: "GET", url: q(huge), status: 200, ids: []int64{1}},
		{name: "nesting within limit", method: "GET", url: q(okDeep), status: 200, ids: []int64{1}},
		{name: "injection attempt is a value", method: "GET", url: q(`name = 'x'' or ''1''=''1'`), status: 200, ids: []int64{}},

		// filters: clear 400s
		{name: "unknown column", method: "GET", url: q("nope = 1"), status: 400, contains: []string{`unknown column \"nope\"`, `"column":"nope"`}},
		{name: "type mismatch number", method: "GET", url: q("qty = 'many'"), status: 400, contains: []string{`column \"qty\" (integer): expected a number`}},
		{name: "type mismatch bool", method: "GET", url: q("ok = 1"), status: 400, contains: []string{`column \"ok\" (boolean)`}},
		{name: "type mismatch text", method: "GET", url: q("name = 3"), status: 400, contains: []string{`column \"name\" (text)`}},
		{name: "type mismatch uuid", method: "GET", url: q("uid = 'x'"), status: 400, contains: []string{"expected a UUID"}},
		{name: "bad timestamp from postgres", method: "GET", url: q("at > 'yesterday-ish'"), status: 400, contains: []string{`"code":"22007"`}},
		{name: "bad enum value", method: "GET", url: q("mood = 'angry'"), status: 400, contains: []string{`"code":"22P02"`}},
		{name: "fraction for integer", method: "GET", url: q("qty = 1.5"), status: 400, contains: []string{"whole number"}},
		{name: "path on non-json", method: "GET", url: q("name.x = 'a'"), status: 400, contains: []string{"only json and jsonb"}},
		{name: "array with =", method: "GET", url: q("tags = 'a'"), status: 400, contains: []string{"array column"}},
		{name: "syntax error", method: "GET", url: q("qty = "), status: 400, contains: []string{"expected a value"}},
		{name: "stray semicolon", method: "GET", url: q("qty = 1; drop table items"), status: 400, contains: []string{`unexpected character \";\"`}},
		{name: "unbalanced", method: "GET", url: q("(qty = 1"), status: 400, contains: []string{"expected )"}},
		{name: "too deep", method: "GET", url: q(deep), status: 400, contains: []string{"nested deeper than 32"}},
		{name: "too long", method: "GET", url: q(tooLong), status: 400, contains: []string{"longer than 10000"}},
		{name: "invalid UTF-8 in filter", method: "GET", url: "/api/collections/items?filter=name%20%3D%20%27%FF%27", status: 400, contains: []string{"not valid UTF-8"}},
		{name: "invalid UTF-8 in search", method: "GET", url: "/api/collections/items?search=%C3%28", status: 400, contains: []string{"not valid UTF-8"}},
		{name: "null with >", method: "GET", url: q("qty > null"), status: 400, contains: []string{"null can only be compared"}},

		// sort, fields, paging
		{name: "sort desc", method: "GET", url: "/api/collections/items?sort=-qty&filter=" + url.QueryEscape("qty != null"), status: 200, ids: []int64{2, 5, 1, 3}},
		{name: "sort multi", method: "GET", url: "/api/collections/items?sort=ok,-id", status: 200, ids: []int64{5, 2, 3, 1, 4}},
		{name: "sort unknown", method: "GET", url: "/api/collections/items?sort=nope", status: 400, contains: []string{`sort: unknown column \"nope\"`}},
		{name: "fields", method: "GET", url: "/api/collections/items?fields=id,name&perPage=1", status: 200, contains: []string{`"items":[{"id":1,"name":"apple"}]`}},
		{name: "fields unknown", method: "GET", url: "/api/collections/items?fields=id,nope", status: 400, contains: []string{`unknown column \"nope\"`}},
		{name: "paging", method: "GET", url: "/api/collections/items?perPage=2&page=2", status: 200, ids: []int64{3, 4}, contains: []string{`"totalItems":5`, `"totalPages":3`}},
		{name: "skipTotal", method: "GET", url: "/api/collections/items?perPage=2&skipTotal=true", status: 200, contains: []string{`"totalItems":-1`}},
		{name: "perPage too big", method: "GET", url: "/api/collections/items?perPage=501", status: 400, contains: []string{"perPage"}},
		{name: "page not a number", method: "GET", url: "/api/collections/items?page=x", status: 400, contains: []string{"page must be"}},
		{name: "bad cursor", method: "GET", url: "/api/collections/items?after=zzz", status: 400, contains: []string{"not a cursor"}},

		// get by key
		{name: "get", method: "GET", url: "/api/collections/items/2", status: 200, contains: []string{`"name":"banana"`, `"gen":20`}},
		{name: "get fields", method: "GET", url: "/api/collections/items/2?fields=name", status: 200, contains: []string{`{"name":"banana"}`}},
		{name: "get missing", method: "GET", url: "/api/collections/items/99", status: 404},
		{name: "get bad key type", method: "GET", url: "/api/collections/items/abc", status: 400, contains: []string{`"code":"22P02"`}},
		{name: "get composite", method: "GET", url: "/api/collections/pair/1,y", status: 200, contains: []string{`"v":"one-y"`}},
		{name: "get composite wrong arity", method: "GET", url: "/api/collections/pair/1", status: 400, contains: []string{"comma-separated"}},
		{name: "unknown table", method: "GET", url: "/api/collections/nope", status: 404},
		{name: "private schema never exposed", method: "GET", url: "/api/collections/ayb.users", status: 404},
		{name: "schema-qualified name", method: "GET", url: "/api/collections/other.dup/1", status: 200, contains: []string{`"label":"other one"`}},
		{name: "ambiguous name", method: "GET", url: "/api/collections/dup", status: 404, contains: []string{"other.dup, public.dup"}},
		{name: "public.items qualified", method: "GET", url: "/api/collections/public.items/1", status: 200, contains: []string{`"name":"apple"`}},
		{name: "relation without privilege is 404", method: "GET", url: "/api/collections/secret", status: 404},
		{name: "column without privilege is unknown", method: "GET", url: "/api/collections/colpriv?fields=hidden", headers: as(alice), status: 400, contains: []string{`unknown column \"hidden\"`}},
		{name: "matview readable", method: "GET", url: "/api/collections/doc_counts?sort=team_id", headers: service, status: 200, contains: []string{`"n":2`}},
		{name: "matview read-only", method: "POST", url: "/api/collections/doc_counts", body: `{"n":1}`, headers: service, status: 405},
		{name: "matview without grant hidden", method: "GET", url: "/api/collections/hidden_counts", status: 404},

		// writes
		{name: "create", method: "POST", url: "/api/collections/items", body: `{"id":10,"name":"kiwi","qty":3,"tags":["a","b"],"meta":{"x":1}}`, status: 201, contains: []string{`"name":"kiwi"`, `"tags":["a","b"]`, `"gen":6`}},
		{name: "create minimal", method: "POST", url: "/api/collections/items", body: `{"id":11,"name":"fig"}`, headers: map[string]string{"Prefer": "return=minimal"}, status: 201},
		{name: "create unknown key", method: "POST", url: "/api/collections/items", body: `{"id":12,"nope":1}`, status: 400, contains: []string{`unknown column \"nope\"`}},
		{name: "create generated column", method: "POST", url: "/api/collections/items", body: `{"id":12,"gen":1}`, status: 400, contains: []string{"generated"}},
		{name: "create bad type", method: "POST", url: "/api/collections/items", body: `{"id":12,"qty":"lots"}`, status: 400, contains: []string{`column \"qty\" (integer): expected a number`}},
		{name: "create duplicate", method: "POST", url: "/api/collections/items", body: `{"id":1}`, status: 409, contains: []string{`"constraint":"items_pkey"`}},
		{name: "create not null", method: "POST", url: "/api/collections/teams", body: `{"id":9}`, headers: service, status: 400, contains: []string{`"code":"23502"`, `"column":"name"`}},
		{name: "create fk", method: "POST", url: "/api/collections/docs", body: `{"id":9,"team_id":99,"title":"x"}`, headers: service, status: 409, contains: []string{`"constraint":"docs_team_id_fkey"`}},
		{name: "create invalid json", method: "POST", url: "/api/collections/items", body: `{"id":`, status: 400, contains: []string{"invalid_json"}},
		{name: "create not an object", method: "POST", url: "/api/collections/items", body: `[1]`, status: 400},
		{name: "create invalid utf-8", method: "POST", url: "/api/collections/items", body: "{\"id\":13,\"name\":\"\xff\"}", status: 400, contains: []string{"UTF-8"}},
		{name: "upsert", method: "POST", url: "/api/collections/items?onConflict=id", body: `{"id":1,"name":"APPLE"}`, status: 201, contains: []string{`"name":"APPLE"`, `"qty":5`}},
		{name: "upsert ignore", method: "POST", url: "/api/collections/items?onConflict=id", body: `{"id":2,"name":"x"}`, headers: map[string]string{"Prefer": "resolution=ignore-duplicates"}, status: 200},
		{name: "upsert unknown target", method: "POST", url: "/api/collections/items?onConflict=nope", body: `{"id":2}`, status: 400},
		{name: "patch", method: "PATCH", url: "/api/collections/items/3", body: `{"qty":9}`, status: 200, contains: []string{`"name":"Cherry"`, `"qty":9`}},
		{name: "patch empty", method: "PATCH", url: "/api/collections/items/3", body: `{}`, status: 400},
		{name: "patch missing", method: "PATCH", url: "/api/collections/items/99", body: `{"qty":1}`, status: 404},
		{name: "patch composite", method: "PATCH", url: "/api/collections/pair/2,x", body: `{"v":"changed"}`, status: 200, contains: []string{`"v":"changed"`}},
		{name: "delete", method: "DELETE", url: "/api/collections/pair/1,x", status: 204},
		{name: "delete missing", method: "DELETE", url: "/api/collections/pair/1,x", status: 404},
		{name: "check in psql", method: "GET", url: "/api/collections/pair?sort=a,b", status: 200, contains: []string{`"totalItems":2`}},
		{name: "read-only scope refuses writes", method: "POST", url: "/api/collections/items", body: `{"id":20}`, headers: map[string]string{"X-Test-User": alice, "X-Test-Scope": "read"}, status: 403, contains: []string{"insufficient_scope"}},
		{name: "read-only scope may read", method: "GET", url: "/api/collections/items/1", headers: map[string]string{"X-Test-User": alice, "X-Test-Scope": "read"}, status: 200},
		{name: "table list refuses others", method: "GET", url: "/api/collections/items", headers: map[string]string{"X-Test-User": alice, "X-Test-Tables": "docs"}, status: 403, contains: []string{"insufficient_scope"}},
		{name: "table list refuses get", method: "GET", url: "/api/collections/items/1", headers: map[string]string{"X-Test-User": alice, "X-Test-Tables": "docs"}, status: 403, contains: []string{"insufficient_scope"}},
		{name: "table list refuses search", method: "GET", url: "/api/collections/items?search=x", headers: map[string]string{"X-Test-User": alice, "X-Test-Tables": "docs"}, status: 403, contains: []string{"insufficient_scope"}},
		{name: "table list refuses expand target", method: "GET", url: "/api/collections/docs?expand=team", headers: map[string]string{"X-Test-User": alice, "X-Test-Tables": "docs"}, status: 403, contains: []string{"insufficient_scope"}},
		{name: "table list refuses rpc not listed", method: "POST", url: "/api/rpc/add", body: `{"a":1,"b":2}`, headers: map[string]string{"X-Test-User": alice, "X-Test-Tables": "docs"}, status: 403, contains: []string{"insufficient_scope"}},
		{name: "table list refuses writes", method: "POST", url: "/api/collections/items", body: `{"id":30}`, headers: map[string]string{"X-Test-User": alice, "X-Test-Tables": "docs"}, status: 403, contains: []string{"insufficient_scope"}},
		{name: "no grant is 403 when visible", method: "POST", url: "/api/collections/colpriv", body: `{"id":1,"pub":"x"}`, headers: as(alice), status: 403, contains: []string{`"code":"42501"`}},
		{name: "WITH CHECK violation", method: "POST", url: "/api/collections/docs", body: `{"id":20,"team_id":3,"title":"x"}`, headers: as(alice), status: 403, contains: []string{`"code":"42501"`}},

		// rpc
		{name: "rpc scalar", method: "POST", url: "/api/rpc/add", body: `{"a":1,"b":2}`, status: 200, contains: []string{"3"}},
		{name: "rpc default arg", method: "POST", url: "/api/rpc/add", body: `{"a":1}`, status: 200, contains: []string{"11"}},
		{name: "rpc GET immutable", method: "GET", url: "/api/rpc/add?a=5", status: 200, contains: []string{"15"}},
		{name: "rpc missing arg", method: "POST", url: "/api/rpc/add", body: `{}`, status: 400, contains: []string{`missing argument \"a\"`}},
		{name: "rpc unknown arg", method: "POST", url: "/api/rpc/add", body: `{"a":1,"zz":2}`, status: 400, contains: []string{`unknown argument \"zz\"`}},
		{name: "rpc bad arg type", method: "POST", url: "/api/rpc/add", body: `{"a":"x"}`, status: 400, contains: []string{`"code":"22P02"`}},
		{name: "rpc setof text", method: "GET", url: "/api/rpc/titles?team=1", headers: as(alice), status: 200, contains: []string{`["alpha plan", "beta notes"]`}},
		{name: "rpc setof at the row cap", method: "GET", url: "/api/rpc/series?n=10000", status: 200, contains: []string{"[1, 2, 3,", " 10000]"}},
		{name: "rpc setof past the row cap", method: "GET", url: "/api/rpc/series?n=10001", status: 400, contains: []string{`returned more than 10000 rows`, `"max_rows":10000`, "perPage"}},
		{name: "rpc table past the row cap", method: "POST", url: "/api/rpc/series_rows", body: `{"n":10001}`, status: 400, contains: []string{`returned more than 10000 rows`}},
		{name: "rpc one-column table under the row cap (unwrapped)", method: "GET", url: "/api/rpc/series_rows?n=3", status: 200, contains: []string{"[1, 2, 3]"}},
		{name: "rpc rows under the row cap", method: "GET", url: "/api/rpc/pairs?n=10000", status: 200, contains: []string{`[{"i":1,"j":2}, `, `{"i":10000,"j":20000}]`}},
		{name: "rpc rows past the row cap", method: "GET", url: "/api/rpc/pairs?n=10001", status: 400, contains: []string{`returned more than 10000 rows`}},
		{name: "rpc empty set", method: "GET", url: "/api/rpc/series?n=0", status: 200, contains: []string{"[]"}},
		{name: "rpc volatile setof is not capped", method: "POST", url: "/api/rpc/series_write", body: `{"n":10001}`, status: 200, contains: []string{" 10001]"}},
		{name: "rpc void", method: "POST", url: "/api/rpc/bump", body: `{"n":1}`, status: 204},
		{name: "rpc volatile by GET", method: "GET", url: "/api/rpc/bump?n=1", status: 405},
		{name: "rpc json and array args", method: "POST", url: "/api/rpc/echo", body: `{"j":{"a":[1]},"t":["x","y"]}`, status: 200, contains: []string{`"j": {"a": [1]}`, `"t": ["x", "y"]`}},
		{name: "rpc custom status", method: "POST", url: "/api/rpc/fail_with", body: `{"code":"PT418"}`, status: 418, contains: []string{"refused by policy"}},
		{name: "rpc raise", method: "POST", url: "/api/rpc/fail_with", body: `{"code":"P0001"}`, status: 400, contains: []string{"refused by policy"}},
		{name: "rpc not executable", method: "POST", url: "/api/rpc/doc_count", status: 404},
		{name: "rpc unknown", method: "POST", url: "/api/rpc/nope", status: 404},
		{name: "rpc read scope refuses volatile", method: "POST", url: "/api/rpc/bump", body: `{"n":1}`, headers: map[string]string{"X-Test-User": alice, "X-Test-Scope": "read"}, status: 403},

		// batch
		{name: "batch", method: "POST", url: "/api/collections/pair/batch", body: `{"operations":[{"method":"create","body":{"a":5,"b":"q","v":"new"}},{"method":"update","id":"5,q","body":{"v":"upd"}},{"method":"delete","id":"2,x"}]}`, status: 200, contains: []string{`"index":0,"status":201`, `"v":"upd"`, `"index":2,"status":204,"body":null`}},
		{name: "batch rolls back", method: "POST", url: "/api/collections/pair/batch", body: `{"operations":[{"method":"create","body":{"a":6,"b":"q"}},{"method":"create","body":{"a":6,"b":"q"}}]}`, status: 409, contains: []string{`"index":1`}},
		{name: "batch rolled back leaves nothing", method: "GET", url: "/api/collections/pair?filter=" + url.QueryEscape("a = 6"), status: 200, ids: nil, contains: []string{`"totalItems":0`}},
		{name: "batch bad op checked first", method: "POST", url: "/api/collections/pair/batch", body: `{"operations":[{"method":"create","body":{"a":7,"b":"q"}},{"method":"explode"}]}`, status: 400, contains: []string{"operation 1"}},
		{name: "batch empty", method: "POST", url: "/api/collections/pair/batch", body: `{"operations":[]}`, status: 400},
		{name: "batch unknown key", method: "POST", url: "/api/collections/pair/batch", body: `{"ops":[]}`, status: 400},

		// views
		{name: "view under invoker RLS", method: "GET", url: "/api/collections/doc_titles?sort=id", headers: as(carol), status: 200, ids: []int64{}},
		{name: "view readable", method: "GET", url: "/api/collections/doc_titles?sort=id", headers: as(alice), status: 200, ids: []int64{1, 2}},
		{name: "updatable view patch", method: "PATCH", url: "/api/collections/doc_titles/1", body: `{"title":"renamed"}`, headers: as(alice), status: 405, contains: []string{"no primary key"}},
		// qty was bumped by 1 (rpc bump) and item 3 patched to 9 above
		{name: "view list with filter", method: "GET", url: "/api/collections/item_summary?sort=id&filter=" + url.QueryEscape("double_qty > 10"), status: 200, ids: []int64{1, 2, 3, 5}},
		{name: "view column that cannot be written", method: "POST", url: "/api/collections/item_summary", body: `{"id":60,"double_qty":4}`, status: 400, contains: []string{`"code":"0A000"`, "double_qty"}},
		{name: "non-updatable view refuses insert", method: "POST", url: "/api/collections/item_stats", body: `{"n":50}`, status: 405},

		// search
		{name: "search without index", method: "GET", url: "/api/collections/items?search=banana", status: 200, ids: []int64{2}},
		{name: "search websearch syntax", method: "GET", url: "/api/collections/items?search=" + url.QueryEscape(`apple OR cherry`) + "&sort=id", status: 200, ids: []int64{1, 3}},
		{name: "search no text columns", method: "GET", url: "/api/collections/parent?search=x", status: 400, contains: []string{"no text columns"}},

		// rpc returning tables and composites
		{name: "rpc returns table", method: "GET", url: "/api/rpc/team_docs?team=1", headers: as(alice), status: 200, contains: []string{`"title":"alpha plan"`}},
		{name: "rpc returns composite", method: "POST", url: "/api/rpc/first_team", status: 200, contains: []string{`"name":"red"`}},

		// schema / openapi
		{name: "schema", method: "GET", url: "/api/schema", status: 200, contains: []string{`"name":"items"`, `"name":"other.dup"`}},
		{name: "openapi", method: "GET", url: "/api/openapi.json", status: 200, contains: []string{`"openapi":"3.1.0"`, `"/api/collections/items/{id}"`}},
	}
	for _, tc := range cases {
		res := b.do(t, tc.method, tc.url, tc.body, tc.headers)
		require.Equal(t, tc.status, res.status, "%s: %s", tc.name, res.body)
		for _, c := range tc.contains {
			require.Contains(t, string(res.body), c, tc.name)
		}
		if tc.ids != nil {
			require.Equal(t, tc.ids, ids(t, res.json(t)["items"]), tc.name)
		}
		if tc.status >= 400 {
			m := res.json(t)
			require.NotEmpty(t, m["code"], tc.name)
			require.NotEmpty(t, m["message"], tc.name)
			require.NotContains(t, string(res.body), "select ", tc.name)
		}
	}
}
