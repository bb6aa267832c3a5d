package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/apikey"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/web"
)

func init() {
	register(&Bench{
		Name:    "apikey",
		Summary: "requests/s with an app key under a rate limit vs a JWT-like session with no limit (loopback HTTP, middleware chain, db.InTx handler)",
		Run:     benchAPIKey,
	})
}

// sessionAuth stands in for the JWT authenticator: X-Bench-User is a
// signed-in user (no signature check, so the baseline is if anything
// cheaper than a real JWT).
type sessionAuth struct{}

func (sessionAuth) Authenticate(r *http.Request) (identity.Identity, error) {
	if u := r.Header.Get("X-Bench-User"); u != "" {
		return identity.Identity{Role: identity.RoleAuthenticated, Claims: map[string]any{"sub": u, "role": "authenticated"}, Kind: "jwt"}, nil
	}
	return identity.Anon(), nil
}

// benchAPIKey measures what an app key plus its rate limit cost per request.
// The chain is the server's for API routes: request id, access log,
// recover, identity (server.identify: Authenticate, then identity.With),
// the key/app rate limiter, and a handler that runs `select 1` in db.InTx
// as the caller. Three variants, alternated 3 times, medians compared:
//   - session: a JWT-like identity, no limit (the baseline);
//   - key, leased: an app key under a limit of 100M/min (batches of 1000
//     tokens per ayb.apikey_take, the default lease for such a limit);
//   - key, per request: the same key with the limiter's MaxLease = 1 (one
//     ayb.apikey_take per request: the limiter's worst case, what every
//     limit under 400 per burst costs).
func benchAPIKey(ctx context.Context, env *Env) error {
	d, err := env.NewDatabase(ctx)
	if err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, d.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	var user uuid.UUID
	if err := admin.QueryRow(ctx, "insert into ayb.users (email) values ('bench@example.com') returning id").Scan(&user); err != nil {
		return err
	}
	mkKey := func(name string, requests, burst int) (string, error) {
		var appID uuid.UUID
		if err := admin.QueryRow(ctx, "select id from ayb.app_create($1, p_rate_limit_requests => $2, p_rate_limit_window => interval '1 minute', p_rate_limit_burst => $3)",
			name, requests, burst).Scan(&appID); err != nil {
			return "", err
		}
		sec, err := apikey.Generate()
		if err != nil {
			return "", err
		}
		_, err = admin.Exec(ctx, "select ayb.apikey_create($1, $2, $3, $4, 'write', $5)", name, sec.Hash, sec.Prefix, user, appID)
		return sec.Plaintext, err
	}
	leasedKey, err := mkKey("leased", 100_000_000, 100_000_000)
	if err != nil {
		return err
	}

	pool, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: 4})
	if err != nil {
		return err
	}
	defer pool.Close()
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	newKeys := func(opt apikey.Options) *apikey.Service {
		k := apikey.New(pool, opt)
		k.Start(kctx)
		<-k.Listening()
		return k
	}
	keys := newKeys(apikey.Options{})
	exact := newKeys(apikey.Options{MaxLease: 1})

	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer slog.SetDefault(prev)

	identify := func(keys *apikey.Service, next http.Handler) http.Handler { // as server.identify
		auth := apikey.Authenticator{Keys: keys, Next: sessionAuth{}}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, err := auth.Authenticate(r)
			if err != nil {
				web.WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(identity.With(r.Context(), id)))
		})
	}
	handler := web.Handler(func(w http.ResponseWriter, r *http.Request) error {
		var one int
		if err := pool.InTx(r.Context(), identity.From(r.Context()), func(tx pgx.Tx) error {
			return tx.QueryRow(r.Context(), "select 1").Scan(&one)
		}); err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, map[string]int{"one": one})
		return nil
	})
	chain := func(keys *apikey.Service) http.Handler {
		return web.WithRequestID(web.Logger(web.Recover(identify(keys, keys.RateLimit(handler)))))
	}
	srv := httptest.NewServer(chain(keys))
	defer srv.Close()
	srvExact := httptest.NewServer(chain(exact))
	defer srvExact.Close()

	const clients = 4
	dur := 4 * time.Second
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2}}
	run := func(base string, setAuth func(*http.Request)) (float64, error) {
		var n, refused atomic.Int64
		var firstErr error
		var mu sync.Mutex
		deadline := time.Now().Add(dur)
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					req, _ := http.NewRequestWithContext(ctx, "GET", base+"/", nil)
					setAuth(req)
					res, err := client.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode == 429 {
							refused.Add(1)
						} else if res.StatusCode != 200 {
							err = fmt.Errorf("status %d", res.StatusCode)
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
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		if refused.Load() > 0 && firstErr == nil {
			firstErr = fmt.Errorf("%d requests refused: the limit is meant to be high enough never to reject", refused.Load())
		}
		return float64(n.Load()) / dur.Seconds(), firstErr
	}
	session := func(r *http.Request) { r.Header.Set("X-Bench-User", user.String()) }
	leased := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+leasedKey) }
	var base, lease, per []float64
	for i := 0; i < 3; i++ {
		for _, v := range []struct {
			url string
			set func(*http.Request)
			out *[]float64
		}{{srv.URL, session, &base}, {srv.URL, leased, &lease}, {srvExact.URL, leased, &per}} {
			rate, err := run(v.url, v.set)
			if err != nil {
				return err
			}
			*v.out = append(*v.out, rate)
		}
	}
	fmt.Printf("   clients=%d duration=%s per run, 3 alternating runs, medians; handler = db.InTx(select 1)\n", clients, dur)
	Ratio("app key + limit (leased, 100M/min) vs session", median(lease), median(base), "req/s")
	Ratio("app key + limit (MaxLease=1: 1 statement/req) vs session", median(per), median(base), "req/s")
	fmt.Printf("   goal: key + limit cost <= 15%% (ratio >= 0.85)\n")
	return nil
}
