package pg

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// MinMajor is the oldest PostgreSQL major version AYB runs on.
const MinMajor = 15

// ErrNoBinaries is returned when no PostgreSQL server binaries are found.
var ErrNoBinaries = errors.New(`PostgreSQL server binaries (initdb, postgres, pg_ctl; version 15 or newer) were not found on PATH, via pg_config --bindir, or under /usr/lib/postgresql/*/bin.
Install them, then run again:
  Debian/Ubuntu:  sudo apt-get install postgresql postgresql-15-postgis-3
  Fedora/RHEL:    sudo dnf install postgresql-server postgresql-contrib
  macOS:          brew install postgresql@15
Or use an existing database: ayb start --database-url postgres://user:pass@host:5432/db`)

// Binaries locates one PostgreSQL installation.
type Binaries struct {
	Dir   string
	Major int
}

// Path returns the full path of a program in the installation.
func (b Binaries) Path(name string) string { return filepath.Join(b.Dir, name) }

var versionRe = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

func majorOf(dir string) (int, bool) {
	for _, p := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return 0, false
		}
	}
	out, err := exec.Command(filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return 0, false
	}
	m := versionRe.FindSubmatch(out)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n, true
}

// FindBinaries looks for PostgreSQL 15+ server binaries: the directory named
// by AYB_PG_BINDIR if set, then PATH, then pg_config --bindir, then
// /usr/lib/postgresql/*/bin (newest first).
func FindBinaries() (Binaries, error) {
	var candidates []string
	if d := os.Getenv("AYB_PG_BINDIR"); d != "" {
		candidates = append(candidates, d)
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		candidates = append(candidates, resolveDir(p))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, resolveDir(p))
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	globbed, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(globbed, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(globbed[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(globbed[j])))
		return a > b
	})
	candidates = append(candidates, globbed...)
	var tooOld []string
	for _, d := range candidates {
		if d == "" {
			continue
		}
		if major, ok := majorOf(d); ok {
			if major >= MinMajor {
				return Binaries{Dir: d, Major: major}, nil
			}
			tooOld = append(tooOld, fmt.Sprintf("%s (PostgreSQL %d)", d, major))
		}
	}
	if len(tooOld) > 0 {
		return Binaries{}, fmt.Errorf("%w\nFound only older versions: %s", ErrNoBinaries, strings.Join(tooOld, ", "))
	}
	return Binaries{}, ErrNoBinaries
}

// resolveDir follows symlinks (Debian links /usr/local/bin/initdb into
// /usr/lib/postgresql/15/bin) so the sibling programs are found.
func resolveDir(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return filepath.Dir(p)
}
