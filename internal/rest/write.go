package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/schema"
	"github.com/aybhq/ayb/internal/web"
)

// prefer is what the Prefer header asks for.
type prefer struct {
	minimal          bool
	ignoreDuplicates bool
}

func parsePrefer(r *http.Request) prefer {
	var p prefer
	for _, h := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(h, ",") {
			switch strings.TrimSpace(part) {
			case "return=minimal":
				p.minimal = true
			case "resolution=ignore-duplicates":
				p.ignoreDuplicates = true
			}
		}
	}
	return p
}

// rowBody is a decoded JSON object: column name → raw JSON value, plus the
// object's bytes for jsonb_populate_record.
type rowBody struct {
	cols []string
	raw  []byte
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)
var numericRE = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// decodeRow checks a JSON object against the relation: every key a column
// the role may write (unknown keys are an error, not dropped), no generated
// column, and each value of a JSON kind the column can take, so type errors
// name the column.
func decodeRow(rel *schema.Relation, role string, b []byte) (*rowBody, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return nil, apierror.New(apierror.CodeInvalidJSON, "the request body must be a JSON object of column values")
	}
	var m map[string]json.RawMessage
	if err := web.DecodeJSONBytes(t, &m); err != nil {
		return nil, err
	}
	rb := &rowBody{raw: t}
	for _, name := range sortedRaw(m) {
		c := rel.Column(name)
		var cp schema.ColumnPrivileges
		if c != nil {
			cp = c.Privileges[role]
		}
		if c == nil || !(cp.Select || cp.Insert || cp.Update) {
			return nil, apierror.BadRequest("unknown column " + quote(name) + " in " + quote(rel.Path)).
				WithDetails(map[string]any{"column": name})
		}
		if c.Generated {
			return nil, apierror.BadRequest("column " + quote(name) + " is generated and cannot be written").
				WithDetails(map[string]any{"column": name})
		}
		if err := checkValue(c, m[name]); err != nil {
			return nil, err
		}
		rb.cols = append(rb.cols, name)
	}
	return rb, nil
}

func sortedRaw(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	am := make(map[string]any, len(keys))
	for _, k := range keys {
		am[k] = nil
	}
	return sortedKeys(am)
}

func checkValue(c *schema.Column, raw json.RawMessage) error {
	v := bytes.TrimSpace(raw)
	if len(v) == 0 || v[0] == 'n' || c.IsJSON() {
		return nil
	}
	bad := func(want string) error {
		return apierror.New(apierror.CodeValidation, "column "+quote(c.Name)+" ("+c.Type+"): expected "+want).
			WithDetails(map[string]any{"column": c.Name, "type": c.Type})
	}
	var s string
	isString := v[0] == '"'
	if isString {
		_ = json.Unmarshal(v, &s)
	}
	switch {
	case c.Category == "A":
		if v[0] != '[' {
			return bad("an array")
		}
	case c.Category == "N":
		if !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9') || (isString && numericRE.MatchString(s))) {
			return bad("a number")
		}
	case c.Category == "B":
		if v[0] != 't' && v[0] != 'f' {
			return bad("true or false")
		}
	case c.Category == "S":
		if !isString {
			return bad("a string")
		}
	case c.Type == "uuid":
		if !isString || !uuidRE.MatchString(s) {
			return bad("a UUID string")
		}
	default:
		if v[0] == '[' || v[0] == 't' || v[0] == 'f' {
			return bad("a string")
		}
	}
	return nil
}

// writeResult is what one write returned.
type writeResult struct {
	row    []byte // the row as the caller may read it; nil if hidden or minimal
	found  bool   // a row was written
	hidden bool   // written, but RLS hides it from the caller
}

// returning writes "returning alias.c1, ..." for the columns role may read.
func returning(q *query, rel *schema.Relation, alias, role string) bool {
	cols := rel.Readable(role)
	if len(cols) == 0 {
		return false
	}
	q.w(" returning ")
	for i, c := range cols {
		if i > 0 {
			q.w(", ")
		}
		q.w(ident(alias), ".", ident(c.Name))
	}
	return true
}

// runWrite runs a write statement built by build(withReturning). With a
// representation wanted, it returns the written row as the caller may
// read it. Under RLS, RETURNING a row the caller's SELECT policies hide
// fails the whole statement (42501); the write itself may be allowed, so
// it is retried in a savepoint without RETURNING and reported hidden.
func runWrite(ctx context.Context, tx pgx.Tx, id identity.Identity, rel *schema.Relation, minimal bool, build func(ret bool) *query) (writeResult, error) {
	if minimal || len(rel.Readable(id.Role)) == 0 {
		q := build(false)
		tag, err := tx.Exec(ctx, q.b.String(), q.args...)
		if err != nil {
			return writeResult{}, db.Translate(err)
		}
		return writeResult{found: tag.RowsAffected() > 0, hidden: !minimal && tag.RowsAffected() > 0}, nil
	}
	q := build(true)
	sql := "with _w as (" + q.b.String() + ") select row_to_json(_w)::text from _w"
	mayHide := rel.RLS && id.Role != identity.RoleServiceRole
	if !mayHide {
		var row string
		err := tx.QueryRow(ctx, sql, q.args...).Scan(&row)
		if db.IsNoRows(err) {
			return writeResult{}, nil
		}
		if err != nil {
			return writeResult{}, db.Translate(err)
		}
		return writeResult{row: []byte(row), found: true}, nil
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return writeResult{}, db.Translate(err)
	}
	var row string
	err = sp.QueryRow(ctx, sql, q.args...).Scan(&row)
	switch {
	case err == nil:
		if err := sp.Commit(ctx); err != nil {
			return writeResult{}, db.Translate(err)
		}
		return writeResult{row: []byte(row), found: true}, nil
	case db.IsNoRows(err):
		if err := sp.Commit(ctx); err != nil {
			return writeResult{}, db.Translate(err)
		}
		return writeResult{}, nil
	}
	terr := db.Translate(err)
	if apierror.As(terr).Code != "42501" {
		_ = sp.Rollback(ctx)
		return writeResult{}, terr
	}
	if err := sp.Rollback(ctx); err != nil {
		return writeResult{}, db.Translate(err)
	}
	q = build(false)
	tag, err := tx.Exec(ctx, q.b.String(), q.args...)
	if err != nil {
		return writeResult{}, db.Translate(err)
	}
	return writeResult{found: tag.RowsAffected() > 0, hidden: tag.RowsAffected() > 0}, nil
}

// insertQuery builds the INSERT for one row body.
func insertQuery(rel *schema.Relation, role string, rb *rowBody, conflict []string, ignoreDup bool) func(bool) *query {
	return func(ret bool) *query {
		q := &query{}
		q.w("insert into ", rel.Qualified(), " as ", ident("t0"))
		if len(rb.cols) == 0 {
			q.w(" default values")
		} else {
			q.w(" (")
			for i, c := range rb.cols {
				if i > 0 {
					q.w(", ")
				}
				q.w(ident(c))
			}
			q.w(") select ")
			for i, c := range rb.cols {
				if i > 0 {
					q.w(", ")
				}
				q.w(ident(c))
			}
			q.w(" from jsonb_populate_record(null::", rel.Qualified(), ", ", q.param(string(rb.raw)), "::jsonb)")
		}
		if len(conflict) > 0 || ignoreDup {
			q.w(" on conflict")
			if len(conflict) > 0 {
				q.w(" (")
				for i, c := range conflict {
					if i > 0 {
						q.w(", ")
					}
					q.w(ident(c))
				}
				q.w(")")
			}
			var set []string
			for _, c := range rb.cols {
				in := false
				for _, k := range conflict {
					in = in || k == c
				}
				if !in {
					set = append(set, c)
				}
			}
			if ignoreDup || len(set) == 0 || len(conflict) == 0 {
				q.w(" do nothing")
			} else {
				q.w(" do update set ")
				for i, c := range set {
					if i > 0 {
						q.w(", ")
					}
					q.w(ident(c), " = excluded.", ident(c))
				}
			}
		}
		if ret {
			returning(q, rel, "t0", role)
		}
		return q
	}
}

func updateQuery(rel *schema.Relation, role string, rb *rowBody, keys []string) func(bool) *query {
	return func(ret bool) *query {
		q := &query{}
		q.w("update ", rel.Qualified(), " as ", ident("t0"), " set ")
		for i, c := range rb.cols {
			if i > 0 {
				q.w(", ")
			}
			q.w(ident(c), " = _v.", ident(c))
		}
		q.w(" from jsonb_populate_record(null::", rel.Qualified(), ", ", q.param(string(rb.raw)), "::jsonb) _v where ")
		q.whereKey(rel, "t0", keys)
		if ret {
			returning(q, rel, "t0", role)
		}
		return q
	}
}

func deleteQuery(rel *schema.Relation, keys []string) func(bool) *query {
	return func(bool) *query {
		q := &query{}
		q.w("delete from ", rel.Qualified(), " as ", ident("t0"), " where ")
		q.whereKey(rel, "t0", keys)
		return q
	}
}

func conflictTarget(rel *schema.Relation, s string) ([]string, error) {
	cols := parseFields(s)
	for _, c := range cols {
		if rel.Column(c) == nil {
			return nil, apierror.BadRequest("onConflict: unknown column " + quote(c)).WithDetails(map[string]any{"column": c})
		}
	}
	return cols, nil
}

// writeResponse renders a write's result: the row, or nothing with
// Preference-Applied: return=minimal when minimal was asked or RLS hides
// the written row from the caller.
func writeResponse(w http.ResponseWriter, status int, res writeResult) {
	if res.row == nil {
		w.Header().Set("Preference-Applied", "return=minimal")
		w.WriteHeader(status)
		return
	}
	web.WriteRawJSON(w, status, res.row)
}

func readBody(r *http.Request) ([]byte, error) {
	if err := web.RequireJSON(r); err != nil {
		return nil, err
	}
	return web.ReadBody(r)
}

// Create answers POST /api/collections/{table}: insert one row, or upsert
// with ?onConflict=col[,col] (Prefer: resolution=ignore-duplicates skips
// conflicting rows instead of updating them).
func (h *Handler) Create(w http.ResponseWriter, r *http.Request) error {
	id := identity.From(r.Context())
	rel, err := relation(r, h.schema.Snapshot(), id)
	if err != nil {
		return err
	}
	if err := requireWrite(id, rel, "insert"); err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	rb, err := decodeRow(rel, id.Role, b)
	if err != nil {
		return err
	}
	conflict, err := conflictTarget(rel, r.URL.Query().Get("onConflict"))
	if err != nil {
		return err
	}
	pref := parsePrefer(r)
	var res writeResult
	err = h.db.InTx(r.Context(), id, func(tx pgx.Tx) error {
		res, err = runWrite(r.Context(), tx, id, rel, pref.minimal, insertQuery(rel, id.Role, rb, conflict, pref.ignoreDuplicates))
		return err
	})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !res.found {
		status = http.StatusOK // a duplicate was ignored
	}
	writeResponse(w, status, res)
	return nil
}

// Update answers PATCH /api/collections/{table}/{id}: a partial update.
func (h *Handler) Update(w http.ResponseWriter, r *http.Request) error {
	id := identity.From(r.Context())
	rel, err := relation(r, h.schema.Snapshot(), id)
	if err != nil {
		return err
	}
	if err := requireWrite(id, rel, "update"); err != nil {
		return err
	}
	keys, err := keyValues(rel, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	rb, err := decodeRow(rel, id.Role, b)
	if err != nil {
		return err
	}
	if len(rb.cols) == 0 {
		return apierror.BadRequest("the body names no column to update")
	}
	var res writeResult
	err = h.db.InTx(r.Context(), id, func(tx pgx.Tx) error {
		res, err = runWrite(r.Context(), tx, id, rel, parsePrefer(r).minimal, updateQuery(rel, id.Role, rb, keys))
		return err
	})
	if err != nil {
		return err
	}
	if !res.found {
		return apierror.NotFound("no row in " + quote(rel.Path) + " with that key")
	}
	writeResponse(w, http.StatusOK, res)
	return nil
}

// Delete answers DELETE /api/collections/{table}/{id}.
func (h *Handler) Delete(w http.ResponseWriter, r *http.Request) error {
	id := identity.From(r.Context())
	rel, err := relation(r, h.schema.Snapshot(), id)
	if err != nil {
		return err
	}
	if err := requireWrite(id, rel, "delete"); err != nil {
		return err
	}
	keys, err := keyValues(rel, chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	var res writeResult
	err = h.db.InTx(r.Context(), id, func(tx pgx.Tx) error {
		res, err = runWrite(r.Context(), tx, id, rel, true, deleteQuery(rel, keys))
		return err
	})
	if err != nil {
		return err
	}
	if !res.found {
		return apierror.NotFound("no row in " + quote(rel.Path) + " with that key")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type batchOp struct {
	Method string          `json:"method"`
	ID     string          `json:"id"`
	Body   json.RawMessage `json:"body"`
}

type batchResult struct {
	Index  int             `json:"index"`
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// Batch answers POST /api/collections/{table}/batch: up to 1,000 creates,
// updates and deletes in one transaction. Every operation is checked before
// any runs; the first failure rolls all back and the error names its index.
func (h *Handler) Batch(w http.ResponseWriter, r *http.Request) error {
	id := identity.From(r.Context())
	rel, err := relation(r, h.schema.Snapshot(), id)
	if err != nil {
		return err
	}
	if !id.CanWrite() {
		return requireWrite(id, rel, "insert")
	}
	var req struct {
		Operations []batchOp `json:"operations"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Operations) == 0 {
		return apierror.BadRequest("operations is empty")
	}
	if len(req.Operations) > MaxBatchOps {
		return apierror.BadRequest("more than " + strconv.Itoa(MaxBatchOps) + " operations").WithDetails(map[string]any{"limit": MaxBatchOps})
	}
	pref := parsePrefer(r)
	type planned struct {
		build  func(bool) *query
		status int
		keyed  bool
	}
	plans := make([]planned, len(req.Operations))
	at := func(i int, err error) error {
		e := apierror.As(err)
		d := map[string]any{"index": i}
		switch old := e.Details.(type) {
		case map[string]any:
			for k, v := range old {
				d[k] = v
			}
		case map[string]string:
			for k, v := range old {
				d[k] = v
			}
		}
		e.Details = d
		e.Message = "operation " + strconv.Itoa(i) + ": " + e.Message
		return e
	}
	for i, op := range req.Operations {
		switch op.Method {
		case "create":
			if err := requireWrite(id, rel, "insert"); err != nil {
				return at(i, err)
			}
			rb, err := decodeRow(rel, id.Role, op.Body)
			if err != nil {
				return at(i, err)
			}
			plans[i] = planned{build: insertQuery(rel, id.Role, rb, nil, false), status: http.StatusCreated}
		case "update":
			if err := requireWrite(id, rel, "update"); err != nil {
				return at(i, err)
			}
			keys, err := keyValues(rel, op.ID)
			if err != nil {
				return at(i, err)
			}
			rb, err := decodeRow(rel, id.Role, op.Body)
			if err != nil {
				return at(i, err)
			}
			if len(rb.cols) == 0 {
				return at(i, apierror.BadRequest("the body names no column to update"))
			}
			plans[i] = planned{build: updateQuery(rel, id.Role, rb, keys), status: http.StatusOK, keyed: true}
		case "delete":
			if err := requireWrite(id, rel, "delete"); err != nil {
				return at(i, err)
			}
			keys, err := keyValues(rel, op.ID)
			if err != nil {
				return at(i, err)
			}
			plans[i] = planned{build: deleteQuery(rel, keys), status: http.StatusNoContent, keyed: true}
		default:
			return at(i, apierror.BadRequest("method must be create, update or delete, not "+quote(op.Method)))
		}
	}
	results := make([]batchResult, len(plans))
	err = h.db.InTx(r.Context(), id, func(tx pgx.Tx) error {
		for i, p := range plans {
			res, err := runWrite(r.Context(), tx, id, rel, pref.minimal || p.status == http.StatusNoContent, p.build)
			if err != nil {
				return at(i, err)
			}
			if p.keyed && !res.found {
				return at(i, apierror.NotFound("no row in "+quote(rel.Path)+" with that key"))
			}
			results[i] = batchResult{Index: i, Status: p.status, Body: res.row}
		}
		return nil
	})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, results)
	return nil
}
