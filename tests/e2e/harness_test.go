// Package e2e drives the real `ayb` binary over HTTP, the way an SDK or an
// admin would: it builds the binary once, starts servers against fresh
// databases (or managed clusters), and talks to them.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aybhq/ayb/internal/dbtest"
)

var aybBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ayb-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = os.Chmod(dir, 0o755)
	aybBin = filepath.Join(dir, "ayb")
	out, err := exec.Command("go", "build", "-o", aybBin, "../../cmd/ayb").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build ayb: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	dbtest.Teardown()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Instance is one running `ayb start`.
type Instance struct {
	t    testing.TB
	Cmd  *exec.Cmd
	URL  string
	Dir  string
	mu   sync.Mutex
	logs strings.Builder
	done chan struct{}
	err  error
}

// Logs returns what the process printed so far.
func (in *Instance) Logs() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.logs.String()
}

// StartOptions configure an instance.
type StartOptions struct {
	DatabaseURL string   // empty: managed mode in Dir
	Dir         string   // working directory (temp if empty)
	Env         []string // extra environment
	Args        []string // extra flags
	NoWait      bool     // don't wait for /health
}

// Start runs `ayb start` and waits until /health answers 200.
func Start(t testing.TB, opt StartOptions) *Instance {
	t.Helper()
	dir := opt.Dir
	if dir == "" {
		dir = t.TempDir()
		_ = os.Chmod(dir, 0o755)
	}
	port := freePort(t)
	args := []string{"start", "--port", fmt.Sprint(port)}
	if opt.DatabaseURL != "" {
		args = append(args, "--database-url", opt.DatabaseURL)
	}
	args = append(args, opt.Args...)
	cmd := exec.Command(aybBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), opt.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in := &Instance{t: t, Cmd: cmd, URL: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir, done: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ayb: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			in.mu.Lock()
			in.logs.WriteString(sc.Text() + "\n")
			in.mu.Unlock()
		}
	}()
	go func() {
		in.err = cmd.Wait()
		pw.Close()
		close(in.done)
	}()
	t.Cleanup(func() { in.Stop(syscall.SIGTERM) })
	if !opt.NoWait {
		in.WaitHealthy(60 * time.Second)
	}
	return in
}

// WaitHealthy polls /health until 200.
func (in *Instance) WaitHealthy(timeout time.Duration) {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-in.done:
			in.t.Fatalf("ayb exited before becoming healthy: %v\n%s", in.err, in.Logs())
		default:
		}
		resp, err := http.Get(in.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	in.t.Fatalf("ayb not healthy within %s\n%s", timeout, in.Logs())
}

// Stop signals the process and waits for it to exit (up to 30 s).
func (in *Instance) Stop(sig syscall.Signal) error {
	select {
	case <-in.done:
		return in.err
	default:
	}
	_ = in.Cmd.Process.Signal(sig)
	select {
	case <-in.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-in.Cmd.Process.Pid, syscall.SIGKILL)
		<-in.done
	}
	return in.err
}

// Done is closed when the process has exited.
func (in *Instance) Done() <-chan struct{} { return in.done }

// Run runs the ayb binary with args to completion.
func Run(t testing.TB, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, aybBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
