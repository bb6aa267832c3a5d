package server

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGCPercentFor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		live uint64
		want int
	}{
		{0, gcMaxPercent},
		{1 << 20, gcMaxPercent}, // 6,400% capped
		{8 << 20, gcMaxPercent}, // exactly 800%
		{16 << 20, 400},         // the rest bench's size: 64 MiB of headroom
		{32 << 20, 200},         //
		{64 << 20, 100},         // headroom = live: Go's default from here on
		{1 << 30, 100},          // never below Go's default
		{(64 << 20) / 3, 300},   // 21.3 MiB
		{GCHeadroom + 1, 100},   //
	}
	for _, c := range cases {
		require.Equal(t, c.want, GCPercentFor(c.live), "live %d", c.live)
	}
}

// TuneGC sets the collector's target from the live heap, and leaves it
// alone when GOGC is set.
func TestTuneGCSetsTheTarget(t *testing.T) {
	t.Setenv("GOGC", "150")
	prev := debug.SetGCPercent(100)
	TuneGC()
	require.Equal(t, 100, debug.SetGCPercent(100), "GOGC is set: the target stays")
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(prev)
	TuneGC()
	got := debug.SetGCPercent(100)
	require.Greater(t, got, 100, "a test binary's heap is far below GCHeadroom")
}

// The hook runs after each collection.
func TestAfterEachGC(t *testing.T) {
	runs := make(chan struct{}, 16)
	afterEachGC(func() {
		select {
		case runs <- struct{}{}:
		default:
		}
	})
	for i := 0; i < 3; i++ {
		runtime.GC()
		select {
		case <-runs:
		case <-time.After(5 * time.Second):
			t.Fatalf("no run after collection %d", i+1)
		}
	}
}
