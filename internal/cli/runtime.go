package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/migrate"
	"github.com/aybhq/ayb/internal/pg"
)

// Runtime is a connected AYB: the database (managed or external), migrated,
// with a pool for the server's login role.
type Runtime struct {
	Config   config.Config
	Cluster  *pg.Cluster // nil with an external database
	AdminURL string      // role that runs migrations and admin SQL
	URL      string      // the server's login role
	DB       *db.DB
}

// Connect starts (or reaches) the database, migrates it when migrateUp is
// set, and opens the pool.
func Connect(ctx context.Context, cfg config.Config, migrateUp bool, progress func(string, ...any)) (*Runtime, error) {
	rt := &Runtime{Config: cfg}
	if cfg.Database.URL == "" {
		c, err := pg.Start(ctx, pg.Options{
			DataDir:  cfg.Database.DataDir,
			Port:     cfg.Database.Port,
			Database: cfg.Database.Name,
			OSUser:   cfg.Database.OSUser,
			Logf:     progress,
		})
		if err != nil {
			return nil, err
		}
		rt.Cluster = c
		rt.AdminURL = c.URL(cfg.Database.Name)
	} else {
		rt.URL = cfg.Database.URL
		rt.AdminURL = cfg.Database.URL
		if cfg.Database.AdminURL != "" {
			rt.AdminURL = cfg.Database.AdminURL
		}
	}
	if migrateUp {
		if err := rt.Migrate(ctx, progress); err != nil {
			rt.Close()
			return nil, err
		}
	}
	if rt.Cluster != nil {
		u, err := rt.Cluster.EnsureLoginRole(ctx, cfg.Database.Name)
		if err != nil {
			rt.Close()
			return nil, err
		}
		rt.URL = u
	}
	d, err := db.Open(ctx, rt.URL, db.PoolOptions{MaxConns: cfg.Database.MaxConns, Multiplex: cfg.Database.Multiplex})
	if err != nil {
		rt.Close()
		return nil, err
	}
	rt.DB = d
	return rt, nil
}

// Migrate applies pending system migrations as the admin role.
func (rt *Runtime) Migrate(ctx context.Context, progress func(string, ...any)) error {
	conn, err := pgx.Connect(ctx, rt.AdminURL)
	if err != nil {
		return fmt.Errorf("connect for migrations: %w", err)
	}
	defer conn.Close(ctx)
	return migrate.Up(ctx, conn, func(name string) {
		if progress != nil {
			progress("applying migration %s", name)
		}
	})
}

// Close closes the pool and stops a managed cluster.
func (rt *Runtime) Close() {
	if rt.DB != nil {
		rt.DB.Close()
	}
	if rt.Cluster != nil {
		if err := rt.Cluster.Stop(context.Background()); err != nil {
			slog.Error("stopping PostgreSQL", "err", err)
		}
	}
}

// progressPrinter prints what AYB is doing to stderr, so a first start is not
// a silent terminal.
func progressPrinter(format string, args ...any) {
	flushLog() // log lines written before this one come out before it
	fmt.Fprintf(os.Stderr, "ayb: "+format+"\n", args...)
}

// writeDefaultConfig writes ayb.toml with commented defaults if it is missing.
func writeDefaultConfig(path string) {
	if path == "" {
		return
	}
	if _, err := os.Stat(path); err == nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	if err := os.WriteFile(path, []byte(config.DefaultFile()), 0o644); err == nil {
		progressPrinter("wrote %s with the default settings (all commented out)", path)
	}
}
