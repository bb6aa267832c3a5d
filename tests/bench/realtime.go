package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/realtime"
	"github.com/aybhq/ayb/internal/server"
)

func init() {
	register(&Bench{
		Name:    "realtime",
		Summary: "1,000 SSE subscribers under a membership RLS policy at 100 writes/s vs one transaction per subscriber per event",
		Run:     benchRealtime,
	})
}

const (
	rtUsers   = 1000
	rtTeams   = 100
	rtRate    = 100 // writes/s
	rtPhase   = 5 * time.Second
	rtBurst   = 1000 // rows for the capacity run
	rtRESTCon = 2
)

func rtUser(i int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d", i+1) }

// rtBenchAuth maps "Bearer <uuid>" to an authenticated user.
type rtBenchAuth struct{}

func (rtBenchAuth) Authenticate(r *http.Request) (identity.Identity, error) {
	sub := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	return identity.Identity{Role: identity.RoleAuthenticated, Kind: "jwt", Claims: map[string]any{
		"sub": sub, "role": "authenticated", "exp": time.Now().Add(time.Hour).Unix()}}, nil
}

// benchRealtime: a membership policy (exists(members where team = row.team
// and user = auth.uid())), 1,000 users in 100 teams (10 readers per row),
// one SSE client per user in this process over loopback HTTP.
func benchRealtime(ctx context.Context, env *Env) error {
	d, err := env.NewDatabase(ctx)
	if err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, d.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, fmt.Sprintf(`
		create table public.members (team_id int not null, user_id uuid not null, primary key (team_id, user_id));
		create index on public.members (user_id);
		create table public.rows (id bigserial primary key, team_id int not null, body text not null);
		alter table public.rows enable row level security;
		create policy team_read on public.rows for select
		  using (exists (select 1 from public.members m where m.team_id = rows.team_id and m.user_id = auth.uid()));
		insert into public.members select (i %% %d) + 1, ('00000000-0000-0000-0000-' || lpad((i + 1)::text, 12, '0'))::uuid
		  from generate_series(0, %d) i;
		insert into public.rows (team_id, body) select (i %% %d) + 1, 'seed ' || i from generate_series(1, 10000) i;
		analyze;
		select ayb.realtime_enable('public.rows');`, rtTeams, rtUsers-1, rtTeams))
	if err != nil {
		return err
	}

	// REST stand-in: GET by key through db.InTx as a user, on its own pool,
	// measured twice: in this process (beside the server and the 1,000 SSE
	// clients) and in a child process (the database's view only).
	rest, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: rtRESTCon})
	if err != nil {
		return err
	}
	defer rest.Close()
	restP99 := func(stop <-chan struct{}) (time.Duration, int) { return restLoop(ctx, rest, stop) }
	restChild := func() (time.Duration, int, error) {
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), "AYB_RT_REST_CHILD="+d.URL)
		out, err := cmd.Output()
		if err != nil {
			return 0, 0, fmt.Errorf("rest child: %w", err)
		}
		var r struct {
			P99 time.Duration
			N   int
		}
		if err := json.Unmarshal(out, &r); err != nil {
			return 0, 0, fmt.Errorf("rest child: %w: %s", err, out)
		}
		return r.P99, r.N, nil
	}

	// writer inserts at rtRate/s and records each row's commit time.
	var commits sync.Map // row id -> time.Time
	writer := func(stop <-chan struct{}) (int, error) {
		conn, err := pgx.Connect(ctx, d.AdminURL)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		tick := time.NewTicker(time.Second / rtRate)
		defer tick.Stop()
		n := 0
		for {
			select {
			case <-stop:
				return n, nil
			case <-tick.C:
			}
			var id int64
			if err := conn.QueryRow(ctx, "insert into public.rows (team_id, body) values ($1, 'live') returning id",
				rand.IntN(rtTeams)+1).Scan(&id); err != nil {
				return n, err
			}
			commits.Store(id, time.Now())
			n++
		}
	}
	phase := func(withWriter bool, child bool) (p99 time.Duration, reqs, writes int, err error) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var werr error
		if withWriter {
			wg.Add(1)
			go func() { defer wg.Done(); writes, werr = writer(stop) }()
		}
		done := make(chan struct{})
		var cerr error
		if child {
			go func() { p99, reqs, cerr = restChild(); close(done) }()
			<-done
			close(stop)
			wg.Wait()
		} else {
			go func() { p99, reqs = restP99(stop); close(done) }()
			time.Sleep(rtPhase)
			close(stop)
			wg.Wait()
			<-done
		}
		if cerr != nil {
			return 0, 0, 0, cerr
		}
		return p99, reqs, writes, werr
	}

	// The realtime service and 1,000 SSE clients.
	svc, err := realtime.New(ctx, realtime.Options{URL: d.URL, Buffer: 4096, PruneInterval: -1})
	if err != nil {
		return err
	}
	defer svc.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = svc.Run(runCtx) }()
	srv := server.New(server.Options{Config: config.Defaults(), Authenticator: rtBenchAuth{}, Realtime: svc})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: rtUsers, MaxConnsPerHost: 0}
	client := &http.Client{Transport: tr}
	var (
		latMu     sync.Mutex
		latencies []time.Duration
		delivered atomic.Int64
		recording atomic.Bool
		ready     sync.WaitGroup
	)
	ready.Add(rtUsers)
	for i := 0; i < rtUsers; i++ {
		go func(i int) {
			req, _ := http.NewRequestWithContext(runCtx, http.MethodGet, hs.URL+"/api/realtime?tables=rows", nil)
			req.Header.Set("Authorization", "Bearer "+rtUser(i))
			resp, err := client.Do(req)
			if err != nil {
				ready.Done()
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			signalled := false
			for sc.Scan() {
				line := sc.Text()
				if !signalled && strings.HasPrefix(line, "event: connected") {
					signalled = true
					ready.Done()
				}
				if !strings.HasPrefix(line, "data: {\"id\"") {
					continue
				}
				now := time.Now()
				var m struct {
					Record struct {
						ID int64 `json:"id"`
					} `json:"record"`
				}
				if json.Unmarshal([]byte(line[6:]), &m) != nil {
					continue
				}
				delivered.Add(1)
				if !recording.Load() {
					continue
				}
				if at, ok := commits.Load(m.Record.ID); ok {
					latMu.Lock()
					latencies = append(latencies, now.Sub(at.(time.Time)))
					latMu.Unlock()
				}
			}
		}(i)
	}
	ready.Wait()

	// REST p99 with and without realtime load, alternating A B A B A B:
	// the same writes and REST requests each time, with capture on the
	// table (1,000 subscribers receiving) or off (ayb.realtime_disable:
	// no events, the same connected clients idle).
	var base99s, load99s []float64
	var baseN, loadN, writes int
	var steadyChecks float64
	cpuWith, cpuWithout := map[string]float64{}, map[string]float64{}
	addDelta := func(into, a, b map[string]float64) {
		for k, v := range b {
			if d := v - a[k]; d > 0 {
				into[k] += d
			}
		}
	}
	var rounds int64
	var roundTime time.Duration
	var baseChild, loadChild []float64
	for round := 0; round < 3; round++ {
		if _, err := admin.Exec(ctx, "select ayb.realtime_disable('public.rows')"); err != nil {
			return err
		}
		c0 := cpuByRole(ctx, admin)
		p, n, _, err := phase(true, false)
		if err != nil {
			return err
		}
		addDelta(cpuWithout, c0, cpuByRole(ctx, admin))
		base99s, baseN = append(base99s, ms(p)), baseN+n
		if p, _, _, err = phase(true, true); err != nil {
			return err
		}
		baseChild = append(baseChild, ms(p))
		if _, err := admin.Exec(ctx, "select ayb.realtime_enable('public.rows')"); err != nil {
			return err
		}
		checks0 := svc.Checks()
		r0, d0 := svc.CheckRounds()
		recording.Store(true)
		t0 := time.Now()
		c1 := cpuByRole(ctx, admin)
		p, n, w, err := phase(true, false)
		if err != nil {
			return err
		}
		addDelta(cpuWith, c1, cpuByRole(ctx, admin))
		steadyChecks += float64(svc.Checks()-checks0) / time.Since(t0).Seconds() / 3
		r1, d1 := svc.CheckRounds()
		rounds, roundTime = rounds+r1-r0, roundTime+d1-d0
		load99s, loadN, writes = append(load99s, ms(p)), loadN+n, writes+w
		p, _, w, err = phase(true, true)
		if err != nil {
			return err
		}
		writes += w
		loadChild = append(loadChild, ms(p))
		time.Sleep(300 * time.Millisecond) // let the last events land
		recording.Store(false)
	}
	latMu.Lock()
	p50, p99, nLat := Percentile(latencies, 50), Percentile(latencies, 99), len(latencies)
	p90, p95 := Percentile(latencies, 90), Percentile(latencies, 95)
	latMu.Unlock()

	// Capacity: a burst of rtBurst rows in 10 transactions; time until every
	// reader of every row has it.
	want := delivered.Load() + int64(rtBurst*rtUsers/rtTeams)
	checks1 := svc.Checks()
	tb := time.Now()
	for b := 0; b < 10; b++ {
		if _, err := admin.Exec(ctx, "insert into public.rows (team_id, body) select (i % $1) + 1, 'burst' from generate_series(1, $2) i",
			rtTeams, rtBurst/10); err != nil {
			return err
		}
	}
	for delivered.Load() < want && time.Since(tb) < 60*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	burst := time.Since(tb)
	burstChecks := float64(svc.Checks()-checks1) / burst.Seconds()
	cancel()

	// Naive baseline, same run: one transaction per subscriber per event
	// (set role and claims, select 1 where pk, commit), on a pool as big as
	// the realtime checker's, for a fixed time.
	naive, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: 3})
	if err != nil {
		return err
	}
	defer naive.Close()
	var naiveN atomic.Int64
	deadline := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i += 3 {
				id := identity.Identity{Role: "authenticated", Claims: map[string]any{"sub": rtUser(i % rtUsers), "role": "authenticated"}}
				_ = naive.InTx(ctx, id, func(tx pgx.Tx) error {
					var ok bool
					return tx.QueryRow(ctx, "select exists (select 1 from public.rows where id = $1)", int64(i%10000+1)).Scan(&ok)
				})
				naiveN.Add(1)
			}
		}(w)
	}
	wg.Wait()
	naiveRate := float64(naiveN.Load()) / 5

	fmt.Printf("   %d subscribers (distinct users), %d teams, %d writes/s, 6 x %s with realtime (%d writes), checker pool 3, REST stand-in %d conns\n",
		rtUsers, rtTeams, rtRate, rtPhase, writes, rtRESTCon)
	fmt.Printf("   delivery latency commit->client: p50 %s  p90 %s  p95 %s  p99 %s  (%d deliveries; goal p99 < 300ms)\n",
		p50.Round(100*time.Microsecond), p90.Round(100*time.Microsecond), p95.Round(100*time.Microsecond),
		p99.Round(100*time.Microsecond), nLat)
	fmt.Printf("   steady-state visibility checks: %.0f/s (what 100 writes/s x 1,000 subscribers needs); %d check rounds, %.1f ms each\n",
		steadyChecks, rounds, ms(roundTime)/float64(max(rounds, 1)))
	fmt.Printf("   burst: %d rows -> %d deliveries in %s\n", rtBurst, rtBurst*rtUsers/rtTeams, burst.Round(time.Millisecond))
	Ratio("visibility checks/s: batched vs naive tx-per-check", burstChecks, naiveRate, "chk/s")
	Ratio("REST p99 with realtime load vs without (ms, median of 3)", median(load99s), median(base99s), "ms")
	Ratio("  same, REST stand-in in a separate process", median(loadChild), median(baseChild), "ms")
	fmt.Printf("   REST requests: %d without, %d with realtime load\n", baseN, loadN)
	fmt.Printf("   CPU seconds over the 3 phases each, without -> with realtime (clock ticks / 100):\n")
	var names []string
	for k := range cpuWith {
		names = append(names, k)
	}
	for k := range cpuWithout {
		if _, ok := cpuWith[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Printf("     %-40s %6.2f -> %6.2f\n", k, cpuWithout[k]/100, cpuWith[k]/100)
	}
	return nil
}

// restLoop is the REST stand-in: rtRESTCon clients doing GET-by-key
// through db.InTx as a user, each pausing 2ms between requests (a steady
// load, not saturation), until stop. It returns the p99 and the count.
func restLoop(ctx context.Context, rest *db.DB, stop <-chan struct{}) (time.Duration, int) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for c := 0; c < rtRESTCon; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			id := identity.Identity{Role: "authenticated", Claims: map[string]any{"sub": rtUser(c), "role": "authenticated"}}
			for k := int64(c + 1); ; k = k%10000 + 1 {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				_ = rest.InTx(ctx, id, func(tx pgx.Tx) error {
					var s string
					return tx.QueryRow(ctx, "select coalesce((select body from public.rows where id = $1), '')", k).Scan(&s)
				})
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}(c)
	}
	<-stop
	wg.Wait()
	return Percentile(lat, 99), len(lat)
}

// In the child process (AYB_RT_REST_CHILD=<url>) the bench only runs the
// REST stand-in for one phase and prints {"P99":ns,"N":n}.
func init() {
	url := os.Getenv("AYB_RT_REST_CHILD")
	if url == "" {
		return
	}
	ctx := context.Background()
	rest, err := db.Open(ctx, url, db.PoolOptions{MaxConns: rtRESTCon})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stop := make(chan struct{})
	time.AfterFunc(rtPhase, func() { close(stop) })
	p99, n := restLoop(ctx, rest, stop)
	rest.Close()
	b, _ := json.Marshal(map[string]any{"P99": p99, "N": n})
	os.Stdout.Write(b)
	os.Exit(0)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuTicks reads utime+stime (clock ticks) of a process from /proc.
func cpuTicks(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return u + st
}

// cpuByRole sums CPU ticks of this process and of the database's backends,
// grouped by application_name, so a run shows where realtime's cost goes.
func cpuByRole(ctx context.Context, admin *pgx.Conn) map[string]float64 {
	out := map[string]float64{"bench process (server + clients)": cpuTicks(os.Getpid())}
	rows, err := admin.Query(ctx, "select pid, coalesce(nullif(application_name, ''), backend_type) from pg_stat_activity where datname = current_database() or datname is null")
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		var app string
		if rows.Scan(&pid, &app) == nil {
			out["pg: "+app] += cpuTicks(pid)
		}
	}
	return out
}
