package rest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// appendList writes what encoding/json wrote for the list envelope before:
// the same keys and values, Postgres's items untouched.
func TestAppendListIsTheEnvelopeJSON(t *testing.T) {
	for _, c := range []struct {
		name                 string
		page, perPage        int
		totalItems, totalPgs int64
		items, after         string
		wantAfter, wantItems any
	}{
		{"first page with a cursor", 1, 20, 41, 3, "[{\"id\":1,\"t\":\"a \\\"q\\\"\"}, \n {\"id\":2,\"t\":null}]", "eyJzIjpbIi1pZCJdfQ",
			"eyJzIjpbIi1pZCJdfQ", []any{map[string]any{"id": 1.0, "t": "a \"q\""}, map[string]any{"id": 2.0, "t": nil}}},
		{"skipTotal, no cursor", 2, 5, -1, -1, "[]", "", nil, []any{}},
		{"keyset page", 0, 500, -1, -1, "[{\"x\":[1,2]}]", "abc-_", "abc-_", []any{map[string]any{"x": []any{1.0, 2.0}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := appendList(nil, c.page, c.perPage, c.totalItems, c.totalPgs, c.items, c.after)
			require.True(t, json.Valid(b), string(b))
			var got map[string]any
			require.NoError(t, json.Unmarshal(b, &got))
			require.Equal(t, map[string]any{"page": float64(c.page), "perPage": float64(c.perPage),
				"totalItems": float64(c.totalItems), "totalPages": float64(c.totalPgs),
				"items": c.wantItems, "after": c.wantAfter}, got)
		})
	}
}
