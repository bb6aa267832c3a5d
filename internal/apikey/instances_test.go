package apikey_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/apikey"
	"github.com/aybhq/ayb/internal/app"
)

// fastClient keeps enough idle connections for the parallel workers, so
// the requests are not slowed by TCP handshakes.
var fastClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// Three instances on one database, an app limited to 100 requests per
// minute, 1,000 requests spread over the three: 100 ± 2 admitted, the rest
// 429 with a correct Retry-After.
//
// GCRA admits the burst (100) at once and then one request per 0.6 s, so
// with the database's clock the bound is 100 plus what refilled while the
// test ran (100 ± 2 when it takes under 1.2 s); with the limiter's clock
// frozen, as if the 1,000 requests arrived in the same instant, exactly 100.
func TestRateLimitAcrossInstances(t *testing.T) {
	t.Parallel()
	frozen := time.Now()
	for _, c := range []struct {
		name  string
		clock func() time.Time
	}{{"database clock", nil}, {"frozen clock", func() time.Time { return frozen }}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rateLimitAcrossInstances(t, setupWith(t, 3, apikey.Options{LimiterClock: c.clock}), c.clock != nil)
		})
	}
}

func rateLimitAcrossInstances(t *testing.T, b *bundle, frozen bool) {
	appID := b.mkApp(t, "limited", map[string]any{"requests": 100, "window_seconds": 60})
	key, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full", "app_id": appID})

	var ok, limited atomic.Int64
	var mu sync.Mutex
	var bad []string
	start := time.Now()
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				base := b.Inst[i%3].URL
				req, _ := http.NewRequest("GET", base+"/api/auth/api-keys", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				res, err := fastClient.Do(req)
				if err != nil {
					mu.Lock()
					bad = append(bad, err.Error())
					mu.Unlock()
					continue
				}
				res.Body.Close()
				h := res.Header
				switch res.StatusCode {
				case 200:
					ok.Add(1)
					if h.Get("RateLimit-Limit") != "100" || h.Get("RateLimit-Remaining") == "" || h.Get("RateLimit-Reset") == "" {
						mu.Lock()
						bad = append(bad, "200 without RateLimit headers")
						mu.Unlock()
					}
				case 429:
					limited.Add(1)
					ra, err := strconv.Atoi(h.Get("Retry-After"))
					// One token every 0.6 s: the next is free within a second.
					if err != nil || ra != 1 || h.Get("RateLimit-Remaining") != "0" || h.Get("RateLimit-Limit") != "100" {
						mu.Lock()
						bad = append(bad, "429 headers: "+h.Get("Retry-After")+" "+h.Get("RateLimit-Remaining"))
						mu.Unlock()
					}
				default:
					mu.Lock()
					bad = append(bad, "status "+strconv.Itoa(res.StatusCode))
					mu.Unlock()
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
	require.Empty(t, bad)
	// The bucket refills one token per 0.6 s while the test runs.
	refill := int64(elapsed / (600 * time.Millisecond))
	t.Logf("admitted %d, refused %d in %s", ok.Load(), limited.Load(), elapsed)
	require.Equal(t, int64(1000), ok.Load()+limited.Load())
	require.GreaterOrEqual(t, ok.Load(), int64(100))
	require.LessOrEqual(t, ok.Load(), 100+refill+1)
	if frozen || elapsed < 1200*time.Millisecond {
		require.InDelta(t, 100, ok.Load(), 2)
	}
	if frozen {
		require.Equal(t, int64(100), ok.Load())
	}

	// Usage reaches the database from every instance.
	for _, in := range b.Inst {
		require.NoError(t, in.Keys.Flush(context.Background()))
	}
	r := do(t, b.Inst[1].URL, "GET", "/api/admin/apps/"+appID+"/usage", b.admin(), nil)
	require.Equal(t, 200, r.Status, r.Body)
	var reqs, rej float64
	for _, it := range r.Body["items"].([]any) {
		m := it.(map[string]any)
		reqs += m["requests"].(float64)
		rej += m["rejected"].(float64)
	}
	require.Equal(t, float64(ok.Load()), reqs)
	require.Equal(t, float64(limited.Load()), rej)
}

// With a frozen clock the limit is exact: 100 admitted of 300, over three
// instances, whatever the scheduling.
func TestRateLimitExactWithFixedClock(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	ctx := context.Background()
	conn := b.DB.Admin(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	admitted := 0
	for i := 0; i < 300; i++ {
		var granted int
		var retry float64
		require.NoError(t, conn.QueryRow(ctx, "select granted, retry_after from ayb.ratelimit_take('t', 100, interval '1 minute', null, 1, $1)", now).Scan(&granted, &retry))
		admitted += granted
		if granted == 0 {
			require.InDelta(t, 0.6, retry, 0.001)
		}
	}
	require.Equal(t, 100, admitted)
	// 6 s later, 10 more tokens.
	var granted, remaining int
	require.NoError(t, conn.QueryRow(ctx, "select granted, remaining from ayb.ratelimit_take('t', 100, interval '1 minute', null, 50, $1)", now.Add(6*time.Second)).Scan(&granted, &remaining))
	require.Equal(t, 10, granted)
	require.Equal(t, 0, remaining)
}

// A revoked key is refused by every instance within a second, although
// each had it cached.
func TestRevokeReachesAllInstances(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	key, id := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full"})
	for _, in := range b.Inst {
		r := do(t, in.URL, "GET", "/api/auth/api-keys", key, nil)
		require.Equal(t, 200, r.Status) // verified, now cached
	}
	r := do(t, b.Inst[0].URL, "DELETE", "/api/admin/api-keys/"+id, b.admin(), nil)
	require.Equal(t, 200, r.Status, r.Body)
	require.Equal(t, b.Admin.String(), r.Body["revoked_by"])
	revoked := time.Now()
	for i, in := range b.Inst {
		for {
			r := do(t, in.URL, "GET", "/api/auth/api-keys", key, nil)
			if r.Status == 401 {
				require.Equal(t, apierror.CodeAPIKeyRevoked, r.Body["code"])
				break
			}
			require.Less(t, time.Since(revoked), time.Second, "instance %d still accepts the revoked key", i)
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("all instances refused the key %s after the revoke", time.Since(revoked))
}

// Deleting an app while keys are being created for it leaves no usable key
// of that app, and neither side answers 500.
func TestDeleteAppWhileCreatingKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		appID := uuid.MustParse(b.mkApp(t, "racy-"+strconv.Itoa(round), nil))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var created []string
		stop := make(chan struct{})
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				in := b.Inst[w%2]
				for {
					select {
					case <-stop:
						return
					default:
					}
					c, err := in.Keys.Create(ctx, apikey.CreateParams{Name: "k", UserID: &b.User, Scope: "write", AppID: &appID}, &b.Admin, nil)
					if err != nil {
						ae := apierror.As(err)
						if ae.Status != 404 {
							t.Errorf("create during delete: %v", err)
						}
						return
					}
					mu.Lock()
					created = append(created, c.Key)
					mu.Unlock()
				}
			}(w)
		}
		// Delete once creations are under way.
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(created) >= 4
		}, 10*time.Second, 2*time.Millisecond)
		_, err := b.Inst[round%2].Apps.Delete(ctx, appID, &b.Admin)
		require.NoError(t, err)
		close(stop)
		wg.Wait()
		require.NotEmpty(t, created)
		var live int
		require.NoError(t, b.DB.Admin(t).QueryRow(ctx, "select count(*) from ayb.api_keys where app_id = $1 and revoked_at is null", appID).Scan(&live))
		require.Zero(t, live)
		time.Sleep(50 * time.Millisecond) // NOTIFY delivery
		for _, k := range created {
			for _, in := range b.Inst {
				_, err := in.Keys.Verify(ctx, k)
				require.Error(t, err)
				require.Equal(t, apierror.CodeAPIKeyRevoked, apierror.As(err).Code)
			}
		}
		// Deleting again is a 404, never a 500.
		_, err = b.Inst[0].Apps.Delete(ctx, appID, &b.Admin)
		require.Equal(t, 404, apierror.As(err).Status)
	}
}

func TestDeleteUserRevokesKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	ctx := context.Background()
	key, id := b.mkKey(t, map[string]any{"user_id": b.Other, "scope": "write"})
	_, err := b.Inst[0].Keys.Verify(ctx, key)
	require.NoError(t, err)
	b.DB.Exec(t, "delete from ayb.users where id = $1", b.Other)
	require.Eventually(t, func() bool {
		_, err := b.Inst[0].Keys.Verify(ctx, key)
		return err != nil && apierror.As(err).Code == apierror.CodeAPIKeyRevoked
	}, time.Second, 10*time.Millisecond)
	var reason string
	require.NoError(t, b.DB.Admin(t).QueryRow(ctx, "select revoked_reason from ayb.api_keys where id = $1", id).Scan(&reason))
	require.Equal(t, "user_deleted", reason)
}

func TestExpiryRotationAndLastUsed(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	ctx := context.Background()
	base := b.Inst[0].URL
	soon := time.Now().Add(1500 * time.Millisecond)
	short, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full", "expires_at": soon})
	require.Equal(t, 200, do(t, base, "GET", "/api/auth/api-keys", short, nil).Status)
	time.Sleep(time.Until(soon) + 50*time.Millisecond)
	r := do(t, base, "GET", "/api/auth/api-keys", short, nil)
	require.Equal(t, 401, r.Status)
	require.Equal(t, apierror.CodeAPIKeyExpired, r.Body["code"])

	// Garbage and unknown keys are 401 api_key_invalid.
	r = do(t, base, "GET", "/api/auth/api-keys", "ayb_sk_nope", nil)
	require.Equal(t, 401, r.Status)
	require.Equal(t, apierror.CodeAPIKeyInvalid, r.Body["code"])
	s, _ := apikey.Generate()
	r = do(t, base, "GET", "/api/auth/api-keys", s.Plaintext, nil)
	require.Equal(t, 401, r.Status)
	require.Equal(t, apierror.CodeAPIKeyInvalid, r.Body["code"])

	// Rotation with grace: both keys work until the old one expires.
	old, oldID := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full", "allowed_tables": []string{"posts"}})
	r = do(t, base, "POST", "/api/admin/api-keys/"+oldID+"/rotate", b.admin(), map[string]any{"grace_seconds": 3600})
	require.Equal(t, 201, r.Status, r.Body)
	newKey := r.Body["key"].(string)
	nk := r.Body["api_key"].(map[string]any)
	require.Equal(t, oldID, nk["rotated_from"])
	require.Equal(t, []any{"posts"}, nk["allowed_tables"])
	for _, k := range []string{old, newKey} {
		require.Equal(t, 200, do(t, base, "GET", "/api/auth/api-keys", k, nil).Status)
	}
	r = do(t, base, "GET", "/api/admin/api-keys/"+oldID, b.admin(), nil)
	require.NotNil(t, r.Body["expires_at"])
	// Rotation without grace revokes at once.
	r = do(t, base, "POST", "/api/auth/api-keys/"+nk["id"].(string)+"/rotate", "user:"+b.User.String(), nil)
	require.Equal(t, 201, r.Status, r.Body)
	require.Eventually(t, func() bool {
		return do(t, base, "GET", "/api/auth/api-keys", newKey, nil).Status == 401
	}, time.Second, 10*time.Millisecond)

	// last_used_at is written once, not per request.
	k, id := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full"})
	for i := 0; i < 20; i++ {
		require.Equal(t, 200, do(t, base, "GET", "/api/auth/api-keys", k, nil).Status)
	}
	require.NoError(t, b.Inst[0].Keys.Flush(ctx))
	var first time.Time
	require.NoError(t, b.DB.Admin(t).QueryRow(ctx, "select last_used_at from ayb.api_keys where id = $1", id).Scan(&first))
	for i := 0; i < 5; i++ {
		require.Equal(t, 200, do(t, base, "GET", "/api/auth/api-keys", k, nil).Status)
	}
	require.NoError(t, b.Inst[0].Keys.Flush(ctx))
	var second time.Time
	require.NoError(t, b.DB.Admin(t).QueryRow(ctx, "select last_used_at from ayb.api_keys where id = $1", id).Scan(&second))
	require.Equal(t, first, second)
	// And the SQL refuses to move it within a minute even if asked.
	b.DB.Exec(t, "select ayb.apikey_flush(array[$1::uuid], '{}', '{}', '{}')", id)
	require.NoError(t, b.DB.Admin(t).QueryRow(ctx, "select last_used_at from ayb.api_keys where id = $1", id).Scan(&second))
	require.Equal(t, first, second)
}

func TestAppAdminAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	base := b.Inst[0].URL
	id := b.mkApp(t, "crud", map[string]any{"requests": 10, "window_seconds": 1})
	r := do(t, base, "POST", "/api/admin/apps", b.admin(), map[string]any{"name": "crud"})
	require.Equal(t, 409, r.Status, "duplicate name")
	for _, bad := range []map[string]any{
		{"name": ""}, {"name": "x", "rate_limit": map[string]any{"requests": 0, "window_seconds": 60}},
		{"name": "x", "rate_limit": map[string]any{"requests": 5, "window_seconds": 0}},
		{"name": "x", "owner_id": uuid.NewString()}, {"name": "x", "bogus": 1},
	} {
		r := do(t, base, "POST", "/api/admin/apps", b.admin(), bad)
		require.Equal(t, 400, r.Status, "%v -> %v", bad, r.Body)
	}
	r = do(t, base, "PATCH", "/api/admin/apps/"+id, b.admin(), map[string]any{"rate_limit": nil, "description": "d"})
	require.Equal(t, 200, r.Status, r.Body)
	require.Nil(t, r.Body["rate_limit"])
	require.Equal(t, "d", r.Body["description"])
	require.Equal(t, "crud", r.Body["name"])
	r = do(t, base, "GET", "/api/admin/apps/not-a-uuid", b.admin(), nil)
	require.Equal(t, 400, r.Status)
	r = do(t, base, "GET", "/api/admin/apps/"+uuid.NewString(), b.admin(), nil)
	require.Equal(t, 404, r.Status)
	r = do(t, base, "DELETE", "/api/admin/apps/"+id, b.admin(), nil)
	require.Equal(t, 200, r.Status)
	require.NotNil(t, r.Body["deleted_at"])
	r = do(t, base, "GET", "/api/admin/apps", b.admin(), nil)
	require.Len(t, r.Body["items"], 0)
	// Keys can no longer be made for it.
	r = do(t, base, "POST", "/api/admin/api-keys", b.admin(), map[string]any{"name": "k", "user_id": b.User, "scope": "read", "app_id": id})
	require.Equal(t, 404, r.Status, r.Body)
	var s *app.Service = b.Inst[0].Apps
	_, err := s.Update(context.Background(), uuid.MustParse(id), app.UpdateParams{})
	require.True(t, errors.Is(err, err) && apierror.As(err).Status == 404)
}

// A key's own limit uses the same mechanism; a key may come as a Bearer
// token, an apikey header or ?token= (EventSource).
func TestPerKeyLimitAndKeyTransports(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	base := b.Inst[0].URL
	key, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full",
		"rate_limit": map[string]any{"requests": 3, "window_seconds": 3600}})
	send := func(how string) *http.Response {
		u := base + "/api/auth/api-keys"
		if how == "query" {
			u += "?token=" + key
		}
		req, _ := http.NewRequest("GET", u, nil)
		switch how {
		case "bearer":
			req.Header.Set("Authorization", "Bearer "+key)
		case "apikey":
			req.Header.Set("apikey", key)
		}
		res, err := fastClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	for i, how := range []string{"bearer", "apikey", "query"} {
		res := send(how)
		require.Equal(t, 200, res.StatusCode, how)
		require.Equal(t, "3", res.Header.Get("RateLimit-Limit"))
		require.Equal(t, strconv.Itoa(2-i), res.Header.Get("RateLimit-Remaining"))
	}
	res := send("bearer")
	require.Equal(t, 429, res.StatusCode)
	ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 1200, ra, 2, "one token per 20 minutes")
	// An unlimited, app-less key gets no RateLimit headers.
	free, _ := b.mkKey(t, map[string]any{"user_id": b.User, "scope": "full"})
	r := do(t, base, "GET", "/api/auth/api-keys", free, nil)
	require.Equal(t, 200, r.Status)
	require.Empty(t, r.Header.Get("RateLimit-Limit"))
}
