#!/usr/bin/env bash
# Creates infra/secrets/ for infra/compose.yaml once: a database password (for PostgreSQL and
# as a pgpass file for the vane services) and the first admin's password. Never overwrites.
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/secrets"
umask 077
mkdir -p "$dir"
if [ ! -f "$dir/postgres-password" ]; then
  password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "$password" >"$dir/postgres-password"
  printf 'postgres:5432:*:vane:%s\n' "$password" >"$dir/pgpass"
  echo "wrote $dir/postgres-password and $dir/pgpass"
fi
if [ ! -f "$dir/core.env" ]; then
  admin=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf 'VANE_BOOTSTRAP_ADMIN_PASSWORD=%s\n' "$admin" >"$dir/core.env"
  echo "wrote $dir/core.env; the first admin's password is: $admin"
fi
# Compose mounts secret files into containers that run as uid 10001 (vane) and 999 (postgres).
chmod 644 "$dir/postgres-password" "$dir/pgpass"
