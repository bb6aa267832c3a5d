package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/migrate"
	"github.com/aybhq/ayb/internal/pg"
)

// Env is one PostgreSQL cluster shared by every benchmark of a run, started
// with the managed-mode code and default durability settings
// (synchronous_commit on), so peer and AYB see the same database.
type Env struct {
	Cluster *pg.Cluster
	dir     string
	n       int
}

func newEnv(ctx context.Context) (*Env, error) {
	dir, err := os.MkdirTemp("", "ayb-bench-")
	if err != nil {
		return nil, err
	}
	_ = os.Chmod(dir, 0o755)
	c, err := pg.Start(ctx, pg.Options{
		DataDir:  filepath.Join(dir, "pg"),
		Database: "postgres",
		Settings: map[string]string{"shared_buffers": "512MB", "max_connections": "300"},
		Logf:     func(f string, a ...any) { fmt.Printf("   bench env: "+f+"\n", a...) },
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Env{Cluster: c, dir: dir}, nil
}

// Close stops the cluster and removes it.
func (e *Env) Close() {
	_ = e.Cluster.Stop(context.Background())
	_ = os.RemoveAll(e.dir)
}

// Database is a fresh migrated database for one benchmark.
type Database struct {
	Name     string
	AdminURL string // superuser
	URL      string // the server's login role (ayb_authenticator)
}

// NewDatabase creates and migrates a database.
func (e *Env) NewDatabase(ctx context.Context) (*Database, error) {
	e.n++
	name := fmt.Sprintf("bench_%d_%d", e.n, time.Now().Unix()%100000)
	admin, err := pgx.Connect(ctx, e.Cluster.URL("postgres"))
	if err != nil {
		return nil, err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "create database "+name); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, e.Cluster.URL(name))
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if err := migrate.Up(ctx, conn, nil); err != nil {
		return nil, err
	}
	u, err := e.Cluster.EnsureLoginRole(ctx, name)
	if err != nil {
		return nil, err
	}
	return &Database{Name: name, AdminURL: e.Cluster.URL(name), URL: u}, nil
}

// Percentile returns the p-th percentile (0..100) of durations.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// Ratio prints "ours vs baseline" with the ratio.
func Ratio(label string, ours, base float64, unit string) {
	r := 0.0
	if base > 0 {
		r = ours / base
	}
	fmt.Printf("   %-48s %10.1f %s   baseline %10.1f %s   ratio %.2f\n", label, ours, unit, base, unit, r)
}
