package server

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// The Go collector's target. Go's default (GOGC=100) starts a collection
// each time the heap grows by its live size. AYB's live heap is small (the
// schema cache, connections, realtime subscribers), so under load that is
// dozens of collections a second, each waking the collector's workers on
// every core: at GOGC=100 the rest bench's GET by key cost the server
// 133-141 µs of CPU, at 400 it cost 97-101 µs.
//
// TuneGC gives the heap a floor of headroom instead of a fixed percentage:
// a collection starts when the heap has grown by GCHeadroom or by its live
// size, whichever is more. A small heap gets the headroom (a live 16 MiB
// runs at GOGC=400); a heap whose live size passes GCHeadroom runs at Go's
// default, so the extra memory is bounded by GCHeadroom whatever the load.
const GCHeadroom = 64 << 20

// gcMaxPercent bounds the target for a nearly empty heap.
const gcMaxPercent = 800

// GCPercentFor is the GOGC that gives a heap of live bytes GCHeadroom of
// headroom, or Go's default 100 when its live size is more.
func GCPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	p := uint64(100) * GCHeadroom / live
	return int(max(100, min(p, gcMaxPercent)))
}

// TuneGC applies GCPercentFor to the live heap now and after every
// collection, unless the operator set GOGC (then Go's own rules apply).
// GOMEMLIMIT, when set, still bounds the heap. Setting the target right
// after each collection, from the live size it measured, keeps the next
// heap goal at most GCHeadroom above it even when the live heap jumps.
func TuneGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := -1
	apply := func() {
		metrics.Read(sample)
		live := uint64(0)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = sample[0].Value.Uint64()
		}
		// Only a change of a tenth or more is worth the runtime's lock.
		if p := GCPercentFor(live); current < 0 || p*10 < current*9 || p*10 > current*11 {
			debug.SetGCPercent(p)
			current = p
		}
	}
	apply()
	afterEachGC(apply)
}

// gcSentinel is garbage from the moment it is made; its cleanup runs after
// the collection that finds it, and arms the next one.
type gcSentinel struct{ _ [16]byte } // not zero-sized: those may share an address

func afterEachGC(fn func()) {
	s := &gcSentinel{}
	runtime.AddCleanup(s, func(struct{}) {
		fn()
		afterEachGC(fn)
	}, struct{}{})
}
