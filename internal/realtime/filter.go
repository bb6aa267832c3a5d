package realtime

import (
	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/filter"
	"github.com/aybhq/ayb/internal/schema"
)

// SchemaFilters compiles subscription filters with the REST filter
// language (internal/filter), typing columns from the REST schema cache:
// one grammar for both, so a filter that works in a list works in a
// subscription.
type SchemaFilters struct {
	Cache *schema.Cache
}

// Compile implements FilterCompiler.
func (f SchemaFilters) Compile(t FilterTable, text string) (CompiledFilter, error) {
	node, err := filter.Parse(text)
	if err != nil {
		return CompiledFilter{}, err
	}
	rel, _ := f.Cache.Snapshot().Relation(t.Name)
	if rel == nil {
		return CompiledFilter{}, apierror.BadRequest("filters work on tables exposed by the REST API; " + t.Name + " is not")
	}
	allowed := make(map[string]bool, len(t.Columns))
	for _, c := range t.Columns {
		allowed[c] = true
	}
	var used []string
	seen := map[string]bool{}
	c, err := filter.Compile(node, func(name string) (*filter.Column, bool) {
		col := rel.Column(name)
		if col == nil || !allowed[name] {
			return nil, false
		}
		if !seen[name] {
			seen[name] = true
			used = append(used, name)
		}
		return &filter.Column{Name: col.Name, Type: col.Type, Category: col.Category, ElemType: col.ElemType, ElemCategory: col.ElemCategory}, true
	}, filterAlias, t.FirstParam-1)
	if err != nil {
		return CompiledFilter{}, err
	}
	return CompiledFilter{SQL: c.SQL, Args: c.Args, Columns: used}, nil
}
