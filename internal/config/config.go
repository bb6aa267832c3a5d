// Package config loads AYB's configuration: defaults, then ayb.toml, then
// AYB_* environment variables, then command-line flags, each overriding the
// one before. Unknown keys in the file are reported, not ignored.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Duration is a time.Duration written as "15m", "10s" in TOML and env.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Config is the whole configuration. Field tags: toml is the key; secret
// marks values masked by `ayb config`; doc is the comment in the generated file.
type Config struct {
	Server   Server   `toml:"server"`
	Database Database `toml:"database"`
	Log      Log      `toml:"log"`
	Auth     Auth     `toml:"auth"`
	Mail     Mail     `toml:"mail"`
	REST     REST     `toml:"rest"`
	Jobs     Jobs     `toml:"jobs"`
	Realtime Realtime `toml:"realtime"`
}

type Server struct {
	Host            string   `toml:"host" doc:"address to listen on"`
	Port            int      `toml:"port" doc:"HTTP port"`
	PublicURL       string   `toml:"public_url" doc:"URL clients reach this server at (used in emailed links); default http://host:port"`
	BodyLimit       int64    `toml:"body_limit" doc:"largest request body in bytes"`
	CORSOrigins     []string `toml:"cors_origins" doc:"origins allowed by CORS; [\"*\"] allows any (without credentials)"`
	ShutdownTimeout Duration `toml:"shutdown_timeout" doc:"how long graceful shutdown waits for requests to finish"`
	TrustedProxies  []string `toml:"trusted_proxies" doc:"CIDRs whose X-Forwarded-For is believed"`
}

type Database struct {
	URL       string `toml:"url" secret:"true" doc:"use an existing database instead of a managed one"`
	AdminURL  string `toml:"admin_url" secret:"true" doc:"role for migrations (defaults to url)"`
	DataDir   string `toml:"data_dir" doc:"managed PostgreSQL data directory"`
	Port      int    `toml:"port" doc:"managed PostgreSQL port on 127.0.0.1 (0 = pick a free one)"`
	Name      string `toml:"name" doc:"managed database name"`
	OSUser    string `toml:"os_user" doc:"OS user that runs managed PostgreSQL when AYB runs as root"`
	MaxConns  int32  `toml:"max_conns" doc:"connection pool size"`
	Multiplex int    `toml:"multiplex" doc:"connections (beside the pool) that carry many concurrent read requests each, pipelined (0 = every read takes a pool connection)"`
}

type Log struct {
	Level  string `toml:"level" doc:"debug, info, warn or error"`
	Format string `toml:"format" doc:"text or json"`
}

type Auth struct {
	Issuer            string   `toml:"issuer" doc:"iss claim of access tokens (default: server.public_url when set, else \"ayb\"); the same on every instance"`
	Audience          string   `toml:"audience" doc:"aud claim of access tokens"`
	AccessTokenTTL    Duration `toml:"access_token_ttl" doc:"lifetime of access tokens"`
	RefreshTokenTTL   Duration `toml:"refresh_token_ttl" doc:"lifetime of a session without refresh"`
	MinPasswordLength int      `toml:"min_password_length" doc:"shortest accepted password"`
	SiteURL           string   `toml:"site_url" doc:"app URL that email links and OAuth logins redirect to"`
	RequireVerified   bool     `toml:"require_verified_email" doc:"refuse login until the email is verified"`
	HashConcurrency   int      `toml:"hash_concurrency" doc:"most password hashes computed at once (each holds argon2_memory_kib)"`
	ArgonMemoryKiB    int      `toml:"argon2_memory_kib" doc:"argon2id memory per hash in KiB"`
	ArgonIterations   int      `toml:"argon2_iterations" doc:"argon2id passes"`
	VerifyTTL         Duration `toml:"verify_ttl" doc:"lifetime of an email verification link"`
	ResetTTL          Duration `toml:"reset_ttl" doc:"lifetime of a password reset link"`
	MagicLinkTTL      Duration `toml:"magic_link_ttl" doc:"lifetime of a magic sign-in link"`
	MagicLinkEnabled  bool     `toml:"magic_link_enabled" doc:"allow sign-in by emailed link"`
	ThrottleWindow    Duration `toml:"throttle_window" doc:"window of the per-IP and per-account throttles"`
	ThrottleIP        int      `toml:"throttle_per_ip" doc:"auth requests (login, reset, verify, magic link) per IP per window"`
	ThrottleAccount   int      `toml:"throttle_per_account" doc:"auth requests per account (email) per window"`
	OAuthRedirectURL  string   `toml:"oauth_redirect_url" doc:"app URL an OAuth login redirects to with tokens in the fragment (default: site_url)"`
	// OAuthProviders configures "sign in with": [auth.oauth_providers.google],
	// [auth.oauth_providers.github], or any OIDC provider by issuer.
	OAuthProviders map[string]OAuthProvider `toml:"oauth_providers" secret:"true" doc:"OAuth login providers by name (google, github, or any OIDC issuer)"`
}

// OAuthProvider is one "sign in with" provider. Kind is google, github or
// oidc; the endpoint fields override the kind's defaults (tests point them
// at loopback).
type OAuthProvider struct {
	Kind         string   `toml:"kind"`
	ClientID     string   `toml:"client_id"`
	ClientSecret string   `toml:"client_secret"`
	Issuer       string   `toml:"issuer"`
	Scopes       []string `toml:"scopes"`
	AuthURL      string   `toml:"auth_url"`
	TokenURL     string   `toml:"token_url"`
	UserURL      string   `toml:"user_url"`
	EmailsURL    string   `toml:"emails_url"`
}

type Mail struct {
	Backend  string `toml:"backend" doc:"log or smtp"`
	From     string `toml:"from" doc:"sender address"`
	SMTPHost string `toml:"smtp_host" doc:"SMTP server host"`
	SMTPPort int    `toml:"smtp_port" doc:"SMTP server port"`
	SMTPUser string `toml:"smtp_user" doc:"SMTP username"`
	SMTPPass string `toml:"smtp_password" secret:"true" doc:"SMTP password"`
	SMTPTLS  string `toml:"smtp_tls" doc:"none, starttls or tls (implicit)"`
	SMTPAuth string `toml:"smtp_auth" doc:"plain or login (used when smtp_user is set)"`
	// SMTPTimeout bounds connecting and each send.
	SMTPTimeout            Duration `toml:"smtp_timeout" doc:"timeout for connecting to and talking with the SMTP server"`
	SMTPInsecureSkipVerify bool     `toml:"smtp_insecure_skip_verify" doc:"accept any TLS certificate (testing only)"`
}

type REST struct {
	Schemas []string `toml:"schemas" doc:"schemas exposed over REST (never ayb, auth, extensions, pg_*, information_schema)"`
}

type Jobs struct {
	Enabled       bool     `toml:"enabled" doc:"run job workers in this instance"`
	Scheduler     bool     `toml:"scheduler" doc:"run the cron scheduler in this instance (safe on every instance: each fire time enqueues once)"`
	Queues        []string `toml:"queues" doc:"queues to work, as name:concurrency"`
	Lease         Duration `toml:"lease" doc:"how long a claimed job is held before another instance may rescue it (renewed while it runs)"`
	PollInterval  Duration `toml:"poll_interval" doc:"how often workers look for due jobs when no NOTIFY arrives"`
	ShutdownGrace Duration `toml:"shutdown_grace" doc:"how long running jobs may finish at shutdown before they are returned to the queue"`
}

type Realtime struct {
	Enabled              bool     `toml:"enabled" doc:"serve /api/realtime (SSE change streams)"`
	Retention            Duration `toml:"retention" doc:"how long change events stay replayable with Last-Event-ID (the realtime.prune job of whichever instance runs it uses its own: set it alike everywhere)"`
	PoolSize             int32    `toml:"pool_size" doc:"connections for visibility checks (separate from the REST pool)"`
	Heartbeat            Duration `toml:"heartbeat" doc:"interval of SSE keep-alive comments"`
	SessionCheckInterval Duration `toml:"session_check_interval" doc:"how often a stream re-checks that its session (or API key) is live"`
	Buffer               int      `toml:"buffer" doc:"events a client may lag before it is disconnected (resumable)"`
	Coalesce             Duration `toml:"coalesce" doc:"how long change events gather after a quiet spell before a visibility check round"`
	RoundInterval        Duration `toml:"round_interval" doc:"least time between visibility check rounds under a steady stream of changes (longer: fewer, larger rounds, more latency)"`
}

// Defaults returns the built-in configuration.
func Defaults() Config {
	return Config{
		Server: Server{
			Host:            "127.0.0.1",
			Port:            8090,
			BodyLimit:       1 << 20,
			ShutdownTimeout: Duration{10 * time.Second},
			CORSOrigins:     []string{},
			TrustedProxies:  []string{},
		},
		Database: Database{DataDir: "./.ayb/pg", Name: "ayb", MaxConns: 8, Multiplex: 2},
		Log:      Log{Level: "info", Format: "text"},
		Auth: Auth{
			Audience:          "authenticated",
			AccessTokenTTL:    Duration{15 * time.Minute},
			RefreshTokenTTL:   Duration{30 * 24 * time.Hour},
			MinPasswordLength: 8,
			HashConcurrency:   4,
			ArgonMemoryKiB:    19 * 1024,
			ArgonIterations:   2,
			VerifyTTL:         Duration{24 * time.Hour},
			ResetTTL:          Duration{time.Hour},
			MagicLinkTTL:      Duration{10 * time.Minute},
			MagicLinkEnabled:  true,
			ThrottleWindow:    Duration{15 * time.Minute},
			ThrottleIP:        60,
			ThrottleAccount:   10,
			OAuthProviders:    map[string]OAuthProvider{},
		},
		Mail: Mail{Backend: "log", From: "AYB <no-reply@localhost>", SMTPPort: 587, SMTPTLS: "starttls", SMTPAuth: "plain", SMTPTimeout: Duration{10 * time.Second}},
		REST: REST{Schemas: []string{"public"}},
		Jobs: Jobs{Enabled: true, Scheduler: true, Queues: []string{"default:10"}, Lease: Duration{30 * time.Second},
			PollInterval: Duration{time.Second}, ShutdownGrace: Duration{10 * time.Second}},
		Realtime: Realtime{Enabled: true, Retention: Duration{time.Hour}, PoolSize: 3,
			Heartbeat: Duration{15 * time.Second}, SessionCheckInterval: Duration{30 * time.Second}, Buffer: 1024,
			Coalesce: Duration{10 * time.Millisecond}, RoundInterval: Duration{100 * time.Millisecond}},
	}
}

// Load builds the config: defaults < file (if it exists) < env < flags.
// flags maps dotted keys ("server.port") to values given on the command line.
func Load(path string, env []string, flags map[string]string) (Config, []string, error) {
	cfg := Defaults()
	var warnings []string
	if path != "" {
		b, err := os.ReadFile(path)
		if err == nil {
			md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&cfg)
			if err != nil {
				return cfg, nil, fmt.Errorf("%s: %w", path, err)
			}
			if und := md.Undecoded(); len(und) > 0 {
				keys := make([]string, len(und))
				for i, k := range und {
					keys[i] = k.String()
				}
				return cfg, nil, fmt.Errorf("%s: unknown keys: %s", path, strings.Join(keys, ", "))
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return cfg, nil, err
		}
	}
	fields := fieldsOf(&cfg)
	byEnv := map[string]field{}
	for _, f := range fields {
		byEnv[f.env] = f
	}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "AYB_") {
			continue
		}
		f, ok := byEnv[k]
		if !ok {
			if isConfigEnv(k) {
				warnings = append(warnings, "unknown environment variable "+k)
			}
			continue
		}
		if err := set(f.v, v); err != nil {
			return cfg, nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	byKey := map[string]field{}
	for _, f := range fields {
		byKey[f.key] = f
	}
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := byKey[k]
		if !ok {
			return cfg, nil, fmt.Errorf("unknown setting %q", k)
		}
		if err := set(f.v, flags[k]); err != nil {
			return cfg, nil, fmt.Errorf("--%s: %w", k, err)
		}
	}
	return cfg, warnings, cfg.Validate()
}

// isConfigEnv tells AYB_* variables meant as settings from the few that are
// read elsewhere (AYB_PG_BINDIR, AYB_CONFIG).
func isConfigEnv(k string) bool {
	switch k {
	case "AYB_PG_BINDIR", "AYB_CONFIG":
		return false
	}
	return true
}

// Validate checks values that would fail later in a confusing way.
func (c Config) Validate() error {
	if c.Server.Port < 0 || c.Server.Port > 65535 {
		return fmt.Errorf("server.port %d is out of range", c.Server.Port)
	}
	if c.Server.BodyLimit <= 0 {
		return errors.New("server.body_limit must be positive")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format %q: want text or json", c.Log.Format)
	}
	for _, n := range c.REST.Schemas {
		if n == "ayb" || n == "auth" || n == "extensions" || n == "information_schema" || strings.HasPrefix(n, "pg_") {
			return fmt.Errorf("rest.schemas: schema %q cannot be exposed", n)
		}
	}
	if c.Database.Multiplex < 0 || c.Database.Multiplex > 64 {
		return fmt.Errorf("database.multiplex %d: want 0 (off) to 64 connections", c.Database.Multiplex)
	}
	if c.Database.URL == "" && c.Database.DataDir == "" {
		return errors.New("database.data_dir is required when database.url is empty")
	}
	return nil
}

// PublicURL is where clients reach the server.
func (c Config) PublicURL() string {
	if c.Server.PublicURL != "" {
		return strings.TrimRight(c.Server.PublicURL, "/")
	}
	return fmt.Sprintf("http://%s:%d", c.Server.Host, c.Server.Port)
}

type field struct {
	key, env, doc string
	secret        bool
	v             reflect.Value
}

func fieldsOf(cfg *Config) []field {
	var out []field
	root := reflect.ValueOf(cfg).Elem()
	for i := 0; i < root.NumField(); i++ {
		sec := root.Type().Field(i)
		sv := root.Field(i)
		sname := sec.Tag.Get("toml")
		for j := 0; j < sv.NumField(); j++ {
			f := sv.Type().Field(j)
			key := sname + "." + f.Tag.Get("toml")
			out = append(out, field{
				key:    key,
				env:    "AYB_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_")),
				doc:    f.Tag.Get("doc"),
				secret: f.Tag.Get("secret") == "true",
				v:      sv.Field(j),
			})
		}
	}
	return out
}

func set(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", s)
		}
		v.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		v.SetBool(b)
	case reflect.Slice:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported setting type %s", v.Kind())
	}
	return nil
}

// Entry is one effective setting, for `ayb config`.
type Entry struct {
	Key, Env, Value, Doc string
}

// Entries lists every setting with secrets masked.
func (c Config) Entries() []Entry {
	var out []Entry
	for _, f := range fieldsOf(&c) {
		val := render(f.v)
		if f.secret && val != `""` && val != "" {
			val = mask(f.v.String())
		}
		out = append(out, Entry{Key: f.key, Env: f.env, Value: val, Doc: f.doc})
	}
	return out
}

// mask hides a secret, keeping a URL's shape but not its password.
func mask(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			user := rest[:at]
			if c := strings.Index(user, ":"); c >= 0 {
				user = user[:c] + ":****"
			}
			return strconv.Quote(s[:i+3] + user + rest[at:])
		}
		return strconv.Quote(s)
	}
	return `"****"`
}

func render(v reflect.Value) string {
	if v.Kind() == reflect.Slice && v.Len() == 0 {
		return "[]"
	}
	if v.Kind() == reflect.Map && v.Len() == 0 {
		return "{}"
	}
	var b bytes.Buffer
	enc := toml.NewEncoder(&b)
	_ = enc.Encode(map[string]any{"v": v.Interface()})
	out := strings.TrimSpace(b.String())
	return strings.TrimPrefix(out, "v = ")
}

// DefaultFile renders ayb.toml with every setting commented out at its default.
func DefaultFile() string {
	c := Defaults()
	var b strings.Builder
	b.WriteString("# AYB configuration. Every setting is shown at its default, commented out.\n")
	b.WriteString("# Precedence: defaults < this file < AYB_* environment variables < flags.\n")
	b.WriteString("# Environment names are AYB_<SECTION>_<KEY>, e.g. AYB_DATABASE_URL.\n")
	section := ""
	for _, f := range fieldsOf(&c) {
		s, k, _ := strings.Cut(f.key, ".")
		if s != section {
			fmt.Fprintf(&b, "\n[%s]\n", s)
			section = s
		}
		if f.doc != "" {
			fmt.Fprintf(&b, "# %s\n", f.doc)
		}
		fmt.Fprintf(&b, "# %s = %s\n", k, render(f.v))
	}
	return b.String()
}
