#!/usr/bin/env bash
# Installs what `make run` and `make test` need on a fresh Debian/Ubuntu
# machine: PostgreSQL server (15+), PostGIS, pgTAP, pg_prove and Node.js with
# npm for the SDK tests (--tests), and
# wrk for `make bench` (--bench). Needs root or
# sudo; elsewhere it says what to install. Idempotent and quiet when all is there.
set -euo pipefail
want_tests="${1:-}"

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if ! command -v apt-get >/dev/null 2>&1; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1 && ! command -v pg_config >/dev/null 2>&1; then
    echo "setup: this is not a Debian/Ubuntu machine; install PostgreSQL 15+ (server), PostGIS and pgTAP with your package manager" >&2
  fi
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: not root and no sudo; install as root: apt-get install postgresql postgresql-<ver>-postgis-3 postgresql-<ver>-pgtap libtap-parser-sourcehandler-pgtap-perl" >&2
    exit 1
  fi
fi

updated=""
apt_update() { [ -n "$updated" ] || { $SUDO apt-get update -qq >/dev/null; updated=1; }; }

# The server first: it tells which major version the extension packages are for.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "setup: installing PostgreSQL server packages"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
major=$(ls -d /usr/lib/postgresql/*/bin/initdb | sed -E 's#.*/postgresql/([0-9]+)/.*#\1#' | sort -n | tail -1)

pkgs=()
have_pkg "postgresql-$major-postgis-3" || pkgs+=("postgresql-$major-postgis-3")
if [ "$want_tests" = "--tests" ] || [ "$want_tests" = "--bench" ]; then
  have_pkg "postgresql-$major-pgtap" || pkgs+=("postgresql-$major-pgtap")
  have_pkg libtap-parser-sourcehandler-pgtap-perl || pkgs+=(libtap-parser-sourcehandler-pgtap-perl)
fi
# The TypeScript SDK's tests (tests/e2e TestTypeScriptSDK) run on Node.js 18+
# with npm; Debian's nodejs is recent enough.
if [ "$want_tests" = "--tests" ] || [ "$want_tests" = "--bench" ]; then
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi
# The benchmarks drive HTTP with wrk.
if [ "$want_tests" = "--bench" ]; then
  command -v wrk >/dev/null 2>&1 || pkgs+=(wrk)
fi
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "setup: installing ${pkgs[*]}"
  apt_update
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null; then
    echo "setup: could not install ${pkgs[*]}" >&2
    # PostGIS is optional for running AYB; the test tools are not.
    [ -n "$want_tests" ] && exit 1
  fi
fi
