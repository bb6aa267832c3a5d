//go:build unix

package realtime

import (
	"bytes"
	"context"
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
	return nil
}
