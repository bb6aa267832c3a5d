package job_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTwoAybStartProcesses runs the real binary twice (`ayb start` on one
// database, as two server instances) and gives them 10,000 `sql` jobs whose
// function records each run: every job ran exactly once, both instances
// took part, none is left running, and both stop cleanly on SIGTERM. (The
// built-in schedules fire their own jobs meanwhile: ayb.realtime.prune
// every minute.)
func TestTwoAybStartProcesses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bin := filepath.Join(t.TempDir(), "ayb")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/ayb")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	b.d.Exec(t, `create table public.sql_runs (n int not null, at timestamptz not null default clock_timestamp());
		grant all on public.sql_runs to service_role;
		create function public.record_run(a jsonb) returns void language sql as $$
		  insert into public.sql_runs (n) values ((a->>'n')::int) $$;
		grant execute on function public.record_run(jsonb) to service_role;`)
	const n = 10000
	b.d.Exec(t, `select ayb.job_enqueue(array_agg('sql'::text), array_agg(jsonb_build_object('function', 'public.record_run', 'args', jsonb_build_object('n', i))))
		from generate_series(1, $1) i`, n)

	cfg := filepath.Join(t.TempDir(), "ayb.toml")
	require.NoError(t, os.WriteFile(cfg, []byte("[jobs]\nqueues = [\"default:20\"]\n"), 0o644))
	var procs []*exec.Cmd
	var logs []*bytes.Buffer
	var mu sync.Mutex
	for range 2 {
		cmd := exec.Command(bin, "start", "--config", cfg, "--port", "0", "--database-url", b.d.URL)
		cmd.Env = append(os.Environ(), "AYB_DATABASE_ADMIN_URL="+b.d.AdminURL, "AYB_LOG_LEVEL=warn")
		var buf bytes.Buffer
		cmd.Stdout = &lockedWriter{mu: &mu, w: &buf}
		cmd.Stderr = cmd.Stdout
		require.NoError(t, cmd.Start())
		procs = append(procs, cmd)
		logs = append(logs, &buf)
		t.Cleanup(func() { _ = cmd.Process.Kill() })
	}
	waitFor(t, 3*time.Minute, "10,000 jobs completed by two ayb processes", func() bool {
		return b.scalar(t, "select count(*) from ayb.jobs where state = 'completed' and kind = 'sql'") == n
	})
	for i, p := range procs {
		require.NoError(t, p.Process.Signal(syscall.SIGTERM))
		require.NoError(t, p.Wait(), "process %d: %s", i, logs[i].String())
	}
	require.EqualValues(t, n, b.scalar(t, "select count(*) from public.sql_runs"))
	require.EqualValues(t, n, b.scalar(t, "select count(distinct n) from public.sql_runs"))
	require.EqualValues(t, 0, b.scalar(t, "select count(*) from ayb.jobs where state <> 'completed' and kind = 'sql'"))
	require.EqualValues(t, 2, b.scalar(t, "select count(distinct attempted_by) from ayb.jobs where kind = 'sql'"))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
