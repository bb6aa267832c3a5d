package rest_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRLSParity checks that each user sees through the API exactly what
// the same role and claims see in SQL, for an owner-policy table (notes)
// and a team-membership policy (docs: EXISTS on members with auth.uid()).
func TestRLSParity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, user := range []string{alice, bob, carol} {
		h := as(user)

		// list and count
		for _, table := range []string{"docs", "notes", "comments"} {
			want := asUser(t, b.db, user, "select id::bigint from public."+table+" order by id")
			res := b.do(t, "GET", "/api/collections/"+table, "", h)
			require.Equal(t, 200, res.status, string(res.body))
			m := res.json(t)
			require.Equal(t, want, ids(t, m["items"]), "%s list %s", user, table)
			require.EqualValues(t, len(want), m["totalItems"], "%s count %s", user, table)
		}
		// filtered count
		want := asUser(t, b.db, user, "select id::bigint from public.docs where title like '%alpha%' order by id")
		m := b.do(t, "GET", "/api/collections/docs?filter="+url.QueryEscape("title ~ 'alpha'"), "", h).json(t)
		require.Equal(t, want, ids(t, m["items"]), user)
		require.EqualValues(t, len(want), m["totalItems"], user)

		// get: visible rows 200, hidden 404
		visible := map[int64]bool{}
		for _, id := range asUser(t, b.db, user, "select id::bigint from public.docs") {
			visible[id] = true
		}
		for id := 1; id <= 5; id++ {
			res := b.do(t, "GET", "/api/collections/docs/"+strconv.Itoa(id), "", h)
			if visible[int64(id)] {
				require.Equal(t, 200, res.status, "%s get doc %d", user, id)
			} else {
				require.Equal(t, 404, res.status, "%s get doc %d", user, id)
			}
		}

		// expand one-to-many (teams → docs) and many-to-one (docs → team)
		res := b.do(t, "GET", "/api/collections/teams?expand=docs,members&sort=id", "", h)
		require.Equal(t, 200, res.status, string(res.body))
		for _, it := range res.json(t)["items"].([]any) {
			team := it.(map[string]any)
			tid := int64(team["id"].(float64))
			exp := team["expand"].(map[string]any)
			require.Equal(t, asUser(t, b.db, user, "select id::bigint from public.docs where team_id = $1 order by id", tid),
				ids(t, exp["docs"]), "%s expand docs of team %d", user, tid)
			require.Len(t, exp["members"], len(asUser(t, b.db, user, "select 1::bigint from public.members where team_id = $1", tid)))
		}
		res = b.do(t, "GET", "/api/collections/comments?expand=doc.team", "", h)
		require.Equal(t, 200, res.status, string(res.body))
		for _, it := range res.json(t)["items"].([]any) {
			doc := it.(map[string]any)["expand"].(map[string]any)["doc"].(map[string]any)
			require.True(t, visible[int64(doc["id"].(float64))])
			require.NotNil(t, doc["expand"].(map[string]any)["team"])
		}

		// search (through the GIN index expression)
		want = asUser(t, b.db, user, `select id::bigint from public.docs
			where to_tsvector('english', title || ' ' || coalesce(body, '')) @@ websearch_to_tsquery('english', 'alpha') order by id`)
		m = b.do(t, "GET", "/api/collections/docs?search=alpha&sort=id", "", h).json(t)
		require.Equal(t, want, ids(t, m["items"]), "%s search", user)
		require.EqualValues(t, len(want), m["totalItems"])

		// RPC
		want = asUser(t, b.db, user, "select id::bigint from public.my_docs()")
		res = b.do(t, "POST", "/api/rpc/my_docs", "", h)
		require.Equal(t, 200, res.status, string(res.body))
		var rows []any
		require.NoError(t, json.Unmarshal(res.body, &rows))
		require.Equal(t, want, ids(t, rows), "%s rpc", user)
		n := asUser(t, b.db, user, "select public.doc_count()")
		res = b.do(t, "GET", "/api/rpc/doc_count", "", h)
		require.Equal(t, fmt.Sprint(n[0]), string(res.body), user)
	}
	// anon sees no docs; service_role sees all.
	require.EqualValues(t, 0, b.do(t, "GET", "/api/collections/docs", "", nil).json(t)["totalItems"])
	require.EqualValues(t, 5, b.do(t, "GET", "/api/collections/docs", "", service).json(t)["totalItems"])
}

func TestRLSWrites(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// insert into a team alice belongs to: allowed and readable.
	res := b.do(t, "POST", "/api/collections/docs", `{"id":30,"team_id":1,"title":"mine"}`, as(alice))
	require.Equal(t, 201, res.status, string(res.body))
	require.Contains(t, string(res.body), `"title":"mine"`)
	// owner default from auth.uid()
	res = b.do(t, "POST", "/api/collections/notes", `{"body":"fresh"}`, as(carol))
	require.Equal(t, 201, res.status, string(res.body))
	require.Contains(t, string(res.body), `"owner":"`+carol+`"`)
	// owner policy: cannot write someone else's row; cannot see it either.
	res = b.do(t, "PATCH", "/api/collections/notes/3", `{"body":"hijack"}`, as(alice))
	require.Equal(t, 404, res.status)
	res = b.do(t, "DELETE", "/api/collections/notes/3", "", as(alice))
	require.Equal(t, 404, res.status)
	res = b.do(t, "POST", "/api/collections/notes", `{"body":"forged","owner":"`+bob+`"}`, as(alice))
	require.Equal(t, 403, res.status)

	// Insert that the policy allows but RLS hides from the caller: 201,
	// no body, and the row exists.
	res = b.do(t, "POST", "/api/collections/dropbox", `{"msg":"secret"}`, as(alice))
	require.Equal(t, 201, res.status, string(res.body))
	require.Empty(t, res.body)
	require.Equal(t, "return=minimal", res.header.Get("Preference-Applied"))
	var n int
	require.NoError(t, b.db.Admin(t).QueryRow(t.Context(), "select count(*) from public.dropbox where msg = 'secret'").Scan(&n))
	require.Equal(t, 1, n)
	// same inside a batch
	res = b.do(t, "POST", "/api/collections/dropbox/batch", `{"operations":[{"method":"create","body":{"msg":"b1"}},{"method":"create","body":{"msg":"b2"}}]}`, as(alice))
	require.Equal(t, 200, res.status, string(res.body))
	require.NoError(t, b.db.Admin(t).QueryRow(t.Context(), "select count(*) from public.dropbox").Scan(&n))
	require.Equal(t, 3, n)
}

// A deferred constraint fails at COMMIT: the API answers an error and no
// row is left.
func TestDeferredConstraintFailsAtCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/collections/child", `{"id":1,"parent_id":99}`},
		{"POST", "/api/collections/child/batch", `{"operations":[{"method":"create","body":{"id":2,"parent_id":99}}]}`},
		{"POST", "/api/collections/child", `{"id":3,"parent_id":98}`},
	} {
		h := service
		if tc.body == `{"id":3,"parent_id":98}` {
			h = map[string]string{"X-Test-Role": "service_role", "Prefer": "return=minimal"}
		}
		res := b.do(t, tc.method, tc.path, tc.body, h)
		require.Equal(t, 409, res.status, string(res.body))
		require.Contains(t, string(res.body), `"constraint":"child_parent_id_fkey"`)
	}
	var n int
	require.NoError(t, b.db.Admin(t).QueryRow(t.Context(), "select count(*) from public.child").Scan(&n))
	require.Equal(t, 0, n)
	// A valid one still works.
	res := b.do(t, "POST", "/api/collections/child", `{"id":4,"parent_id":1}`, service)
	require.Equal(t, 201, res.status, string(res.body))
}

func TestKeysetPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, "insert into public.items (id, name, qty) select i, 'n' || (i % 7), i % 5 from generate_series(100, 160) i")
	for _, sort := range []string{"", "-qty", "name,-id", "-name,-id"} {
		var seen []int64
		after := ""
		for pages := 0; pages < 50; pages++ {
			u := "/api/collections/items?perPage=7&skipTotal=true&filter=" + url.QueryEscape("id >= 100") + "&sort=" + url.QueryEscape(sort)
			if after != "" {
				u += "&after=" + url.QueryEscape(after)
			}
			m := b.do(t, "GET", u, "", nil).json(t)
			got := ids(t, m["items"])
			seen = append(seen, got...)
			if m["after"] == nil {
				break
			}
			after = m["after"].(string)
			if len(got) < 7 {
				break
			}
		}
		// the same order as one big page
		m := b.do(t, "GET", "/api/collections/items?perPage=500&filter="+url.QueryEscape("id >= 100")+"&sort="+url.QueryEscape(sort), "", nil).json(t)
		require.Equal(t, ids(t, m["items"]), seen, "sort %q", sort)
		require.Len(t, seen, 61)
	}
	// a cursor for another sort is refused
	m := b.do(t, "GET", "/api/collections/items?perPage=2&sort=qty", "", nil).json(t)
	res := b.do(t, "GET", "/api/collections/items?sort=name&after="+url.QueryEscape(m["after"].(string)), "", nil)
	require.Equal(t, 400, res.status)
}

func TestExpandLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, "GET", "/api/collections/docs/1?expand=comments&expandLimit=1", "", service)
	require.Equal(t, 200, res.status, string(res.body))
	exp := res.json(t)["expand"].(map[string]any)
	require.Equal(t, []int64{1}, ids(t, exp["comments"]))
	res = b.do(t, "GET", "/api/collections/docs/1?expand=nope", "", service)
	require.Equal(t, 400, res.status)
}

// Two instances on one database: DDL through psql reaches both APIs
// within 2 seconds (event trigger → NOTIFY → debounced reload).
func TestTwoInstancesSeeDDL(t *testing.T) {
	t.Parallel()
	b1 := setup(t)
	b2 := serve(t, b1.db, []string{"public", "other"})
	for _, b := range []*bundle{b1, b2} {
		require.Equal(t, 404, b.do(t, "GET", "/api/collections/late", "", nil).status)
	}
	b1.db.Exec(t, "create table public.late (id int primary key, a text); insert into public.late values (1, 'x')")
	start := time.Now()
	for _, b := range []*bundle{b1, b2} {
		require.Eventually(t, func() bool {
			return b.do(t, "GET", "/api/collections/late/1", "", nil).status == 200
		}, 2*time.Second-time.Since(start), 25*time.Millisecond)
		t.Logf("seen after %s", time.Since(start))
	}
	b1.db.Exec(t, "alter table public.late add column extra int default 7")
	start = time.Now()
	for _, b := range []*bundle{b1, b2} {
		require.Eventually(t, func() bool {
			res := b.do(t, "GET", "/api/collections/late?filter="+url.QueryEscape("extra = 7"), "", nil)
			return res.status == 200
		}, 2*time.Second-time.Since(start), 25*time.Millisecond)
		t.Logf("seen after %s", time.Since(start))
	}
	t.Logf("both instances saw the ALTER within %s", time.Since(start))
}

func TestOpenAPIShowsOnlyWhatCallerMaySee(t *testing.T) {
	t.Parallel()
	b := setup(t)
	anon := string(b.do(t, "GET", "/api/openapi.json", "", nil).body)
	require.False(t, strings.Contains(anon, "/api/collections/secret"))
	require.False(t, strings.Contains(anon, "/api/rpc/doc_count"))
	require.False(t, strings.Contains(anon, "hidden_counts"))
	user := string(b.do(t, "GET", "/api/openapi.json", "", as(alice)).body)
	require.True(t, strings.Contains(user, "/api/rpc/doc_count"))
	require.True(t, strings.Contains(user, `"colpriv"`))
	require.False(t, strings.Contains(user, `"hidden"`), "a column without privileges is not described")
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(user), &doc))
	require.Equal(t, "3.1.0", doc["openapi"])
	s := b.do(t, "GET", "/api/schema", "", as(alice)).json(t)
	for _, c := range s["collections"].([]any) {
		require.NotEqual(t, "secret", c.(map[string]any)["name"])
	}
}
