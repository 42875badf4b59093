#!/usr/bin/env bash
# The JavaScript side of OFREP: the official OpenFeature providers (@openfeature/ofrep-provider
# for servers, @openfeature/ofrep-web-provider for browsers), unchanged, against a real
# `vane edge` on 127.0.0.1 serving the conformance snapshot from a temporary KV directory.
# npm packages are installed once per lockfile under $HOME/.cache/vane-js (npm ci).
# VANE_BIN=path/to/vane skips building the vane binary.
source "$(dirname "$0")/lib.sh"
cd "$VANE_ROOT"

scratch=$(mktemp -d)
edge_pid=
cleanup() {
  local rc=$?
  [ -n "$edge_pid" ] && kill "$edge_pid" 2>/dev/null && wait "$edge_pid" 2>/dev/null
  [ $rc -ne 0 ] && [ -f "$scratch/edge.log" ] && tail -n 30 "$scratch/edge.log" >&2
  rm -rf "$scratch"
  exit $rc
}
trap cleanup EXIT

step "sdks/js: npm ci (cached per package-lock.json)"
started=$SECONDS
lock_hash=$(sha256sum sdks/js/package-lock.json | cut -c1-16)
modules="$VANE_CACHE/vane-js/$lock_hash"
if [ ! -f "$modules/.installed" ]; then
  mkdir -p "$modules"
  cp sdks/js/package.json sdks/js/package-lock.json "$modules/"
  (cd "$modules" && npm ci --cache "$VANE_CACHE/vane-npm" --no-audit --no-fund --loglevel=error)
  touch "$modules/.installed"
fi
if [ ! -e sdks/js/node_modules ] || [ -L sdks/js/node_modules ]; then
  ln -sfn "$modules/node_modules" sdks/js/node_modules
fi
echo "    done in $((SECONDS - started)) s"

step "vane binary"
if [ -z "${VANE_BIN:-}" ]; then
  ensure_cargo
  cargo build --locked --bin vane
  # The target directory is shared between clones: keep this clone's build.
  cp "$CARGO_TARGET_DIR/debug/vane" "$scratch/vane"
  VANE_BIN="$scratch/vane"
fi

step "vane edge on 127.0.0.1:0 with the conformance snapshot"
kv="$scratch/kv/vane/spec"
mkdir -p "$kv/snapshots"
"$VANE_BIN" conformance --print-snapshot --spec-dir spec --version 1 >"$kv/snapshots/1"
printf 1 >"$kv/current"
"$VANE_BIN" edge --listen 127.0.0.1:0 --environment spec --store-dir "$scratch/kv" \
  >"$scratch/edge.log" 2>&1 &
edge_pid=$!
url=
for _ in $(seq 1 300); do
  addr=$(sed 's/\x1b\[[0-9;]*m//g' "$scratch/edge.log" | grep -o 'addr=127\.0\.0\.1:[0-9]*' | head -n1 | cut -d= -f2 || true)
  if [ -n "$addr" ] && curl -sf "http://$addr/v1/health" >/dev/null; then
    url="http://$addr"
    break
  fi
  kill -0 "$edge_pid" 2>/dev/null || { echo "vane edge exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "vane edge did not become healthy" >&2; exit 1; }
echo "    $url"

step "official OFREP providers against vane edge"
started=$SECONDS
(cd sdks/js && VANE_EDGE_URL="$url" node --test test/ofrep-official.test.mjs)
echo "    done in $((SECONDS - started)) s"
