package main

import (
	"os"
	"strings"
	"syscall"
)

// The server runs with Go's sysmon kept out of its deep sleep.
//
// Go's sysmon thread sleeps deeply while every P is idle, and any syscall
// wakes it; it then polls every 20 µs for at least a millisecond. A server
// waiting on the network goes all-idle and busy again many times a
// millisecond, so under load sysmon never backs off: on the bench machine
// (a paravirtualised VM, where each sleep and wake-up is costly) its own
// 20 µs nanosleeps were 11–15% of the server's CPU. With deep sleep off it
// doubles its interval while it finds nothing to do, up to 10 ms. A/B in
// one bench run: 7,197 → 9,391 and 7,097 → 8,201 req/s for the GET by key
// under RLS, server CPU per request 116 → 85 and 111 → 94 µs.
//
// The only switch the runtime offers is GODEBUG's schedtrace: any value
// above zero keeps sysmon from deep sleep, and at the largest value it
// prints a scheduler summary to stderr once every 24.8 days (at start on a
// host up longer than that). GODEBUG is read when the process starts, so
// `ayb start` runs itself again with it set. An operator's own schedtrace
// (schedtrace=0 restores Go's behaviour) is left alone.
const sysmonAwake = "schedtrace=2147483647"

// sysmonEnv returns environ with sysmonAwake added to GODEBUG, and false
// when GODEBUG already sets schedtrace.
func sysmonEnv(environ []string) ([]string, bool) {
	out := make([]string, 0, len(environ)+1)
	godebug := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			godebug = v
			continue
		}
		out = append(out, kv)
	}
	for _, s := range strings.Split(godebug, ",") {
		if strings.HasPrefix(strings.TrimSpace(s), "schedtrace=") {
			return environ, false
		}
	}
	if godebug != "" {
		godebug += ","
	}
	return append(out, "GODEBUG="+godebug+sysmonAwake), true
}

// keepSysmonAwake re-executes `ayb start` with sysmonAwake; it returns only
// when there is nothing to do or the exec failed (the server then runs
// with Go's default).
func keepSysmonAwake() {
	if len(os.Args) < 2 || os.Args[1] != "start" {
		return
	}
	env, change := sysmonEnv(os.Environ())
	if !change {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, env)
}
