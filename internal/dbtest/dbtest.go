// Package dbtest gives tests a real, migrated PostgreSQL database. Unless
// TEST_DATABASE_URL names a server (a superuser URL), it starts one throwaway
// cluster per test process with the same code as managed mode, migrates a
// template database once, and hands each test a fresh clone of it.
//
// Packages that use it call dbtest.Main from TestMain, so the cluster stops
// and its directory is removed when the tests end.
package dbtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/migrate"
	"github.com/aybhq/ayb/internal/pg"
)

var (
	once      sync.Once
	setupErr  error
	cluster   *pg.Cluster
	tmpDir    string
	serverURL *url.URL // superuser URL to the server, any database
	template  string
	cloneMu   sync.Mutex
	counter   atomic.Int64
)

// Main runs the tests and tears the cluster down afterwards.
func Main(m *testing.M) {
	code := m.Run()
	Teardown()
	os.Exit(code)
}

// Teardown stops the throwaway cluster (if one was started).
func Teardown() {
	if cluster != nil {
		_ = cluster.Stop(context.Background())
		cluster = nil
	}
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
		tmpDir = ""
	}
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		pu, err := url.Parse(u)
		if err != nil {
			return fmt.Errorf("TEST_DATABASE_URL: %w", err)
		}
		serverURL = pu
	} else {
		dir, err := os.MkdirTemp("", "ayb-test-")
		if err != nil {
			return err
		}
		// As root, Postgres runs as another user that must enter this dir.
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
		tmpDir = dir
		c, err := pg.Start(ctx, pg.Options{
			DataDir:   filepath.Join(dir, "pg"),
			Database:  "postgres",
			Ephemeral: true,
		})
		if err != nil {
			return err
		}
		cluster = c
		serverURL, _ = url.Parse(c.URL("postgres"))
	}
	template = fmt.Sprintf("ayb_tmpl_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	admin, err := pgx.Connect(ctx, urlFor(""))
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "create database "+template); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	conn, err := pgx.Connect(ctx, urlFor(template))
	if err != nil {
		return err
	}
	if err := migrate.Up(ctx, conn, nil); err != nil {
		conn.Close(ctx)
		return fmt.Errorf("migrate template: %w", err)
	}
	conn.Close(ctx)
	return nil
}

// urlFor returns the superuser URL for database name ("" = postgres).
func urlFor(name string) string {
	u := *serverURL
	if name == "" {
		name = "postgres"
	}
	u.Path = "/" + name
	return u.String()
}

// DB is one test's database.
type DB struct {
	Name string
	// AdminURL connects as a superuser (for fixtures, like an admin in psql).
	AdminURL string
	// URL connects as the server's login role.
	URL string
	// DB is a pool for the server's login role, as the server uses.
	*db.DB
}

// Admin opens a superuser connection, closed at cleanup.
func (d *DB) Admin(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), d.AdminURL)
	if err != nil {
		t.Fatalf("dbtest: admin connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs SQL as superuser (multiple statements allowed), failing the test on error.
func (d *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	conn := d.Admin(t)
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("dbtest: exec %q: %v", truncate(sql), err)
	}
}

func truncate(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// ServerURL returns a superuser URL for another database on the same server.
func ServerURL(name string) string { return urlFor(name) }

// New returns a fresh migrated database for one test, dropped at cleanup.
func New(t testing.TB) *DB {
	t.Helper()
	once.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("dbtest: %v", setupErr)
	}
	ctx := context.Background()
	name := fmt.Sprintf("%s_t%d", template, counter.Add(1))
	admin, err := pgx.Connect(ctx, urlFor(""))
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	defer admin.Close(ctx)
	cloneMu.Lock()
	_, err = admin.Exec(ctx, fmt.Sprintf("create database %s template %s", name, template))
	cloneMu.Unlock()
	if err != nil {
		t.Fatalf("dbtest: clone template: %v", err)
	}
	d := &DB{Name: name, AdminURL: urlFor(name)}
	if cluster != nil {
		u, err := cluster.EnsureLoginRole(ctx, name)
		if err != nil {
			t.Fatalf("dbtest: login role: %v", err)
		}
		d.URL = u
	} else {
		d.URL = d.AdminURL
	}
	pool, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: 8, Multiplex: 2})
	if err != nil {
		t.Fatalf("dbtest: open pool: %v", err)
	}
	d.DB = pool
	t.Cleanup(func() {
		pool.Close()
		c, err := pgx.Connect(ctx, urlFor(""))
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "drop database if exists "+name+" with (force)")
	})
	return d
}

// Cluster returns the throwaway cluster, or nil with TEST_DATABASE_URL.
func Cluster() *pg.Cluster { return cluster }

// Template returns the migrated template database's name.
func Template(t testing.TB) string {
	t.Helper()
	once.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("dbtest: %v", setupErr)
	}
	return template
}
