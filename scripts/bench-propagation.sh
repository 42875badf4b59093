#!/usr/bin/env bash
# Propagation figure: how long after a flag is toggled in core a native edge serves the new
# value. Starts, on 127.0.0.1:
#   vane core (SQLite) ── SSE ──> vane sync --dir KV ──> vane edge --store-dir KV   (push path)
#   vane core ── SSE announcements + If-None-Match ──> vane edge --core-url        (core-direct)
# then toggles one bool flag TOGGLES times and measures toggle→served per edge
# (scripts/propagation_bench.py). Bounded: at most TIMEOUT_S per toggle and edge.
#
# Usage: bash scripts/bench-propagation.sh
#   env: TOGGLES=100 REFRESH_MS=250 (the edges' --refresh-ms, 250 being their default)
#        PROFILE=release OUT=FILE.json
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vane-services.sh"
cd "$VANE_ROOT"
toggles=${TOGGLES:-100}
refresh_ms=${REFRESH_MS:-250}
profile=${PROFILE:-release}
timeout_s=${TIMEOUT_S:-10}
ENV=bench
FLAG=bench-propagation

step "build vane ($profile)"
if [ "$profile" = release ]; then
  cargo build --locked --release --bin vane
else
  cargo build --locked --bin vane
fi
VANE="$CARGO_TARGET_DIR/$profile/vane"

dir=$(mktemp -d)
pids=()
cleanup() {
  local status=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    for log in core sync edge-push edge-core; do
      [ -s "$dir/$log.log" ] && { echo "---- $log.log ----" >&2; tail -n 20 "$dir/$log.log" >&2; }
    done
  fi
  rm -rf "$dir"
  exit "$status"
}
trap cleanup EXIT
export RUST_LOG=${RUST_LOG:-warn}

step "core, environment $ENV, flag $FLAG, keys"
start_core "$dir/core-data" "$dir/core.log"
core_api POST /environments "{\"key\": \"$ENV\", \"name\": \"Bench\"}" >/dev/null
core_api POST /flags "{\"key\": \"$FLAG\", \"type\": \"bool\", \"variations\": [false, true],
  \"environments\": {\"$ENV\": {\"enabled\": true, \"off_variation\": 0, \"default_variation\": 1}}}" >/dev/null
client_key=$(core_api_key "$ENV" client)
server_key=$(core_api_key "$ENV" server)

step "sync (following core's SSE) -> KV directory; edges with --refresh-ms $refresh_ms"
"$VANE" sync --core-url "$CORE_URL" --core-key "$server_key" --environment "$ENV" \
  --dir "$dir/kv" --listen 127.0.0.1:0 >"$dir/sync.log" 2>&1 &
pids+=($!)
push_port=$(free_port)
"$VANE" edge --environment "$ENV" --edge-id push --store-dir "$dir/kv" \
  --refresh-ms "$refresh_ms" --listen "127.0.0.1:$push_port" >"$dir/edge-push.log" 2>&1 &
pids+=($!)
core_port=$(free_port)
"$VANE" edge --environment "$ENV" --edge-id core-direct --core-url "$CORE_URL" \
  --core-key "$server_key" --refresh-ms "$refresh_ms" --listen "127.0.0.1:$core_port" \
  >"$dir/edge-core.log" 2>&1 &
pids+=($!)
latest=$(core_snapshot_version "$ENV")
for port in "$push_port" "$core_port"; do
  wait_http "http://127.0.0.1:$port/v1/health" 30
  started=$SECONDS
  until curl -s "http://127.0.0.1:$port/v1/health" | jq -e --argjson v "$latest" '.snapshot.version == $v' >/dev/null; do
    [ $((SECONDS - started)) -lt 30 ] || { echo "edge on $port did not load version $latest" >&2; exit 1; }
    sleep 0.2
  done
done

step "machine"
echo "    $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "    load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

step "$toggles toggles (refresh $refresh_ms ms, jitter 0..1000 ms between toggles)"
python3 scripts/propagation_bench.py --core "$CORE_URL" --token "$CORE_TOKEN" --env "$ENV" \
  --flag "$FLAG" --client-key "$client_key" --toggles "$toggles" --timeout "$timeout_s" \
  --edge "push (core→sync→dir→edge)=http://127.0.0.1:$push_port" \
  --edge "core-direct (edge follows core)=http://127.0.0.1:$core_port" \
  ${OUT:+--out "$OUT"}
echo "    load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
