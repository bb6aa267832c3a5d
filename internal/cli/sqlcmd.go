package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"
)

// runSQL runs one statement as the admin role (like psql) and prints the
// result as a table, or as JSON rows with --json.
func runSQL(ctx context.Context, args []string, stdout io.Writer) error {
	cf := newFlags("sql")
	asJSON := cf.fs.Bool("json", false, "print rows as a JSON array")
	pos, err := positional(cf.fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New(`usage: ayb sql "<statement>" [--json]`)
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	rt, err := Connect(ctx, cfg, true, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	conn, err := pgx.Connect(ctx, rt.AdminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return printQuery(ctx, conn, joinArgs(pos), *asJSON, stdout)
}

func printQuery(ctx context.Context, conn *pgx.Conn, sql string, asJSON bool, w io.Writer) error {
	rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return err
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	var names []string
	for _, f := range fields {
		names = append(names, f.Name)
	}
	var out []map[string]any
	var table [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		m := map[string]any{}
		var cells []string
		for i, v := range vals {
			m[names[i]] = v
			cells = append(cells, cellString(v))
		}
		out = append(out, m)
		table = append(table, cells)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if asJSON {
		if out == nil {
			out = []map[string]any{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(fields) == 0 {
		fmt.Fprintln(w, rows.CommandTag().String())
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(names, "\t"))
	seps := make([]string, len(names))
	for i, n := range names {
		seps[i] = strings.Repeat("-", len(n))
	}
	fmt.Fprintln(tw, strings.Join(seps, "\t"))
	for _, r := range table {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "(%d row%s)\n", len(table), plural(len(table)))
	return nil
}

func cellString(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return fmt.Sprintf("\\x%x", x)
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.Trim(string(b), `"`)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
