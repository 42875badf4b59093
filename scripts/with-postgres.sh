#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL: `scripts/with-postgres.sh CMD...`.
#
# Installs PostgreSQL from Debian when no initdb is found, starts a cluster on 127.0.0.1 at a
# free port in a temporary directory, exports
# VANE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres, runs CMD, then stops and
# removes the cluster. Exits with CMD's status. When VANE_TEST_POSTGRES_URL is already set it
# just runs CMD.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

if [ -n "${VANE_TEST_POSTGRES_URL:-}" ]; then
  exec "$@"
fi

find_pgbin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

if ! pgbin=$(find_pgbin); then
  echo "==> installing PostgreSQL from Debian (no initdb under /usr/lib/postgresql/*/bin)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y postgresql >&2
  pgbin=$(find_pgbin) || { echo "PostgreSQL installed but initdb not found" >&2; exit 1; }
fi

if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "the postgres system user is missing (install the postgresql package)" >&2
  exit 1
fi


# mktemp makes a 0700 directory: open it so that the postgres user can enter.
top=$(mktemp -d "${TMPDIR:-/tmp}/vane-pg.XXXXXX")
chmod 755 "$top"
dir="$top/cluster"
if [ "$(id -u)" -eq 0 ]; then
  install -d -o postgres "$dir"
else
  install -d "$dir"
fi

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cleanup() {
  as_postgres "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$top"
}
trap cleanup EXIT

as_postgres "$pgbin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$top/initdb.log" 2>&1 ||
  { cat "$top/initdb.log" >&2; exit 1; }
# PostgreSQL takes no port 0: pick one (scripts/lib.sh free_port) and retry if it was taken.
start_postgres() {
  port=$(free_port)
  rm -f "$dir/server.log"
  if as_postgres "$pgbin/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null; then
    return 0
  fi
  port_taken "$dir/server.log" && return 75
  cat "$dir/server.log" >&2
  return 1
}
retry_on_port_taken start_postgres

export VANE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "==> throwaway PostgreSQL at $VANE_TEST_POSTGRES_URL" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
