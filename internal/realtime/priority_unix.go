//go:build unix

package realtime

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// checkerNice is the CPU niceness of the database backends that run
// visibility checks when they are on this machine.
const checkerNice = 10

// lowerBackendPriority lowers the CPU priority of the backend serving a
// realtime connection, when that backend is a PostgreSQL process on this
// machine reached over a unix socket (the managed database, or a local
// one): under CPU contention the scheduler then serves request backends
// first, so realtime's checks cannot take CPU from REST (measured in `make
// bench`: REST p99 with 1,000 subscribers). Elsewhere it does nothing; a
// backend over TCP or in another container is left alone. Lowering one's
// own processes' priority needs no privilege; a failure is only logged.
func lowerBackendPriority(ctx context.Context, conn *pgx.Conn) error {
	if conn.PgConn().Conn().RemoteAddr().Network() != "unix" {
		return nil
	}
	var pid int
	if err := conn.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
		return err
	}
	// The pid names our backend only if it is in this machine's (and
	// namespace's) process table as a postgres backend connected locally.
	cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !bytes.HasPrefix(cmd, []byte("postgres: ")) || !bytes.Contains(cmd, []byte("[local]")) {
		return nil
	}
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, pid, checkerNice); err != nil {
		slog.Debug("realtime: could not lower the checker backend's priority", "pid", pid, "err", err)
	}
	lowerAutogroup(pid)
	return nil
}

// lowerAutogroup gives a backend's autogroup the checker's niceness. Where
// the kernel groups tasks by session (sched_autogroup_enabled, the default
// on Debian and Ubuntu kernels), a task's nice only ranks it within its
// group, and groups share the CPU equally. PostgreSQL starts every backend
// in a session of its own, so there a niced backend still competed as an
// equal with each request backend and with the server: its nice was a
// no-op. The group is changed only when the backend leads its own
// session, so no other process's group is touched; where autogroup is off
// or the task is in a cgroup, the kernel ignores the group's nice and the
// task's applies instead.
func lowerAutogroup(pid int) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return
	}
	// Fields after the command's closing parenthesis: state, ppid, pgrp,
	// session, ...
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 4 || string(f[3]) != strconv.Itoa(pid) {
		return
	}
	if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/autogroup", []byte(strconv.Itoa(checkerNice)), 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		slog.Debug("realtime: could not lower the checker backend's autogroup", "pid", pid, "err", err)
	}
}
