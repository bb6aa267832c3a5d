package realtime_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/job"
	"github.com/aybhq/ayb/internal/realtime"
)

// The log is pruned by the realtime.prune job that the ayb.realtime.prune
// schedule enqueues, with the retention of the worker that runs it (or the
// job's own); a client resuming from before what was pruned is told so
// with a reset event, then gets every event still kept, once, in order.
func TestPruneJobTrimsTheLogAndResumeReportsTheGap(t *testing.T) {
	t.Parallel()
	b := setup(t, realtime.Options{})
	ctx := context.Background()
	scalar := func(sql string, args ...any) int64 {
		t.Helper()
		var n int64
		require.NoError(t, b.admin.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	var cron, kind string
	var enabled bool
	require.NoError(t, b.admin.QueryRow(ctx, `select cron, kind, enabled from ayb.schedules where name = 'ayb.realtime.prune'`).
		Scan(&cron, &kind, &enabled))
	require.Equal(t, "@every 1m", cron)
	require.Equal(t, realtime.PruneKind, kind)
	require.True(t, enabled)

	s, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	b.exec(t, "insert into rows (team_id, body) values (1, 'old 1')")
	first := mustInt(t, s.next(t).ID)
	b.exec(t, "insert into rows (team_id, body) values (1, 'old 2')")
	oldest := mustInt(t, s.next(t).ID)
	s.close()
	b.exec(t, "insert into rows (team_id, body) values (1, 'kept 1'), (2, 'kept, not visible'), (1, 'kept 2')")
	// Two hours pass for the changes up to the second (the members'
	// inserts of the set-up included).
	b.exec(t, "update ayb.realtime_events set created_at = created_at - interval '2 hours' where id <= $1", oldest)
	newer := scalar("select count(*) from ayb.realtime_events where id > $1", oldest)
	require.EqualValues(t, 3, newer)

	reg := job.NewRegistry()
	realtime.RegisterPruneJob(reg, b.db.DB, time.Hour)
	w := job.NewWorker(b.db.DB, reg, job.Options{PollInterval: 100 * time.Millisecond})
	require.NoError(t, w.Start(ctx))
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Stop(c)
	})
	runJob := func(sql string) string {
		t.Helper()
		id := scalar(sql)
		deadline := time.Now().Add(10 * time.Second)
		var state string
		for time.Now().Before(deadline) {
			require.NoError(t, b.admin.QueryRow(ctx, "select state::text from ayb.jobs where id = $1", id).Scan(&state))
			if state == "completed" || state == "discarded" {
				return state
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("job %d still %s after 10s", id, state)
		return ""
	}
	require.Equal(t, "completed", runJob("select ayb.schedule_run_now('ayb.realtime.prune')"))
	require.Equal(t, newer, scalar("select count(*) from ayb.realtime_events"), "the old events are pruned, the rest kept")
	require.Zero(t, scalar("select count(*) from ayb.realtime_events where id <= $1", oldest))
	require.Equal(t, oldest, scalar("select ayb.realtime_pruned_through()"))

	// Resume from before the gap: reset first, then what is kept.
	r, _, _ := open(t, b.url, "tables=rows", token(userA), strconv.FormatInt(first-1, 10))
	require.Len(t, r.resets, 1)
	require.Equal(t, "events_pruned", r.resets[0].Data["reason"])
	require.EqualValues(t, first-1, num(r.resets[0].Data["last_event_id"]))
	require.EqualValues(t, oldest, num(r.resets[0].Data["resumed_after"]))
	require.Equal(t, "kept 1", r.next(t).Data["record"].(map[string]any)["body"])
	require.Equal(t, "kept 2", r.next(t).Data["record"].(map[string]any)["body"])
	r.quiet(t, 300*time.Millisecond)
	// A resume from within what is kept gets no reset.
	k, _, _ := open(t, b.url, "tables=rows", token(userA), strconv.FormatInt(oldest, 10))
	require.Empty(t, k.resets)
	require.Equal(t, "kept 1", k.next(t).Data["record"].(map[string]any)["body"])

	// The job's args override the retention; a bad one is discarded, not
	// retried, and deletes nothing.
	kept := scalar("select count(*) from ayb.realtime_events")
	require.Equal(t, "discarded", runJob(`select ayb.job_enqueue('realtime.prune'::text, '{"retention": "-1 hour"}'::jsonb)`))
	require.Equal(t, "discarded", runJob(`select ayb.job_enqueue('realtime.prune'::text, '{"retention": "soon"}'::jsonb)`))
	var lastErr string
	require.NoError(t, b.admin.QueryRow(ctx, `select coalesce(errors -> -1 ->> 'error', '') from ayb.jobs
		where kind = 'realtime.prune' order by id desc limit 1`).Scan(&lastErr))
	require.Contains(t, lastErr, "soon")
	require.Equal(t, kept, scalar("select count(*) from ayb.realtime_events"))
	require.Equal(t, "completed", runJob(`select ayb.job_enqueue('realtime.prune'::text, '{"retention": "0 seconds"}'::jsonb)`))
	require.Zero(t, scalar("select count(*) from ayb.realtime_events"), "a zero retention prunes everything committed")
}
