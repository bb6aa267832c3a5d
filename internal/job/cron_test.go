package job

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseCronErrors(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "* * * *", "61 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "5-1 * * * *", "*/0 * * * *", "@every 10ms", "@every x", "@sometimes"} {
		_, err := ParseCron(bad)
		require.Error(t, err, bad)
	}
}

func TestCronNext(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	cases := []struct{ expr, from, want string }{
		{"*/15 * * * *", "2026-01-01T10:07:00Z", "2026-01-01T10:15:00Z"},
		{"0 9 * * mon-fri", "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z"}, // Friday -> Monday
		{"@hourly", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"},
		{"@daily", "2026-01-01T10:00:00Z", "2026-01-02T00:00:00Z"},
		{"30 * * * * *", "2026-01-01T10:00:30Z", "2026-01-01T10:01:30Z"},
		{"@every 30s", "2026-01-01T10:00:10Z", "2026-01-01T10:00:30Z"},
		{"0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"0 0 13 * 5", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"}, // dom OR dow: Friday 2nd
		{"0 0 1 jan *", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"0 0 * * 7", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"}, // 7 = Sunday
	}
	for _, c := range cases {
		cr, err := ParseCron(c.expr)
		require.NoError(t, err, c.expr)
		require.Equal(t, at(c.want).UTC(), cr.Next(at(c.from), time.UTC).UTC(), c.expr)
	}
}

// TestCronDailyBerlinAcrossDST walks a daily 02:30 Europe/Berlin schedule
// through the 2026 spring-forward (29 March, 02:00 -> 03:00: 02:30 does not
// exist) and fall-back (25 October, 03:00 -> 02:00: 02:30 happens twice)
// days, as the scheduler does (each next from the previous fire): exactly
// one fire per calendar day, never two, never none.
func TestCronDailyBerlinAcrossDST(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	cr, err := ParseCron("30 2 * * *")
	require.NoError(t, err)
	for _, span := range []struct{ from, to time.Time }{
		{time.Date(2026, 3, 26, 12, 0, 0, 0, berlin), time.Date(2026, 4, 2, 0, 0, 0, 0, berlin)},
		{time.Date(2026, 10, 22, 12, 0, 0, 0, berlin), time.Date(2026, 10, 29, 0, 0, 0, 0, berlin)},
	} {
		perDay := map[string]int{}
		var fires []time.Time
		for t0 := span.from; ; {
			next := cr.Next(t0, berlin)
			if !next.Before(span.to) {
				break
			}
			require.True(t, next.After(t0))
			perDay[next.In(berlin).Format("2006-01-02")]++
			fires = append(fires, next)
			t0 = next
		}
		require.Len(t, perDay, 6, "one fire on each of the 6 days: %v", fires)
		for day, n := range perDay {
			require.Equal(t, 1, n, day)
		}
		for _, f := range fires {
			l := f.In(berlin)
			if l.Format("2006-01-02") == "2026-03-29" {
				require.Equal(t, "03:30", l.Format("15:04"), "the missing 02:30 fires right after the gap")
			} else {
				require.Equal(t, "02:30", l.Format("15:04"))
			}
		}
		// Starting between the two 02:30s of the fall-back day (the first
		// has fired) must not fire the second.
		mid := time.Date(2026, 10, 25, 0, 45, 0, 0, time.UTC) // 02:45 CEST, before 02:30 CET
		require.Equal(t, "2026-10-26 02:30", cr.Next(mid, berlin).In(berlin).Format("2006-01-02 15:04"))
	}
}
