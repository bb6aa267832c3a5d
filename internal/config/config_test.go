package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/require"
)

func TestPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "ayb.toml")
	require.NoError(t, os.WriteFile(path, []byte("[server]\nport = 9000\nhost = \"0.0.0.0\"\ncors_origins = [\"https://a.example\"]\n[log]\nlevel = \"debug\"\n"), 0o644))
	cfg, _, err := Load(path, []string{"AYB_SERVER_PORT=9100", "AYB_LOG_LEVEL=warn", "AYB_SERVER_CORS_ORIGINS=https://b.example, https://c.example"}, map[string]string{"server.port": "9200"})
	require.NoError(t, err)
	require.Equal(t, 9200, cfg.Server.Port)
	require.Equal(t, "0.0.0.0", cfg.Server.Host)
	require.Equal(t, "warn", cfg.Log.Level)
	require.Equal(t, []string{"https://b.example", "https://c.example"}, cfg.Server.CORSOrigins)
	require.Equal(t, "./.ayb/pg", cfg.Database.DataDir, "untouched keys keep defaults")
}

func TestUnknownKeysAreErrors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ayb.toml")
	require.NoError(t, os.WriteFile(path, []byte("[server]\nprot = 1\n[nope]\nx = 2\n"), 0o644))
	_, _, err := Load(path, nil, nil)
	require.ErrorContains(t, err, "server.prot")
	require.ErrorContains(t, err, "nope")
}

func TestBadValues(t *testing.T) {
	t.Parallel()
	_, _, err := Load("", []string{"AYB_SERVER_PORT=eighty"}, nil)
	require.ErrorContains(t, err, "AYB_SERVER_PORT")
	_, _, err = Load("", nil, map[string]string{"log.level": "loud"})
	require.ErrorContains(t, err, "log.level")
	_, _, err = Load("", []string{"AYB_DATABASE_MULTIPLEX=-1"}, nil)
	require.ErrorContains(t, err, "database.multiplex")
	cfg, _, err := Load("", []string{"AYB_DATABASE_MULTIPLEX=0"}, nil)
	require.NoError(t, err)
	require.Equal(t, 0, cfg.Database.Multiplex, "0 turns multiplexing off")
	_, _, err = Load("", nil, map[string]string{"no.such": "x"})
	require.ErrorContains(t, err, "unknown setting")
	_, warnings, err := Load("", []string{"AYB_SERVR_PORT=1"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"unknown environment variable AYB_SERVR_PORT"}, warnings)
}

func TestSecretsMasked(t *testing.T) {
	t.Parallel()
	cfg := Defaults()
	cfg.Database.URL = "postgres://app:s3cret@db.internal:5432/app"
	cfg.Mail.SMTPPass = "mailpass"
	var out strings.Builder
	for _, e := range cfg.Entries() {
		out.WriteString(e.Key + "=" + e.Value + "\n")
	}
	require.NotContains(t, out.String(), "s3cret")
	require.NotContains(t, out.String(), "mailpass")
	require.Contains(t, out.String(), "database.url=\"postgres://app:****@db.internal:5432/app\"")
}

var settingLine = regexp.MustCompile(`^# [a-z0-9_]+ = `)

// The generated file is valid TOML once uncommented, and loads to the defaults.
func TestDefaultFileRoundTrips(t *testing.T) {
	t.Parallel()
	var lines []string
	for _, l := range strings.Split(DefaultFile(), "\n") {
		if settingLine.MatchString(l) {
			l = strings.TrimPrefix(l, "# ")
		}
		lines = append(lines, l)
	}
	var cfg Config
	_, err := toml.Decode(strings.Join(lines, "\n"), &cfg)
	require.NoError(t, err)
	require.Equal(t, Defaults(), cfg)
}
