package realtime

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/web"
)

// Querier is what the table-management functions need (a pool or a conn).
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// EnabledTable is a table with capture installed.
type EnabledTable struct {
	Table     string    `json:"table"`
	PKColumns []string  `json:"pk_columns"`
	EnabledAt time.Time `json:"enabled_at"`
}

// Enable installs capture on table (ayb.realtime_enable).
func Enable(ctx context.Context, q Querier, table string) error {
	_, err := q.Exec(ctx, qEnable, table)
	return db.Translate(err)
}

// Disable removes capture from table (ayb.realtime_disable).
func Disable(ctx context.Context, q Querier, table string) error {
	_, err := q.Exec(ctx, qDisable, table)
	return db.Translate(err)
}

// List returns the tables with capture installed.
func List(ctx context.Context, q Querier) ([]EnabledTable, error) {
	rows, err := q.Query(ctx, qList)
	if err != nil {
		return nil, db.Translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EnabledTable, error) {
		var t EnabledTable
		err := r.Scan(&t.Table, &t.PKColumns, &t.EnabledAt)
		return t, err
	})
	if err != nil {
		return nil, db.Translate(err)
	}
	if out == nil {
		out = []EnabledTable{}
	}
	return out, nil
}

func requireAdmin(r *http.Request) error {
	if !identity.From(r.Context()).IsAdmin() {
		return apierror.Forbidden("admin only")
	}
	return nil
}

// AdminList is GET /api/admin/realtime/tables.
func (s *Service) AdminList(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	list, err := List(r.Context(), s.pool)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"tables": list})
	return nil
}

// AdminEnable is POST /api/admin/realtime/tables {"table": "messages"}.
func (s *Service) AdminEnable(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	var body struct {
		Table string `json:"table"`
	}
	if err := web.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.Table == "" {
		return apierror.Validation("table is required")
	}
	if err := Enable(r.Context(), s.pool, body.Table); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"table": body.Table, "enabled": true})
	return nil
}

// AdminDisable is DELETE /api/admin/realtime/tables/{table}.
func (s *Service) AdminDisable(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	if err := Disable(r.Context(), s.pool, chi.URLParam(r, "table")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
