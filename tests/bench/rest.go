package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/pg"
	"github.com/aybhq/ayb/internal/schema"
	"github.com/aybhq/ayb/internal/server"
)

func init() {
	register(&Bench{
		Name:    "rest",
		Summary: "REST GET by key under RLS, as service_role, list of 20 with a filter; beside pgbench -S and a pgbench replay of the request's SQL",
		Run:     benchREST,
	})
}

const benchOwner = "00000000-0000-0000-0000-000000000001"

// benchAuth maps a header to an identity, standing in for the JWT
// authenticator (whose signature check is not what this measures).
type benchAuth struct{}

func (benchAuth) Authenticate(r *http.Request) (identity.Identity, error) {
	if r.Header.Get("X-Bench-Role") == "service_role" {
		return identity.Identity{Role: identity.RoleServiceRole, Claims: map[string]any{"role": "service_role"}}, nil
	}
	return identity.Identity{Role: identity.RoleAuthenticated, Claims: map[string]any{
		"sub": benchOwner, "role": "authenticated", "email": "bench@example.com"}}, nil
}

type loadResult struct {
	rps float64
	p50 time.Duration
	p99 time.Duration
}

// httpLoad runs clients keep-alive loops against urlFor(k) for dur.
func httpLoad(ctx context.Context, clients int, dur time.Duration, header http.Header, urlFor func(k int64) string) (loadResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var n atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<16)
			k := int64(c * 997)
			for time.Now().Before(deadline) {
				k = k%10000 + 1
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, urlFor(k), nil)
				req.Header = header
				st := time.Now()
				res, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						err = fmt.Errorf("status %d for %s", res.StatusCode, req.URL)
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				local = append(local, time.Since(st))
				n.Add(1)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	return loadResult{rps: float64(n.Load()) / dur.Seconds(), p50: Percentile(lat, 50), p99: Percentile(lat, 99)}, firstErr
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+)`)

func pgbench(ctx context.Context, bin pg.Binaries, url string, args ...string) (float64, error) {
	cmd := exec.CommandContext(ctx, bin.Path("pgbench"), append(args, url)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench %v: %v\n%s", args, err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench: no tps in output:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// benchREST: 8 concurrent clients on this 2-core machine (client, server
// and Postgres share the cores), keep-alive HTTP against the real handler
// on a loopback listener, beside the physical limit measured in the same
// run on the same database: pgbench -S, and a pgbench replay of exactly
// the SQL a GET by key sends (set_config of role and claims, the query)
// pipelined the way InBatch sends it: one implicit transaction up to Sync.
func benchREST(ctx context.Context, env *Env) error {
	const clients = 8
	dur := 5 * time.Second
	if s := os.Getenv("AYB_BENCH_SECONDS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			dur = time.Duration(n) * time.Second
		}
	}
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
		create table public.msgs (id bigint primary key, owner uuid not null, body text not null, kind int not null);
		insert into public.msgs select i, '`+benchOwner+`', 'message ' || i, i % 10 from generate_series(1, 10000) i;
		alter table public.msgs enable row level security;
		create policy owner_read on public.msgs for select using (owner = auth.uid());
		create index msgs_kind on public.msgs (kind, id);
		analyze public.msgs;`)
	if err != nil {
		return err
	}
	// The request log line per request is part of the product but not of
	// what this measures; keep warnings.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

	pool, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: 8})
	if err != nil {
		return err
	}
	defer pool.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cache, err := schema.New(runCtx, pool, []string{"public"})
	if err != nil {
		return err
	}
	go cache.Run(runCtx)
	srv := server.New(server.Options{Config: config.Defaults(), DB: pool, Authenticator: benchAuth{}, Schema: cache})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler()}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	base := "http://" + ln.Addr().String()

	bin, err := pg.FindBinaries()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ayb-bench-rest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The replay: the statements InBatch pipelines for GET /api/collections/msgs/{id}.
	replay := filepath.Join(dir, "replay.sql")
	claims := `{"sub":"` + benchOwner + `","role":"authenticated","email":"bench@example.com"}`
	script := `\set id random(1, 10000)
\startpipeline
select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '` + claims + `', true);
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

	rls := http.Header{}
	svc := http.Header{"X-Bench-Role": []string{"service_role"}}
	getURL := func(k int64) string { return base + "/api/collections/msgs/" + strconv.FormatInt(k, 10) }
	listURL := func(k int64) string {
		return base + "/api/collections/msgs?perPage=20&skipTotal=true&filter=kind%20%3D%20" + strconv.FormatInt(k%10, 10)
	}
	// warm up caches and prepared statements
	if _, err := httpLoad(ctx, clients, time.Second, rls, getURL); err != nil {
		return err
	}

	if path := os.Getenv("AYB_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		_ = pprof.StartCPUProfile(f)
		_, err = httpLoad(ctx, clients, dur, rls, getURL)
		pprof.StopCPUProfile()
		f.Close()
		if err != nil {
			return err
		}
	}
	// The same request without HTTP: the statement the GET handler builds,
	// through db.InBatch, from 8 goroutines.
	rlsID, _ := benchAuth{}.Authenticate(&http.Request{Header: http.Header{}})
	getSQL := `select (select row_to_json(_r) from (select "t0"."id", "t0"."owner", "t0"."body", "t0"."kind") _r)::text from "public"."msgs" "t0" where "t0"."id" = $1::text::bigint`
	inBatch := func() (float64, error) {
		var n atomic.Int64
		var firstErr atomic.Value
		deadline := time.Now().Add(dur)
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				k := int64(c * 997)
				for time.Now().Before(deadline) {
					k = k%10000 + 1
					var row string
					q := &db.Query{SQL: getSQL, Args: []any{strconv.FormatInt(k, 10)}, Dest: []any{&row}}
					if err := pool.InBatch(ctx, rlsID, q); err != nil || !q.Found {
						firstErr.Store(fmt.Errorf("InBatch: %v (found %v)", err, q.Found))
						return
					}
					n.Add(1)
				}
			}(c)
		}
		wg.Wait()
		if e, ok := firstErr.Load().(error); ok {
			return 0, e
		}
		return float64(n.Load()) / dur.Seconds(), nil
	}

	var getRLS, getSvc, list []loadResult
	var sRates, replayRates, batchRates []float64
	for i := 0; i < 3; i++ { // alternate ours and the baselines
		g, err := httpLoad(ctx, clients, dur, rls, getURL)
		if err != nil {
			return err
		}
		rp, err := pgbench(ctx, bin, d.URL, append(pgArgs, "-f", replay)...)
		if err != nil {
			return err
		}
		s, err := httpLoad(ctx, clients, dur, svc, getURL)
		if err != nil {
			return err
		}
		l, err := httpLoad(ctx, clients, dur, rls, listURL)
		if err != nil {
			return err
		}
		ps, err := pgbench(ctx, bin, d.URL, append(pgArgs, "-S")...)
		if err != nil {
			return err
		}
		ib, err := inBatch()
		if err != nil {
			return err
		}
		batchRates = append(batchRates, ib)
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
	g, s, l := med(getRLS), med(getSvc), med(list)
	replayTPS, sTPS := median(replayRates), median(sRates)
	fmt.Printf("   clients=%d, %s per run, 3 alternating runs (medians), pool=8, synchronous_commit=on, loopback HTTP keep-alive\n", clients, dur)
	Ratio("GET by key, RLS owner policy (HTTP) vs pgbench replay", g.rps, replayTPS, "req/s")
	fmt.Printf("   %-48s p50 %s  p99 %s\n", "  latency", g.p50.Round(time.Microsecond), g.p99.Round(time.Microsecond))
	Ratio("GET by key, service_role (HTTP) vs pgbench replay", s.rps, replayTPS, "req/s")
	fmt.Printf("   %-48s p50 %s  p99 %s\n", "  latency", s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond))
	Ratio("list 20 rows with a filter, RLS (HTTP) vs replay", l.rps, replayTPS, "req/s")
	fmt.Printf("   %-48s p50 %s  p99 %s\n", "  latency", l.p50.Round(time.Microsecond), l.p99.Round(time.Microsecond))
	Ratio("same SQL via db.InBatch, no HTTP, vs pgbench replay", median(batchRates), replayTPS, "q/s")
	Ratio("pgbench replay of the GET (pipelined) vs pgbench -S", replayTPS, sTPS, "tps")
	verdict := "meets"
	if g.rps < 0.4*replayTPS {
		verdict = "MISSES"
	}
	fmt.Printf("   goal: GET by key under RLS >= 40%% of the replay: %s (%.0f%%)\n", verdict, 100*g.rps/replayTPS)
	return nil
}
