package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/migrate"
)

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// postgresPIDs lists postmaster processes whose command line names dir.
func postgresPIDs(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		s := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(s, "postgres") && strings.Contains(s, dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func waitNoPostgres(t *testing.T, dir string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if len(postgresPIDs(dir)) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("postgres processes still running for %s: %v", dir, postgresPIDs(dir))
}

// The managed lifecycle a new user goes through: first start (initdb),
// /health, Ctrl-C stops both, a second start reuses the data dir, kill -9
// of the server and its Postgres is recovered by the next start.
func TestManagedLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))

	in := Start(t, StartOptions{Dir: dir})
	status, body := getJSON(t, in.URL+"/health")
	require.Equal(t, 200, status)
	require.Equal(t, "ok", body["database"])
	latest, err := migrate.Latest()
	require.NoError(t, err)
	require.EqualValues(t, latest, body["migration"].(map[string]any)["current"])
	require.Contains(t, in.Logs(), "initializing a new PostgreSQL")
	require.FileExists(t, filepath.Join(dir, "ayb.toml"))
	pgDir := filepath.Join(dir, ".ayb", "pg")
	require.NotEmpty(t, postgresPIDs(pgDir))

	// Ctrl-C stops AYB and its Postgres.
	require.NoError(t, in.Stop(syscall.SIGINT))
	waitNoPostgres(t, pgDir, 10*time.Second)

	// A second start reuses the data dir (no initdb).
	in2 := Start(t, StartOptions{Dir: dir})
	require.NotContains(t, in2.Logs(), "initializing a new PostgreSQL")

	// kill -9 of the server and its Postgres.
	pids := postgresPIDs(pgDir)
	require.NotEmpty(t, pids)
	require.NoError(t, syscall.Kill(in2.Cmd.Process.Pid, syscall.SIGKILL))
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	<-in2.Done()
	waitNoPostgres(t, pgDir, 10*time.Second)
	require.FileExists(t, filepath.Join(pgDir, "postmaster.pid"), "a killed postmaster leaves its pid file")

	in3 := Start(t, StartOptions{Dir: dir})
	status, _ = getJSON(t, in3.URL+"/health")
	require.Equal(t, 200, status)
	require.NoError(t, in3.Stop(syscall.SIGTERM))
	waitNoPostgres(t, pgDir, 10*time.Second)
}

// Two instances started at the same moment on an empty database both come
// up, and each migration is applied once.
func TestConcurrentBootOnExternalDatabase(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	admin := d.Admin(t)
	// An empty database on the same server.
	name := d.Name + "_empty"
	_, err := admin.Exec(ctx, "create database "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, dbtest.ServerURL(""))
		if err == nil {
			_, _ = c.Exec(ctx, "drop database if exists "+name+" with (force)")
			c.Close(ctx)
		}
	})
	url := dbtest.ServerURL(name)
	var wg sync.WaitGroup
	ins := make([]*Instance, 2)
	for i := range ins {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ins[i] = Start(t, StartOptions{DatabaseURL: url, NoWait: true})
		}(i)
	}
	wg.Wait()
	for _, in := range ins {
		in.WaitHealthy(60 * time.Second)
	}
	applied := strings.Count(ins[0].Logs(), "applying migration 001_") + strings.Count(ins[1].Logs(), "applying migration 001_")
	require.Equal(t, 1, applied, "migration 001 applied exactly once across both instances")
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var v int32
	require.NoError(t, conn.QueryRow(ctx, "select version from ayb.schema_version").Scan(&v))
	latest, _ := migrate.Latest()
	require.Equal(t, latest, v)
}

// With no PostgreSQL binaries anywhere, `ayb start` exits non-zero and
// names what to install. The binaries are hidden in a private mount
// namespace (root only, as CI runs).
func TestNoPostgresBinaries(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("this test hides /usr/lib/postgresql in a mount namespace and needs root (CI runs as root)")
	}
	dir := t.TempDir()
	script := `mount -t tmpfs none /usr/lib/postgresql && PATH=/usr/sbin:/usr/bin:/sbin:/bin exec "$0" start --data-dir "$1"/pg`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, aybBin, dir)
	cmd.Dir = dir
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "AYB_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "ayb start must fail without PostgreSQL binaries: %s", out)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.NotEqual(t, 0, ee.ExitCode())
	require.Contains(t, string(out), "apt-get install postgresql", string(out))
	require.NoFileExists(t, filepath.Join(dir, "pg", "PG_VERSION"))
}

// `ayb sql` and `ayb migrate status` work against the configured database.
func TestCLISQLAndMigrateStatus(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	out, err := Run(t, t.TempDir(), nil, "sql", "select 1 as one, 'x''y' as two", "--database-url", d.AdminURL)
	require.NoError(t, err, out)
	require.Contains(t, out, "one")
	require.Contains(t, out, "x'y")
	require.Contains(t, out, "(1 row)")

	out, err = Run(t, t.TempDir(), nil, "sql", "select 2 as n", "--json", "--database-url", d.AdminURL)
	require.NoError(t, err, out)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rows), out)
	require.EqualValues(t, 2, rows[0]["n"])

	out, err = Run(t, t.TempDir(), nil, "migrate", "status", "--database-url", d.AdminURL)
	require.NoError(t, err, out)
	latest, _ := migrate.Latest()
	require.Contains(t, out, "version "+strconv.Itoa(int(latest))+" of "+strconv.Itoa(int(latest)))

	out, err = Run(t, t.TempDir(), nil, "sql", "select * from no_such_table", "--database-url", d.AdminURL)
	require.Error(t, err)
	require.Contains(t, out, "no_such_table")
}

// `ayb config` shows the effective config with precedence and masking.
func TestConfigPrecedenceAndMasking(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ayb.toml"), []byte("[server]\nport = 9000\nhost = \"0.0.0.0\"\n"), 0o644))
	out, err := Run(t, dir, []string{"AYB_SERVER_PORT=9100", "AYB_DATABASE_URL=postgres://u:supersecret@db:5432/x"}, "config", "--json", "--port", "9200")
	require.NoError(t, err, out)
	var m map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &m), out)
	require.Equal(t, "9200", m["server.port"], "flag beats env beats file")
	require.Equal(t, `"0.0.0.0"`, m["server.host"], "file beats default")
	require.NotContains(t, out, "supersecret")
	require.Contains(t, m["database.url"], "u:****@db")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "ayb.toml"), []byte("[server]\nprot = 1\n"), 0o644))
	out, err = Run(t, dir, nil, "config")
	require.Error(t, err)
	require.Contains(t, out, "unknown keys: server.prot")
}

// `ayb sql` while the server runs uses the server's PostgreSQL and leaves it
// running; the server stays healthy.
func TestSQLAttachesToRunningManagedCluster(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	in := Start(t, StartOptions{Dir: dir})
	out, err := Run(t, dir, nil, "sql", "select current_database() as db")
	require.NoError(t, err, out)
	require.Contains(t, out, "ayb")
	status, _ := getJSON(t, in.URL+"/health")
	require.Equal(t, 200, status, "the server's database survived `ayb sql`")
	require.NoError(t, in.Stop(syscall.SIGINT))
	waitNoPostgres(t, filepath.Join(dir, ".ayb", "pg"), 10*time.Second)
}
