// Package pg runs a PostgreSQL cluster that AYB manages itself: initdb on
// first run, start on 127.0.0.1 (and a unix socket in the data directory),
// wait until ready, create the database, stop cleanly. As root it runs
// Postgres as an unprivileged OS user, since initdb and postgres refuse root.
package pg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options configures a managed cluster.
type Options struct {
	// DataDir is the cluster's directory (PGDATA). Made absolute.
	DataDir string
	// Port to listen on 127.0.0.1; 0 picks a free one.
	Port int
	// Database is created if missing.
	Database string
	// OSUser runs Postgres when AYB runs as root (default: "postgres" if it
	// exists, else "ayb" which is created).
	OSUser string
	// Ephemeral tunes for throwaway test clusters (fsync off).
	Ephemeral bool
	// Logf reports progress to the user; nil is silent.
	Logf func(format string, args ...any)
	// Settings are extra postgres -c settings.
	Settings map[string]string
}

// Cluster is a running managed cluster.
type Cluster struct {
	opts     Options
	bin      Binaries
	port     int
	password string
	socket   string
	cmd      *exec.Cmd
	done     chan error
	uid, gid int
	runAs    bool
	// traverseCap gives Postgres CAP_DAC_READ_SEARCH (see ensureDir).
	traverseCap bool
}

// capDACReadSearch is CAP_DAC_READ_SEARCH from linux/capability.h.
const capDACReadSearch = 2

// Superuser is the bootstrap superuser's name in managed clusters.
const Superuser = "ayb_admin"

const passwordFile = "ayb_admin.password"

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// Start initializes (first run) and starts the cluster.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	if opts.Database == "" {
		opts.Database = "ayb"
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	opts.DataDir = dir
	c := &Cluster{opts: opts, bin: bin}
	if os.Geteuid() == 0 {
		if err := c.prepareRunAs(); err != nil {
			return nil, err
		}
	}
	if err := c.ensureDir(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}
	pw, err := os.ReadFile(filepath.Join(dir, passwordFile))
	if err != nil {
		return nil, fmt.Errorf("read superuser password (%s): %w", filepath.Join(dir, passwordFile), err)
	}
	c.password = strings.TrimSpace(string(pw))
	attached, err := c.attachOrRecover(ctx)
	if err != nil {
		return nil, err
	}
	if !attached {
		if err := c.start(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.ensureDatabase(ctx, opts.Database); err != nil {
		_ = c.Stop(context.Background())
		return nil, err
	}
	return c, nil
}

// Port is the TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// DataDir is the cluster's PGDATA.
func (c *Cluster) DataDir() string { return c.opts.DataDir }

// Password is the bootstrap superuser's password.
func (c *Cluster) Password() string { return c.password }

// URL returns a connection URL for the superuser on database db.
func (c *Cluster) URL(db string) string { return c.URLFor(Superuser, c.password, db) }

// URLFor returns a connection URL for a role. It uses the unix socket when
// there is one (about 2x the throughput of TCP loopback here, perf.md §3.2).
func (c *Cluster) URLFor(user, password, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Path: "/" + db}
	q := url.Values{}
	if c.socket != "" {
		u.Host = ""
		q.Set("host", c.socket)
		q.Set("port", strconv.Itoa(c.port))
	} else {
		u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port))
	}
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func (c *Cluster) ensureDir() error {
	dir := c.opts.DataDir
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if c.runAs {
		if err := os.Chown(dir, c.uid, c.gid); err != nil {
			return err
		}
		// Postgres must be able to reach its data dir: every ancestor needs
		// search permission for the unprivileged user. A checkout under
		// /root (mode 0700) is the common case where it has not; then
		// Postgres gets CAP_DAC_READ_SEARCH, the one capability that lets it
		// pass through, rather than AYB loosening the modes of the user's
		// directories.
		for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			if st.Mode().Perm()&0o001 == 0 {
				sys := st.Sys().(*syscall.Stat_t)
				if int(sys.Uid) != c.uid && !(int(sys.Gid) == c.gid && st.Mode().Perm()&0o010 != 0) {
					c.opts.logf("%s is not enterable by OS user %q; PostgreSQL runs with CAP_DAC_READ_SEARCH to reach %s", p, c.opts.OSUser, dir)
					c.traverseCap = true
					break
				}
			}
		}
	}
	return nil
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bin.Path(name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	// "/" because the child changes directory after dropping to the
	// unprivileged user; Postgres itself goes to its absolute -D dir.
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.runAs {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid)}
		if c.traverseCap {
			cmd.SysProcAttr.AmbientCaps = []uintptr{capDACReadSearch}
		}
	}
	return cmd
}

func (c *Cluster) initdb(ctx context.Context) error {
	c.opts.logf("initializing a new PostgreSQL %d cluster in %s (first run)", c.bin.Major, c.opts.DataDir)
	pwTmp := filepath.Join(c.opts.DataDir, "..", ".initdb-pw-"+randomHex(4))
	pw := randomHex(24)
	if err := os.WriteFile(pwTmp, []byte(pw+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwTmp)
	if c.runAs {
		_ = os.Chown(pwTmp, c.uid, c.gid)
	}
	args := []string{
		"-D", c.opts.DataDir, "-U", Superuser, "--pwfile", pwTmp,
		"-E", "UTF8", "--locale", "C",
		"--auth-local", "scram-sha-256", "--auth-host", "scram-sha-256",
	}
	if c.opts.Ephemeral {
		args = append(args, "--no-sync")
	}
	cmd := c.command(ctx, "initdb", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb failed: %v\n%s", err, out)
	}
	// The password file lives beside the cluster's own files, readable only
	// by its owner.
	pf := filepath.Join(c.opts.DataDir, passwordFile)
	if err := os.WriteFile(pf, []byte(pw+"\n"), 0o600); err != nil {
		return err
	}
	if c.runAs {
		_ = os.Chown(pf, c.uid, c.gid)
	}
	return nil
}

// attachOrRecover looks at a postmaster.pid left in the data dir. If its
// postmaster is alive and its parent (another AYB process: a running server,
// while this is `ayb sql` or a second instance) is alive too, this process
// attaches to it and will not stop it. If the postmaster was orphaned by a
// killed AYB, it is stopped; a pid file without a live postmaster is removed.
func (c *Cluster) attachOrRecover(ctx context.Context) (bool, error) {
	pidFile := filepath.Join(c.opts.DataDir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// Lines: pid, data dir, start time, port, socket dir, listen addr, ...
	lines := strings.Split(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	if pid > 0 && isPostgres(pid, c.opts.DataDir) {
		if ppid := parentOf(pid); ppid > 1 && processAlive(ppid) && len(lines) > 5 {
			port, _ := strconv.Atoi(strings.TrimSpace(lines[3]))
			if port > 0 {
				c.port = port
				c.socket = strings.TrimSpace(lines[4])
				conn, err := pgx.Connect(ctx, c.URL("postgres"))
				if err == nil {
					conn.Close(ctx)
					c.opts.logf("using PostgreSQL already running on port %d (started by pid %d)", port, ppid)
					return true, nil
				}
			}
		}
		c.opts.logf("stopping PostgreSQL left running by an earlier run (pid %d)", pid)
		_ = syscall.Kill(pid, syscall.SIGINT)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) && processAlive(pid) {
			time.Sleep(100 * time.Millisecond)
		}
		if processAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGQUIT)
			time.Sleep(time.Second)
		}
		if processAlive(pid) {
			return false, fmt.Errorf("an earlier PostgreSQL (pid %d) is still running on %s and did not stop", pid, c.opts.DataDir)
		}
	}
	if _, err := os.Stat(pidFile); err == nil {
		c.opts.logf("removing stale %s from a run that did not stop cleanly", pidFile)
		if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
	}
	return false, nil
}

// parentOf returns a process's parent pid, or 0.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is not alive.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return false
		}
	}
	return true
}

func isPostgres(pid int, dataDir string) bool {
	if !processAlive(pid) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	s := strings.ReplaceAll(string(cmdline), "\x00", " ")
	return strings.Contains(s, "postgres") && strings.Contains(s, dataDir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) start(ctx context.Context) error {
	port := c.opts.Port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		port = p
	}
	c.port = port
	// A unix socket path is limited to 107 bytes; fall back to TCP only.
	sock := c.opts.DataDir
	if len(sock)+len("/.s.PGSQL.")+6 >= 107 {
		sock = ""
	}
	c.socket = sock
	args := []string{
		"-D", c.opts.DataDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + sock,
		"-c", "logging_collector=off",
		"-c", "max_connections=200",
	}
	if c.opts.Ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for k, v := range c.opts.Settings {
		args = append(args, "-c", k+"="+v)
	}
	logPath := filepath.Join(filepath.Dir(c.opts.DataDir), "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	c.opts.logf("starting PostgreSQL %d on 127.0.0.1:%d (log: %s)", c.bin.Major, port, logPath)
	cmd := c.command(context.Background(), "postgres", args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// If AYB dies without stopping it (kill -9), the kernel tells Postgres
	// to shut down fast; a leftover is also recovered at the next start.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGINT
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	logFile.Close()
	c.cmd = cmd
	c.done = make(chan error, 1)
	go func() { c.done <- cmd.Wait() }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-c.done:
			c.done <- err
			return fmt.Errorf("postgres exited during startup (%v); last lines of %s:\n%s", err, logPath, tail(logPath, 20))
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, c.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) {
			_ = c.Stop(context.Background())
			return fmt.Errorf("postgres did not become ready within 60s: %v; log:\n%s", err, tail(logPath, 20))
		}
		select {
		case <-ctx.Done():
			_ = c.Stop(context.Background())
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (c *Cluster) ensureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "select exists(select 1 from pg_database where datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		c.opts.logf("creating database %q", name)
		if _, err := conn.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("create database: %w", err)
		}
	}
	return nil
}

// Stop shuts the cluster down (fast shutdown: sessions are ended, then a
// clean checkpoint), waiting up to 30 seconds before an immediate stop.
func (c *Cluster) Stop(ctx context.Context) error {
	if c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		<-c.done
	case <-ctx.Done():
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		<-c.done
	}
	c.cmd = nil
	return nil
}

// Exited returns a channel that receives when postgres exits on its own.
func (c *Cluster) Exited() <-chan error { return c.done }

// LoginRole is the role the server logs in as in managed mode: not a
// superuser, a member of the three API roles (it SET ROLEs to one per
// request) and of ayb_system (its rights on the private schema).
const LoginRole = "ayb_authenticator"

const loginPasswordFile = "ayb_authenticator.password"

// EnsureLoginRole creates or updates the server's login role on database db
// and returns a URL for it. Call it after the migrations (which create the
// roles it joins).
func (c *Cluster) EnsureLoginRole(ctx context.Context, db string) (string, error) {
	pf := filepath.Join(c.opts.DataDir, loginPasswordFile)
	pwb, err := os.ReadFile(pf)
	pw := strings.TrimSpace(string(pwb))
	if errors.Is(err, os.ErrNotExist) || pw == "" {
		pw = randomHex(24)
		if err := os.WriteFile(pf, []byte(pw+"\n"), 0o600); err != nil {
			return "", err
		}
		if c.runAs {
			_ = os.Chown(pf, c.uid, c.gid)
		}
	} else if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	// Serialized so parallel test databases on one cluster don't race on
	// the cluster-wide role.
	if _, err := conn.Exec(ctx, "select pg_advisory_lock(7236110012)"); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock(7236110012)") //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "select exists(select 1 from pg_roles where rolname = $1)", LoginRole).Scan(&exists); err != nil {
		return "", err
	}
	verb := "alter"
	if !exists {
		verb = "create"
	}
	esc, err := conn.PgConn().EscapeString(pw)
	if err != nil {
		return "", err
	}
	stmt := fmt.Sprintf("%s role %s login nosuperuser nocreatedb nocreaterole inherit nobypassrls password '%s'", verb, LoginRole, esc)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return "", fmt.Errorf("ensure login role: %w", err)
	}
	if _, err := conn.Exec(ctx, "grant anon, authenticated, service_role, ayb_system to "+LoginRole); err != nil {
		return "", fmt.Errorf("grant roles to login role: %w", err)
	}
	return c.URLFor(LoginRole, pw, db), nil
}
