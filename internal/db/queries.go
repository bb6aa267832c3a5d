package db

import (
	"io/fs"
	"strings"
)

// QueryFile returns the fixed query in queries/<name>.sql of fsys (an
// embedded folder), trimmed. Packages load their queries at init, so a
// missing file panics at once and any test of the package catches it.
func QueryFile(fsys fs.FS, name string) string {
	b, err := fs.ReadFile(fsys, "queries/"+name+".sql")
	if err != nil {
		panic("db: no query file queries/" + name + ".sql: " + err.Error())
	}
	return strings.TrimSpace(string(b))
}

// NamedQueries splits one SQL file into its "-- name: x" sections.
func NamedQueries(src string) map[string]string {
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
