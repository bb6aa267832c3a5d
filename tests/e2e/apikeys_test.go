package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
)

// fastClient keeps enough idle connections for the parallel workers, so
// the requests are not slowed by TCP handshakes.
var fastClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// Three `ayb start` processes on one database share one app's rate limit,
// and a key revoked with the CLI is refused by all three within a second.
func TestAppKeysAcrossProcesses(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	var user string
	require.NoError(t, d.Admin(t).QueryRow(t.Context(), "insert into ayb.users (email) values ('e2e@example.com') returning id::text").Scan(&user))

	out, err := Run(t, t.TempDir(), nil, "apps", "create", "Flutter app", "--limit", "100/1m", "--json", "--database-url", d.AdminURL)
	require.NoError(t, err, out)
	var a map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &a), out)
	appID := a["id"].(string)

	out, err = Run(t, t.TempDir(), nil, "apikeys", "create", "--name", "mobile", "--user", user, "--app", appID,
		"--scope", "full", "--json", "--database-url", d.AdminURL)
	require.NoError(t, err, out)
	var c map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &c), out)
	key := c["key"].(string)
	keyID := c["api_key"].(map[string]any)["id"].(string)
	require.True(t, strings.HasPrefix(key, "ayb_sk_"))

	ins := make([]*Instance, 3)
	var wg sync.WaitGroup
	for i := range ins {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// warn: 1,000 access-log lines per process would slow the burst down.
			ins[i] = Start(t, StartOptions{DatabaseURL: d.URL, NoWait: true, Env: []string{"AYB_DATABASE_ADMIN_URL=" + d.AdminURL, "AYB_LOG_LEVEL=warn"}})
		}(i)
	}
	wg.Wait()
	for _, in := range ins {
		in.WaitHealthy(60 * time.Second)
	}

	get := func(base string) *http.Response {
		req, _ := http.NewRequest("GET", base+"/api/auth/api-keys", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := fastClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	var ok, refused atomic.Int64
	var badRetry atomic.Int64
	jobs := make(chan int)
	start := time.Now()
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				res := get(ins[i%3].URL)
				switch res.StatusCode {
				case 200:
					ok.Add(1)
				case 429:
					refused.Add(1)
					if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra != 1 {
						badRetry.Add(1)
					}
				}
			}
		}()
	}
	for i := 0; i < 1000; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("3 processes: admitted %d, refused %d in %s", ok.Load(), refused.Load(), elapsed)
	require.Equal(t, int64(1000), ok.Load()+refused.Load())
	require.Zero(t, badRetry.Load())
	require.GreaterOrEqual(t, ok.Load(), int64(100))
	require.LessOrEqual(t, ok.Load(), 101+int64(elapsed/(600*time.Millisecond)))

	// Usage, through the CLI, once the instances have flushed (every second).
	require.Eventually(t, func() bool {
		out, err := Run(t, t.TempDir(), nil, "apps", "usage", appID, "--json", "--database-url", d.AdminURL)
		if err != nil {
			return false
		}
		var us []map[string]any
		if json.Unmarshal([]byte(out), &us) != nil {
			return false
		}
		var r, j float64
		for _, u := range us {
			r += u["requests"].(float64)
			j += u["rejected"].(float64)
		}
		return int64(r) == ok.Load() && int64(j) == refused.Load()
	}, 10*time.Second, 200*time.Millisecond)

	// Revoke with the CLI: every process refuses the key within a second.
	out, err = Run(t, t.TempDir(), nil, "apikeys", "revoke", keyID, "--database-url", d.AdminURL)
	require.NoError(t, err, out)
	revoked := time.Now()
	for i, in := range ins {
		for get(in.URL).StatusCode != 401 {
			require.Less(t, time.Since(revoked), time.Second, "process %d still accepts the revoked key", i)
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("revoked key refused by all 3 processes after %s", time.Since(revoked))
}

// Through the whole stack (real JWTs from auth, REST under RLS): an admin
// session manages apps, a user's own session and keys do not reach
// /api/admin, and a policy on auth.app_id() admits only the app's key.
func TestAppKeysThroughTheStack(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	// RLS on and no policy yet: nobody sees a row until the app's policy exists.
	d.Exec(t, `create table public.orders (id bigserial primary key, item text not null);
		alter table public.orders enable row level security;`)
	in := Start(t, StartOptions{DatabaseURL: d.URL, Env: []string{"AYB_DATABASE_ADMIN_URL=" + d.AdminURL}})
	anon := &Client{t: t, Base: in.URL}

	out, err := Run(t, t.TempDir(), nil, "admin", "create", "--email", "root@example.com", "--password", "an admin passphrase 42", "--database-url", d.AdminURL)
	require.NoError(t, err, out)
	out, err = Run(t, t.TempDir(), []string{"AYB_DATABASE_ADMIN_URL=" + d.AdminURL}, "admin", "login", "--email", "root@example.com", "--password", "an admin passphrase 42", "--database-url", d.URL)
	require.NoError(t, err, out)
	var tok map[string]any
	require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &tok), out)
	admin := anon.With(tok["access_token"].(string))

	r := anon.Do("POST", "/api/auth/register", map[string]any{"email": "dev@example.com", "password": "a sturdy passphrase 42"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	dev := anon.With(r.JSON(t)["access_token"].(string))
	devID := r.JSON(t)["user"].(map[string]any)["id"].(string)

	r = admin.Do("POST", "/api/admin/apps", map[string]any{"name": "mobile", "owner_id": devID})
	require.Equal(t, 201, r.Status, string(r.Raw))
	appID := r.JSON(t)["id"].(string)
	d.Exec(t, `create policy mobile_only on public.orders for all
		  using (auth.app_id() = '`+appID+`') with check (auth.app_id() = '`+appID+`');`)

	// The owner mints a key for their app with their own session.
	r = dev.Do("POST", "/api/auth/api-keys", map[string]any{"name": "mobile", "scope": "write", "app_id": appID})
	require.Equal(t, 201, r.Status, string(r.Raw))
	appKey := anon.With(r.JSON(t)["key"].(string))
	r = dev.Do("POST", "/api/auth/api-keys", map[string]any{"name": "plain", "scope": "full"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	plainKey := anon.With(r.JSON(t)["key"].(string))

	r = appKey.Do("POST", "/api/collections/orders", map[string]any{"item": "from the app"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	for name, c := range map[string]*Client{"user session": dev, "key of no app": plainKey} {
		r = c.Do("POST", "/api/collections/orders", map[string]any{"item": "not from the app"})
		require.Equal(t, 403, r.Status, "%s: %s", name, r.Raw)
		r = c.Do("GET", "/api/collections/orders", nil)
		require.Equal(t, 200, r.Status, "%s: %s", name, r.Raw)
		require.Len(t, r.JSON(t)["items"], 0, name)
	}
	r = appKey.Do("GET", "/api/collections/orders", nil)
	require.Len(t, r.JSON(t)["items"], 1)

	// Only the admin session reaches /api/admin.
	for name, c := range map[string]*Client{"user session": dev, "app key": appKey, "full user key": plainKey} {
		require.Equal(t, 403, c.Do("GET", "/api/admin/apps", nil).Status, name)
		require.Equal(t, 403, c.Do("POST", "/api/admin/api-keys", map[string]any{"name": "x", "scope": "full"}).Status, name)
	}
	require.Equal(t, 200, admin.Do("GET", "/api/admin/api-keys?app_id="+appID, nil).Status)

	// The admin sees this instance's connections: the reads above went
	// through the multiplexer.
	for name, c := range map[string]*Client{"user session": dev, "app key": appKey, "anonymous": anon} {
		require.Contains(t, []int{401, 403}, c.Do("GET", "/api/admin/stats", nil).Status, name)
	}
	r = admin.Do("GET", "/api/admin/stats", nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	st := r.JSON(t)
	dbs := st["database"].(map[string]any)
	require.EqualValues(t, 8, dbs["pool"].(map[string]any)["max_conns"])
	require.Greater(t, dbs["pool"].(map[string]any)["acquires"].(float64), 0.0, "writes take pool connections")
	mx := dbs["multiplex"].(map[string]any)
	require.EqualValues(t, 2, mx["connections"])
	// Each read counts once: answered on a multiplexing connection, or sent
	// to the pool (a slow batch on a loaded machine).
	require.GreaterOrEqual(t, mx["requests"].(float64)+mx["to_pool"].(float64), 3.0, "the three GETs went through the multiplexer")
	require.Equal(t, mx["requests"].(float64) > 0, mx["batches"].(float64) > 0)
	require.EqualValues(t, 0, st["realtime"].(map[string]any)["streams"])
	require.Greater(t, st["goroutines"].(float64), 0.0)

	// Deleting the app revokes its key at once.
	r = admin.Do("DELETE", "/api/admin/apps/"+appID, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Eventually(t, func() bool {
		return appKey.Do("GET", "/api/collections/orders", nil).Status == 401
	}, time.Second, 10*time.Millisecond)
}
