package job

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/db"
)

// SQLArgs are the args of a job of kind `sql`.
type SQLArgs struct {
	// Function is the (schema-qualified) name of a function taking one jsonb.
	Function string `json:"function"`
	// Args is passed to it.
	Args json.RawMessage `json:"args"`
}

// RegisterBuiltins registers the built-in kinds that need only the
// database: `sql` and `housekeeping`. (`matview.refresh` is registered by
// package matview.)
func RegisterBuiltins(reg *Registry, d *db.DB) {
	reg.Handle("sql", func(ctx context.Context, j *Job) error {
		var a SQLArgs
		if err := json.Unmarshal(j.Args, &a); err != nil || a.Function == "" {
			return Discard(fmt.Errorf(`sql job: args must be {"function": "schema.name", "args": {...}}`))
		}
		if len(a.Args) == 0 {
			a.Args = json.RawMessage("{}")
		}
		// The function runs as service_role (BYPASSRLS, no rights on schema
		// ayb), never as the server's own role.
		return pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, qAsServiceRole); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, qRunSQL, a.Function, string(a.Args))
			return err
		})
	}, KindOptions{})
	reg.Handle("housekeeping", func(ctx context.Context, j *Job) error {
		args := j.Args
		if len(args) == 0 {
			args = json.RawMessage("{}")
		}
		rows, err := d.Pool.Query(ctx, qHousekeeping, string(args))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var n int64
			if err := rows.Scan(&name, &n); err != nil {
				return err
			}
		}
		return rows.Err()
	}, KindOptions{})
}
