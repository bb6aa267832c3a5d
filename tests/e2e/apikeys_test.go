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
			ins[i] = Start(t, StartOptions{DatabaseURL: d.URL, NoWait: true, Env: []string{"AYB_DATABASE_ADMIN_URL=" + d.AdminURL}})
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
