package server

import (
	"os"
	"runtime/debug"
)

// GCPercent is the Go collector's target (GOGC) the server runs with when
// GOGC is not set. Go's default, 100, starts a collection each time the
// heap doubles; AYB's live heap is small (the schema cache, connections,
// realtime subscribers), so under load that is dozens of collections a
// second, each waking the collector's workers on every core. With 400 the
// heap may grow to five times the live data before a collection: a few tens
// of megabytes more at most, for about a quarter less server CPU per GET by
// key in the rest bench (make bench prints the server's peak memory beside
// its throughput).
const GCPercent = 400

// TuneGC applies GCPercent unless the operator set GOGC. GOMEMLIMIT, when
// set, still bounds the heap: the collector runs more often near it.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
