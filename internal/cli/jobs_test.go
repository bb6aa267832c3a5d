package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
)

// TestJobsCLI drives `ayb jobs|schedules|matviews` against a real database
// as an admin would, in table and --json form.
func TestJobsCLI(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	d.Exec(t, `create table public.t (id int primary key); insert into public.t values (1);
		create materialized view public.mv as select count(*) as n from public.t;`)
	cfgPath := t.TempDir() + "/none.toml" // no config file: defaults
	run := func(args ...string) (string, int) {
		var out, errOut bytes.Buffer
		code := Main(append(args, "--database-url", d.AdminURL, "--config", cfgPath), &out, &errOut)
		return out.String() + errOut.String(), code
	}
	out, code := run("jobs", "enqueue", "demo.kind", "--args", `{"a":1}`, "--json")
	require.Equal(t, 0, code, out)
	var e struct{ ID int64 }
	require.NoError(t, json.Unmarshal([]byte(out), &e))
	require.Positive(t, e.ID)

	out, code = run("jobs", "list")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "demo.kind")
	require.Contains(t, out, "available")

	out, code = run("jobs", "cancel", "1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "cancelled")
	out, code = run("jobs", "cancel", "1")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "already cancelled")

	out, code = run("jobs", "stats", "--json")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"cancelled": 1`)

	out, code = run("jobs", "enqueue", "x", "--args", "{bad")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "args must be JSON")

	out, code = run("schedules", "create", "nightly", "--cron", "30 2 * * *", "--kind", "housekeeping", "--timezone", "Europe/Berlin")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "Europe/Berlin")
	out, code = run("schedules", "create", "bad", "--cron", "61 * * * *", "--kind", "housekeeping")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "out of range")
	out, code = run("schedules", "create", "bad", "--cron", "@hourly", "--kind", "no.such.kind")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "unknown job kind")
	out, code = run("schedules", "disable", "nightly")
	require.Equal(t, 0, code, out)
	out, code = run("schedules", "list", "--json")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"enabled": false`)

	out, code = run("matviews", "register", "mv", "--mode", "concurrent")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "unique index")
	out, code = run("matviews", "register", "mv", "--schedule", "@hourly")
	require.Equal(t, 0, code, out)
	out, code = run("matviews", "refresh", "public.mv")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "success")
	out, code = run("matviews", "history", "mv")
	require.Equal(t, 0, code, out)
	require.Equal(t, 2, strings.Count(out, "\n"), out) // header + one refresh
}
