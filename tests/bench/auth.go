package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"

	"github.com/aybhq/ayb/internal/auth"
	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/server"
)

func init() {
	register(&Bench{
		Name:    "auth",
		Summary: "logins/s, login p50, refreshes/s, access-token verifications/s, peak memory of 50 concurrent logins",
		Run:     benchAuthFlows,
	})
}

// benchAuthFlows drives the real server over loopback HTTP at the default
// password parameters (argon2id 19 MiB, 2 passes, 4 concurrent hashes),
// with throttling off, and prints each figure beside a same-run baseline:
// logins beside raw argon2id hashes at the same parameters and concurrency,
// refreshes beside GET /health (an HTTP round trip that touches the
// database), token verification (signature + session check) beside the
// signature check alone, and the peak heap of 50 concurrent logins beside
// 50 unbounded argon2id hashes.
func benchAuthFlows(ctx context.Context, env *Env) error {
	d, err := env.NewDatabase(ctx)
	if err != nil {
		return err
	}
	// Request logs would dominate the output (and the CPU).
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer slog.SetDefault(prev)
	pool, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: 8})
	if err != nil {
		return err
	}
	defer pool.Close()
	cfg := config.Defaults()
	cfg.Auth.ThrottleIP, cfg.Auth.ThrottleAccount = 0, 0
	svc, err := auth.New(ctx, auth.Options{Config: cfg, DB: pool})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(server.New(server.Options{Config: cfg, DB: pool, Authenticator: svc, Auth: svc}).Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	const users = 50
	const password = "bench password 123"
	emails := make([]string, users)
	for i := range emails {
		emails[i] = fmt.Sprintf("bench%d@example.com", i)
		if _, err := svc.CreateUser(ctx, emails[i], password, false); err != nil {
			return err
		}
	}
	post := func(path string, body any, out any) error {
		b, _ := json.Marshal(body)
		res, err := client.Post(srv.URL+path, "application/json", bytes.NewReader(b))
		if err != nil {
			return err
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			return fmt.Errorf("%s: %d %s", path, res.StatusCode, raw)
		}
		if out != nil {
			return json.Unmarshal(raw, out)
		}
		return nil
	}
	login := func(i int) (*auth.Tokens, error) {
		var t auth.Tokens
		err := post("/api/auth/login", map[string]string{"email": emails[i%users], "password": password}, &t)
		return &t, err
	}

	const clients = 4
	dur := 2 * time.Second
	// run calls op from clients goroutines for dur; returns ops/s and latencies.
	run := func(clients int, op func(c, k int) error) (float64, []time.Duration, error) {
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
				var mine []time.Duration
				for k := c; time.Now().Before(deadline); k += clients {
					t0 := time.Now()
					if err := op(c, k); err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					mine = append(mine, time.Since(t0))
					n.Add(1)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}(c)
		}
		wg.Wait()
		return float64(n.Load()) / dur.Seconds(), lat, firstErr
	}

	// alt runs ours and the baseline alternately three times (A B A B A B),
	// as the machine is shared and noisy, and returns the median rates and
	// all latencies.
	alt := func(nOurs, nBase int, ours, base func(c, k int) error) (float64, []time.Duration, float64, []time.Duration, error) {
		var ro, rb []float64
		var lo, lb []time.Duration
		for i := 0; i < 3; i++ {
			r, l, err := run(nOurs, ours)
			if err != nil {
				return 0, nil, 0, nil, err
			}
			ro, lo = append(ro, r), append(lo, l...)
			r, l, err = run(nBase, base)
			if err != nil {
				return 0, nil, 0, nil, err
			}
			rb, lb = append(rb, r), append(lb, l...)
		}
		return median(ro), lo, median(rb), lb, nil
	}

	// Baseline: raw argon2id at the same parameters and concurrency.
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	mem, iters := uint32(cfg.Auth.ArgonMemoryKiB), uint32(cfg.Auth.ArgonIterations)
	hash := func(int, int) error { argon2.IDKey([]byte(password), salt, iters, mem, 1, 32); return nil }
	loginOp := func(_, k int) error { _, err := login(k); return err }
	loginRate, loginLat, hashRate, hashLat, err := alt(clients, cfg.Auth.HashConcurrency, loginOp, hash)
	if err != nil {
		return err
	}
	_, seqLat, _, seqHash, err := alt(1, 1, loginOp, hash)
	if err != nil {
		return err
	}
	fmt.Printf("   argon2id m=%d KiB t=%d p=1, %d concurrent hashes, %d HTTP clients, GOMAXPROCS=%d\n",
		mem, iters, cfg.Auth.HashConcurrency, clients, runtime.GOMAXPROCS(0))
	Ratio("logins/s (4 clients) vs raw argon2id hashes/s", loginRate, hashRate, "/s")
	Ratio("login p50 ms, 1 client (goal < 100) vs one hash", ms(Percentile(seqLat, 50)), ms(Percentile(seqHash, 50)), "ms")
	Ratio("login p50 ms, 4 clients vs one hash under load", ms(Percentile(loginLat, 50)), ms(Percentile(hashLat, 50)), "ms")
	Ratio("login p95 ms, 4 clients vs one hash under load", ms(Percentile(loginLat, 95)), ms(Percentile(hashLat, 95)), "ms")

	// Refreshes: each client rotates its own chain.
	chains := make([]string, clients)
	for c := range chains {
		t, err := login(c)
		if err != nil {
			return err
		}
		chains[c] = t.RefreshToken
	}
	refreshRate, refreshLat, healthRate, _, err := alt(clients, clients, func(c, _ int) error {
		var t auth.Tokens
		if err := post("/api/auth/refresh", map[string]string{"refresh_token": chains[c]}, &t); err != nil {
			return err
		}
		chains[c] = t.RefreshToken
		return nil
	}, func(int, int) error {
		res, err := client.Get(srv.URL + "/health")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return nil
	})
	if err != nil {
		return err
	}
	Ratio("refreshes/s (rotate, 4 clients) vs GET /health/s", refreshRate, healthRate, "/s")
	// A refresh is one durable write; the floor is a one-row INSERT commit.
	adminPool, err := db.Open(ctx, d.AdminURL, db.PoolOptions{MaxConns: 8})
	if err != nil {
		return err
	}
	defer adminPool.Close()
	if _, err := adminPool.Pool.Exec(ctx, "create table public.bench_commit (id bigint generated always as identity, at timestamptz default now())"); err != nil {
		return err
	}
	var commitRates []float64
	for i := 0; i < 3; i++ {
		r, _, err := run(clients, func(int, int) error {
			_, err := adminPool.Pool.Exec(ctx, "insert into public.bench_commit default values")
			return err
		})
		if err != nil {
			return err
		}
		commitRates = append(commitRates, r)
	}
	commitRate := median(commitRates)
	Ratio("refreshes/s vs one-row INSERT commits/s (synchronous_commit=on)", refreshRate, commitRate, "/s")
	fmt.Printf("   refresh p50 %.2f ms, p95 %.2f ms\n", ms(Percentile(refreshLat, 50)), ms(Percentile(refreshLat, 95)))

	// Access-token verification, in process. A verified token is cached, so
	// a request pays the ES256 check once per token: compare Authenticate
	// (cached signature + the per-request session query) and a cached
	// ParseAccess against verifying distinct tokens (the cold ES256 check,
	// what each new token costs), signed here with the server's key.
	t, err := login(0)
	if err != nil {
		return err
	}
	req, _ := http.NewRequest("GET", "/api/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+t.AccessToken)
	fresh, err := distinctTokens(ctx, d, t.AccessToken, 20000)
	if err != nil {
		return err
	}
	fullRate, fullLat, cachedRate, cachedLat, err := alt(clients, clients, func(int, int) error {
		_, err := svc.Authenticate(req.WithContext(ctx))
		return err
	}, func(int, int) error {
		_, err := svc.ParseAccess(ctx, t.AccessToken)
		return err
	})
	if err != nil {
		return err
	}
	// Cold: every token verified once, by the same number of clients.
	var next atomic.Int64
	var coldMu sync.Mutex
	var coldLat []time.Duration
	var coldErr atomic.Value
	var cw sync.WaitGroup
	coldStart := time.Now()
	for c := 0; c < clients; c++ {
		cw.Add(1)
		go func() {
			defer cw.Done()
			var mine []time.Duration
			for i := next.Add(1) - 1; i < int64(len(fresh)); i = next.Add(1) - 1 {
				t0 := time.Now()
				if _, err := svc.ParseAccess(ctx, fresh[i]); err != nil {
					coldErr.Store(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			coldMu.Lock()
			coldLat = append(coldLat, mine...)
			coldMu.Unlock()
		}()
	}
	cw.Wait()
	if err, _ := coldErr.Load().(error); err != nil {
		return err
	}
	coldRate := float64(len(fresh)) / time.Since(coldStart).Seconds()
	Ratio("verifications/s: Authenticate (cached sig + session) vs cold ES256", fullRate, coldRate, "/s")
	Ratio("verifications/s: cached signature vs cold ES256", cachedRate, coldRate, "/s")
	fmt.Printf("   verification p50 %.3f ms Authenticate, %.4f ms cached signature, %.3f ms cold ES256\n",
		ms(Percentile(fullLat, 50)), ms(Percentile(cachedLat, 50)), ms(Percentile(coldLat, 50)))

	// Peak heap during 50 concurrent logins vs 50 unbounded hashes.
	peak := func(fn func()) uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		var top atomic.Uint64
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(2 * time.Millisecond):
				}
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > base && m.HeapInuse-base > top.Load() {
					top.Store(m.HeapInuse - base)
				}
			}
		}()
		fn()
		close(done)
		return top.Load()
	}
	var loginErr atomic.Value
	loginPeak := peak(func() {
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if _, err := login(i); err != nil {
					loginErr.Store(err)
				}
			}(i)
		}
		wg.Wait()
	})
	if err, _ := loginErr.Load().(error); err != nil {
		return err
	}
	rawPeak := peak(func() {
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); argon2.IDKey([]byte(password), salt, iters, mem, 1, 32) }()
		}
		wg.Wait()
	})
	Ratio("peak heap MiB, 50 concurrent logins vs 50 unbounded hashes", mib(loginPeak), mib(rawPeak), "MiB")
	return nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// distinctTokens signs n access tokens with the server's current key, each
// a copy of proto's claims with its own jti, so that verifying them misses
// the verified-token cache.
func distinctTokens(ctx context.Context, d *Database, proto string, n int) ([]string, error) {
	parts := strings.Split(proto, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed token")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims jwt.MapClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	admin, err := pgx.Connect(ctx, d.AdminURL)
	if err != nil {
		return nil, err
	}
	defer admin.Close(ctx)
	kid, key, err := serverSigningKey(ctx, admin)
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		c["jti"] = "bench-" + strconv.Itoa(i)
		tk := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tk.Header["kid"] = kid
		if out[i], err = tk.SignedString(key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// serverSigningKey reads the server's current access-token signing key
// (superuser connection), so a bench can sign tokens the server accepts.
func serverSigningKey(ctx context.Context, admin *pgx.Conn) (string, *ecdsa.PrivateKey, error) {
	var kid string
	var der []byte
	if err := admin.QueryRow(ctx, "select kid, private_key from ayb.signing_keys where retired_at is null order by created_at desc limit 1").
		Scan(&kid, &der); err != nil {
		return "", nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return "", nil, err
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return "", nil, fmt.Errorf("signing key %s is not ECDSA", kid)
	}
	return kid, key, nil
}
