package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aybhq/ayb/internal/server"
)

// The SSE transport floor: the least any server must do to deliver the
// realtime bench's traffic to the same 1,000 clients. It holds their
// streams and, while switched on, writes every RoundInterval (100 ms) one
// frame to each of the 10 members of 10 random teams: 1,000 deliveries/s,
// as the bench's 100 writes/s to teams of 10 make, with frames of the same
// shape and size. No log, no visibility checks, no database: beside AYB in
// the same run it shows how much REST p99 degrades from delivering alone on
// this machine.
func init() {
	addr := os.Getenv("AYB_BENCH_SSE_FLOOR")
	if addr == "" {
		return
	}
	if err := runSSEFloor(addr); err != nil {
		fmt.Fprintln(os.Stderr, "sse floor:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runSSEFloor(addr string) error {
	server.TuneGC() // as AYB runs
	var mu sync.Mutex
	streams := map[int]chan []byte{} // user index -> its frames
	var on atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("POST /on", func(w http.ResponseWriter, r *http.Request) { on.Store(true) })
	mux.HandleFunc("POST /off", func(w http.ResponseWriter, r *http.Request) { on.Store(false) })
	mux.HandleFunc("GET /sse/{user}", func(w http.ResponseWriter, r *http.Request) {
		u, err := strconv.Atoi(r.PathValue("user"))
		if err != nil {
			http.Error(w, "bad user", http.StatusBadRequest)
			return
		}
		frames := make(chan []byte, 64)
		mu.Lock()
		streams[u] = frames
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(streams, u)
			mu.Unlock()
		}()
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("event: connected\ndata: {}\n\n"))
		_ = rc.Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case f := <-frames:
				if _, err := w.Write(f); err != nil {
					return
				}
				if err := rc.Flush(); err != nil {
					return
				}
			}
		}
	})
	go func() {
		var id int64 = 1 << 40 // not a row id the bench waits for
		for range time.Tick(100 * time.Millisecond) {
			if !on.Load() {
				continue
			}
			for range rtRate / 10 {
				id++
				team := rand.IntN(rtTeams) // users i with i % rtTeams == team
				frame := []byte(fmt.Sprintf("id: %d\nevent: insert\ndata: {\"id\":%d,\"table\":\"public.rows\",\"op\":\"insert\",\"record\":{\"id\":%d,\"team_id\":%d,\"body\":\"live\"}}\n\n",
					id, id, id, team+1))
				mu.Lock()
				for u := team; u < rtUsers; u += rtTeams {
					if c, ok := streams[u]; ok {
						select {
						case c <- frame:
						default:
						}
					}
				}
				mu.Unlock()
			}
		}
	}()
	return http.ListenAndServe(addr, mux)
}

// startSSEFloor runs the floor in a child process, switched off.
func startSSEFloor(ctx context.Context) (*child, error) {
	return startChild(ctx, "AYB_BENCH_SSE_FLOOR", nil, func(base string) error { return setSSEFloor(base, "off") })
}

// setSSEFloor switches the floor's deliveries "on" or "off".
func setSSEFloor(base, state string) error {
	res, err := http.Post(base+"/"+state, "text/plain", nil)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("sse floor: %s answered %d", state, res.StatusCode)
	}
	return nil
}
