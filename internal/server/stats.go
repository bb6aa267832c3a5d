package server

import (
	"net/http"
	"runtime"
	"time"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/realtime"
	"github.com/aybhq/ayb/internal/web"
)

// stats is GET /api/admin/stats: this instance's connections, multiplexed
// reads, realtime hub and Go runtime, for an operator tuning
// database.max_conns and database.multiplex (reads sent to the pool mean
// slow batches), or checking an instance's load. Each instance answers for
// itself; nothing here is shared state.
type stats struct {
	Version    string          `json:"version"`
	UptimeS    float64         `json:"uptime_s"`
	GoMaxProcs int             `json:"gomaxprocs"`
	Goroutines int             `json:"goroutines"`
	HeapBytes  uint64          `json:"heap_bytes"`
	GCCycles   uint32          `json:"gc_cycles"`
	Database   db.Stats        `json:"database"`
	Realtime   *realtime.Stats `json:"realtime"` // null when realtime is off
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) error {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out := stats{Version: s.version, UptimeS: time.Since(s.started).Seconds(), GoMaxProcs: runtime.GOMAXPROCS(0),
		Goroutines: runtime.NumGoroutine(), HeapBytes: ms.HeapAlloc, GCCycles: ms.NumGC, Database: s.db.Stats()}
	if s.realtime != nil {
		rt := s.realtime.Stats()
		out.Realtime = &rt
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}
