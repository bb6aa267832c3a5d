package db

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/identity"
)

// SetMultiplexLimits lets tests shrink the multiplexer's statement cap and
// stretch its hold (how long a batch may run before requests go to the pool).
func SetMultiplexLimits(d *DB, stmtCap int, hold time.Duration) {
	d.mux.stmtCap = stmtCap
	d.mux.hold = hold
}

// InTxConn is InTx on a connection the test holds.
func InTxConn(ctx context.Context, conn *pgx.Conn, id identity.Identity, fn func(tx pgx.Tx) error) error {
	return inTxConn(ctx, conn, id, "", fn)
}
