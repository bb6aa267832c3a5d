package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/identity"
)

// Query is one statement of a pipelined request transaction (see InBatch).
// The statement must return at most one row, scanned into Dest. Found tells
// whether it returned one; a statement that returns no row is not an error.
type Query struct {
	SQL   string
	Args  []any
	Dest  []any
	Found bool
}

// InBatch runs statements in one transaction as the identity, sending
// the set_config of role and claims (bound parameters) and the statements as
// one pipeline, which Postgres runs as one implicit transaction ending at its
// Sync: one network round trip instead of InTx's three, and two statements
// fewer than an explicit BEGIN/COMMIT. Use it for requests that are a fixed
// list of statements whose results do not shape the next statement (a
// volatile RPC); requests that only read use Read, which multiplexes.
//
// Measured (perf.md §3.2, pgbench replay on 2 cores): the same BEGIN +
// set_config + SELECT + COMMIT costs 14.9k tx/s as 4 round trips and 29.0k
// pipelined. `make bench` (rest), 8 clients, on a shared and loaded 2-core
// machine: InBatch ran the GET-by-key SQL at 4,353 q/s beside 4,057 tps for
// the pipelined pgbench replay of the same statements (ratio 1.07). Without
// BEGIN/COMMIT (2 statements instead of 4), on a quieter machine: the HTTP
// GET went from 5,757 to 6,242-6,454 req/s.
//
// Every REST read returns text (JSON built in SQL), so a cached prepared
// statement never fails with "cached plan must not change result type"
// after an ALTER TABLE.
//
// When a statement fails the server skips the rest of the pipeline and the
// transaction is left aborted; InBatch then rolls it back, so the connection
// returns to the pool clean. Errors come back translated.
func (d *DB) InBatch(ctx context.Context, id identity.Identity, qs ...*Query) error {
	claims, err := requestClaims(id)
	if err != nil {
		return err
	}
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return Translate(err)
	}
	defer conn.Release()
	// A pipeline runs as one implicit transaction up to its Sync, so the
	// setup and the reads need no BEGIN/COMMIT of their own: two statements
	// instead of four (is_local set_configs last until the Sync).
	b := &pgx.Batch{}
	if c := id.Session; c != nil {
		b.Queue(requireSessionSQL, c.ID, c.UserID, c.At)
	}
	setup, args := d.setup(id, claims)
	b.Queue(setup, args...)
	for _, q := range qs {
		b.Queue(q.SQL, q.Args...)
	}
	br := conn.SendBatch(ctx, b)
	err = readBatch(br, id.Session != nil, qs)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// The pipeline stopped at the failing statement; the transaction may
		// be open and aborted. Roll it back so the connection is reusable.
		if conn.Conn().PgConn().TxStatus() != 'I' {
			if _, rerr := conn.Exec(context.WithoutCancel(ctx), "rollback"); rerr != nil {
				conn.Conn().PgConn().Close(context.WithoutCancel(ctx)) //nolint:errcheck // the pool drops a closed conn
			}
		}
		return Translate(err)
	}
	return nil
}

// Read is InBatch for requests that only read: the transaction is read
// only (as PostgREST runs GETs), and when the DB multiplexes
// (PoolOptions.Multiplex) the request shares a connection and a network
// write with the other reads in flight instead of taking a pool connection
// of its own. It falls back to the pool when every multiplexing connection
// is stalled on a slow batch, or its connection broke before the answer.
func (d *DB) Read(ctx context.Context, id identity.Identity, qs ...*Query) error {
	id.ReadOnly = true
	if d.mux == nil {
		return d.InBatch(ctx, id, qs...)
	}
	claims, err := requestClaims(id)
	if err != nil {
		return err
	}
	j := jobPool.Get().(*muxJob)
	j.state.Store(jobQueued)
	j.stmts, j.qs, j.sess, j.divert, j.err = j.stmts[:0], qs, id.Session != nil, false, nil
	if c := id.Session; c != nil {
		j.stmts = append(j.stmts, muxStmt{requireSessionSQL, []any{c.ID, c.UserID, c.At}})
	}
	setup, args := d.setup(id, claims)
	j.stmts = append(j.stmts, muxStmt{setup, args})
	for _, q := range qs {
		j.stmts = append(j.stmts, muxStmt{q.SQL, q.Args})
	}
	switch d.mux.submit(ctx, j) {
	case abandoned: // j is still in the queue: not recycled
		return Translate(ctx.Err())
	case runOnPool:
		recycle(j)
		return d.InBatch(ctx, id, qs...)
	}
	err = j.err
	recycle(j)
	if err != nil {
		return Translate(err)
	}
	return nil
}

// requestClaims refuses an identity whose role is not an API role and
// returns its claims as JSON, for setupSQL's parameters.
func requestClaims(id identity.Identity) ([]byte, error) {
	if !apiRoles[id.Role] {
		return nil, apierror.Internal(fmt.Errorf("db: refusing to run a request as role %q", id.Role))
	}
	claims, err := id.ClaimsJSON()
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("db: encode claims: %w", err))
	}
	return claims, nil
}

// setup is the statement (and its arguments) that takes the request's role
// and claims, read-only mode and the role's statement_timeout for the rest
// of the implicit transaction.
func (d *DB) setup(id identity.Identity, claims []byte) (string, []any) {
	ro := 0
	if id.ReadOnly {
		ro = 1
	}
	if t := d.statementTimeout(id.Role); t != "" {
		return setupSQL[ro][1], []any{id.Role, string(claims), t}
	}
	return setupSQL[ro][0], []any{id.Role, string(claims)}
}

// setupSQL[read only][with statement_timeout].
var setupSQL = [2][2]string{
	{"select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
		"select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('statement_timeout', $3, true)"},
	{"select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('transaction_read_only', 'on', true)",
		"select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('transaction_read_only', 'on', true), set_config('statement_timeout', $3, true)"},
}

func readBatch(br pgx.BatchResults, sessionCheck bool, qs []*Query) error {
	if sessionCheck {
		if _, err := br.Exec(); err != nil {
			return sessionError(err)
		}
	}
	if _, err := br.Exec(); err != nil {
		return err
	}
	for _, q := range qs {
		q.Found = false
		err := br.QueryRow().Scan(q.Dest...)
		switch {
		case err == nil:
			q.Found = true
		case errors.Is(err, pgx.ErrNoRows):
		default:
			return err
		}
	}
	return nil
}
