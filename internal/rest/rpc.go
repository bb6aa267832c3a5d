package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/schema"
	"github.com/aybhq/ayb/internal/web"
)

// functionAllowed applies a credential's function list: AllowedFunctions
// when set; else a table-restricted credential may call no function.
func functionAllowed(id identity.Identity, f *schema.Function) bool {
	if id.AllowedFunctions != nil {
		for _, n := range id.AllowedFunctions {
			if n == f.Name || n == f.Schema+"."+f.Name {
				return true
			}
		}
		return false
	}
	return len(id.AllowedTables) == 0
}

func canCall(id identity.Identity, f *schema.Function) bool {
	return f.Privileges[id.Role] && functionAllowed(id, f)
}

// RPC answers POST /api/rpc/{function} (named arguments from a JSON
// object) and GET for stable and immutable functions (arguments from the
// query string). A set-returning function answers an array, a scalar one
// its value, a void one 204.
func (h *Handler) RPC(w http.ResponseWriter, r *http.Request) error {
	id := identity.From(r.Context())
	name := chi.URLParam(r, "function")
	var fns []*schema.Function
	scoped := false
	for _, f := range h.schema.Snapshot().Function(name) {
		if canCall(id, f) {
			fns = append(fns, f)
		} else if f.Privileges[id.Role] {
			scoped = true // the role may call it; the credential may not
		}
	}
	if len(fns) == 0 && scoped {
		return apierror.New(apierror.CodeInsufficientScope, "this credential may not call "+quote(name)).
			WithDetails(map[string]any{"function": name}).
			WithHint("use a credential whose function list includes it")
	}
	if len(fns) == 0 {
		return apierror.NotFound("no function named " + quote(name))
	}
	args := map[string]json.RawMessage{}
	if r.Method == http.MethodGet {
		v := r.URL.Query()
		if err := validUTF8(v); err != nil {
			return err
		}
		for k := range v {
			b, _ := json.Marshal(v.Get(k))
			args[k] = b
		}
	} else {
		b, err := readBody(r)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) > 0 {
			if t := bytes.TrimSpace(b); t[0] != '{' {
				return apierror.New(apierror.CodeInvalidJSON, "the request body must be a JSON object of named arguments")
			}
			if err := web.DecodeJSONBytes(b, &args); err != nil {
				return err
			}
		}
	}
	f, err := pickOverload(fns, args)
	if err != nil {
		return err
	}
	if r.Method == http.MethodGet && f.Volatility == "v" {
		return apierror.New(apierror.CodeMethodNotAllowed, quote(name)+" is volatile (it may write); call it with POST")
	}
	if f.Volatility == "v" && !id.CanWrite() {
		return apierror.New(apierror.CodeInsufficientScope, "this credential may not call functions that write").
			WithHint("mark the function stable or immutable if it only reads")
	}
	q := &query{}
	// A stable or immutable function only reads: it runs as a multiplexed
	// read, and its rows are capped. A volatile one's are not: stopping it
	// early, or refusing its answer after it committed, could lose or
	// half-do writes.
	readOnly := f.Volatility != "v"
	call := func() {
		q.w(f.Qualified(), "(")
		n := 0
		for _, a := range f.Inputs() {
			raw, ok := args[a.Name]
			if !ok {
				continue
			}
			if n > 0 {
				q.w(", ")
			}
			n++
			q.w(ident(a.Name), " => ")
			argValue(q, a, raw, r.Method == http.MethodGet)
		}
		q.w(")")
	}
	switch {
	case f.ReturnKind == "void":
		q.w("select 'null' from (select ")
		call()
		q.w(") _f")
	case f.ReturnKind == "scalar" && !f.Retset:
		q.w("select to_json(")
		call()
		q.w(")::text")
	case f.Retset && readOnly:
		// One row past the cap tells a result that fits from one that does
		// not, without building more of it.
		col, alias := "_f", " as _g"
		if f.ReturnKind == "scalar" {
			col, alias = "_f.v", " as _g(v)"
		}
		q.w("select count(*)::int, coalesce(json_agg(", col, "), '[]'::json)::text from (select * from ")
		call()
		q.w(alias, " limit "+strconv.Itoa(MaxRPCRows+1)+") _f")
	case f.ReturnKind == "scalar":
		q.w("select coalesce(json_agg(_f.v), '[]'::json)::text from ")
		call()
		q.w(" as _f(v)")
	case f.Retset:
		q.w("select coalesce(json_agg(_f), '[]'::json)::text from ")
		call()
		q.w(" as _f")
	default:
		q.w("select to_json(_f)::text from ")
		call()
		q.w(" as _f")
	}
	var out *string
	var rows int
	dq := &db.Query{SQL: q.b.String(), Args: q.args, Dest: []any{&out}}
	if f.Retset && readOnly {
		dq.Dest = []any{&rows, &out}
	}
	run := h.db.InBatch
	if readOnly {
		run = h.db.Read
	}
	if err := run(r.Context(), id, dq); err != nil {
		return err
	}
	if rows > MaxRPCRows {
		return apierror.BadRequest(fmt.Sprintf("%s returned more than %d rows", quote(name), MaxRPCRows)).
			WithDetails(map[string]any{"function": name, "max_rows": MaxRPCRows}).
			WithHint("page inside the function (limit and offset arguments), or read the rows through /api/collections with page and perPage")
	}
	if f.ReturnKind == "void" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if out == nil {
		web.WriteRawJSON(w, http.StatusOK, []byte("null"))
		return nil
	}
	web.WriteRawJSON(w, http.StatusOK, []byte(*out))
	return nil
}

// pickOverload chooses the function whose named inputs cover args with
// every argument without a default given.
func pickOverload(fns []*schema.Function, args map[string]json.RawMessage) (*schema.Function, error) {
	var firstErr error
	for _, f := range fns {
		err := func() error {
			known := map[string]bool{}
			for _, a := range f.Inputs() {
				known[a.Name] = true
				if _, ok := args[a.Name]; !ok && !a.HasDefault {
					return apierror.BadRequest("missing argument " + quote(a.Name) + " of " + quote(f.Name)).
						WithDetails(map[string]any{"argument": a.Name})
				}
			}
			for k := range args {
				if !known[k] {
					return apierror.BadRequest("unknown argument " + quote(k) + " of " + quote(f.Name)).
						WithDetails(map[string]any{"argument": k})
				}
			}
			return nil
		}()
		if err == nil {
			return f, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// argValue writes one argument as a bound parameter cast to its type.
// JSON strings, numbers and booleans bind as text; objects and arrays
// bind as JSON for json arguments, and arrays of text for array arguments.
func argValue(q *query, a *schema.Arg, raw json.RawMessage, fromQuery bool) {
	v := bytes.TrimSpace(raw)
	switch {
	case len(v) == 0 || string(v) == "null":
		q.w("null::", a.Type)
	case a.Type == "json" || a.Type == "jsonb":
		if fromQuery {
			var s string
			_ = json.Unmarshal(v, &s)
			q.w(q.param(s), "::text::", a.Type)
			return
		}
		q.w(q.param(string(v)), "::text::", a.Type)
	case v[0] == '[' && a.Category == "A":
		q.w("array(select jsonb_array_elements_text(", q.param(string(v)), "::jsonb))::", a.Type)
	case v[0] == '"':
		var s string
		_ = json.Unmarshal(v, &s)
		q.w(q.param(s), "::text::", a.Type)
	default:
		q.w(q.param(string(v)), "::text::", a.Type)
	}
}
