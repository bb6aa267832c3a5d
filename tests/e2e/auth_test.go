// Package e2e drives the real ayb binary over HTTP, as an SDK would.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// aybBinary builds cmd/ayb once per test run.
func aybBinary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ayb-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ayb")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/ayb").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// instance is one `ayb start` process on an existing database.
type instance struct{ url string }

func startInstance(t *testing.T, d *dbtest.DB, cfgPath string) *instance {
	t.Helper()
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, aybBinary(t), "start", "--config", cfgPath, "--database-url", d.URL, "--port", fmt.Sprint(port))
	cmd.Env = append(os.Environ(), "AYB_DATABASE_ADMIN_URL="+d.AdminURL, "AYB_LOG_LEVEL=warn")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var logs bytes.Buffer
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
		}
		cancel()
		if t.Failed() {
			mu.Lock()
			t.Logf("ayb on port %d said:\n%s", port, logs.String())
			mu.Unlock()
		}
	})
	in := &instance{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	require.Eventually(t, func() bool {
		res, err := http.Get(in.url + "/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, 60*time.Second, 100*time.Millisecond, "ayb did not start")
	return in
}

func (in *instance) call(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, in.url+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// Two server instances on one database: a session created through one
// refreshes through the other; after `ayb keys rotate`, tokens from both
// keys verify on both.
func TestAuthTwoInstancesAndKeyRotation(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	cfgPath := filepath.Join(t.TempDir(), "ayb.toml") // written with defaults by the first start
	a := startInstance(t, d, cfgPath)
	b := startInstance(t, d, cfgPath)

	st, reg := a.call(t, "POST", "/api/auth/register", "", map[string]any{"email": "two@example.com", "password": "two instances pw"})
	require.Equal(t, 201, st, reg)
	oldAccess := reg["access_token"].(string)
	st, me := b.call(t, "GET", "/api/auth/me", oldAccess, nil)
	require.Equal(t, 200, st, me)
	st, ref := b.call(t, "POST", "/api/auth/refresh", "", map[string]any{"refresh_token": reg["refresh_token"]})
	require.Equal(t, 200, st, ref)
	st, _ = a.call(t, "POST", "/api/auth/refresh", "", map[string]any{"refresh_token": ref["refresh_token"]})
	require.Equal(t, 200, st)

	out, err := exec.Command(aybBinary(t), "keys", "rotate", "--config", cfgPath, "--database-url", d.AdminURL).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "new signing key")
	kid := strings.Fields(strings.TrimPrefix(string(out), "new signing key "))[0]
	kid = strings.TrimSuffix(kid, ";")

	var newA, newB string
	for _, p := range []struct {
		in  *instance
		tok *string
	}{{a, &newA}, {b, &newB}} {
		require.Eventually(t, func() bool {
			st, l := p.in.call(t, "POST", "/api/auth/login", "", map[string]any{"email": "two@example.com", "password": "two instances pw"})
			if st != 200 {
				return false
			}
			*p.tok = l["access_token"].(string)
			return strings.Contains(header(t, *p.tok), kid)
		}, 15*time.Second, 100*time.Millisecond, "instance never signed with the new key")
	}
	for _, in := range []*instance{a, b} {
		for _, tok := range []string{oldAccess, newA, newB} {
			st, body := in.call(t, "GET", "/api/auth/me", tok, nil)
			require.Equal(t, 200, st, body)
		}
	}
}

func header(t *testing.T, tok string) string {
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	b, err := base64URL(parts[0])
	require.NoError(t, err)
	return string(b)
}
