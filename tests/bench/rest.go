package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/pg"
)

func init() {
	register(&Bench{
		Name:    "rest",
		Summary: "REST GET by key under RLS, as service_role, list of 20 with a filter; beside pgbench -S and a pgbench replay of the request's SQL",
		Run:     benchREST,
	})
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+)`)

func pgbench(ctx context.Context, bin pg.Binaries, url string, args ...string) (float64, error) {
	tps, _, err := pgbenchCPU(ctx, bin, url, args...)
	return tps, err
}

// pgbenchCPU is pgbench that also returns the CPU time pgbench itself used.
func pgbenchCPU(ctx context.Context, bin pg.Binaries, url string, args ...string) (float64, time.Duration, error) {
	cmd := exec.CommandContext(ctx, bin.Path("pgbench"), append(args, url)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("pgbench %v: %v\n%s", args, err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("pgbench: no tps in output:\n%s", out)
	}
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	return tps, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), err
}

// benchREST measures the product as a user runs it: the real `ayb` binary
// in its own process, real access tokens (ES256, session checked on every
// request), driven by wrk (-t2 -c8, keep-alive, as perf.md proposes) on
// this 2-core machine, where client, server and Postgres share the cores.
// Beside it, in the same run and on the same database: pgbench -S, and a
// pgbench replay of exactly the SQL a GET by key sends, pipelined the way
// db.Read sends it (session check, set_config of role, claims, read-only
// mode and the role's statement_timeout, the query: one implicit
// transaction up to its Sync). The server
// multiplexes such pipelines, many to a connection; the replay gives each
// client its own. Runs alternate 3 times; medians are reported.
func benchREST(ctx context.Context, env *Env) error {
	const clients = 8
	dur := 5 * time.Second
	if s := os.Getenv("AYB_BENCH_SECONDS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			dur = time.Duration(n) * time.Second
		}
	}
	wrkBin, err := exec.LookPath("wrk")
	if err != nil {
		return fmt.Errorf("wrk not found (make bench installs it: tests/setup-deps.sh --bench): %w", err)
	}
	d, err := env.NewDatabase(ctx)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ayb-bench-rest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// AYB_BENCH_COMPARE names another ayb binary (an earlier build, say) to
	// run beside this one on the same database, alternating with it, for
	// an A/B comparison within one run on this noisy machine. It starts
	// first, so that an older build meets the schema it knows.
	var other *aybProcess
	if exe := os.Getenv("AYB_BENCH_COMPARE"); exe != "" {
		if other, err = startExe(ctx, dir, exe, "ayb-compare.log", d); err != nil {
			return err
		}
		defer other.stop()
	}
	srv, err := startBinary(ctx, dir, d)
	if err != nil {
		return err
	}
	defer srv.stop()

	// Two users through the real sign-up; the second is made an admin, so
	// its tokens carry service_role.
	owner, err := srv.register(ctx, "owner@bench.example")
	if err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, d.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := srv.register(ctx, "admin@bench.example"); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, `update ayb.users set is_admin = true where email = 'admin@bench.example'`); err != nil {
		return err
	}
	svc, err := srv.login(ctx, "admin@bench.example")
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, `
		create table public.msgs (id bigint primary key, owner uuid not null, body text not null, kind int not null);
		insert into public.msgs select i, '`+owner.userID+`', 'message ' || i, i % 10 from generate_series(1, 10000) i;
		alter table public.msgs enable row level security;
		create policy owner_read on public.msgs for select using (owner = auth.uid());
		create index msgs_kind on public.msgs (kind, id);
		analyze public.msgs;`)
	if err != nil {
		return err
	}
	if err := srv.waitFor(ctx, "/api/collections/msgs/1", owner.token); err != nil {
		return err
	}

	bin, err := pg.FindBinaries()
	if err != nil {
		return err
	}
	// The replay: the statements the server pipelines for
	// GET /api/collections/msgs/{id} with this token, including the role's
	// statement_timeout (migration 024 gives authenticated 8s).
	timeouts, err := db.RoleStatementTimeouts(ctx, admin)
	if err != nil {
		return err
	}
	setTimeout := ""
	if t := timeouts["authenticated"]; t != "" {
		setTimeout = ", set_config('statement_timeout', '" + t + "', true)"
	}
	replay := filepath.Join(dir, "replay.sql")
	script := `\set id random(1, 10000)
\startpipeline
select ayb.require_session('` + owner.sessionID + `'::uuid, '` + owner.userID + `'::uuid, now());
select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '` + owner.claimsJSON + `', true), set_config('transaction_read_only', 'on', true)` + setTimeout + `;
select (select row_to_json(_r) from (select "t0"."id", "t0"."owner", "t0"."body", "t0"."kind") _r)::text from "public"."msgs" "t0" where "t0"."id" = :id::text::bigint;
\endpipeline
`
	if err := os.WriteFile(replay, []byte(script), 0o644); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "create table public.pgbench_accounts (aid int primary key, bid int, abalance int, filler char(84)); "+
		"insert into public.pgbench_accounts select i, 1, 0, '' from generate_series(1, 100000) i; "+
		"create table public.pgbench_branches (bid int primary key, bbalance int, filler char(88)); insert into public.pgbench_branches values (1, 0, ''); "+
		"create table public.pgbench_tellers (tid int primary key, bid int, tbalance int, filler char(84)); "+
		"create table public.pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22)); analyze"); err != nil {
		return err
	}
	secs := strconv.Itoa(int(dur.Seconds()))
	pgArgs := []string{"-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", secs, "-M", "prepared"}

	getLua := filepath.Join(dir, "get.lua")
	listLua := filepath.Join(dir, "list.lua")
	if err := os.WriteFile(getLua, []byte(`
request = function()
  return wrk.format("GET", "/api/collections/msgs/" .. math.random(1, 10000))
end
`), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(listLua, []byte(`
request = function()
  return wrk.format("GET", "/api/collections/msgs?perPage=20&skipTotal=true&filter=kind%20%3D%20" .. math.random(0, 9))
end
`), 0o644); err != nil {
		return err
	}
	floor, err := startFloor(ctx, d.URL, owner)
	if err != nil {
		return err
	}
	defer floor.stop()
	loadOn := func(base string, pid int, script, token string, d time.Duration) (loadResult, error) {
		cpu0, pg0, m0 := cpuTicks(pid), backendTicks(ctx, admin), machineBusy()
		r, err := runWrk(ctx, wrkBin, base, script, token, clients, d)
		if err == nil && r.rps > 0 { // clock ticks are 10 ms (USER_HZ 100)
			n := r.rps * d.Seconds()
			r.machinePerReq = time.Duration((machineBusy() - m0) * float64(10*time.Millisecond) / n)
			r.cpuPerReq = time.Duration((cpuTicks(pid) - cpu0) * float64(10*time.Millisecond) / n)
			r.pgPerReq = time.Duration(tickDelta(pg0, backendTicks(ctx, admin)) * float64(10*time.Millisecond) / n)
		}
		return r, err
	}
	load := func(script, token string, d time.Duration) (loadResult, error) {
		return loadOn(srv.base, srv.cmd.Process.Pid, script, token, d)
	}
	// warm up caches, prepared statements and the verified-token cache
	if _, err := load(getLua, owner.token, time.Second); err != nil {
		return err
	}
	if _, err := load(getLua, svc.token, time.Second); err != nil {
		return err
	}
	if _, err := loadOn(floor.base, floor.cmd.Process.Pid, getLua, owner.token, time.Second); err != nil {
		return err
	}
	if other != nil {
		if _, err := loadOn(other.base, other.cmd.Process.Pid, getLua, owner.token, time.Second); err != nil {
			return err
		}
	}

	var getRLS, getSvc, list, floors []loadResult
	var sRates, replayRates, replayMachine, replayClient []float64
	var others []loadResult               // AYB_BENCH_COMPARE's RLS GET runs
	var batches, muxed, toPool, gcs int64 // over the RLS GET runs
	for i := 0; i < 3; i++ {              // alternate ours and the baselines
		st0, err := srv.stats(ctx, svc.token)
		if err != nil {
			return err
		}
		g, err := load(getLua, owner.token, dur)
		if err != nil {
			return err
		}
		st1, err := srv.stats(ctx, svc.token)
		if err != nil {
			return err
		}
		if other != nil {
			o, err := loadOn(other.base, other.cmd.Process.Pid, getLua, owner.token, dur)
			if err != nil {
				return err
			}
			others = append(others, o)
		}
		x0, x1 := st0.Database.Multiplex, st1.Database.Multiplex
		batches, muxed, toPool = batches+x1.Batches-x0.Batches, muxed+x1.Requests-x0.Requests, toPool+x1.ToPool-x0.ToPool
		gcs += int64(st1.GCCycles - st0.GCCycles)
		m0 := machineBusy()
		rp, rpCPU, err := pgbenchCPU(ctx, bin, d.URL, append(pgArgs, "-f", replay)...)
		if err != nil {
			return err
		}
		n := rp * dur.Seconds()
		replayMachine = append(replayMachine, (machineBusy()-m0)*float64(10*time.Millisecond)/n)
		replayClient = append(replayClient, float64(rpCPU)/n)
		s, err := load(getLua, svc.token, dur)
		if err != nil {
			return err
		}
		l, err := load(listLua, owner.token, dur)
		if err != nil {
			return err
		}
		f, err := loadOn(floor.base, floor.cmd.Process.Pid, getLua, owner.token, dur)
		if err != nil {
			return err
		}
		floors = append(floors, f)
		ps, err := pgbench(ctx, bin, d.URL, append(pgArgs, "-S")...)
		if err != nil {
			return err
		}
		getRLS, getSvc, list = append(getRLS, g), append(getSvc, s), append(list, l)
		sRates, replayRates = append(sRates, ps), append(replayRates, rp)
	}
	med := func(rs []loadResult) loadResult {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = r.rps
		}
		m := median(v)
		for _, r := range rs {
			if r.rps == m {
				return r
			}
		}
		return rs[0]
	}
	g, s, l, fl := med(getRLS), med(getSvc), med(list), med(floors)
	replayTPS, sTPS := median(replayRates), median(sRates)
	fmt.Printf("   real ayb binary, real ES256 access tokens; wrk -t2 -c%d, %s per run, 3 alternating runs (medians); pool=8, synchronous_commit=on\n", clients, dur)
	Ratio("GET by key, RLS owner policy (HTTP) vs pgbench replay", g.rps, replayTPS, "req/s")
	fmt.Printf("   %-48s p50 %s  p99 %s  CPU/request: server %s, postgres %s, wrk %s, machine %s\n", "  latency", g.p50.Round(time.Microsecond), g.p99.Round(time.Microsecond), g.cpuPerReq.Round(time.Microsecond), g.pgPerReq.Round(time.Microsecond), g.clientPerReq.Round(time.Microsecond), g.machinePerReq.Round(time.Microsecond))
	Ratio("GET by key, service_role (HTTP) vs pgbench replay", s.rps, replayTPS, "req/s")
	fmt.Printf("   %-48s p50 %s  p99 %s  CPU/request: server %s, postgres %s, wrk %s, machine %s\n", "  latency", s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond), s.cpuPerReq.Round(time.Microsecond), s.pgPerReq.Round(time.Microsecond), s.clientPerReq.Round(time.Microsecond), s.machinePerReq.Round(time.Microsecond))
	Ratio("list 20 rows with a filter, RLS (HTTP) vs replay", l.rps, replayTPS, "req/s")
	fmt.Printf("   %-48s p50 %s  p99 %s  CPU/request: server %s, postgres %s, wrk %s, machine %s\n", "  latency", l.p50.Round(time.Microsecond), l.p99.Round(time.Microsecond), l.cpuPerReq.Round(time.Microsecond), l.pgPerReq.Round(time.Microsecond), l.clientPerReq.Round(time.Microsecond), l.machinePerReq.Round(time.Microsecond))
	Ratio("floor: net/http + pgx, same SQL, no AYB vs replay", fl.rps, replayTPS, "req/s")
	fmt.Printf("   %-48s p50 %s  p99 %s  CPU/request: server %s, postgres %s, wrk %s, machine %s\n", "  latency", fl.p50.Round(time.Microsecond), fl.p99.Round(time.Microsecond), fl.cpuPerReq.Round(time.Microsecond), fl.pgPerReq.Round(time.Microsecond), fl.clientPerReq.Round(time.Microsecond), fl.machinePerReq.Round(time.Microsecond))
	Ratio("GET by key, RLS (HTTP) vs the floor server", g.rps, fl.rps, "req/s")
	if len(others) > 0 {
		o := med(others)
		Ratio("AYB_BENCH_COMPARE: GET by key, RLS vs replay", o.rps, replayTPS, "req/s")
		fmt.Printf("   %-48s p50 %s  p99 %s  CPU/request: server %s, postgres %s, wrk %s, machine %s\n", "  latency", o.p50.Round(time.Microsecond), o.p99.Round(time.Microsecond), o.cpuPerReq.Round(time.Microsecond), o.pgPerReq.Round(time.Microsecond), o.clientPerReq.Round(time.Microsecond), o.machinePerReq.Round(time.Microsecond))
		Ratio("GET by key, RLS: this build vs AYB_BENCH_COMPARE", g.rps, o.rps, "req/s")
	}
	Ratio("pgbench replay of the GET (pipelined) vs pgbench -S", replayTPS, sTPS, "tps")
	fmt.Printf("   %-48s CPU/transaction: pgbench %s, machine %s\n", "  replay",
		time.Duration(median(replayClient)).Round(time.Microsecond), time.Duration(median(replayMachine)).Round(time.Microsecond))
	if batches > 0 {
		fmt.Printf("   %-48s %.2f reads per batch, %d of %d reads sent to the pool; %.1f GC cycles/s\n", "  RLS GET runs, server counters",
			float64(muxed)/float64(batches), toPool, muxed+toPool, float64(gcs)/(3*dur.Seconds()))
	}
	fmt.Printf("   %-48s %d MiB (%s)\n", "ayb server peak memory (VmHWM)", peakRSS(srv.cmd.Process.Pid)>>20, gcNote())
	verdict := "meets"
	if g.rps < 0.4*replayTPS {
		verdict = "MISSES"
	}
	fmt.Printf("   goal: GET by key under RLS >= 40%% of the replay: %s (%.0f%%)\n", verdict, 100*g.rps/replayTPS)
	return nil
}

type loadResult struct {
	rps       float64
	p50       time.Duration
	p99       time.Duration
	cpuPerReq time.Duration // the server process's CPU (user+system) per request
	pgPerReq  time.Duration // the database backends' CPU per request
	// machinePerReq is all cores' busy time per request (client included)
	machinePerReq time.Duration
	clientPerReq  time.Duration // wrk's CPU per request
}

// backendTicks is the CPU ticks of each backend of admin's database, by pid.
func backendTicks(ctx context.Context, admin *pgx.Conn) map[int]float64 {
	out := map[int]float64{}
	rows, err := admin.Query(ctx, "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()")
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			out[pid] = cpuTicks(pid)
		}
	}
	return out
}

// machineBusy is the CPU time all cores have spent busy so far (every
// /proc/stat state but idle and iowait), in clock ticks.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy float64
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is already in user
			busy += n
		}
	}
	return busy
}

// tickDelta sums the CPU ticks each backend spent between two readings
// (a backend new in b counts whole).
func tickDelta(a, b map[int]float64) float64 {
	var sum float64
	for pid, t := range b {
		sum += t - a[pid]
	}
	return sum
}

var (
	wrkRPS   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkLat   = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkNon2x = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkErrs  = regexp.MustCompile(`Socket errors: .*`)
)

// runWrk drives base with wrk's script for d and parses its report. Any
// non-2xx answer or socket error fails the run: a fast error is no result.
func runWrk(ctx context.Context, wrkBin, base, script, token string, clients int, d time.Duration) (loadResult, error) {
	secs := int(d.Seconds())
	if secs < 1 {
		secs = 1
	}
	cmd := exec.CommandContext(ctx, wrkBin, "-t2", "-c"+strconv.Itoa(clients), "-d"+strconv.Itoa(secs)+"s",
		"--latency", "-H", "Authorization: Bearer "+token, "-s", script, base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return loadResult{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	clientCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if m := wrkNon2x.FindSubmatch(out); m != nil {
		return loadResult{}, fmt.Errorf("wrk: %s non-2xx answers\n%s", m[1], out)
	}
	if m := wrkErrs.Find(out); m != nil {
		return loadResult{}, fmt.Errorf("wrk: %s\n%s", m, out)
	}
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return loadResult{}, fmt.Errorf("wrk: no Requests/sec in output:\n%s", out)
	}
	var r loadResult
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	if r.rps > 0 {
		r.clientPerReq = clientCPU / time.Duration(r.rps*float64(secs))
	}
	for _, lm := range wrkLat.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(lm[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(lm[3])]
		if string(lm[1]) == "50" {
			r.p50 = time.Duration(v * float64(unit))
		} else {
			r.p99 = time.Duration(v * float64(unit))
		}
	}
	return r, nil
}

// aybProcess is the real server binary running against a bench database.
type aybProcess struct {
	cmd  *exec.Cmd
	base string
	log  *os.File
}

type benchUser struct {
	token, userID, sessionID, claimsJSON string
}

// startBinary builds cmd/ayb and starts it on a free port against d, with
// its log (the default level: a line per request) written to a file.
func startBinary(ctx context.Context, dir string, d *Database) (*aybProcess, error) {
	exe := filepath.Join(dir, "ayb")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", exe, "../../cmd/ayb").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build ayb: %v\n%s", err, out)
	}
	return startExe(ctx, dir, exe, "ayb.log", d)
}

// startExe starts an ayb binary already built, logging to dir/logName.
func startExe(ctx context.Context, dir, exe, logName string, d *Database) (*aybProcess, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logf, err := os.Create(filepath.Join(dir, logName))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "start", "--port", strconv.Itoa(port), "--database-url", d.URL)
	cmd.Dir = dir
	cmd.Env = append(serverEnv(), "AYB_DATABASE_ADMIN_URL="+d.AdminURL)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &aybProcess{cmd: cmd, base: "http://127.0.0.1:" + strconv.Itoa(port), log: logf}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(p.base + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("ayb did not become healthy:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *aybProcess) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.log.Close()
}

const benchPassword = "a bench passphrase 1234"

func (p *aybProcess) authCall(ctx context.Context, path, email string) (benchUser, error) {
	body, _ := json.Marshal(map[string]string{"email": email, "password": benchPassword})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return benchUser{}, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return benchUser{}, fmt.Errorf("%s: %d %s", path, res.StatusCode, raw)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.AccessToken == "" {
		return benchUser{}, fmt.Errorf("%s: no access token in %s", path, raw)
	}
	parts := strings.Split(out.AccessToken, ".")
	if len(parts) != 3 {
		return benchUser{}, fmt.Errorf("%s: malformed token", path)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return benchUser{}, err
	}
	var c struct {
		Sub       string `json:"sub"`
		SessionID string `json:"session_id"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return benchUser{}, err
	}
	return benchUser{token: out.AccessToken, userID: c.Sub, sessionID: c.SessionID, claimsJSON: string(payload)}, nil
}

func (p *aybProcess) register(ctx context.Context, email string) (benchUser, error) {
	return p.authCall(ctx, "/api/auth/register", email)
}

func (p *aybProcess) login(ctx context.Context, email string) (benchUser, error) {
	return p.authCall(ctx, "/api/auth/login", email)
}

// waitFor polls path with token until it answers 200 (the schema cache has
// seen a table created after start).
func (p *aybProcess) waitFor(ctx context.Context, path, token string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == 200 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s: %d %s", path, res.StatusCode, raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serverStats is the part of GET /api/admin/stats the benches print.
type serverStats struct {
	GCCycles uint32 `json:"gc_cycles"`
	Database struct {
		Multiplex struct {
			Batches  int64 `json:"batches"`
			Requests int64 `json:"requests"`
			ToPool   int64 `json:"to_pool"`
		} `json:"multiplex"`
	} `json:"database"`
}

// stats reads the server's counters with a service-role token.
func (p *aybProcess) stats(ctx context.Context, token string) (serverStats, error) {
	var st serverStats
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/admin/stats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(res.Body)
		return st, fmt.Errorf("GET /api/admin/stats: %d %s", res.StatusCode, raw)
	}
	return st, json.NewDecoder(res.Body).Decode(&st)
}

// serverEnv is this process's environment without the bench's own AYB_BENCH_*
// settings, which the server would warn about as unknown configuration.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AYB_BENCH_") {
			env = append(env, kv)
		}
	}
	return env
}
