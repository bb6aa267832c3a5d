package ratelimit_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/ratelimit"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestTakeGCRA(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	p := ratelimit.Policy{Requests: 10, Window: time.Second, Burst: 5}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	total := 0
	for i := 0; i < 8; i++ {
		g, r, err := ratelimit.Take(ctx, d.Pool, "t", p, 1, now)
		require.NoError(t, err)
		total += g
		if g == 0 {
			require.False(t, r.Allowed)
			require.InDelta(t, 100*time.Millisecond, r.RetryAfter, float64(time.Millisecond))
			require.Equal(t, 0, r.Remaining)
		}
	}
	require.Equal(t, 5, total, "the burst, then nothing at the same instant")
	// 250 ms later, two tokens (one per 100 ms) are back; a batch of 10
	// takes only those.
	g, r, err := ratelimit.Take(ctx, d.Pool, "t", p, 10, now.Add(250*time.Millisecond))
	require.NoError(t, err)
	require.Equal(t, 2, g)
	require.Equal(t, 0, r.Remaining)
	require.InDelta(t, 450*time.Millisecond, r.Reset, float64(time.Millisecond))
	// Buckets are independent.
	g, _, err = ratelimit.Take(ctx, d.Pool, "other", p, 1, now)
	require.NoError(t, err)
	require.Equal(t, 1, g)
	// Bad policies are 22023 (400), not a crash.
	_, _, err = ratelimit.Take(ctx, d.Pool, "t", ratelimit.Policy{Requests: 0, Window: time.Second}, 1, now)
	require.Error(t, err)
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	ratelimit.SetHeaders(h, ratelimit.Result{Allowed: true, Limit: 100, Window: time.Minute, Remaining: 7, Reset: 1500 * time.Millisecond})
	require.Equal(t, "100", h.Get("RateLimit-Limit"))
	require.Equal(t, "7", h.Get("RateLimit-Remaining"))
	require.Equal(t, "2", h.Get("RateLimit-Reset"))
	require.Empty(t, h.Get("Retry-After"))
	e := ratelimit.Refused(ratelimit.Result{Limit: 100, Window: time.Minute, RetryAfter: 600 * time.Millisecond}, "app")
	require.Equal(t, 429, e.Status)
	require.Equal(t, "1", e.Header.Get("Retry-After"))
	require.Equal(t, "0", e.Header.Get("RateLimit-Remaining"))
}

func TestLeasesSpendLocally(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	var l ratelimit.Leases
	take := func(_ context.Context, n int) (int, ratelimit.Result, error) {
		calls.Add(1)
		return n, ratelimit.Result{Allowed: true, Limit: 1000, Remaining: 500}, nil
	}
	for i := 0; i < 50; i++ {
		r, err := l.Allow(context.Background(), "k", 10, take)
		require.NoError(t, err)
		require.True(t, r.Allowed)
	}
	require.Equal(t, int64(5), calls.Load(), "50 requests, leases of 10")
	require.Equal(t, 1, ratelimit.LeaseSize(100), "small limits are exact")
	require.Equal(t, 1000, ratelimit.LeaseSize(10_000_000))
	// A refused take refuses, and so does the instance, without asking
	// again, until the retry time the bucket gave.
	var refusals atomic.Int64
	refuse := func(context.Context, int) (int, ratelimit.Result, error) {
		refusals.Add(1)
		return 0, ratelimit.Result{Limit: 5, RetryAfter: 200 * time.Millisecond}, nil
	}
	for i := 0; i < 20; i++ {
		r, err := l.Allow(context.Background(), "k2", 10, refuse)
		require.NoError(t, err)
		require.False(t, r.Allowed)
		require.LessOrEqual(t, r.RetryAfter, 200*time.Millisecond)
		require.Positive(t, r.RetryAfter)
	}
	require.Equal(t, int64(1), refusals.Load())
	time.Sleep(220 * time.Millisecond)
	r, err := l.Allow(context.Background(), "k2", 10, take)
	require.NoError(t, err)
	require.True(t, r.Allowed, "asks again once the retry time has passed")
	// Forget (a policy change) drops a local refusal at once.
	_, _ = l.Allow(context.Background(), "k3", 1, refuse)
	l.Forget("k3")
	r, err = l.Allow(context.Background(), "k3", 1, take)
	require.NoError(t, err)
	require.True(t, r.Allowed)
}
