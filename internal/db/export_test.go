package db

import "time"

// SetMultiplexLimits lets tests shrink the multiplexer's statement cap and
// stretch its hold (how long a batch may run before requests go to the pool).
func SetMultiplexLimits(d *DB, stmtCap int, hold time.Duration) {
	d.mux.stmtCap = stmtCap
	d.mux.hold = hold
}
