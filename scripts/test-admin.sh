#!/usr/bin/env bash
# make test stage of the admin UI: npm ci (cache under $HOME/.cache/vane-npm), vitest unit
# tests, the production build, then the Playwright journeys (a)-(d) with axe-core on every
# screen in Debian's Chromium against a real `vane up` on a temporary data directory.
# Screenshots go to $VANE_ADMIN_SHOTS (default: a temp dir; docs/screenshots/ holds a set).
source "$(dirname "$0")/lib.sh"
cd "$VANE_ROOT/admin"

timed() { local t=$SECONDS; "$@"; echo "($* took $((SECONDS - t)) s)"; }

step "admin: npm ci (cached)"
stamp="node_modules/.vane-lock-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  timed npm ci --cache "$VANE_CACHE/vane-npm" --no-audit --no-fund --prefer-offline
  touch "$stamp"
fi

step "admin: vitest (rule builder vs spec/conditions.json, result formatting)"
timed npx vitest run

step "admin: tsc + vite build"
timed npm run build

step "admin: Chromium (Debian) for the end-to-end journeys"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    timed bash -c 'apt-get update -qq && apt-get install -y -qq chromium >/dev/null'
  else
    echo "chromium is missing: install Debian's chromium package" >&2
    exit 1
  fi
fi

step "admin: vane binary"
cd "$VANE_ROOT"
scratch=$(mktemp -d)
# Other clones share the target directory and link their own `vane` to the same path: take a
# copy of this clone's build at once.
if [ -z "${VANE_BIN:-}" ]; then
  touch src/main.rs # relink, so the shared path holds this clone's binary
  timed cargo build --locked --bin vane
  cp "$CARGO_TARGET_DIR/debug/vane" "$scratch/vane"
  vane="$scratch/vane"
else
  vane=$VANE_BIN
fi

step "admin: vane up on a temporary data directory, then the journeys in Chromium"
up_pid=
cleanup() {
  if [ -n "$up_pid" ]; then kill -INT "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
export VANE_ADMIN_PASSWORD="e2e admin password 42"
# vane up cannot report the addresses it bound yet: pick ports by bind-and-release and start
# again with new ones when one was taken in between (AddrInUse).
for attempt in 1 2 3; do
  core=$(free_port) edge=$(free_port) analytics=$(free_port) sync=$(free_port)
  "$vane" up --data-dir "$scratch/data" --admin-dir "$VANE_ROOT/admin/dist" \
    --core-listen "127.0.0.1:$core" --edge-listen "127.0.0.1:$edge" \
    --analytics-listen "127.0.0.1:$analytics" --sync-listen "127.0.0.1:$sync" \
    --results-interval-secs 2 >"$scratch/up.out" 2>"$scratch/up.err" &
  up_pid=$!
  started=$SECONDS
  until grep -q "Vane is running." "$scratch/up.out" 2>/dev/null; do
    if ! kill -0 "$up_pid" 2>/dev/null; then break; fi
    if [ $((SECONDS - started)) -ge 120 ]; then echo "vane up did not start in 120 s" >&2; cat "$scratch/up.err" >&2; exit 1; fi
    sleep 0.3
  done
  if grep -q "Vane is running." "$scratch/up.out"; then break; fi
  wait "$up_pid" 2>/dev/null || true
  up_pid=
  if grep -qi "address already in use\|AddrInUse" "$scratch/up.err" && [ "$attempt" -lt 3 ]; then
    echo "a port was taken meanwhile; trying new ports"; rm -rf "$scratch/data"; continue
  fi
  cat "$scratch/up.out" "$scratch/up.err" >&2
  exit 1
done
grep "admin UI" "$scratch/up.out"
cd "$VANE_ROOT/admin"
VANE_E2E_CORE="http://127.0.0.1:$core" VANE_E2E_EDGE="http://127.0.0.1:$edge" \
  VANE_E2E_ADMIN_EMAIL=admin@vane.local VANE_E2E_ADMIN_PASSWORD="$VANE_ADMIN_PASSWORD" \
  VANE_E2E_DATA_DIR="$scratch/data" VANE_E2E_VANE="$vane" \
  VANE_E2E_SHOTS="${VANE_ADMIN_SHOTS:-$scratch/shots}" \
  timed node e2e/run.mjs
