package dbtest

import (
	"bytes"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/pg"
)

// repoRoot finds the repository root from this package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// TestPgTAP runs every sql/tests/*.sql file with pg_prove against a fresh
// migrated database that has pgTAP installed in schema tap.
func TestPgTAP(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "sql", "tests", "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no pgTAP files in sql/tests")
	prove, err := exec.LookPath("pg_prove")
	require.NoError(t, err, "pg_prove not found: install libtap-parser-sourcehandler-pgtap-perl (make test does)")
	d := New(t)
	d.Exec(t, `create schema if not exists tap;
		create extension if not exists pgtap schema tap;
		grant usage on schema tap to public;
		grant execute on all functions in schema tap to public;`)
	d.Exec(t, "alter database "+d.Name+` set search_path = "$user", public, extensions, tap`)
	bin, err := pg.FindBinaries()
	require.NoError(t, err)
	args := append([]string{"--ext", ".sql", "--psql-bin", bin.Path("psql"), "--failures", "--timer"}, files...)
	cmd := exec.Command(prove, args...)
	cmd.Env = append(os.Environ(), libpqEnv(t, d.AdminURL)...)
	out, err := cmd.CombinedOutput()
	t.Logf("pg_prove:\n%s", out)
	require.NoError(t, err, "pgTAP failures (see output above)")
}

// libpqEnv turns a URL into PG* variables (pg_prove hands psql a database
// name, not a URL).
func libpqEnv(t *testing.T, raw string) []string {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	pw, _ := u.User.Password()
	host := u.Hostname()
	port := u.Port()
	if h := u.Query().Get("host"); h != "" {
		host = h
	}
	if p := u.Query().Get("port"); p != "" {
		port = p
	}
	return []string{"PGHOST=" + host, "PGPORT=" + port, "PGUSER=" + u.User.Username(),
		"PGPASSWORD=" + pw, "PGDATABASE=" + strings.TrimPrefix(u.Path, "/"), "PGSSLMODE=disable"}
}

var dumpNoise = []*regexp.Regexp{
	regexp.MustCompile(`^--.*$`),
	regexp.MustCompile(`^(GRANT|REVOKE) .* ON FUNCTION extensions\..*$`),
	regexp.MustCompile(`^SET .*$`),
	regexp.MustCompile(`^SELECT pg_catalog\.set_config\('search_path'.*$`),
	regexp.MustCompile(`(?i)^.*EXTENSION.*postgis.*$`),
	regexp.MustCompile(`^\\(un)?restrict .*$`),
}

// dumpSchema returns a normalized pg_dump --schema-only of a fresh database.
func dumpSchema(t *testing.T) []byte {
	d := New(t)
	bin, err := pg.FindBinaries()
	require.NoError(t, err)
	out, err := exec.Command(bin.Path("pg_dump"), "--schema-only", "--no-owner", "--exclude-schema=tap", "--exclude-schema=extensions", "-d", d.AdminURL).Output()
	require.NoError(t, err)
	var b bytes.Buffer
	blank := 0
	for _, line := range strings.Split(string(out), "\n") {
		skip := false
		for _, re := range dumpNoise {
			if re.MatchString(line) {
				skip = true
				break
			}
		}
		if skip {
			continue
		}
		if strings.TrimSpace(line) == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return bytes.TrimSpace(b.Bytes())
}

// TestSchemaSnapshot fails when sql/schema.sql is stale: every schema change
// shows up in review. `make schema` (AYB_UPDATE_SCHEMA=1) rewrites it.
func TestSchemaSnapshot(t *testing.T) {
	t.Parallel()
	got := append(dumpSchema(t), '\n')
	path := filepath.Join(repoRoot(t), "sql", "schema.sql")
	if os.Getenv("AYB_UPDATE_SCHEMA") == "1" {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "sql/schema.sql is missing: run make schema")
	if !bytes.Equal(want, got) {
		t.Fatalf("sql/schema.sql is stale: run `make schema` and review the diff")
	}
}
