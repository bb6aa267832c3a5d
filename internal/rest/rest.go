// Package rest is AYB's REST API over the tables, views and functions of
// the exposed schemas: list, get, create, update, delete, batch and RPC,
// plus the caller's view of the schema and an OpenAPI document. Every
// request runs in one transaction as the caller's role with their claims,
// so grants and row-level security decide what it sees and may change.
// Queries are built from the schema cache: identifiers are quoted names
// from the cache and every value is a bound parameter.
//
// Visibility rule (404 vs 403): anything the caller cannot see is answered
// as if it did not exist. A relation the caller's role has no privilege on
// at all, or that their credential's table list excludes, is 404 like a
// missing one; a column they cannot select is an unknown column (400) in
// fields, filter, sort and expand; a row that RLS hides is 404. A caller
// who can see a relation but may not do the thing asked gets 403: a
// read-only or read-scoped credential writing (insufficient_scope), or
// Postgres refusing the statement (42501, e.g. a missing INSERT grant or a
// WITH CHECK policy).
package rest

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/schema"
)

// Limits of the API.
const (
	DefaultPerPage = 20
	MaxPerPage     = 500
	MaxPage        = 100000
	MaxSortFields  = 10
	MaxExpands     = 10
	MaxExpandDepth = 3
	DefaultExpandN = 100 // rows of a one-to-many expansion
	// MaxRPCRows caps what a set-returning stable or immutable function may
	// return in one call: past it the call is refused (400), not truncated,
	// so a function over a growing table fails loudly instead of holding its
	// whole result in memory twice (Postgres's JSON, then the response).
	MaxRPCRows      = 10000
	MaxExpandN      = 1000
	MaxSearchLength = 1000
	MaxBatchOps     = 1000
)

// Handler serves the REST API from a schema cache.
type Handler struct {
	db     *db.DB
	schema *schema.Cache
}

// New returns the REST handlers.
func New(d *db.DB, c *schema.Cache) *Handler { return &Handler{db: d, schema: c} }

// tableAllowed applies a credential's table list (API keys, OAuth) to a
// relation, which it may name bare or schema-qualified.
func tableAllowed(id identity.Identity, rel *schema.Relation) bool {
	return id.TableAllowed(rel.Name) || id.TableAllowed(rel.Schema+"."+rel.Name)
}

// canSee reports whether the caller may see the relation at all.
func canSee(id identity.Identity, rel *schema.Relation) bool {
	return rel != nil && rel.Visible(id.Role) && tableAllowed(id, rel)
}

// outOfScope is the answer for a relation the caller's role may see but
// its credential (an API key or OAuth token with a table list) may not
// touch: 403, because the credential's scope, not Postgres, refuses it.
func outOfScope(rel *schema.Relation) error {
	return apierror.New(apierror.CodeInsufficientScope, "this credential may not use "+quote(rel.Path)).
		WithDetails(map[string]any{"table": rel.Path}).
		WithHint("use a credential whose table list includes it")
}

// relation resolves {table} for the caller, answering 404 for what its
// role cannot see and 403 for what its credential's table list excludes.
func relation(r *http.Request, snap *schema.Snapshot, id identity.Identity) (*schema.Relation, error) {
	name := chi.URLParam(r, "table")
	rel, amb := snap.Relation(name)
	if canSee(id, rel) {
		return rel, nil
	}
	if rel != nil && rel.Visible(id.Role) && !tableAllowed(id, rel) {
		return nil, outOfScope(rel)
	}
	var visible []string
	for _, q := range amb {
		if cand, _ := snap.Relation(q); canSee(id, cand) {
			visible = append(visible, q)
		}
	}
	if len(visible) == 1 {
		rel, _ := snap.Relation(visible[0])
		return rel, nil
	}
	e := apierror.NotFound("no collection named " + quote(name))
	if len(visible) > 1 {
		e = e.WithHint("the name is in several schemas; use one of " + strings.Join(visible, ", "))
	}
	return nil, e
}

// requireWrite refuses writes by read-only credentials and to relations
// that cannot be written.
func requireWrite(id identity.Identity, rel *schema.Relation, what string) error {
	if !id.CanWrite() {
		return apierror.New(apierror.CodeInsufficientScope, "this credential may not write").
			WithHint("use a credential with the write scope")
	}
	if rel.Kind == schema.KindMatview {
		return apierror.New(apierror.CodeMethodNotAllowed, quote(rel.Path)+" is a materialized view and is read-only")
	}
	if rel.Kind == schema.KindView {
		ok := map[string]bool{"insert": rel.Updatable&(1<<3) != 0, "update": rel.Updatable&(1<<2) != 0, "delete": rel.Updatable&(1<<4) != 0}[what]
		if !ok {
			return apierror.New(apierror.CodeMethodNotAllowed, quote(rel.Path)+" is a view that cannot "+what+" rows")
		}
	}
	return nil
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// readableColumns returns the columns the role may select, by name.
func readableColumns(rel *schema.Relation, role string) map[string]*schema.Column {
	out := map[string]*schema.Column{}
	for _, c := range rel.Readable(role) {
		out[c.Name] = c
	}
	return out
}
