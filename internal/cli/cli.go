// Package cli is the `ayb` command: start, migrate, sql, config, version.
// Each command parses its flags, loads the configuration, and calls the same
// functions the HTTP API uses.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/web"
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = map[string]*Command{}

// Register adds a subcommand (areas add theirs from their own files).
func Register(c *Command) { commands[c.Name] = c }

func init() {
	Register(&Command{Name: "start", Summary: "start the server (and its managed PostgreSQL)", Run: runStart})
	Register(&Command{Name: "migrate", Summary: "migrate up|status: apply or show system migrations", Run: runMigrate})
	Register(&Command{Name: "sql", Summary: `sql "<statement>" [--json]: run SQL against the database as admin`, Run: runSQL})
	Register(&Command{Name: "config", Summary: "print the effective configuration (secrets masked)", Run: runConfig})
	Register(&Command{Name: "version", Summary: "print the version", Run: func(_ context.Context, _ []string, w io.Writer) error {
		fmt.Fprintln(w, "ayb", Version)
		return nil
	}})
}

// ExitError carries an exit code.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// Main runs the CLI and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ayb: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.Run(ctx, args[1:], stdout)
	flushLog() // before any error line below, so the output stays in order
	if err != nil {
		var ee ExitError
		if errors.As(err, &ee) {
			return ee.Code
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "ayb:", err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "AYB: a backend for apps that lives in PostgreSQL.\n\nUsage: ayb <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nEvery command takes --config (default ./ayb.toml), --database-url and --data-dir.\nRun `ayb <command> -h` for its flags.")
}

// commonFlags are accepted by every command that touches the database.
type commonFlags struct {
	fs        *flag.FlagSet
	config    string
	overrides map[string]string
}

func newFlags(name string) *commonFlags {
	cf := &commonFlags{fs: flag.NewFlagSet("ayb "+name, flag.ContinueOnError), overrides: map[string]string{}}
	def := os.Getenv("AYB_CONFIG")
	if def == "" {
		def = "ayb.toml"
	}
	cf.fs.StringVar(&cf.config, "config", def, "config file")
	cf.setting("database-url", "database.url", "PostgreSQL URL of an existing database (default: run a managed one)")
	cf.setting("data-dir", "database.data_dir", "managed PostgreSQL data directory")
	return cf
}

// setting adds a flag that overrides a config key.
func (cf *commonFlags) setting(flagName, key, usage string) {
	cf.fs.Func(flagName, usage, func(v string) error { cf.overrides[key] = v; return nil })
}

func (cf *commonFlags) load() (config.Config, error) {
	cfg, warnings, err := config.Load(cf.config, os.Environ(), cf.overrides)
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "ayb: warning:", w)
	}
	if err != nil {
		return cfg, err
	}
	setupLogging(cfg)
	return cfg, nil
}

func setupLogging(cfg config.Config) {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	logOut.Do(func() { logBuf = newLogWriter(os.Stderr, 100*time.Millisecond) })
	var h slog.Handler
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(logBuf, opts)
	} else {
		h = slog.NewTextHandler(logBuf, opts)
	}
	slog.SetDefault(slog.New(h))
	web.SetAccessLog(logBuf, cfg.Log.Format == "json", lvl)
}

// logBuf is the process's log output (see logWriter); Main flushes it.
var (
	logOut sync.Once
	logBuf *logWriter
)

func flushLog() {
	if logBuf != nil {
		_ = logBuf.Flush()
	}
}

// positional splits args into flags and positional words, so flags may come
// after the positional arguments (`ayb sql "select 1" --json`).
func positional(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func joinArgs(a []string) string { return strings.Join(a, " ") }
