package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
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
	rtUsers    = 1000
	rtTeams    = 100
	rtRate     = 100 // writes/s
	rtPhase    = 5 * time.Second
	rtBurst    = 1000 // rows for the capacity run
	rtRESTCon  = 8    // REST keep-alive connections
	rtRESTRate = 400  // REST requests/s (a steady load, not saturation)
	// rtPairs alternating phases without and with the realtime load: the
	// machine's own noise (the baseline p99 alone moves 4-10 ms between
	// phases here) lands on both kinds alike, and each p99 pools
	// rtPairs x rtPhase x rtRESTRate requests.
	rtPairs = 6
	// rtFloorPairs alternating phases without and with the SSE transport
	// floor's deliveries.
	rtFloorPairs = 3
)

func rtUser(i int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d", i+1) }

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

	// The real server in its own process, and real access tokens for the
	// 1,000 users (see mintTokens).
	dir, err := os.MkdirTemp("", "ayb-bench-rt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := startBinary(ctx, dir, d)
	if err != nil {
		return err
	}
	defer srv.stop()
	tokens, err := mintTokens(ctx, srv, admin, rtUsers)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(dir, "tokens.json")
	if b, err := json.Marshal(tokens); err != nil {
		return err
	} else if err := os.WriteFile(tokenFile, b, 0o600); err != nil {
		return err
	}
	// User 0 is in team 1, as is row 100.
	if err := srv.waitFor(ctx, "/api/collections/rows/100", tokens[0]); err != nil {
		return err
	}
	// REST: GET by key over HTTP through the same server, at a steady rate
	// from a separate process (so the 1,000 SSE clients in this one do not
	// delay its clock), latency measured from each request's scheduled time.
	restChild := func() (restResult, error) {
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), "AYB_RT_REST_CHILD="+srv.base, "AYB_RT_REST_TOKENS="+tokenFile)
		out, err := cmd.Output()
		if err != nil {
			return restResult{}, fmt.Errorf("rest child: %w", err)
		}
		var r restResult
		if err := json.Unmarshal(out, &r); err != nil {
			return restResult{}, fmt.Errorf("rest child: %w: %s", err, out)
		}
		if r.Errors > 0 {
			return r, fmt.Errorf("rest child: %d failed requests (first: %s)", r.Errors, r.FirstError)
		}
		return r, nil
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
	phase := func() (r restResult, writes int, err error) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var werr error
		wg.Add(1)
		go func() { defer wg.Done(); writes, werr = writer(stop) }()
		r, err = restChild()
		close(stop)
		wg.Wait()
		if err != nil {
			return r, writes, err
		}
		return r, writes, werr
	}

	// 1,000 SSE clients, one per user, in this process.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: rtUsers, MaxConnsPerHost: 0}
	client := &http.Client{Transport: tr}
	var (
		latMu     sync.Mutex
		latencies []time.Duration
		delivered atomic.Int64
		recording atomic.Bool
		ready     sync.WaitGroup
	)
	// connect opens one client's stream at url and reads it until runCtx
	// ends; ready is told once the stream is up.
	connect := func(url, token string, ready *sync.WaitGroup) {
		req, _ := http.NewRequestWithContext(runCtx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
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
	}
	ready.Add(rtUsers)
	for i := 0; i < rtUsers; i++ {
		go connect(srv.base+"/api/realtime?tables=rows", tokens[i], &ready)
	}
	ready.Wait()

	// REST p99 with and without realtime load, alternating A B A B ...:
	// the same writes and REST requests each time, with capture on the
	// table (1,000 subscribers receiving) or off (ayb.realtime_disable:
	// no events, the same connected clients idle).
	var base99s, load99s []float64
	var baseLat, loadLat []time.Duration // every request of the 3 phases each
	var baseN, loadN, writes int
	cpuWith, cpuWithout := map[string]usage{}, map[string]usage{}
	aybMachine := map[string]float64{}
	addDelta := func(into, a, b map[string]usage) {
		for k, v := range b {
			d := into[k]
			d.cpu += max(0, v.cpu-a[k].cpu)
			d.wait += max(0, v.wait-a[k].wait)
			into[k] = d
		}
	}
	cpu := func() map[string]usage {
		m := usageByRole(ctx, admin)
		m["ayb server process"] = usageOf(srv.cmd.Process.Pid)
		return m
	}
	// Warm up (connections, plans, caches) with one unmeasured phase of
	// each kind: the first phase of a kind ran several times slower at p99.
	for _, f := range []string{"disable", "enable"} {
		if _, err := admin.Exec(ctx, "select ayb.realtime_"+f+"('public.rows')"); err != nil {
			return err
		}
		if _, _, err := phase(); err != nil {
			return err
		}
	}
	for round := 0; round < rtPairs; round++ {
		if _, err := admin.Exec(ctx, "select ayb.realtime_disable('public.rows')"); err != nil {
			return err
		}
		c0, mb0 := cpu(), machineBusy()
		r, _, err := phase()
		aybMachine["off"] += (machineBusy() - mb0) / 100
		if err != nil {
			return err
		}
		addDelta(cpuWithout, c0, cpu())
		base99s, baseN = append(base99s, ms(r.P99)), baseN+r.N
		baseLat = append(baseLat, r.Latencies...)
		if _, err := admin.Exec(ctx, "select ayb.realtime_enable('public.rows')"); err != nil {
			return err
		}
		recording.Store(true)
		c1, mb1 := cpu(), machineBusy()
		r, w, err := phase()
		aybMachine["on"] += (machineBusy() - mb1) / 100
		if err != nil {
			return err
		}
		addDelta(cpuWith, c1, cpu())
		load99s, loadN, writes = append(load99s, ms(r.P99)), loadN+r.N, writes+w
		loadLat = append(loadLat, r.Latencies...)
		time.Sleep(300 * time.Millisecond) // let the last events land
		recording.Store(false)
	}

	// The transport floor, same run (ssefloor.go): realtime off in AYB, and
	// a second stream per client held by a server that only delivers, 1,000
	// frames/s while on, to the same clients. The same writes and REST load,
	// alternating off and on: how much REST p99 degrades on this machine from
	// delivering this traffic at all, whoever delivers it.
	if _, err := admin.Exec(ctx, "select ayb.realtime_disable('public.rows')"); err != nil {
		return err
	}
	sf, err := startSSEFloor(ctx)
	if err != nil {
		return err
	}
	var floorReady sync.WaitGroup
	floorReady.Add(rtUsers)
	for i := 0; i < rtUsers; i++ {
		go connect(sf.base+"/sse/"+strconv.Itoa(i), "", &floorReady)
	}
	floorReady.Wait()
	var floorBase, floorLoad []time.Duration
	var floorDelivered int64
	floorMachine, floorServer := map[string]float64{}, map[string]float64{}
	for range rtFloorPairs {
		for _, state := range []string{"off", "on"} {
			if err := setSSEFloor(sf.base, state); err != nil {
				sf.stop()
				return err
			}
			d0, m0, u0 := delivered.Load(), machineBusy(), usageOf(sf.cmd.Process.Pid)
			r, _, err := phase()
			if err != nil {
				sf.stop()
				return err
			}
			floorDelivered += delivered.Load() - d0
			busy, u1 := machineBusy()-m0, usageOf(sf.cmd.Process.Pid)
			floorMachine[state] += busy / 100 // clock ticks -> seconds
			floorServer[state] += u1.cpu - u0.cpu
			if state == "on" {
				floorLoad = append(floorLoad, r.Latencies...)
			} else {
				floorBase = append(floorBase, r.Latencies...)
			}
		}
	}
	sf.stop()
	if _, err := admin.Exec(ctx, "select ayb.realtime_enable('public.rows')"); err != nil {
		return err
	}
	latMu.Lock()
	p50, p99, nLat := Percentile(latencies, 50), Percentile(latencies, 99), len(latencies)
	p90, p95 := Percentile(latencies, 90), Percentile(latencies, 95)
	latMu.Unlock()

	// Isolated changes: one row after 300 ms of quiet, 20 times; delivery
	// latency to its 10 readers (the hub checks a change that follows a
	// quiet spell after [realtime] coalesce, not round_interval).
	latMu.Lock()
	k0 := len(latencies)
	latMu.Unlock()
	recording.Store(true)
	for range 20 {
		time.Sleep(300 * time.Millisecond)
		var id int64
		if err := admin.QueryRow(ctx, "insert into public.rows (team_id, body) values ($1, 'alone') returning id",
			rand.IntN(rtTeams)+1).Scan(&id); err != nil {
			return err
		}
		commits.Store(id, time.Now())
	}
	time.Sleep(300 * time.Millisecond)
	recording.Store(false)
	latMu.Lock()
	alone := slices.Clone(latencies[k0:])
	latMu.Unlock()

	// Capacity: a burst of rtBurst rows in 10 transactions; time until every
	// reader of every row has it. Every subscriber is a candidate for every
	// row (no filter narrows them in Go), so the burst needs rtBurst x
	// rtUsers visibility checks.
	want := delivered.Load() + int64(rtBurst*rtUsers/rtTeams)
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
	if got := delivered.Load(); got < want {
		return fmt.Errorf("burst: %d of %d deliveries arrived within 60 s", got-(want-int64(rtBurst*rtUsers/rtTeams)), rtBurst*rtUsers/rtTeams)
	}
	burstChecks := float64(rtBurst*rtUsers) / burst.Seconds()
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

	fmt.Printf("   real ayb binary, real ES256 tokens; %d SSE subscribers (distinct users), %d teams, %d writes/s, %d x %s phases alternating without/with (%d writes with realtime)\n",
		rtUsers, rtTeams, rtRate, 2*rtPairs, rtPhase, writes)
	fmt.Printf("   REST: GET by key over HTTP at %d req/s from a separate process, latency from the scheduled send time\n", rtRESTRate)
	fmt.Printf("   delivery latency commit->client: p50 %s  p90 %s  p95 %s  p99 %s  (%d deliveries; goal p99 < 300ms)\n",
		p50.Round(100*time.Microsecond), p90.Round(100*time.Microsecond), p95.Round(100*time.Microsecond),
		p99.Round(100*time.Microsecond), nLat)
	fmt.Printf("   isolated changes (300 ms apart): delivery p50 %s  max %s  (%d deliveries)\n",
		Percentile(alone, 50).Round(100*time.Microsecond), Percentile(alone, 100).Round(100*time.Microsecond), len(alone))
	fmt.Printf("   burst: %d rows -> %d deliveries in %s\n", rtBurst, rtBurst*rtUsers/rtTeams, burst.Round(time.Millisecond))
	Ratio("visibility checks/s: batched vs naive tx-per-check", burstChecks, naiveRate, "chk/s")
	Ratio("REST p99 with realtime load vs without (ms, pooled phases)", ms(Percentile(loadLat, 99)), ms(Percentile(baseLat, 99)), "ms")
	Ratio("  REST p50, same", ms(Percentile(loadLat, 50)), ms(Percentile(baseLat, 50)), "ms")
	Ratio("transport floor: REST p99 with its deliveries vs without", ms(Percentile(floorLoad, 99)), ms(Percentile(floorBase, 99)), "ms")
	fmt.Printf("     (a server that only writes the same 1,000 frames/s to the same clients: %d delivered; %d x %s phases alternating)\n", floorDelivered, 2*rtFloorPairs, rtPhase)
	fmt.Printf("     machine busy CPU-s without -> with: AYB realtime %.2f -> %.2f (%d phases each); floor %.2f -> %.2f (%d each), floor server %.2f -> %.2f\n",
		aybMachine["off"], aybMachine["on"], rtPairs, floorMachine["off"], floorMachine["on"], rtFloorPairs, floorServer["off"], floorServer["on"])
	fmt.Printf("   REST p99 per pair (ms, without/with = ratio):")
	pairRatios := make([]float64, len(base99s))
	for i := range base99s {
		pairRatios[i] = load99s[i] / base99s[i]
		fmt.Printf("  %.1f/%.1f=%.2f", base99s[i], load99s[i], pairRatios[i])
	}
	sort.Float64s(pairRatios)
	fmt.Printf("  (median ratio %.2f)\n", (pairRatios[(len(pairRatios)-1)/2]+pairRatios[len(pairRatios)/2])/2)
	fmt.Printf("   REST requests: %d without, %d with realtime load\n", baseN, loadN)
	fmt.Printf("   ayb server peak memory (VmHWM) with %d subscribers: %d MiB (%s)\n", rtUsers, peakRSS(srv.cmd.Process.Pid)>>20, gcNote())
	// Run-queue delay is the time a runnable task waited for a CPU: where
	// the REST backends' grows, REST waits for the CPU the realtime work
	// (and its 1,000 clients) take.
	fmt.Printf("   over the %d phases each, without -> with realtime: CPU seconds, and seconds runnable but waiting for a CPU (schedstat run delay)\n", rtPairs)
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
		a, b := cpuWithout[k], cpuWith[k]
		fmt.Printf("     %-36s CPU %6.2f -> %6.2f   waiting %6.2f -> %6.2f\n", k, a.cpu, b.cpu, a.wait, b.wait)
	}
	return nil
}

type restResult struct {
	P99, P50   time.Duration
	Latencies  []time.Duration
	N, Errors  int
	FirstError string
}

// restOpenLoop sends GET /api/collections/rows/{k} at rtRESTRate/s for
// rtPhase over rtRESTCon keep-alive connections, each request as one of the
// users (its own token). Latency counts from the time a request was due, so
// a stalled server cannot hide its delay by slowing the sender.
func restOpenLoop(ctx context.Context, base string, tokens []string) restResult {
	tr := &http.Transport{MaxIdleConnsPerHost: rtRESTCon, MaxConnsPerHost: rtRESTCon, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	n := int(rtPhase.Seconds() * rtRESTRate)
	interval := time.Second / rtRESTRate
	var mu sync.Mutex
	var res restResult
	lat := make([]time.Duration, 0, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/collections/rows/"+strconv.Itoa(i%10000+1), nil)
			req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
			r, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if r.StatusCode != 200 && r.StatusCode != 404 { // RLS hides other teams' rows
					err = fmt.Errorf("status %d", r.StatusCode)
				}
			}
			d := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Errors++
				if res.FirstError == "" {
					res.FirstError = err.Error()
				}
				return
			}
			lat = append(lat, d)
		}(i)
	}
	wg.Wait()
	res.N, res.P50, res.P99, res.Latencies = len(lat), Percentile(lat, 50), Percentile(lat, 99), lat
	return res
}

// In the child process (AYB_RT_REST_CHILD=<server URL>) the bench only runs
// the REST load for one phase and prints its restResult as JSON.
func init() {
	base := os.Getenv("AYB_RT_REST_CHILD")
	if base == "" {
		return
	}
	var tokens []string
	b, err := os.ReadFile(os.Getenv("AYB_RT_REST_TOKENS"))
	if err == nil {
		err = json.Unmarshal(b, &tokens)
	}
	if err != nil || len(tokens) == 0 {
		fmt.Fprintln(os.Stderr, "rest child: tokens:", err)
		os.Exit(1)
	}
	r := restOpenLoop(context.Background(), base, tokens)
	out, _ := json.Marshal(r)
	os.Stdout.Write(out)
	os.Exit(0)
}

// mintTokens gives n users (rtUser(i)) a live session and an access token
// each, as the server would issue them: one user signs up through the API
// to show the issuer and audience, then the rest are made in SQL and their
// tokens signed with the server's current key from ayb.signing_keys (1,000
// sign-ups would spend the bench's time on password hashing).
func mintTokens(ctx context.Context, srv *aybProcess, admin *pgx.Conn, n int) ([]string, error) {
	probe, err := srv.register(ctx, "probe@bench.example")
	if err != nil {
		return nil, err
	}
	var proto struct {
		Iss string   `json:"iss"`
		Aud []string `json:"aud"`
		Exp int64    `json:"exp"`
		Iat int64    `json:"iat"`
	}
	if err := json.Unmarshal([]byte(probe.claimsJSON), &proto); err != nil {
		return nil, fmt.Errorf("probe token claims: %w", err)
	}
	kid, key, err := serverSigningKey(ctx, admin)
	if err != nil {
		return nil, err
	}
	rows, err := admin.Query(ctx, `
		with u as (
		  insert into ayb.users (id, email, email_verified_at)
		  select ('00000000-0000-0000-0000-' || lpad((i + 1)::text, 12, '0'))::uuid, 'rt' || i || '@bench.example', now()
		    from generate_series(0, $1 - 1) i
		  returning id)
		insert into ayb.sessions (user_id, method, expires_at)
		select id, 'password', now() + interval '1 day' from u
		returning user_id::text, id::text`, n)
	if err != nil {
		return nil, err
	}
	session := map[string]string{}
	for rows.Next() {
		var uid, sid string
		if err := rows.Scan(&uid, &sid); err != nil {
			return nil, err
		}
		session[uid] = sid
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	tokens := make([]string, n)
	for i := range tokens {
		sub := rtUser(i)
		t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
			"iss": proto.Iss, "aud": proto.Aud, "sub": sub, "exp": time.Now().Add(time.Duration(proto.Exp-proto.Iat) * time.Second).Unix(),
			"iat": time.Now().Unix(), "jti": strconv.Itoa(i), "role": "authenticated",
			"email": "rt" + strconv.Itoa(i) + "@bench.example", "session_id": session[sub], "aal": "aal1"})
		t.Header["kid"] = kid
		if tokens[i], err = t.SignedString(key); err != nil {
			return nil, err
		}
	}
	return tokens, nil
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

// peakRSS is a process's peak resident memory in bytes (VmHWM), 0 if unknown.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// gcNote says which collector target the servers ran with.
func gcNote() string {
	if v := os.Getenv("GOGC"); v != "" {
		return "GOGC=" + v + " from the environment"
	}
	return "AYB's collector target: " + strconv.Itoa(server.GCHeadroom>>20) + " MiB of headroom or the live heap's size"
}

// usage is a process's CPU time and run-queue delay, in seconds.
type usage struct{ cpu, wait float64 }

// usageOf reads a process's CPU time (/proc/pid/stat, every thread) and
// the time its live threads spent runnable but not running
// (/proc/pid/task/*/schedstat, second field, nanoseconds).
func usageOf(pid int) usage {
	u := usage{cpu: cpuTicks(pid) / 100}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			ns, _ := strconv.ParseFloat(f[1], 64)
			u.wait += ns / 1e9
		}
	}
	return u
}

// usageByRole sums usage of this process and of the database's backends,
// by application name (or backend type).
func usageByRole(ctx context.Context, admin *pgx.Conn) map[string]usage {
	out := map[string]usage{"bench process (server + clients)": usageOf(os.Getpid())}
	rows, err := admin.Query(ctx, "select pid, coalesce(nullif(application_name, ''), backend_type) from pg_stat_activity where datname = current_database() or datname is null")
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		var app string
		if rows.Scan(&pid, &app) == nil {
			u, v := out["pg: "+app], usageOf(pid)
			u.cpu += v.cpu
			u.wait += v.wait
			out["pg: "+app] = u
		}
	}
	return out
}
