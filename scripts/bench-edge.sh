#!/usr/bin/env bash
# HTTP load benchmark of the native edge node's /v1/assign (1,000 flags, 200 experiments) and,
# side by side, Unleash Edge (crates.io unleash-edge, offline with the same flags translated)
# on its frontend endpoint. Loopback only; each run is bounded (DURATION seconds).
# Usage: bash scripts/bench-edge.sh   (env: DURATION=10 CONNECTIONS=32; BENCH_NO_BUILD=1 to
# reuse the release binaries already built)
source "$(dirname "$0")/lib.sh"
cd "$VANE_ROOT"
duration=${DURATION:-10}
connections=${CONNECTIONS:-32}
tools="$VANE_CACHE/vane-tools/cargo"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
[ -x "$tools/bin/unleash-edge" ] || cargo install unleash-edge@20.1.0 --locked --root "$tools"

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  step "building vane and the fixtures (release)"
  cargo build --locked --release --bin vane
  cargo build --locked --release -p vane-bench --example http_fixtures
fi
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
"$CARGO_TARGET_DIR/release/examples/http_fixtures" "$dir" bench-client-key
wait_for() { for _ in $(seq 1 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "$1 did not answer" >&2; exit 1; }

vane_port=$(free_port)
RUST_LOG=warn "$CARGO_TARGET_DIR/release/vane" edge --environment bench --store-dir "$dir/kv" \
  --listen "127.0.0.1:$vane_port" >"$dir/vane.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$vane_port/v1/health"

unleash_port=$(free_port)
"$tools/bin/unleash-edge" --port "$unleash_port" --interface 127.0.0.1 offline \
  --bootstrap-file "$dir/unleash-features.json" --frontend-tokens '*:development.bench' \
  --client-tokens '*:development.benchclient' >"$dir/unleash.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$unleash_port/internal-backstage/health"

cat >"$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
local f = io.open(os.getenv("BENCH_BODY"), "rb")
wrk.body = f:read("*a")
f:close()
LUA
check() { curl -fs -X POST -H 'content-type: application/json' -H "authorization: $1" --data-binary "@$2" "$3" | head -c 200; echo; }
step "sanity: one request each"
check "Bearer bench-client-key" "$dir/assign.json" "http://127.0.0.1:$vane_port/v1/assign"
check "*:development.bench" "$dir/unleash-context.json" "http://127.0.0.1:$unleash_port/api/frontend"

step "Vane native edge: POST /v1/assign, ${duration}s, $connections connections"
BENCH_AUTH="Bearer bench-client-key" BENCH_BODY="$dir/assign.json" \
  wrk -t1 -c"$connections" -d"${duration}s" --latency -s "$dir/post.lua" "http://127.0.0.1:$vane_port/v1/assign"
step "Unleash Edge 20.1.0 offline: POST /api/frontend, ${duration}s, $connections connections"
BENCH_AUTH="*:development.bench" BENCH_BODY="$dir/unleash-context.json" \
  wrk -t1 -c"$connections" -d"${duration}s" --latency -s "$dir/post.lua" "http://127.0.0.1:$unleash_port/api/frontend"
