// Package schema is the REST API's schema cache: the relations (tables,
// views, materialized views), their columns, keys and foreign keys, and the
// functions of the exposed schemas, with what each API role may do with
// them. It is introspected at start and reloaded on every instance when an
// event trigger signals DDL (NOTIFY ayb_schema). Readers take an immutable
// Snapshot; a reload swaps the pointer.
package schema

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/db"
)

// Channel is the NOTIFY channel the DDL event trigger signals.
const Channel = "ayb_schema"

// Forbidden lists schemas that are never exposed, whatever the config says.
var Forbidden = []string{"ayb", "auth", "extensions", "information_schema"}

// ValidateSchemas refuses config that would expose a private schema.
func ValidateSchemas(names []string) error {
	for _, n := range names {
		if strings.HasPrefix(n, "pg_") {
			return fmt.Errorf("schema %q cannot be exposed", n)
		}
		for _, f := range Forbidden {
			if n == f {
				return fmt.Errorf("schema %q cannot be exposed", n)
			}
		}
	}
	return nil
}

//go:embed queries/introspect.sql
var introspectSQL string

// Relation kinds.
const (
	KindTable   = "table"
	KindView    = "view"
	KindMatview = "matview"
)

// Privileges are what one API role may do with a relation.
type Privileges struct {
	Usage  bool `json:"usage"`
	Select bool `json:"select"`
	Insert bool `json:"insert"`
	Update bool `json:"update"`
	Delete bool `json:"delete"`
}

// ColumnPrivileges are what one API role may do with a column.
type ColumnPrivileges struct {
	Select bool `json:"select"`
	Insert bool `json:"insert"`
	Update bool `json:"update"`
}

// Column is one column of a relation.
type Column struct {
	Name string `json:"name"`
	// Type is the SQL type name, schema-qualified when not in pg_catalog;
	// safe to write into a cast.
	Type string `json:"type"`
	// Category is pg_type.typcategory: N numeric, S string, B boolean,
	// D date/time, U user (uuid, json, jsonb), A array, E enum, ...
	Category     string                      `json:"category"`
	ElemType     string                      `json:"elemType"`
	ElemCategory string                      `json:"elemCategory"`
	NotNull      bool                        `json:"notNull"`
	HasDefault   bool                        `json:"hasDefault"`
	Generated    bool                        `json:"generated"`
	Comment      string                      `json:"comment"`
	Privileges   map[string]ColumnPrivileges `json:"privileges"`
}

// IsJSON reports whether the column holds json or jsonb.
func (c *Column) IsJSON() bool { return c.Type == "jsonb" || c.Type == "json" }

// IsArray reports whether the column is an array.
func (c *Column) IsArray() bool { return c.Category == "A" }

// ForeignKey is a foreign key from Columns of one relation to RefColumns of
// another.
type ForeignKey struct {
	Name       string   `json:"name"`
	Columns    []string `json:"columns"`
	RefSchema  string   `json:"refSchema"`
	RefTable   string   `json:"refTable"`
	RefColumns []string `json:"refColumns"`
}

// Relation is a table, view or materialized view.
type Relation struct {
	Schema        string                `json:"schema"`
	Name          string                `json:"name"`
	Kind          string                `json:"kind"`
	Updatable     int                   `json:"updatable"`
	RLS           bool                  `json:"rls"` // row-level security enabled
	Comment       string                `json:"comment"`
	Privileges    map[string]Privileges `json:"privileges"`
	Columns       []*Column             `json:"columns"`
	PrimaryKey    []string              `json:"primaryKey"`
	ForeignKeys   []*ForeignKey         `json:"foreignKeys"`
	SearchIndexes []string              `json:"searchIndexes"`

	// Path is how the API addresses it: Name, or schema.Name when two
	// exposed schemas share the name.
	Path      string          `json:"-"`
	Relations []*Relationship `json:"-"`
	cols      map[string]*Column
}

// Column returns the named column, or nil.
func (r *Relation) Column(name string) *Column { return r.cols[name] }

// Qualified returns the relation's quoted, schema-qualified name for SQL.
func (r *Relation) Qualified() string {
	return pgx.Identifier{r.Schema, r.Name}.Sanitize()
}

// Role returns what role may do with the relation as a whole. A role
// without USAGE on the schema may do nothing.
func (r *Relation) Role(role string) Privileges {
	p := r.Privileges[role]
	if !p.Usage {
		return Privileges{}
	}
	if r.Kind == KindMatview {
		p.Insert, p.Update, p.Delete = false, false, false
	}
	if r.Kind == KindView {
		// pg_relation_is_updatable bits: 1<<CMD_UPDATE(2), 1<<CMD_INSERT(3), 1<<CMD_DELETE(4).
		p.Update = p.Update && r.Updatable&(1<<2) != 0
		p.Insert = p.Insert && r.Updatable&(1<<3) != 0
		p.Delete = p.Delete && r.Updatable&(1<<4) != 0
	}
	return p
}

// Visible reports whether role can see the relation at all: it may select,
// insert, update or delete it, or select one of its columns.
func (r *Relation) Visible(role string) bool {
	p := r.Role(role)
	if !p.Usage {
		return false
	}
	if p.Select || p.Insert || p.Update || p.Delete {
		return true
	}
	for _, c := range r.Columns {
		cp := c.Privileges[role]
		if cp.Select || cp.Insert || cp.Update {
			return true
		}
	}
	return false
}

// Readable returns the columns role may select, in table order.
func (r *Relation) Readable(role string) []*Column {
	if !r.Role(role).Usage {
		return nil
	}
	out := make([]*Column, 0, len(r.Columns))
	for _, c := range r.Columns {
		if c.Privileges[role].Select {
			out = append(out, c)
		}
	}
	return out
}

// Relationship is a foreign key seen from one side, named for expand:
// many-to-one (this relation holds the key; expands to an object) or
// one-to-many (the other relation holds it; expands to an array).
type Relationship struct {
	Name   string
	Many   bool // one-to-many
	Target *Relation
	// Local columns on this relation and Remote columns on Target, pairwise.
	Local, Remote []string
}

// Function is a callable function of an exposed schema.
type Function struct {
	Schema     string `json:"schema"`
	Name       string `json:"name"`
	Volatility string `json:"volatility"` // i, s or v
	Retset     bool   `json:"retset"`
	ReturnType string `json:"returnType"`
	// ReturnKind is void, scalar, composite or record.
	ReturnKind   string          `json:"returnKind"`
	NArgDefaults int             `json:"nargdefaults"`
	Variadic     bool            `json:"variadic"`
	Comment      string          `json:"comment"`
	Args         []*Arg          `json:"args"`
	Privileges   map[string]bool `json:"privileges"`

	Path string `json:"-"`
}

// Arg is one argument of a function.
type Arg struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Category string `json:"category"`
	ElemType string `json:"elemType"`
	Mode     string `json:"mode"` // i, o, b (inout), v (variadic), t (table)
	// HasDefault is set for trailing input arguments with defaults.
	HasDefault bool `json:"-"`
}

// Inputs returns the input arguments in order.
func (f *Function) Inputs() []*Arg {
	var in []*Arg
	for _, a := range f.Args {
		if a.Mode == "i" || a.Mode == "b" || a.Mode == "v" {
			in = append(in, a)
		}
	}
	return in
}

// Outputs returns the OUT/INOUT/TABLE arguments (the columns of a record result).
func (f *Function) Outputs() []*Arg {
	var out []*Arg
	for _, a := range f.Args {
		if a.Mode == "o" || a.Mode == "b" || a.Mode == "t" {
			out = append(out, a)
		}
	}
	return out
}

// Qualified returns the function's quoted, schema-qualified name for SQL.
func (f *Function) Qualified() string { return pgx.Identifier{f.Schema, f.Name}.Sanitize() }

// Callable reports whether the function can be called by named arguments
// over the API: every input named, not variadic, a result we can render.
func (f *Function) Callable() bool {
	if f.Variadic || (f.ReturnKind == "record" && len(f.Outputs()) == 0) {
		return false
	}
	for _, a := range f.Inputs() {
		if a.Name == "" {
			return false
		}
	}
	return true
}

// Snapshot is one immutable view of the exposed schema.
type Snapshot struct {
	Schemas   []string
	Relations []*Relation
	Functions []*Function
	byPath    map[string]*Relation
	byQual    map[string]*Relation
	funcs     map[string][]*Function
}

// Relation resolves an API name: "name" when unique across the exposed
// schemas, or "schema.name". ok is false when there is no such relation or
// the name is ambiguous (then ambiguous lists the qualified names).
func (s *Snapshot) Relation(name string) (rel *Relation, ambiguous []string) {
	if r, ok := s.byQual[name]; ok {
		return r, nil
	}
	if r, ok := s.byPath[name]; ok {
		return r, nil
	}
	for _, r := range s.Relations {
		if r.Name == name {
			ambiguous = append(ambiguous, r.Schema+"."+r.Name)
		}
	}
	return nil, ambiguous
}

// Functions returns the overloads of a function by API name.
func (s *Snapshot) Function(name string) []*Function { return s.funcs[name] }

// Load introspects the exposed schemas.
func Load(ctx context.Context, d *db.DB, schemas []string) (*Snapshot, error) {
	if err := ValidateSchemas(schemas); err != nil {
		return nil, err
	}
	var doc string
	err := d.System(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "set local search_path = ''; set local jit = off"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, introspectSQL, schemas).Scan(&doc)
	})
	if err != nil {
		return nil, fmt.Errorf("schema: introspect: %w", err)
	}
	return build(schemas, []byte(doc))
}

var regconfigRE = regexp.MustCompile(`'([A-Za-z_][A-Za-z0-9_.]*)'::regconfig`)

// SearchConfig returns the text search configuration named in a search
// index expression, or "simple".
func SearchConfig(expr string) string {
	if m := regconfigRE.FindStringSubmatch(expr); m != nil {
		return m[1]
	}
	return "simple"
}

func build(schemas []string, doc []byte) (*Snapshot, error) {
	var raw struct {
		Relations []*Relation `json:"relations"`
		Functions []*Function `json:"functions"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("schema: decode introspection: %w", err)
	}
	s := &Snapshot{
		Schemas:   schemas,
		Relations: raw.Relations,
		byPath:    map[string]*Relation{},
		byQual:    map[string]*Relation{},
		funcs:     map[string][]*Function{},
	}
	count := map[string]int{}
	for _, r := range s.Relations {
		count[r.Name]++
	}
	for _, r := range s.Relations {
		r.cols = make(map[string]*Column, len(r.Columns))
		for _, c := range r.Columns {
			r.cols[c.Name] = c
		}
		r.Path = r.Name
		if count[r.Name] > 1 {
			r.Path = r.Schema + "." + r.Name
		}
		s.byPath[r.Path] = r
		s.byQual[r.Schema+"."+r.Name] = r
	}
	s.linkRelationships()

	fcount := map[string]map[string]bool{}
	for _, f := range raw.Functions {
		if fcount[f.Name] == nil {
			fcount[f.Name] = map[string]bool{}
		}
		fcount[f.Name][f.Schema] = true
	}
	for _, f := range raw.Functions {
		in := f.Inputs()
		for i := len(in) - f.NArgDefaults; i < len(in); i++ {
			if i >= 0 {
				in[i].HasDefault = true
			}
		}
		if !f.Callable() {
			continue
		}
		f.Path = f.Name
		if len(fcount[f.Name]) > 1 {
			f.Path = f.Schema + "." + f.Name
		}
		s.Functions = append(s.Functions, f)
		s.funcs[f.Path] = append(s.funcs[f.Path], f)
		if f.Path != f.Schema+"."+f.Name {
			s.funcs[f.Schema+"."+f.Name] = append(s.funcs[f.Schema+"."+f.Name], f)
		}
	}
	return s, nil
}

// linkRelationships names every foreign key from both ends, for expand.
// Many-to-one: the key column without its "_id" suffix (author_id → author)
// for single-column keys, else the referenced table's name. One-to-many:
// the referencing table's name, or name_via_column when that table holds
// several keys to the same relation. A name that would shadow another is
// qualified the same way.
func (s *Snapshot) linkRelationships() {
	for _, r := range s.Relations {
		for _, fk := range r.ForeignKeys {
			target := s.byQual[fk.RefSchema+"."+fk.RefTable]
			if target == nil {
				continue // references a relation outside the exposed schemas
			}
			name := target.Name
			if len(fk.Columns) == 1 && strings.HasSuffix(fk.Columns[0], "_id") && len(fk.Columns[0]) > 3 {
				name = strings.TrimSuffix(fk.Columns[0], "_id")
			}
			r.Relations = append(r.Relations, &Relationship{Name: name, Target: target, Local: fk.Columns, Remote: fk.RefColumns})
			target.Relations = append(target.Relations, &Relationship{Name: r.Name, Many: true, Target: r, Local: fk.RefColumns, Remote: fk.Columns})
		}
	}
	for _, r := range s.Relations {
		seen := map[string]int{}
		for _, rel := range r.Relations {
			seen[rel.Name]++
		}
		for _, rel := range r.Relations {
			if seen[rel.Name] > 1 || r.cols[rel.Name] != nil {
				via := rel.Remote // the child's key columns
				if !rel.Many {
					via = rel.Local
				}
				rel.Name = rel.Name + "_via_" + strings.Join(via, "_")
			}
		}
		sort.SliceStable(r.Relations, func(i, j int) bool { return r.Relations[i].Name < r.Relations[j].Name })
	}
}

// Relationship returns the named relationship of r, or nil.
func (r *Relation) Relationship(name string) *Relationship {
	for _, rel := range r.Relations {
		if rel.Name == name {
			return rel
		}
	}
	return nil
}
