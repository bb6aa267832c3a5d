package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/dbtest"
)

// recorder is a Handler that records what it was told.
type recorder struct {
	mu       sync.Mutex
	payloads []string
	ups      int
	downs    []error
	changed  chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 100)} }

func (r *recorder) handler() db.Handler {
	note := func(f func()) {
		r.mu.Lock()
		f()
		r.mu.Unlock()
		r.changed <- struct{}{}
	}
	return db.Handler{
		Notify: func(p string) { note(func() { r.payloads = append(r.payloads, p) }) },
		Up:     func() { note(func() { r.ups++ }) },
		Down:   func(err error) { note(func() { r.downs = append(r.downs, err) }) },
	}
}

// await waits until cond holds on r's record.
func (r *recorder) await(t *testing.T, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s: payloads %q, ups %d, downs %v", what, r.payloads, r.ups, r.downs)
		}
	}
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.payloads...)
}

func listenBackends(t *testing.T, d *dbtest.DB) []int {
	t.Helper()
	rows, err := d.Admin(t).Query(context.Background(),
		"select pid from pg_stat_activity where datname = current_database() and application_name = 'ayb-listen'")
	require.NoError(t, err)
	var pids []int
	for rows.Next() {
		var pid int
		require.NoError(t, rows.Scan(&pid))
		pids = append(pids, pid)
	}
	require.NoError(t, rows.Err())
	return pids
}

func TestListenSharesOneConnectionAcrossChannels(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	a1, a2, b := newRecorder(), newRecorder(), newRecorder()
	subA1 := d.Listen("chan_a", a1.handler())
	d.Listen("chan_a", a2.handler())
	<-subA1.Ready()
	// A channel subscribed after the connection is up is LISTENed on it.
	subB := d.Listen("Chan B", b.handler())
	select {
	case <-subB.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("the late subscription never came up")
	}
	require.Len(t, listenBackends(t, d), 1, "one listening backend for every channel")

	d.Exec(t, "select pg_notify('chan_a', 'one'), pg_notify('Chan B', 'x')")
	d.Exec(t, "select pg_notify('chan_a', 'two'), pg_notify('unrelated', 'nobody')")
	a1.await(t, "a1's two payloads", func(r *recorder) bool { return len(r.payloads) == 2 })
	a2.await(t, "a2's two payloads", func(r *recorder) bool { return len(r.payloads) == 2 })
	b.await(t, "b's payload", func(r *recorder) bool { return len(r.payloads) == 1 })
	require.Equal(t, []string{"one", "two"}, a1.got(), "in the order sent")
	require.Equal(t, []string{"one", "two"}, a2.got())
	require.Equal(t, []string{"x"}, b.got(), "only its own channel")

	// A stopped subscription hears nothing more; the others still do.
	subA1.Stop()
	d.Exec(t, "select pg_notify('chan_a', 'three')")
	a2.await(t, "a2's third payload", func(r *recorder) bool { return len(r.payloads) == 3 })
	require.Equal(t, []string{"one", "two"}, a1.got())
}

func TestListenReconnectsAndBringsSubscriptionsBackUp(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	r := newRecorder()
	sub := d.Listen("chan_r", r.handler())
	<-sub.Ready()
	pids := listenBackends(t, d)
	require.Len(t, pids, 1)

	d.Exec(t, "select pg_terminate_backend($1)", pids[0])
	// Down for the lost connection, then Up again on a new one: a
	// component that caches refreshes there, since signals were lost.
	r.await(t, "down then up", func(r *recorder) bool { return len(r.downs) == 1 && r.ups == 2 })
	require.Error(t, r.downs[0])
	newPids := listenBackends(t, d)
	require.Len(t, newPids, 1)
	require.NotEqual(t, pids[0], newPids[0])

	d.Exec(t, "select pg_notify('chan_r', 'after')")
	r.await(t, "the payload sent after the reconnect", func(r *recorder) bool { return len(r.payloads) == 1 })
	require.Equal(t, []string{"after"}, r.got())
}

func TestCloseStopsTheListener(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	own, err := db.Open(context.Background(), d.URL, db.PoolOptions{MaxConns: 1})
	require.NoError(t, err)
	r := newRecorder()
	sub := own.Listen("chan_c", r.handler())
	<-sub.Ready()
	require.Len(t, listenBackends(t, d), 1)
	own.Close()
	require.Eventually(t, func() bool { return len(listenBackends(t, d)) == 0 }, 5*time.Second, 20*time.Millisecond,
		"the listening backend is gone after Close")
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Empty(t, r.downs, "closing is not a lost connection")
}

func TestListenAfterCloseIsInert(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	own, err := db.Open(context.Background(), d.URL, db.PoolOptions{MaxConns: 1})
	require.NoError(t, err)
	own.Close()
	r := newRecorder()
	sub := own.Listen("chan_late", r.handler()) // a component starting as the process stops
	d.Exec(t, "select pg_notify('chan_late', 'x')")
	select {
	case <-sub.Ready():
		t.Fatal("a subscription made after Close came up")
	case <-time.After(300 * time.Millisecond):
	}
	require.Empty(t, listenBackends(t, d))
	require.Empty(t, r.got())
	sub.Stop()
}
