package rest

import (
	"net/http"
	"strings"

	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/schema"
	"github.com/aybhq/ayb/internal/web"
)

type columnView struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Nullable   bool   `json:"nullable"`
	HasDefault bool   `json:"hasDefault"`
	Generated  bool   `json:"generated"`
	Readable   bool   `json:"readable"`
	Insertable bool   `json:"insertable"`
	Updatable  bool   `json:"updatable"`
	Comment    string `json:"comment,omitempty"`
}

type relationView struct {
	Name     string `json:"name"`
	Schema   string `json:"schema"`
	Table    string `json:"table"`
	Kind     string `json:"kind"`
	Expand   string `json:"expand,omitempty"` // one (object) or many (array)
	Relation string `json:"collection,omitempty"`
}

type collectionView struct {
	Name       string         `json:"name"`
	Schema     string         `json:"schema"`
	Table      string         `json:"table"`
	Kind       string         `json:"kind"`
	Comment    string         `json:"comment,omitempty"`
	PrimaryKey []string       `json:"primaryKey"`
	Columns    []columnView   `json:"columns"`
	Relations  []relationView `json:"relations"`
	Privileges struct {
		Select bool `json:"select"`
		Insert bool `json:"insert"`
		Update bool `json:"update"`
		Delete bool `json:"delete"`
	} `json:"privileges"`
}

type argView struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

type functionView struct {
	Name       string    `json:"name"`
	Schema     string    `json:"schema"`
	Args       []argView `json:"args"`
	Returns    string    `json:"returns"`
	ReturnsSet bool      `json:"returnsSet"`
	Volatility string    `json:"volatility"`
	Methods    []string  `json:"methods"`
	Comment    string    `json:"comment,omitempty"`
}

type schemaView struct {
	Collections []collectionView `json:"collections"`
	Functions   []functionView   `json:"functions"`
}

// describe returns what the caller may see of the schema.
func describe(snap *schema.Snapshot, id identity.Identity) schemaView {
	v := schemaView{Collections: []collectionView{}, Functions: []functionView{}}
	write := id.CanWrite()
	for _, rel := range snap.Relations {
		if !canSee(id, rel) {
			continue
		}
		p := rel.Role(id.Role)
		c := collectionView{Name: rel.Path, Schema: rel.Schema, Table: rel.Name, Kind: rel.Kind, Comment: rel.Comment,
			PrimaryKey: rel.PrimaryKey, Columns: []columnView{}, Relations: []relationView{}}
		c.Privileges.Select = p.Select
		c.Privileges.Insert = p.Insert && write
		c.Privileges.Update = p.Update && write
		c.Privileges.Delete = p.Delete && write
		for _, col := range rel.Columns {
			cp := col.Privileges[id.Role]
			if !p.Usage || !(cp.Select || cp.Insert || cp.Update) {
				continue
			}
			ro := rel.Kind == schema.KindMatview || !write
			c.Columns = append(c.Columns, columnView{Name: col.Name, Type: col.Type, Nullable: !col.NotNull,
				HasDefault: col.HasDefault, Generated: col.Generated, Readable: cp.Select,
				Insertable: cp.Insert && !ro && !col.Generated, Updatable: cp.Update && !ro && !col.Generated, Comment: col.Comment})
		}
		for _, link := range rel.Relations {
			if !canSee(id, link.Target) || !columnsReadable(rel, link.Local, id.Role) || !columnsReadable(link.Target, link.Remote, id.Role) {
				continue
			}
			kind := "one"
			if link.Many {
				kind = "many"
			}
			c.Relations = append(c.Relations, relationView{Name: link.Name, Schema: link.Target.Schema, Table: link.Target.Name,
				Kind: kind, Relation: link.Target.Path})
		}
		v.Collections = append(v.Collections, c)
	}
	for _, f := range snap.Functions {
		if !canCall(id, f) {
			continue
		}
		fv := functionView{Name: f.Path, Schema: f.Schema, Args: []argView{}, Returns: f.ReturnType, ReturnsSet: f.Retset,
			Volatility: map[string]string{"i": "immutable", "s": "stable", "v": "volatile"}[f.Volatility], Comment: f.Comment}
		for _, a := range f.Inputs() {
			fv.Args = append(fv.Args, argView{Name: a.Name, Type: a.Type, Required: !a.HasDefault})
		}
		fv.Methods = []string{"POST"}
		if f.Volatility != "v" {
			fv.Methods = []string{"GET", "POST"}
		}
		v.Functions = append(v.Functions, fv)
	}
	return v
}

// Schema answers GET /api/schema: the collections, columns, relations and
// functions the caller may see, with what they may do.
func (h *Handler) Schema(w http.ResponseWriter, r *http.Request) error {
	web.WriteJSON(w, http.StatusOK, describe(h.schema.Snapshot(), identity.From(r.Context())))
	return nil
}

// jsonSchema maps a column type to a JSON Schema.
func jsonSchema(typ, category string) map[string]any {
	switch {
	case category == "A":
		return map[string]any{"type": "array"}
	case typ == "json" || typ == "jsonb":
		return map[string]any{}
	case typ == "smallint" || typ == "integer" || typ == "bigint":
		return map[string]any{"type": "integer"}
	case category == "N":
		return map[string]any{"type": "number"}
	case category == "B":
		return map[string]any{"type": "boolean"}
	case typ == "uuid":
		return map[string]any{"type": "string", "format": "uuid"}
	case typ == "date":
		return map[string]any{"type": "string", "format": "date"}
	case strings.HasPrefix(typ, "timestamp"):
		return map[string]any{"type": "string", "format": "date-time"}
	}
	return map[string]any{"type": "string"}
}

// OpenAPI answers GET /api/openapi.json: an OpenAPI 3.1 document of what
// the caller may see and do, generated from the schema cache.
func (h *Handler) OpenAPI(w http.ResponseWriter, r *http.Request) error {
	id := identity.From(r.Context())
	snap := h.schema.Snapshot()
	view := describe(snap, id)
	paths := map[string]any{}
	schemas := map[string]any{}
	errorRef := map[string]any{"$ref": "#/components/responses/Error"}
	for _, c := range view.Collections {
		props := map[string]any{}
		var required []string
		for _, col := range c.Columns {
			rel, _ := snap.Relation(c.Schema + "." + c.Table)
			cat := ""
			if rc := rel.Column(col.Name); rc != nil {
				cat = rc.Category
			}
			s := jsonSchema(col.Type, cat)
			if col.Nullable {
				if t, ok := s["type"].(string); ok {
					s["type"] = []string{t, "null"}
				}
			}
			s["x-pg-type"] = col.Type
			props[col.Name] = s
			if !col.Nullable && !col.HasDefault && !col.Generated {
				required = append(required, col.Name)
			}
		}
		sch := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			sch["required"] = required
		}
		schemas[c.Name] = sch
		ref := map[string]any{"$ref": "#/components/schemas/" + c.Name}
		rowResp := map[string]any{"description": "a row", "content": map[string]any{"application/json": map[string]any{"schema": ref}}}
		base := "/api/collections/" + c.Name
		coll := map[string]any{}
		if c.Privileges.Select || len(c.Columns) > 0 {
			coll["get"] = map[string]any{
				"operationId": "list_" + c.Name, "summary": "List " + c.Name,
				"parameters": listParams(),
				"responses": map[string]any{"200": map[string]any{"description": "a page of rows", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
					"type": "object", "properties": map[string]any{
						"page": map[string]any{"type": "integer"}, "perPage": map[string]any{"type": "integer"},
						"totalItems": map[string]any{"type": "integer"}, "totalPages": map[string]any{"type": "integer"},
						"after": map[string]any{"type": []string{"string", "null"}}, "items": map[string]any{"type": "array", "items": ref}}}}}},
					"default": errorRef}}
		}
		if c.Privileges.Insert {
			coll["post"] = map[string]any{"operationId": "create_" + c.Name, "summary": "Create a row in " + c.Name,
				"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref}}},
				"responses":   map[string]any{"201": rowResp, "default": errorRef}}
		}
		if len(coll) > 0 {
			paths[base] = coll
		}
		if len(c.PrimaryKey) > 0 {
			item := map[string]any{"parameters": []any{map[string]any{"name": "id", "in": "path", "required": true,
				"description": "primary key (" + strings.Join(c.PrimaryKey, ", ") + "), comma-separated in that order", "schema": map[string]any{"type": "string"}}}}
			item["get"] = map[string]any{"operationId": "get_" + c.Name, "responses": map[string]any{"200": rowResp, "default": errorRef}}
			if c.Privileges.Update {
				item["patch"] = map[string]any{"operationId": "update_" + c.Name,
					"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref}}},
					"responses":   map[string]any{"200": rowResp, "default": errorRef}}
			}
			if c.Privileges.Delete {
				item["delete"] = map[string]any{"operationId": "delete_" + c.Name, "responses": map[string]any{"204": map[string]any{"description": "deleted"}, "default": errorRef}}
			}
			paths[base+"/{id}"] = item
		}
		if c.Privileges.Insert || c.Privileges.Update || c.Privileges.Delete {
			paths[base+"/batch"] = map[string]any{"post": map[string]any{"operationId": "batch_" + c.Name,
				"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
					"type": "object", "properties": map[string]any{"operations": map[string]any{"type": "array", "maxItems": MaxBatchOps}}}}}},
				"responses": map[string]any{"200": map[string]any{"description": "per-operation results"}, "default": errorRef}}}
		}
	}
	for _, f := range view.Functions {
		props := map[string]any{}
		var required []string
		for _, a := range f.Args {
			props[a.Name] = map[string]any{"x-pg-type": a.Type}
			if a.Required {
				required = append(required, a.Name)
			}
		}
		body := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			body["required"] = required
		}
		op := map[string]any{"operationId": "rpc_" + f.Name, "summary": f.Comment,
			"responses": map[string]any{"200": map[string]any{"description": "result"}, "204": map[string]any{"description": "void"}, "default": errorRef}}
		item := map[string]any{"post": withBody(op, body)}
		if f.Volatility != "volatile" {
			var params []any
			for _, a := range f.Args {
				params = append(params, map[string]any{"name": a.Name, "in": "query", "required": a.Required, "schema": map[string]any{"type": "string"}})
			}
			get := map[string]any{"operationId": "rpc_get_" + f.Name, "summary": f.Comment, "responses": op["responses"]}
			if params != nil {
				get["parameters"] = params
			}
			item["get"] = get
		}
		paths["/api/rpc/"+f.Name] = item
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "AYB REST API", "version": "1", "description": "Generated for the caller's role (" + id.Role + "): only what it may see is listed."},
		"paths":   paths,
		"components": map[string]any{
			"schemas": schemas,
			"responses": map[string]any{"Error": map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
				"type": "object", "required": []string{"code", "message"}, "properties": map[string]any{
					"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"},
					"details": map[string]any{}, "hint": map[string]any{"type": []string{"string", "null"}}}}}}}},
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
		"security": []any{map[string]any{"bearer": []string{}}, map[string]any{}},
	}
	web.WriteJSON(w, http.StatusOK, doc)
	return nil
}

func withBody(op map[string]any, body map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range op {
		out[k] = v
	}
	out["requestBody"] = map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": body}}}
	return out
}

func listParams() []any {
	p := func(name, typ, desc string) any {
		return map[string]any{"name": name, "in": "query", "schema": map[string]any{"type": typ}, "description": desc}
	}
	return []any{
		p("filter", "string", "filter expression, e.g. title ~ 'draft' && views > 10"),
		p("sort", "string", "comma-separated columns, - for descending"),
		p("fields", "string", "comma-separated columns to return"),
		p("page", "integer", "page number from 1"),
		p("perPage", "integer", "rows per page (max 500)"),
		p("skipTotal", "boolean", "skip counting totalItems"),
		p("after", "string", "keyset cursor from the previous page"),
		p("expand", "string", "comma-separated relations, dot-nested"),
		p("expandLimit", "integer", "most rows of a one-to-many expansion"),
		p("search", "string", "full-text search"),
	}
}
