package db

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Requests run under SET ROLE, which (unlike a login) applies none of the
// role's own settings. The one that matters for an API is statement_timeout:
// `alter role anon set statement_timeout = '3s'` is how an admin bounds
// what an anonymous caller may make the database do, as in Supabase. The
// server reads the API roles' statement_timeout from the catalog and sets
// it in each request's transaction (set_config(..., true), so it ends with
// the request). Only statement_timeout is taken: the others a role may carry
// (lock_timeout among them) would undo settings the server's own
// connections rely on.

// roleSettingsSQL lists each API role's statement_timeout, the setting for
// this database (ALTER ROLE ... IN DATABASE) after the one for every
// database, so the later one wins.
const roleSettingsSQL = `
select r.rolname, substr(s.setting, length('statement_timeout=') + 1)
from pg_catalog.pg_db_role_setting d
join pg_catalog.pg_roles r on r.oid = d.setrole
cross join lateral unnest(d.setconfig) as s(setting)
where r.rolname in ('anon', 'authenticated', 'service_role')
  and d.setdatabase in (0, (select oid from pg_catalog.pg_database where datname = current_database()))
  and s.setting like 'statement\_timeout=%'
order by d.setdatabase`

// LoadRoleSettings reads the API roles' statement_timeout. The schema cache
// calls it on each reload, so `notify ayb_schema` (or any DDL) after an
// ALTER ROLE reaches every instance; Open calls it first.
func (d *DB) LoadRoleSettings(ctx context.Context) error {
	m, err := RoleStatementTimeouts(ctx, d.Pool)
	if err != nil {
		return err
	}
	d.timeouts.Store(&m)
	return nil
}

// RoleStatementTimeouts returns the statement_timeout each API role's
// requests run with (roles without one are absent), read through q (a
// pool or a connection of the database).
func RoleStatementTimeouts(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) (map[string]string, error) {
	rows, err := q.Query(ctx, roleSettingsSQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var role, v string
		if err := rows.Scan(&role, &v); err != nil {
			return nil, err
		}
		m[role] = strings.TrimSpace(v)
	}
	return m, rows.Err()
}

// statementTimeout is the role's statement_timeout ("" when it has none).
func (d *DB) statementTimeout(role string) string {
	if m := d.timeouts.Load(); m != nil {
		return (*m)[role]
	}
	return ""
}
