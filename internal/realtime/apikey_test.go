package realtime_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/apikey"
	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/realtime"
	"github.com/aybhq/ayb/internal/server"
)

// keyServer is the acceptance schema behind a server that verifies real API
// keys (apikey.Authenticator, with the key cache and its NOTIFY listener
// running) and hands every other credential to testAuth.
func keyServer(t *testing.T) (*bundle, *apikey.Service) {
	t.Helper()
	d := dbtest.New(t)
	d.Exec(t, schema)
	d.Exec(t, `insert into ayb.users (id, email) values ('`+userA+`', 'a@example.com'), ('`+userB+`', 'b@example.com')`)
	ctx, cancel := context.WithCancel(context.Background())
	keys := apikey.New(d.DB, apikey.Options{})
	keys.Start(ctx)
	select {
	case <-keys.Listening():
	case <-time.After(10 * time.Second):
		t.Fatal("the key cache's listener did not start")
	}
	svc, err := realtime.New(ctx, realtime.Options{URL: d.URL, PollInterval: 200 * time.Millisecond, Filters: eqFilter{},
		Keys: keys, SessionCheckInterval: 100 * time.Millisecond})
	require.NoError(t, err)
	go func() { _ = svc.Run(ctx) }()
	srv := server.New(server.Options{Config: config.Defaults(), DB: d.DB,
		Authenticator: apikey.Authenticator{Keys: keys, Next: testAuth{}}, Realtime: svc})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		cancel()
		svc.Close()
		hs.Close()
		keys.Wait()
	})
	return &bundle{db: d, url: hs.URL, svc: svc, admin: d.Admin(t)}, keys
}

func mintKey(t *testing.T, keys *apikey.Service, p apikey.CreateParams) (string, uuid.UUID) {
	t.Helper()
	if p.Scope == "" {
		p.Scope = "read"
	}
	c, err := keys.Create(context.Background(), p, nil, nil)
	require.NoError(t, err)
	require.Equal(t, p.Realtime, c.APIKey.Realtime, "the created key reports its realtime access")
	return c.Key, c.APIKey.ID
}

// apiError reads a refusal's code and details.
func apiError(t *testing.T, body string) (string, map[string]any) {
	t.Helper()
	var e struct {
		Code    string
		Hint    string
		Details map[string]any
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.NotEmpty(t, e.Hint, "a refusal says how to get access: %s", body)
	return e.Code, e.Details
}

// An API key streams only with realtime access; sessions are unaffected; a
// realtime key keeps its table restriction; access granted or withdrawn
// later applies to the next stream.
func TestAPIKeyRealtimeAccess(t *testing.T) {
	t.Parallel()
	b, keys := keyServer(t)
	ua := uuid.MustParse(userA)
	plain, plainID := mintKey(t, keys, apikey.CreateParams{Name: "batch job", UserID: &ua})
	svcKey, _ := mintKey(t, keys, apikey.CreateParams{Name: "service", Scope: "full"})
	rt, _ := mintKey(t, keys, apikey.CreateParams{Name: "live", UserID: &ua, Realtime: true})
	membersOnly, _ := mintKey(t, keys, apikey.CreateParams{Name: "members", UserID: &ua, Realtime: true,
		AllowedTables: []string{"members"}})

	// Refused before any subscription exists: a change committed now is
	// checked for nobody.
	for name, k := range map[string]string{"user key": plain, "service key": svcKey} {
		for _, how := range []string{"header", "query"} {
			var code int
			var body string
			if how == "header" {
				_, code, body = open(t, b.url, "tables=rows", k, "")
			} else {
				code, body = get(t, b.url+"/api/realtime?tables=rows&token="+k)
			}
			require.Equal(t, http.StatusForbidden, code, "%s by %s: %s", name, how, body)
			c, details := apiError(t, body)
			require.Equal(t, "insufficient_scope", c, body)
			require.Equal(t, realtime.CodeRealtimeNotGranted, details["reason"], body)
		}
	}
	b.exec(t, "insert into rows (team_id, body) values (1, 'nobody listens')")
	time.Sleep(600 * time.Millisecond)
	require.Zero(t, b.svc.Checks(), "a refused key registered a subscription")

	// A session (here: the test's JWT stand-in) needs no such grant.
	sess, _, _ := open(t, b.url, "tables=rows", token(userA), "")
	// A key with realtime access streams what its user may see.
	s, code, body := open(t, b.url, "tables=rows", rt, "")
	require.Equal(t, http.StatusOK, code, body)
	b.exec(t, "insert into rows (team_id, body) values (1, 'for the live key')")
	require.Equal(t, "for the live key", s.next(t).Data["record"].(map[string]any)["body"])
	require.Equal(t, "for the live key", sess.next(t).Data["record"].(map[string]any)["body"])

	// Realtime access does not widen a table restriction.
	_, code, body = open(t, b.url, "tables=rows", membersOnly, "")
	require.Equal(t, http.StatusForbidden, code, body)
	m, code, body := open(t, b.url, "tables=members", membersOnly, "")
	require.Equal(t, http.StatusOK, code, body)
	m.close()

	// Granting access applies to the key's next stream, on every instance
	// (the cached key is dropped by NOTIFY); withdrawing it likewise.
	info, err := keys.SetRealtime(context.Background(), plainID, true, nil)
	require.NoError(t, err)
	require.True(t, info.Realtime)
	require.Eventually(t, func() bool {
		s, code, _ := open(t, b.url, "tables=rows", plain, "")
		if s != nil {
			s.close()
		}
		return code == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond, "the granted key is still refused")
	_, err = keys.SetRealtime(context.Background(), plainID, false, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s, code, _ := open(t, b.url, "tables=rows", plain, "")
		if s != nil {
			s.close()
		}
		return code == http.StatusForbidden
	}, 10*time.Second, 100*time.Millisecond, "the withdrawn key still streams")
}

// A stream opened with a realtime key cannot be taken over by a key of the
// same user that lacks realtime access; a realtime key can.
func TestAPIKeyRealtimeHandover(t *testing.T) {
	t.Parallel()
	b, keys := keyServer(t)
	ua := uuid.MustParse(userA)
	rt, _ := mintKey(t, keys, apikey.CreateParams{Name: "live", UserID: &ua, Realtime: true})
	rt2, _ := mintKey(t, keys, apikey.CreateParams{Name: "live 2", UserID: &ua, Realtime: true})
	plain, _ := mintKey(t, keys, apikey.CreateParams{Name: "batch job", UserID: &ua})

	req, _ := http.NewRequest(http.MethodGet, b.url+"/api/realtime?tables=rows", nil)
	req.Header.Set("Authorization", "Bearer "+rt)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rd := bufio.NewReader(resp.Body)
	var conn string
	for conn == "" {
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		if strings.HasPrefix(line, "data: ") {
			var hello map[string]any
			require.NoError(t, json.Unmarshal([]byte(line[6:]), &hello))
			conn, _ = hello["connection"].(string)
		}
	}
	post := func(key string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, b.url+"/api/realtime/"+conn+"/token", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, body := post(plain)
	require.Equal(t, http.StatusForbidden, code, body)
	c, details := apiError(t, body)
	require.Equal(t, "insufficient_scope", c)
	require.Equal(t, realtime.CodeRealtimeNotGranted, details["reason"])
	code, body = post(rt2)
	require.Equal(t, http.StatusNoContent, code, body)

	b.exec(t, "insert into rows (team_id, body) values (1, 'after handover')")
	for {
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		if strings.Contains(line, "after handover") {
			break
		}
	}
}

// A key's stream closes with "key_revoked" when the key loses realtime
// access or is revoked; a session's stream and other keys' streams go on.
func TestAPIKeyStreamClosesWhenAccessEnds(t *testing.T) {
	t.Parallel()
	b, keys := keyServer(t)
	ua := uuid.MustParse(userA)
	withdrawn, withdrawnID := mintKey(t, keys, apikey.CreateParams{Name: "withdrawn", UserID: &ua, Realtime: true})
	revoked, revokedID := mintKey(t, keys, apikey.CreateParams{Name: "revoked", UserID: &ua, Realtime: true})
	kept, _ := mintKey(t, keys, apikey.CreateParams{Name: "kept", UserID: &ua, Realtime: true})
	sw, _, _ := open(t, b.url, "tables=rows", withdrawn, "")
	sr, _, _ := open(t, b.url, "tables=rows", revoked, "")
	sk, _, _ := open(t, b.url, "tables=rows", kept, "")
	sess, _, _ := open(t, b.url, "tables=rows", token(userA), "")

	_, err := keys.SetRealtime(context.Background(), withdrawnID, false, nil)
	require.NoError(t, err)
	_, err = keys.Revoke(context.Background(), revokedID, nil, nil)
	require.NoError(t, err)
	for _, s := range []*sse{sw, sr} {
		ev := s.next(t)
		require.Equal(t, "close", ev.Event)
		require.Equal(t, "key_revoked", ev.Data["reason"])
		require.Equal(t, false, ev.Data["resumable"])
		_, open := <-s.events
		require.False(t, open, "the stream stayed open")
	}
	b.exec(t, "insert into rows (team_id, body) values (1, 'still streaming')")
	require.Equal(t, "still streaming", sk.next(t).Data["record"].(map[string]any)["body"])
	require.Equal(t, "still streaming", sess.next(t).Data["record"].(map[string]any)["body"])
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
