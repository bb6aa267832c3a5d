package job

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
)

// A claim over a backlog the planner has no statistics for (a new install
// given a bulk enqueue, or a surge before autovacuum analyzes ayb.jobs)
// walks jobs_fetch_idx in order. Without statistics PostgreSQL guessed 2
// rows and chose a bitmap scan that sorted the whole backlog on every
// claim: 143 ms per claim with 200,000 jobs, and the bench's first
// burn-down ran at ~3k jobs/s instead of ~30k (migration 020).
func TestClaimWalksTheIndexWithoutStatistics(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	d.Exec(t, `alter table ayb.jobs set (autovacuum_enabled = false);
		insert into ayb.jobs (queue, kind, args) select 'default', 'noop', '{}' from generate_series(1, 200000);`)

	cfg, err := pgx.ParseConfig(d.AdminURL)
	require.NoError(t, err)
	var mu sync.Mutex
	var plans []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		plans = append(plans, n.Message)
		mu.Unlock()
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var reltuples float64
	require.NoError(t, conn.QueryRow(ctx, `select reltuples from pg_class where oid = 'ayb.jobs'::regclass`).Scan(&reltuples))
	require.Equal(t, float64(-1), reltuples, "ayb.jobs must not have been analyzed yet")

	_, err = conn.Exec(ctx, `load 'auto_explain'; set auto_explain.log_min_duration = 0;
		set auto_explain.log_nested_statements = on; set client_min_messages = log`)
	require.NoError(t, err)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `select count(*) from ayb.job_claim('w', 'default', 100)`).Scan(&n))
	require.Equal(t, 100, n)

	mu.Lock()
	defer mu.Unlock()
	var claim string
	for _, p := range plans {
		if strings.Contains(p, "for update skip locked") {
			claim = p
		}
	}
	require.NotEmpty(t, claim, "auto_explain logged no plan for the claim: %q", plans)
	require.Contains(t, claim, "Index Scan using jobs_fetch_idx", claim)
	require.NotContains(t, claim, "Sort", claim)
}
