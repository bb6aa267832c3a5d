package app

import (
	_ "embed"
	"strings"
)

//go:embed queries.sql
var queriesSQL string

// queries maps each "-- name: x" section of queries.sql to its SQL.
var queries = parseQueries(queriesSQL)

func parseQueries(src string) map[string]string {
	out := map[string]string{}
	name := ""
	var b strings.Builder
	flush := func() {
		if name != "" {
			out[name] = strings.TrimSpace(b.String())
		}
		b.Reset()
	}
	for _, line := range strings.Split(src, "\n") {
		if n, ok := strings.CutPrefix(line, "-- name: "); ok {
			flush()
			name = strings.TrimSpace(n)
			continue
		}
		if name != "" {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	flush()
	return out
}

func query(name string) string {
	q, ok := queries[name]
	if !ok {
		panic("app: no query " + name)
	}
	return q
}
