package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/server"
)

// The floor server: the least a Go server on net/http and pgx must do to
// answer the rest bench's GET by key. It sends the same pipelined
// statements as AYB (session check, role and claims, the query), for one
// fixed session, with no routing library, no token, no logging, no
// schema: what is left is HTTP parsing and writing, the pool, and the
// database round trip. Each request takes a pool connection of its own
// (AYB multiplexes reads; see db.Read). Beside AYB in the same run it shows how much of the
// gap to the pgbench replay is AYB's and how much any server on this stack
// pays here.
const (
	floorSessionSQL = "select ayb.require_session($1::uuid, $2::uuid, $3)"
	floorSetupSQL   = "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('transaction_read_only', 'on', true), set_config('statement_timeout', $3, true)"
	floorGetSQL     = `select (select row_to_json(_r) from (select "t0"."id", "t0"."owner", "t0"."body", "t0"."kind") _r)::text from "public"."msgs" "t0" where "t0"."id" = $1::text::bigint`
)

func init() {
	addr := os.Getenv("AYB_BENCH_FLOOR")
	if addr == "" {
		return
	}
	if err := runFloor(addr, os.Getenv("AYB_BENCH_FLOOR_DB"), os.Getenv("AYB_BENCH_FLOOR_SESSION"),
		os.Getenv("AYB_BENCH_FLOOR_USER"), os.Getenv("AYB_BENCH_FLOOR_CLAIMS")); err != nil {
		fmt.Fprintln(os.Stderr, "floor server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runFloor(addr, dbURL, sessionID, userID, claims string) error {
	server.TuneGC() // the collector's target AYB runs with, so the floor stays like for like
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = 8 // AYB's default pool
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	timeouts, err := db.RoleStatementTimeouts(ctx, pool)
	if err != nil {
		return err
	}
	timeout := timeouts["authenticated"]
	if timeout == "" { // none: keep the session's
		timeout = "0"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/collections/msgs/{id}", func(w http.ResponseWriter, r *http.Request) {
		b := &pgx.Batch{}
		b.Queue(floorSessionSQL, sessionID, userID, time.Now())
		b.Queue(floorSetupSQL, "authenticated", claims, timeout)
		b.Queue(floorGetSQL, r.PathValue("id"))
		br := pool.SendBatch(r.Context(), b)
		var row *string
		_, err := br.Exec()
		if err == nil {
			_, err = br.Exec()
		}
		if err == nil {
			err = br.QueryRow().Scan(&row)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		switch {
		case err == pgx.ErrNoRows || (err == nil && row == nil):
			http.Error(w, `{"code":"not_found"}`, http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(*row))
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return http.Serve(ln, mux)
}

// child is a helper server run from this binary in its own process (the
// floor servers): env selects which one, as in their init functions.
type child struct {
	cmd  *exec.Cmd
	base string
}

// startChild starts this binary with env plus addrKey=<a free loopback
// address>, and waits until up(base) succeeds.
func startChild(ctx context.Context, addrKey string, env []string, up func(base string) error) (*child, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(append(os.Environ(), addrKey+"="+addr), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, base: "http://" + addr}
	for deadline := time.Now().Add(20 * time.Second); ; {
		err := up(c.base)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("%s did not start: %w", addrKey, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *child) stop() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// startFloor runs the floor server for u's session.
func startFloor(ctx context.Context, dbURL string, u benchUser) (*child, error) {
	return startChild(ctx, "AYB_BENCH_FLOOR", []string{"AYB_BENCH_FLOOR_DB=" + dbURL,
		"AYB_BENCH_FLOOR_SESSION=" + u.sessionID, "AYB_BENCH_FLOOR_USER=" + u.userID, "AYB_BENCH_FLOOR_CLAIMS=" + u.claimsJSON},
		func(base string) error {
			res, err := http.Get(base + "/api/collections/msgs/1")
			if err != nil {
				return err
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("floor server answered %d", res.StatusCode)
			}
			return nil
		})
}
