// Package db owns AYB's connection pool and the one way a request touches
// the database: a transaction that starts by taking the caller's role and
// claims (set_config('role'), set_config('request.jwt.claims')), so that
// grants and row-level security decide what it may do.
package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/identity"
)

// DB is the server's pool plus the request-transaction helpers.
type DB struct {
	Pool *pgxpool.Pool

	listenOnce sync.Once
	listener   *listener    // the shared LISTEN connection (see Listen)
	mux        *multiplexer // nil unless PoolOptions.Multiplex (see Read)
	// timeouts is each API role's statement_timeout (see LoadRoleSettings).
	timeouts atomic.Pointer[map[string]string]
}

// PoolOptions tunes the pool. Zero values take defaults.
type PoolOptions struct {
	MaxConns int32
	MinConns int32
	// AppName shows in pg_stat_activity.
	AppName string
	// AfterConnect runs on each new connection before the pool uses it.
	AfterConnect func(ctx context.Context, conn *pgx.Conn) error
	// Multiplex is how many connections of their own carry DB.Read's
	// requests, many at a time (0: each takes a pool connection).
	Multiplex int
}

// Open connects a pool to url. On these 2-core machines throughput falls past
// ~2-4 connections per core (perf.md §3.2: pgbench -S 50k tps at 2 clients,
// 28-30k at 8), so the default stays small.
func Open(ctx context.Context, url string, opt PoolOptions) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	} else {
		cfg.MaxConns = 8
	}
	if opt.MinConns > 0 {
		cfg.MinConns = opt.MinConns
	}
	if opt.AppName == "" {
		opt.AppName = "ayb"
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = opt.AppName
	cfg.HealthCheckPeriod = 30 * time.Second
	cfg.AfterConnect = opt.AfterConnect
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	d := &DB{Pool: pool}
	if err := d.LoadRoleSettings(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("read the API roles' settings: %w", err)
	}
	if opt.Multiplex > 0 {
		d.mux = newMultiplexer(cfg.ConnConfig, cfg.AfterConnect, opt.Multiplex)
	}
	return d, nil
}

// Close stops the shared listener, if it started, and closes the pool.
func (d *DB) Close() {
	d.listenOnce.Do(func() { // none started: none may start after this
		done := make(chan struct{})
		close(done)
		d.listener = &listener{subs: map[string][]*Subscription{}, stop: func() {}, done: done}
	})
	d.listener.close()
	if d.mux != nil {
		d.mux.close()
	}
	d.Pool.Close()
}

var apiRoles = map[string]bool{
	identity.RoleAnon:          true,
	identity.RoleAuthenticated: true,
	identity.RoleServiceRole:   true,
}

// beginQuery renders the statement that opens a request transaction and
// takes the identity: BEGIN plus both set_config calls, sent as one simple
// protocol message so the setup costs one round trip, not three. The role is
// one of three fixed names; the claims are escaped by the connection
// (standard_conforming_strings aware).
func beginQuery(conn *pgconn.PgConn, id identity.Identity, timeout string) (string, error) {
	if !apiRoles[id.Role] {
		return "", fmt.Errorf("db: refusing to run a request as role %q", id.Role)
	}
	claims, err := id.ClaimsJSON()
	if err != nil {
		return "", fmt.Errorf("db: encode claims: %w", err)
	}
	esc, err := conn.EscapeString(string(claims))
	if err != nil {
		return "", err
	}
	mode := "read write"
	if id.ReadOnly {
		mode = "read only"
	}
	var b strings.Builder
	b.Grow(len(esc) + 128)
	b.WriteString("begin isolation level read committed ")
	b.WriteString(mode)
	if c := id.Session; c != nil {
		if !identity.IsUUID(c.ID) || !identity.IsUUID(c.UserID) {
			return "", fmt.Errorf("db: session check with a malformed id")
		}
		// Before the role switch: it runs as the login role, which alone may
		// read ayb.sessions. The ids are validated UUIDs, the time is ours.
		b.WriteString("; select ayb.require_session('")
		b.WriteString(c.ID)
		b.WriteString("', '")
		b.WriteString(c.UserID)
		b.WriteString("', '")
		b.WriteString(c.At.UTC().Format(time.RFC3339Nano))
		b.WriteString("')")
	}
	b.WriteString("; select set_config('role', '")
	b.WriteString(id.Role)
	b.WriteString("', true), set_config('request.jwt.claims', '")
	b.WriteString(esc)
	b.WriteString("', true)")
	if timeout != "" {
		t, err := conn.EscapeString(timeout)
		if err != nil {
			return "", err
		}
		b.WriteString(", set_config('statement_timeout', '")
		b.WriteString(t)
		b.WriteString("', true)")
	}
	return b.String(), nil
}

// requireSessionSQL is the statement InBatch sends first for an identity
// whose session the database checks (identity.Identity.Session).
const requireSessionSQL = "select ayb.require_session($1::uuid, $2::uuid, $3)"

// sessionError turns ayb.require_session's refusal (SQLSTATE 28000) into
// the 401 the authenticator gives for an ended session; other errors pass.
func sessionError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "28000" {
		return apierror.New(apierror.CodeInvalidToken, "the session has ended").
			WithHint("sign in again").WithCause(err)
	}
	return err
}

// InTx runs fn in one transaction as the identity's role with its claims.
// The transaction commits when fn returns nil; a commit failure (a deferred
// constraint, a serialization failure) is returned as an error, never lost.
// Errors come back translated (see Translate).
func (d *DB) InTx(ctx context.Context, id identity.Identity, fn func(tx pgx.Tx) error) error {
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return Translate(err)
	}
	defer conn.Release()
	return inTxConn(ctx, conn.Conn(), id, d.statementTimeout(id.Role), fn)
}

// inTxConn is InTx on a connection the caller already holds, with the
// role's statement_timeout ("" for none).
func inTxConn(ctx context.Context, conn *pgx.Conn, id identity.Identity, timeout string, fn func(tx pgx.Tx) error) error {
	q, err := beginQuery(conn.PgConn(), id, timeout)
	if err != nil {
		return apierror.Internal(err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{BeginQuery: q})
	if err != nil {
		// A statement after BEGIN failed (an ended session, bad claims): the
		// transaction block is open and aborted. Roll it back, or the pool
		// would destroy the connection and a client could make it reconnect
		// at will.
		if conn.PgConn().TxStatus() != 'I' && !conn.IsClosed() {
			if _, rerr := conn.Exec(context.WithoutCancel(ctx), "rollback"); rerr != nil {
				conn.PgConn().Close(context.WithoutCancel(ctx)) //nolint:errcheck // the pool drops a closed conn
			}
		}
		if id.Session != nil {
			return Translate(sessionError(err))
		}
		return Translate(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return Translate(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Translate(err)
	}
	return nil
}

// System runs fn in a transaction as the server's own login role, for the
// server's work on its private tables (schema ayb). Never use it for a query
// shaped by a request's caller beyond bound parameters.
func (d *DB) System(ctx context.Context, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, d.Pool, fn)
	if err != nil {
		return Translate(err)
	}
	return nil
}

// IsNoRows reports whether err is (or wraps) pgx.ErrNoRows.
func IsNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// Stats is this process's view of its database connections; each instance
// reports its own.
type Stats struct {
	Pool      PoolStats      `json:"pool"`
	Multiplex MultiplexStats `json:"multiplex"`
}

// PoolStats is the request pool's state and its counters since start.
type PoolStats struct {
	MaxConns      int32 `json:"max_conns"`
	TotalConns    int32 `json:"total_conns"`
	IdleConns     int32 `json:"idle_conns"`
	AcquiredConns int32 `json:"acquired_conns"`
	// Acquires counts connections taken, AcquireMs the time all of them
	// took; Waited counts those that found the pool empty and waited for a
	// connection to be released or opened; Canceled those given up.
	Acquires  int64   `json:"acquires"`
	AcquireMs float64 `json:"acquire_ms"`
	Waited    int64   `json:"waited"`
	Canceled  int64   `json:"canceled"`
}

// Stats reports the pool and the multiplexer.
func (d *DB) Stats() Stats {
	s := d.Pool.Stat()
	return Stats{
		Pool: PoolStats{MaxConns: s.MaxConns(), TotalConns: s.TotalConns(), IdleConns: s.IdleConns(),
			AcquiredConns: s.AcquiredConns(), Acquires: s.AcquireCount(), Waited: s.EmptyAcquireCount(),
			AcquireMs: float64(s.AcquireDuration().Microseconds()) / 1000, Canceled: s.CanceledAcquireCount()},
		Multiplex: d.MultiplexStats(),
	}
}
