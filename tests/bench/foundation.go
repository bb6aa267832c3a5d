package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
)

func init() {
	register(&Bench{
		Name:    "claims-tx",
		Summary: "request transaction with role and claims (db.InTx) vs the same query with no setup",
		Run:     benchClaimsTx,
	})
}

// benchClaimsTx measures what identity costs per request: the same
// primary-key read under an owner RLS policy, once through db.InTx (BEGIN +
// set_config role and claims in one round trip, query, COMMIT) and once as a
// bare query on the pool with no transaction or setup. 4 clients, as perf.md
// found 2-4 connections per core the sweet spot on these machines.
func benchClaimsTx(ctx context.Context, env *Env) error {
	d, err := env.NewDatabase(ctx)
	if err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, d.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, `
		create table public.notes (id bigint primary key, owner uuid not null, body text not null);
		insert into public.notes select i, '00000000-0000-0000-0000-000000000001', 'note ' || i from generate_series(1, 10000) i;
		alter table public.notes enable row level security;
		create policy owner_read on public.notes for select using (owner = auth.uid());
		analyze public.notes;`)
	if err != nil {
		return err
	}
	pool, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: 4})
	if err != nil {
		return err
	}
	defer pool.Close()
	id := identity.Identity{Role: identity.RoleAuthenticated, Claims: map[string]any{
		"sub": "00000000-0000-0000-0000-000000000001", "role": "authenticated", "email": "bench@example.com",
	}}
	const q = "select row_to_json(n)::text from public.notes n where id = $1"
	const clients = 4
	dur := 5 * time.Second

	run := func(name string, op func(k int64) error) (float64, error) {
		var n atomic.Int64
		var firstErr error
		var mu sync.Mutex
		deadline := time.Now().Add(dur)
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				k := int64(c)
				for time.Now().Before(deadline) {
					k = k%10000 + 1
					if err := op(k); err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					n.Add(1)
					k += clients
				}
			}(c)
		}
		wg.Wait()
		return float64(n.Load()) / dur.Seconds(), firstErr
	}
	// The bare query runs as the table owner (RLS does not apply to it), on
	// a pool of the same size: the same statement, minus identity.
	ownerPool, err := db.Open(ctx, d.AdminURL, db.PoolOptions{MaxConns: 4})
	if err != nil {
		return err
	}
	defer ownerPool.Close()
	bare := func(k int64) error {
		var s string
		return ownerPool.Pool.QueryRow(ctx, q, k).Scan(&s)
	}
	withClaims := func(k int64) error {
		return pool.InTx(ctx, id, func(tx pgx.Tx) error {
			var s string
			return tx.QueryRow(ctx, q, k).Scan(&s)
		})
	}
	var bareRates, txRates []float64
	for i := 0; i < 3; i++ { // alternate A B A B A B
		b, err := run("bare", bare)
		if err != nil {
			return err
		}
		t, err := run("claims", withClaims)
		if err != nil {
			return err
		}
		bareRates = append(bareRates, b)
		txRates = append(txRates, t)
	}
	fmt.Printf("   clients=%d duration=%s per run, 3 alternating runs, synchronous_commit=on\n", clients, dur)
	Ratio("GET by key: InTx(role+claims, RLS) vs bare query", median(txRates), median(bareRates), "q/s")
	return nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
