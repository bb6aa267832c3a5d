package job_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/job"
)

// fakeClock is shared by schedulers so they race over the same instants.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSchedulers(b bundle, clock *fakeClock, n int) []*job.Scheduler {
	var out []*job.Scheduler
	for range n {
		s := job.NewScheduler(b.d.DB)
		s.Now = clock.Now
		out = append(out, s)
	}
	return out
}

// tickAll runs every scheduler's tick at once (racing) and returns the
// number of jobs they enqueued together.
func tickAll(t *testing.T, ss []*job.Scheduler) int {
	t.Helper()
	var wg sync.WaitGroup
	counts := make([]int, len(ss))
	errs := make([]error, len(ss))
	for i, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = s.Tick(context.Background())
		}()
	}
	wg.Wait()
	total := 0
	for i := range ss {
		require.NoError(t, errs[i])
		total += counts[i]
	}
	return total
}

func upsertSchedule(t *testing.T, b bundle, name, cron, tz string, catchUp bool) {
	t.Helper()
	_, err := b.d.Pool.Exec(b.ctx, "select ayb.schedule_upsert($1, $2, 'sql', '{}', $3, 'default', 0, 20, true, $4)", name, cron, tz, catchUp)
	require.NoError(t, err)
}

// TestTwoSchedulersEverySecond: two schedulers tick together (every 250 ms
// of injected time) over 30 s of a schedule that fires every second:
// exactly 30 jobs, one per fire time.
func TestTwoSchedulersEverySecond(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.d.Exec(t, "delete from ayb.schedules")
	clock := &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	upsertSchedule(t, b, "every-second", "* * * * * *", "UTC", true)
	ss := newSchedulers(b, clock, 2)
	fired := tickAll(t, ss) // computes the first next_run_at: 12:00:01
	for range 120 {
		clock.Add(250 * time.Millisecond)
		fired += tickAll(t, ss)
	}
	require.Equal(t, 30, fired)
	require.EqualValues(t, 30, b.scalar(t, "select count(*) from ayb.jobs"))
	require.EqualValues(t, 30, b.scalar(t, "select count(distinct unique_key) from ayb.jobs"))
	require.EqualValues(t, 30, b.scalar(t, "select count(distinct scheduled_at) from ayb.jobs"))
}

// TestSchedulerBerlinDailyAcrossDST drives the scheduler itself with
// injected time through the spring-forward and fall-back weeks of 2026
// with a daily 02:30 Europe/Berlin schedule: one job per day.
func TestSchedulerBerlinDailyAcrossDST(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.d.Exec(t, "delete from ayb.schedules")
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	for _, start := range []time.Time{
		time.Date(2026, 3, 27, 0, 0, 0, 0, berlin),
		time.Date(2026, 10, 23, 0, 0, 0, 0, berlin),
	} {
		b.d.Exec(t, "delete from ayb.jobs; delete from ayb.schedules")
		clock := &fakeClock{t: start}
		upsertSchedule(t, b, "berlin-0230", "30 2 * * *", "Europe/Berlin", true)
		ss := newSchedulers(b, clock, 2)
		tickAll(t, ss)
		for clock.Now().Before(start.AddDate(0, 0, 5)) {
			clock.Add(5 * time.Minute)
			tickAll(t, ss)
		}
		rows, err := b.d.Pool.Query(b.ctx, "select scheduled_at from ayb.jobs order by scheduled_at")
		require.NoError(t, err)
		perDay := map[string]int{}
		for rows.Next() {
			var at time.Time
			require.NoError(t, rows.Scan(&at))
			perDay[at.In(berlin).Format("2006-01-02")]++
		}
		require.NoError(t, rows.Err())
		require.Len(t, perDay, 5, "%v", perDay)
		for day, n := range perDay {
			require.Equal(t, 1, n, day)
		}
	}
}

// TestScheduleDisabledAtDueInstant: a schedule disabled when it falls due
// (between a scheduler's read and its fire) enqueues nothing.
func TestScheduleDisabledAtDueInstant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.d.Exec(t, "delete from ayb.schedules")
	clock := &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	upsertSchedule(t, b, "minutely", "* * * * *", "UTC", true)
	ss := newSchedulers(b, clock, 1)
	tickAll(t, ss)
	clock.Add(time.Minute)
	// Disabled exactly at the due instant: the fire's guarded update is what
	// the scheduler would run after reading the schedule as due.
	_, err := b.d.Pool.Exec(b.ctx, "select ayb.schedule_disable('minutely')")
	require.NoError(t, err)
	var id *int64
	require.NoError(t, b.d.Pool.QueryRow(b.ctx, "select ayb.schedule_fire('minutely', $1, $2, true, $1)",
		time.Date(2026, 6, 1, 12, 1, 0, 0, time.UTC), time.Date(2026, 6, 1, 12, 2, 0, 0, time.UTC)).Scan(&id))
	require.Nil(t, id)
	require.Equal(t, 0, tickAll(t, ss))
	require.EqualValues(t, 0, b.scalar(t, "select count(*) from ayb.jobs"))
	// Enabled again, it fires from then on (next computed from now).
	_, err = b.d.Pool.Exec(b.ctx, "select ayb.schedule_enable('minutely')")
	require.NoError(t, err)
	tickAll(t, ss)
	clock.Add(time.Minute)
	require.Equal(t, 1, tickAll(t, ss))
}

// TestMissedFiresCollapseOrSkip: after 10 minutes of downtime a minutely
// schedule fires once (catch-up), or not at all with catch_up off; then
// it resumes on its cron.
func TestMissedFiresCollapseOrSkip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.d.Exec(t, "delete from ayb.schedules")
	clock := &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	upsertSchedule(t, b, "catch-up", "* * * * *", "UTC", true)
	upsertSchedule(t, b, "skip", "* * * * *", "UTC", false)
	ss := newSchedulers(b, clock, 1)
	tickAll(t, ss)
	clock.Add(10*time.Minute + 30*time.Second) // down 10 minutes
	require.Equal(t, 1, tickAll(t, ss))
	require.EqualValues(t, 1, b.scalar(t, "select count(*) from ayb.jobs where 'schedule:catch-up' = any (tags)"))
	require.EqualValues(t, 0, b.scalar(t, "select count(*) from ayb.jobs where 'schedule:skip' = any (tags)"))
	clock.Add(30 * time.Second) // 12:11:00: both due on time
	require.Equal(t, 2, tickAll(t, ss))
}
