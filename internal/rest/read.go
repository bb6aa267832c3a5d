package rest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/filter"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/schema"
	"github.com/aybhq/ayb/internal/web"
)

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// query accumulates SQL text and its bound parameters.
type query struct {
	b    strings.Builder
	args []any
}

func (q *query) w(s ...string) {
	for _, x := range s {
		q.b.WriteString(x)
	}
}

func (q *query) param(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// selectPlan is what to read of one relation: its columns and expansions.
type selectPlan struct {
	rel     *schema.Relation
	alias   string
	cols    []*schema.Column
	expands []*expandPlan
	orderPK bool // the primary key is readable, so expansions list in its order
}

type expandPlan struct {
	link  *schema.Relationship
	sub   *selectPlan
	limit int
}

// planner names aliases t0, t1, ... for nested relations.
type planner struct {
	id identity.Identity
	n  int
}

func (p *planner) alias() string {
	a := "t" + strconv.Itoa(p.n)
	p.n++
	return a
}

// plan builds the select plan for rel: fields (nil = every readable column)
// and the expand tree.
func (p *planner) plan(rel *schema.Relation, fields []string, expand map[string]any, expandLimit int) (*selectPlan, error) {
	sp := &selectPlan{rel: rel, alias: p.alias()}
	sp.orderPK = len(rel.PrimaryKey) > 0 && columnsReadable(rel, rel.PrimaryKey, p.id.Role)
	readable := rel.Readable(p.id.Role)
	if fields == nil {
		sp.cols = readable
	} else {
		byName := readableColumns(rel, p.id.Role)
		for _, f := range fields {
			c := byName[f]
			if c == nil {
				return nil, apierror.BadRequest("fields: unknown column " + quote(f) + " in " + quote(rel.Path)).
					WithDetails(map[string]any{"column": f})
			}
			sp.cols = append(sp.cols, c)
		}
	}
	for _, name := range sortedKeys(expand) {
		link := rel.Relationship(name)
		if link != nil && link.Target.Visible(p.id.Role) && !tableAllowed(p.id, link.Target) {
			return nil, outOfScope(link.Target)
		}
		if link == nil || !canSee(p.id, link.Target) || !columnsReadable(rel, link.Local, p.id.Role) ||
			!columnsReadable(link.Target, link.Remote, p.id.Role) {
			return nil, apierror.BadRequest("expand: unknown relation " + quote(name) + " of " + quote(rel.Path)).
				WithDetails(map[string]any{"relation": name})
		}
		sub, _ := expand[name].(map[string]any)
		child, err := p.plan(link.Target, nil, sub, expandLimit)
		if err != nil {
			return nil, err
		}
		sp.expands = append(sp.expands, &expandPlan{link: link, sub: child, limit: expandLimit})
	}
	return sp, nil
}

func columnsReadable(rel *schema.Relation, cols []string, role string) bool {
	for _, c := range cols {
		col := rel.Column(c)
		if col == nil || !col.Privileges[role].Select {
			return false
		}
	}
	return true
}

// object writes the JSON object of one row of sp (a correlated scalar
// subquery over sp.alias): its columns and, under "expand", its relations.
func (q *query) object(sp *selectPlan) {
	q.w("(select row_to_json(_r) from (select ")
	for i, c := range sp.cols {
		if i > 0 {
			q.w(", ")
		}
		q.w(ident(sp.alias), ".", ident(c.Name))
	}
	if len(sp.expands) > 0 {
		if len(sp.cols) > 0 {
			q.w(", ")
		}
		q.w("json_build_object(")
		for i, e := range sp.expands {
			if i > 0 {
				q.w(", ")
			}
			q.w(q.param(e.link.Name), "::text, ")
			q.expansion(sp, e)
		}
		q.w(") as ", ident("expand"))
	}
	if len(sp.cols) == 0 && len(sp.expands) == 0 {
		q.w("1 as ", ident("_"))
	}
	q.w(") _r)")
}

// expansion writes a relation of a row: an object (many-to-one) or an
// array of at most e.limit objects in key order (one-to-many). RLS on the
// target applies, as the same transaction runs it.
func (q *query) expansion(parent *selectPlan, e *expandPlan) {
	t := e.sub
	join := func() {
		for i := range e.link.Local {
			if i > 0 {
				q.w(" and ")
			}
			q.w(ident(t.alias), ".", ident(e.link.Remote[i]), " = ", ident(parent.alias), ".", ident(e.link.Local[i]))
		}
	}
	if !e.link.Many {
		q.w("(select ")
		q.object(t)
		q.w(" from ", t.rel.Qualified(), " ", ident(t.alias), " where ")
		join()
		q.w(" limit 1)")
		return
	}
	q.w("(select coalesce(json_agg(_e.j), '[]'::json) from (select ")
	q.object(t)
	q.w(" as j from ", t.rel.Qualified(), " ", ident(t.alias), " where ")
	join()
	if t.orderPK {
		q.w(" order by ")
		for i, k := range t.rel.PrimaryKey {
			if i > 0 {
				q.w(", ")
			}
			q.w(ident(t.alias), ".", ident(k))
		}
	}
	q.w(" limit ", strconv.Itoa(e.limit), ") _e)")
}

// parseExpand turns "author,comments.author" into a tree.
func parseExpand(s string) (map[string]any, error) {
	if s == "" {
		return nil, nil
	}
	tree := map[string]any{}
	parts := strings.Split(s, ",")
	if len(parts) > MaxExpands {
		return nil, apierror.BadRequest("expand: more than " + strconv.Itoa(MaxExpands) + " relations")
	}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		path := strings.Split(p, ".")
		if len(path) > MaxExpandDepth {
			return nil, apierror.BadRequest("expand: " + quote(p) + " is nested deeper than " + strconv.Itoa(MaxExpandDepth))
		}
		node := tree
		for _, name := range path {
			if name == "" {
				return nil, apierror.BadRequest("expand: empty relation name in " + quote(s))
			}
			next, _ := node[name].(map[string]any)
			if next == nil {
				next = map[string]any{}
				node[name] = next
			}
			node = next
		}
	}
	return tree, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func parseFields(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func intParam(v url.Values, name string, def, lo, hi int) (int, error) {
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, apierror.BadRequest(name + " must be a whole number from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)).
			WithDetails(map[string]any{"param": name})
	}
	return n, nil
}

func boolParam(v url.Values, name string) (bool, error) {
	s := v.Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, apierror.BadRequest(name + " must be true or false").WithDetails(map[string]any{"param": name})
	}
	return b, nil
}

// keyValues splits the {id} segment into the primary key's values.
func keyValues(rel *schema.Relation, raw string) ([]string, error) {
	pk := rel.PrimaryKey
	if len(pk) == 0 {
		return nil, apierror.New(apierror.CodeMethodNotAllowed, quote(rel.Path)+" has no primary key, so its rows have no address").
			WithHint("list it with a filter instead")
	}
	id, err := url.PathUnescape(raw)
	if err != nil {
		id = raw
	}
	if len(pk) == 1 {
		return []string{id}, nil
	}
	parts := strings.Split(id, ",")
	if len(parts) != len(pk) {
		return nil, apierror.BadRequest("the key of " + quote(rel.Path) + " has " + strconv.Itoa(len(pk)) + " columns (" + strings.Join(pk, ", ") + "); give them comma-separated in that order")
	}
	return parts, nil
}

// whereKey writes alias.pk1 = $n::text::type and ... .
func (q *query) whereKey(rel *schema.Relation, alias string, vals []string) {
	for i, k := range rel.PrimaryKey {
		if i > 0 {
			q.w(" and ")
		}
		q.w(ident(alias), ".", ident(k), " = ", q.param(vals[i]), "::text::", rel.Column(k).Type)
	}
}

// Get answers GET /api/collections/{table}/{id}: one row by primary key.
// It is one statement sent with the transaction setup in one round trip.
func (h *Handler) Get(w http.ResponseWriter, r *http.Request) error {
	id := identity.From(r.Context())
	snap := h.schema.Snapshot()
	rel, err := relation(r, snap, id)
	if err != nil {
		return err
	}
	v := r.URL.Query()
	if err := validUTF8(v); err != nil {
		return err
	}
	expand, err := parseExpand(v.Get("expand"))
	if err != nil {
		return err
	}
	expandLimit, err := intParam(v, "expandLimit", DefaultExpandN, 1, MaxExpandN)
	if err != nil {
		return err
	}
	keys, err := keyValues(rel, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	if !columnsReadable(rel, rel.PrimaryKey, id.Role) {
		return apierror.NotFound("no collection named " + quote(rel.Path))
	}
	p := &planner{id: id}
	sp, err := p.plan(rel, parseFields(v.Get("fields")), expand, expandLimit)
	if err != nil {
		return err
	}
	q := &query{}
	q.w("select ")
	q.object(sp)
	q.w("::text from ", rel.Qualified(), " ", ident(sp.alias), " where ")
	q.whereKey(rel, sp.alias, keys)
	var row string
	dq := &db.Query{SQL: q.b.String(), Args: q.args, Dest: []any{&row}}
	if err := h.db.Read(r.Context(), id, dq); err != nil {
		return err
	}
	if !dq.Found {
		return apierror.NotFound("no row in " + quote(rel.Path) + " with that key")
	}
	web.WriteRawJSON(w, http.StatusOK, []byte(row))
	return nil
}

// sortKey is one ORDER BY term.
type sortKey struct {
	col  *schema.Column
	desc bool
}

func parseSort(rel *schema.Relation, role, s string) ([]sortKey, error) {
	var keys []sortKey
	seen := map[string]bool{}
	if s != "" {
		parts := strings.Split(s, ",")
		if len(parts) > MaxSortFields {
			return nil, apierror.BadRequest("sort: more than " + strconv.Itoa(MaxSortFields) + " fields")
		}
		readable := readableColumns(rel, role)
		for _, p := range parts {
			p = strings.TrimSpace(p)
			desc := strings.HasPrefix(p, "-")
			name := strings.TrimLeft(p, "+-")
			c := readable[name]
			if c == nil {
				return nil, apierror.BadRequest("sort: unknown column " + quote(name) + " in " + quote(rel.Path)).
					WithDetails(map[string]any{"column": name})
			}
			if seen[name] {
				continue
			}
			seen[name] = true
			keys = append(keys, sortKey{c, desc})
		}
	}
	return keys, nil
}

// withTiebreak appends the primary key so the order is total (needed for
// stable pages and keyset cursors). ok is false when there is no readable
// primary key.
func withTiebreak(rel *schema.Relation, role string, keys []sortKey) ([]sortKey, bool) {
	if len(rel.PrimaryKey) == 0 || !columnsReadable(rel, rel.PrimaryKey, role) {
		return keys, false
	}
	out := append([]sortKey(nil), keys...)
	for _, k := range rel.PrimaryKey {
		dup := false
		for _, s := range keys {
			dup = dup || s.col.Name == k
		}
		if !dup {
			out = append(out, sortKey{col: rel.Column(k)})
		}
	}
	return out, true
}

// cursor is the keyset position after the last row of a page.
type cursor struct {
	Sort   string    `json:"s"`
	Values []*string `json:"v"`
}

func sortSpec(keys []sortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.col.Name
		if k.desc {
			parts[i] = "-" + parts[i]
		}
	}
	return strings.Join(parts, ",")
}

func decodeCursor(s string, keys []sortKey) ([]string, error) {
	bad := apierror.BadRequest("after: not a cursor returned for this sort").WithDetails(map[string]any{"param": "after"})
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var c cursor
	if json.Unmarshal(b, &c) != nil || c.Sort != sortSpec(keys) || len(c.Values) != len(keys) {
		return nil, bad
	}
	out := make([]string, len(keys))
	for i, v := range c.Values {
		if v == nil {
			return nil, bad.WithHint("keyset pagination needs sort columns without nulls")
		}
		out[i] = *v
	}
	return out, nil
}

// searchExpr returns the tsvector expression to match for ?search=, and
// its text search configuration. A GIN index over a tsvector expression is
// used when the relation has one (its expression is repeated verbatim so
// the planner matches the index); else a tsvector column; else the text
// columns the caller may read, concatenated.
func searchExpr(rel *schema.Relation, alias, role string) (expr, config string, err error) {
	if len(rel.SearchIndexes) > 0 {
		e := rel.SearchIndexes[0]
		return "(" + e + ")", schema.SearchConfig(e), nil
	}
	readable := rel.Readable(role)
	for _, c := range readable {
		if c.Type == "tsvector" {
			return ident(alias) + "." + ident(c.Name), "simple", nil
		}
	}
	var parts []string
	for _, c := range readable {
		if c.Category == "S" {
			parts = append(parts, ident(alias)+"."+ident(c.Name)+"::text")
		}
	}
	if len(parts) == 0 {
		return "", "", apierror.BadRequest("search: " + quote(rel.Path) + " has no text columns to search")
	}
	return "to_tsvector('simple'::regconfig, concat_ws(' ', " + strings.Join(parts, ", ") + "))", "simple", nil
}

func validUTF8(v url.Values) error {
	for k, vs := range v {
		for _, s := range vs {
			if !utf8.ValidString(k) || !utf8.ValidString(s) {
				return apierror.BadRequest("query parameter " + quote(k) + " is not valid UTF-8")
			}
		}
	}
	return nil
}

// List answers GET /api/collections/{table}.
func (h *Handler) List(w http.ResponseWriter, r *http.Request) error {
	id := identity.From(r.Context())
	snap := h.schema.Snapshot()
	rel, err := relation(r, snap, id)
	if err != nil {
		return err
	}
	v := r.URL.Query()
	if err := validUTF8(v); err != nil {
		return err
	}
	page, err := intParam(v, "page", 1, 1, MaxPage)
	if err != nil {
		return err
	}
	perPage, err := intParam(v, "perPage", DefaultPerPage, 1, MaxPerPage)
	if err != nil {
		return err
	}
	skipTotal, err := boolParam(v, "skipTotal")
	if err != nil {
		return err
	}
	expandLimit, err := intParam(v, "expandLimit", DefaultExpandN, 1, MaxExpandN)
	if err != nil {
		return err
	}
	expand, err := parseExpand(v.Get("expand"))
	if err != nil {
		return err
	}
	search := v.Get("search")
	if len(search) > MaxSearchLength {
		return apierror.BadRequest("search: longer than " + strconv.Itoa(MaxSearchLength) + " characters")
	}
	userSort, err := parseSort(rel, id.Role, v.Get("sort"))
	if err != nil {
		return err
	}
	keys, total := withTiebreak(rel, id.Role, userSort)
	after := v.Get("after")

	fnode, err := filter.Parse(v.Get("filter"))
	if err != nil {
		return err
	}
	p := &planner{id: id}
	sp, err := p.plan(rel, parseFields(v.Get("fields")), expand, expandLimit)
	if err != nil {
		return err
	}
	readable := readableColumns(rel, id.Role)
	cf, err := filter.Compile(fnode, func(name string) (*filter.Column, bool) {
		c := readable[name]
		if c == nil {
			return nil, false
		}
		return &filter.Column{Name: c.Name, Type: c.Type, Category: c.Category, ElemType: c.ElemType, ElemCategory: c.ElemCategory}, true
	}, sp.alias, 0)
	if err != nil {
		return err
	}

	// WHERE shared by the page and the count: filter, then search.
	where := &query{args: cf.Args}
	where.w(cf.SQL)
	var rank string
	if search != "" {
		expr, config, err := searchExpr(rel, sp.alias, id.Role)
		if err != nil {
			return err
		}
		tsq := "websearch_to_tsquery(" + where.param(config) + "::regconfig, " + where.param(search) + ")"
		where.w(" and ", expr, " @@ ", tsq)
		rank = "ts_rank(" + expr + ", " + tsq + ")"
	}
	from := " from " + rel.Qualified() + " " + ident(sp.alias) + " where "

	q := &query{args: append([]any(nil), where.args...)}
	q.w("select coalesce(json_agg(_x.j), '[]'::json)::text, (json_agg(_x.c) -> -1)::text from (select ")
	q.object(sp)
	q.w(" as j, ")
	if total {
		q.w("json_build_array(")
		for i, k := range keys {
			if i > 0 {
				q.w(", ")
			}
			q.w(ident(sp.alias), ".", ident(k.col.Name), "::text")
		}
		q.w(")")
	} else {
		q.w("null::json")
	}
	q.w(" as c", from, where.b.String())
	if after != "" {
		if !total {
			return apierror.BadRequest("after: " + quote(rel.Path) + " has no readable primary key to page by")
		}
		if rank != "" && len(userSort) == 0 {
			return apierror.BadRequest("after: give a sort to page through search results by cursor")
		}
		vals, err := decodeCursor(after, keys)
		if err != nil {
			return err
		}
		q.w(" and ")
		q.keyset(sp.alias, keys, vals)
	}
	var order []string
	if rank != "" && len(userSort) == 0 {
		order = append(order, rank+" desc")
	}
	for _, k := range keys {
		o := ident(sp.alias) + "." + ident(k.col.Name)
		if k.desc {
			o += " desc"
		}
		order = append(order, o)
	}
	if len(order) > 0 {
		q.w(" order by ", strings.Join(order, ", "))
	}
	offset := 0
	if after == "" {
		offset = (page - 1) * perPage
	}
	// LIMIT is written as a number (perPage is a validated int), and OFFSET
	// only past the first page: with both as parameters the generic plan's
	// estimate (an unknown limit) never beats a custom one, so PostgreSQL
	// planned every list request afresh (~0.2 ms, most of a list's cost).
	q.w(" limit ", strconv.Itoa(perPage))
	if offset > 0 {
		q.w(" offset ", q.param(offset))
	}
	q.w(") _x")

	var items string
	var last *string
	stmts := []*db.Query{{SQL: q.b.String(), Args: q.args, Dest: []any{&items, &last}}}
	var count int64 = -1
	if !skipTotal {
		stmts = append(stmts, &db.Query{SQL: "select count(*)" + from + where.b.String(), Args: where.args, Dest: []any{&count}})
	}
	if err := h.db.Read(r.Context(), id, stmts...); err != nil {
		return err
	}
	pageNo, totalPages := page, int64(-1)
	if after != "" {
		pageNo = 0
	}
	if count >= 0 {
		totalPages = (count + int64(perPage) - 1) / int64(perPage)
	}
	var next string // the cursor for the next page (pass it as ?after=)
	if last != nil && total && len(items) > 2 {
		var vals []*string
		if json.Unmarshal([]byte(*last), &vals) == nil && len(vals) == len(keys) {
			b, _ := json.Marshal(cursor{Sort: sortSpec(keys), Values: vals})
			next = base64.RawURLEncoding.EncodeToString(b)
		}
	}
	web.WriteRawJSON(w, http.StatusOK, appendList(make([]byte, 0, len(items)+128+len(next)), pageNo, perPage, count, totalPages, items, next))
	return nil
}

// appendList appends a list response, {"page", "perPage", "totalItems",
// "totalPages", "items", "after"}, to b. The items are Postgres's JSON as
// they came (json_agg's output is valid JSON), written once rather than
// copied, rescanned and compacted by encoding/json; the cursor is base64url,
// which needs no escaping.
func appendList(b []byte, page, perPage int, totalItems, totalPages int64, items, after string) []byte {
	b = append(b, `{"page":`...)
	b = strconv.AppendInt(b, int64(page), 10)
	b = append(b, `,"perPage":`...)
	b = strconv.AppendInt(b, int64(perPage), 10)
	b = append(b, `,"totalItems":`...)
	b = strconv.AppendInt(b, totalItems, 10)
	b = append(b, `,"totalPages":`...)
	b = strconv.AppendInt(b, totalPages, 10)
	b = append(b, `,"items":`...)
	b = append(b, items...)
	b = append(b, `,"after":`...)
	if after == "" {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = append(b, after...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// keyset writes the condition "row comes after vals in the order keys":
// a row comparison when every key has the same direction (an index can
// serve it), else the expanded OR of prefixes.
func (q *query) keyset(alias string, keys []sortKey, vals []string) {
	same := true
	for _, k := range keys {
		same = same && k.desc == keys[0].desc
	}
	val := func(i int) string { return q.param(vals[i]) + "::text::" + keys[i].col.Type }
	col := func(i int) string { return ident(alias) + "." + ident(keys[i].col.Name) }
	if same {
		op := " > "
		if keys[0].desc {
			op = " < "
		}
		q.w("(")
		for i := range keys {
			if i > 0 {
				q.w(", ")
			}
			q.w(col(i))
		}
		q.w(")", op, "(")
		for i := range keys {
			if i > 0 {
				q.w(", ")
			}
			q.w(val(i))
		}
		q.w(")")
		return
	}
	q.w("(")
	for i := range keys {
		if i > 0 {
			q.w(" or ")
		}
		q.w("(")
		for j := 0; j < i; j++ {
			q.w(col(j), " = ", val(j), " and ")
		}
		op := " > "
		if keys[i].desc {
			op = " < "
		}
		q.w(col(i), op, val(i), ")")
	}
	q.w(")")
}
