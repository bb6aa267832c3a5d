// Package migrate applies AYB's embedded system migrations (sql/migrations,
// tern format) under an advisory lock, so any number of instances booting
// together against one database apply each migration exactly once.
package migrate

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"

	aybsql "github.com/aybhq/ayb/sql"
)

// VersionTable records applied migrations.
const VersionTable = "ayb.schema_version"

// lockKey is tern's own advisory lock number; taking it first (advisory
// locks nest within a session) also covers the schema created before tern
// runs, so two instances on an empty database never race on it.
const lockKey = int64(9628173550095224)

// Status describes the database's migration state.
type Status struct {
	Current int32
	Latest  int32
	Pending []string
}

func newMigrator(ctx context.Context, conn *pgx.Conn) (*migrate.Migrator, error) {
	if _, err := conn.Exec(ctx, "create schema if not exists ayb"); err != nil {
		return nil, fmt.Errorf("create schema ayb: %w", err)
	}
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(aybsql.Migrations, "migrations")
	if err != nil {
		return nil, err
	}
	if err := m.LoadMigrations(sub); err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return m, nil
}

// Up applies every pending migration. onApplied (may be nil) is told of each.
func Up(ctx context.Context, conn *pgx.Conn, onApplied func(name string)) error {
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock($1)", lockKey) //nolint:errcheck
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return err
	}
	if onApplied != nil {
		m.OnStart = func(seq int32, name, direction, sql string) { onApplied(name) }
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return ensureExtensions(ctx, conn)
}

// ensureExtensions enables optional extensions whose files are installed.
// It runs at every start (not as a migration) so PostGIS installed later is
// picked up on the next start. Extensions live in schema "extensions".
func ensureExtensions(ctx context.Context, conn *pgx.Conn) error {
	var available, installed bool
	err := conn.QueryRow(ctx, `select
		exists(select 1 from pg_available_extensions where name = 'postgis'),
		exists(select 1 from pg_extension where extname = 'postgis')`).Scan(&available, &installed)
	if err != nil {
		return err
	}
	if available && !installed {
		if _, err := conn.Exec(ctx, "create extension if not exists postgis schema extensions"); err != nil {
			// Without superuser rights on an external database this fails;
			// PostGIS is optional, so it is reported, not fatal.
			return fmt.Errorf("enable postgis (install it or run AYB with a role that may create extensions): %w", err)
		}
		// AYB revokes EXECUTE from PUBLIC by default; PostGIS's functions
		// are meant for everyone (policies and queries use them).
		if _, err := conn.Exec(ctx, "grant execute on all functions in schema extensions to anon, authenticated, service_role, ayb_system"); err != nil {
			return err
		}
	}
	return nil
}

// GetStatus reports current and latest versions.
func GetStatus(ctx context.Context, conn *pgx.Conn) (Status, error) {
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", lockKey); err != nil {
		return Status{}, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock($1)", lockKey) //nolint:errcheck
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return Status{}, err
	}
	cur, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return Status{}, err
	}
	st := Status{Current: cur, Latest: int32(len(m.Migrations))}
	for _, mig := range m.Migrations {
		if mig.Sequence > cur {
			st.Pending = append(st.Pending, mig.Name)
		}
	}
	return st, nil
}

// Latest is the number of embedded migrations.
func Latest() (int32, error) {
	sub, err := fs.Sub(aybsql.Migrations, "migrations")
	if err != nil {
		return 0, err
	}
	names, err := migrate.FindMigrations(sub)
	return int32(len(names)), err
}
