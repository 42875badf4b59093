#!/usr/bin/env bash
# The Cloudflare worker end to end, offline: builds edge/worker to wasm32 with worker-build,
# runs it under `wrangler dev` (workerd) with a local KV seeded with the conformance snapshot
# and a local collector, then checks it over HTTP: the conformance run (same answers as the
# native node), events reaching the collector enriched, 503 when the collector fails, a new
# snapshot version picked up, and the last good snapshot served while KV holds garbage.
#
# Tools are installed once, idempotently (scripts/workerd-lib.sh).
# All traffic goes to 127.0.0.1; every wait is bounded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/workerd-lib.sh"
VANE_SCRIPT=workerd-test
cd "$VANE_ROOT"

workerd_tools_and_build

step "build the vane binary (conformance runner)"
timed cargo build --locked --bin vane
VANE="$CARGO_TARGET_DIR/debug/vane"

# ---------------------------------------------------------------------------------------------
# Local services

scratch=$(mktemp -d)
trap workerd_cleanup EXIT
workerd_env

step "start a local collector on 127.0.0.1"
cat >"$scratch/collector.py" <<'PY'
# Appends every POST body to a file and answers 200, or 500 while a "fail" file exists.
import http.server, os, sys

out, fail_flag, port_file = sys.argv[1], sys.argv[2], sys.argv[3]

class Collector(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if os.path.exists(fail_flag):
            self.send_response(500)
            self.end_headers()
            return
        with open(out, "ab") as f:
            f.write(body)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
with open(port_file, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
PY
collected="$scratch/collected.ndjson"
touch "$collected"
python3 "$scratch/collector.py" "$collected" "$scratch/collector.fail" "$scratch/collector.port" &
pids+=($!)
for _ in $(seq 1 50); do
  [ -s "$scratch/collector.port" ] && break
  sleep 0.1
done
[ -s "$scratch/collector.port" ] || fail "the collector did not start"
collector_url="http://127.0.0.1:$(cat "$scratch/collector.port")/ingest"
echo "    collector at $collector_url"

step "seed local KV with the conformance snapshot (environment spec, version 1)"
"$VANE" conformance --print-snapshot --spec-dir spec --version 1 >"$scratch/snapshot-1.json"
"$VANE" conformance --print-snapshot --spec-dir spec --version 2 >"$scratch/snapshot-2.json"
printf 1 >"$scratch/pointer-1"
printf 2 >"$scratch/pointer-2"
printf 'not-a-version' >"$scratch/pointer-garbage"
kv_put vane/spec/snapshots/1 "$scratch/snapshot-1.json"
kv_put vane/spec/current "$scratch/pointer-1"

step "start wrangler dev (workerd, offline) on 127.0.0.1, events to the collector"
start_wrangler --var "VANE_COLLECTOR_URL:$collector_url"

health() { curl -s --max-time 5 "$base/v1/health"; }
# Waits (bounded) until the health document satisfies a jq filter.
wait_health() {
  local filter=$1 what=$2
  for _ in $(seq 1 50); do
    health | jq -e "$filter" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "last health: $(health)" >&2
  fail "$what"
}

step "health shows the seeded snapshot"
wait_health '.snapshot.version == 1 and .environment == "spec" and .runtime == "cloudflare" and .status == "ok"' \
  "health does not show snapshot 1 of spec"
health | jq -c '{status, edge_id, runtime, environment, version: .snapshot.version}'

step "conformance: the spec/ vectors over HTTP give the native node's answers"
timed "$VANE" conformance --url "$base" --spec-dir spec

CLIENT_KEY=vane_client_conformance
post_events() {
  curl -s -o "$scratch/events-answer.json" -D "$scratch/events-headers.txt" -w '%{http_code}' --max-time 15 \
    -X POST "$base/v1/events" -H "authorization: Bearer $CLIENT_KEY" \
    -H 'content-type: application/json' -H 'cf-ipcountry: DE' --data-binary "$1"
}
event_batch() {
  local id=$1 now
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  printf '{"events":[{"id":"%s","type":"track","event":"purchase","value":12.5,"units":{"user_id":"worker-test"},"timestamp":"%s"},{"id":"%s-bad","type":"track"}]}' \
    "$id" "$now" "$id"
}

step "events: 202 only once the collector has them, enriched"
id="workerd-$$-$RANDOM"
status=$(post_events "$(event_batch "$id")")
[ "$status" = 202 ] || fail "POST /v1/events answered $status: $(cat "$scratch/events-answer.json")"
jq -e '.accepted == 1 and (.rejected | length) == 1' "$scratch/events-answer.json" >/dev/null ||
  fail "unexpected events answer: $(cat "$scratch/events-answer.json")"
line=$(grep -F "\"$id\"" "$collected" || true)
[ -n "$line" ] || fail "event $id did not reach the collector (got: $(cat "$collected"))"
echo "    collector got: $line"
jq -e --arg id "$id" '.id == $id and .type == "track" and .environment == "spec"
    and .snapshot_version == 1 and .edge == "cloudflare" and .country == "DE"
    and (.received_at | type) == "string"' <<<"$line" >/dev/null ||
  fail "the collected event lacks the enrichment fields: $line"

step "events: 503 with Retry-After when the collector fails"
touch "$scratch/collector.fail"
status=$(post_events "$(event_batch "$id-retry")")
rm -f "$scratch/collector.fail"
[ "$status" = 503 ] || fail "expected 503 while the collector fails, got $status: $(cat "$scratch/events-answer.json")"
jq -e '.type | test("sink-unavailable")' "$scratch/events-answer.json" >/dev/null ||
  fail "the 503 is not the sink-unavailable problem: $(cat "$scratch/events-answer.json")"
grep -qi '^retry-after: 1' "$scratch/events-headers.txt" || fail "the 503 has no Retry-After header"
echo "    503 sink-unavailable, Retry-After: 1"

step "refresh: a new pointer in KV is picked up (version 2)"
kv_put vane/spec/snapshots/2 "$scratch/snapshot-2.json"
kv_put vane/spec/current "$scratch/pointer-2"
wait_health '.snapshot.version == 2 and .status == "ok"' "snapshot 2 was not installed"
echo "    serving version 2"

step "stale-if-error: garbage in KV keeps the last good snapshot and health says why"
kv_put vane/spec/current "$scratch/pointer-garbage"
wait_health '.status == "stale" and .snapshot.version == 2 and (.last_refresh_error.message | test("version number"))' \
  "health does not report the refresh error"
health | jq -c '{status, version: .snapshot.version, error: .last_refresh_error.message}'
answer=$(curl -s --max-time 5 -X POST "$base/v1/evaluate" -H "authorization: Bearer $CLIENT_KEY" \
  -H 'content-type: application/json' --data '{"context": {"user_id": "u1"}}')
jq -e '.snapshot_version == 2' <<<"$answer" >/dev/null || fail "evaluate while stale: $answer"
kv_put vane/spec/current "$scratch/pointer-2"
wait_health '.status == "ok"' "the edge did not recover when KV was fixed"

step "kinesis: events as SigV4-signed PutRecords to a Kinesis-compatible server (kinesalite)"
cat >"$scratch/kinesis.cjs" <<'JS'
// kinesalite on 127.0.0.1 (serve), and the two calls the test needs (create, read).
const [cmd, arg1, arg2] = process.argv.slice(2);
const call = async (url, op, body) => {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": `Kinesis_20131202.${op}`,
      "x-amz-date": "20261124T120000Z",
      authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${op}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
};
const main = async () => {
  if (cmd === "serve") {
    const kinesalite = require("kinesalite");
    const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 10 });
    server.listen(0, "127.0.0.1", () => require("fs").writeFileSync(arg1, String(server.address().port)));
  } else if (cmd === "create") {
    await call(arg1, "CreateStream", { StreamName: arg2, ShardCount: 1 });
    for (let i = 0; i < 50; i++) {
      const d = await call(arg1, "DescribeStream", { StreamName: arg2 });
      if (d.StreamDescription.StreamStatus === "ACTIVE") return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("stream not active");
  } else if (cmd === "read") {
    const d = await call(arg1, "DescribeStream", { StreamName: arg2 });
    for (const shard of d.StreamDescription.Shards) {
      const it = await call(arg1, "GetShardIterator", { StreamName: arg2, ShardId: shard.ShardId, ShardIteratorType: "TRIM_HORIZON" });
      const got = await call(arg1, "GetRecords", { ShardIterator: it.ShardIterator, Limit: 1000 });
      for (const r of got.Records) process.stdout.write(Buffer.from(r.Data, "base64").toString("utf8"));
    }
  }
};
main().catch((e) => { console.error(e.message); process.exit(1); });
JS
NODE_PATH="$TOOLS/npm/node_modules" node "$scratch/kinesis.cjs" serve "$scratch/kinesis.port" &
pids+=($!)
for _ in $(seq 1 50); do
  [ -s "$scratch/kinesis.port" ] && break
  sleep 0.1
done
[ -s "$scratch/kinesis.port" ] || fail "kinesalite did not start"
kinesis_url="http://127.0.0.1:$(cat "$scratch/kinesis.port")"
node "$scratch/kinesis.cjs" create "$kinesis_url" vane-events || fail "creating the stream"
echo "    kinesalite at $kinesis_url, stream vane-events"
stop_wrangler
start_wrangler --var VANE_EVENTS_MODE:kinesis --var "VANE_KINESIS_ENDPOINT:$kinesis_url" \
  --var VANE_KINESIS_STREAM:vane-events --var VANE_AWS_REGION:us-east-1 \
  --var AWS_ACCESS_KEY_ID:AKIDEXAMPLE --var AWS_SECRET_ACCESS_KEY:local-test-secret
id="workerd-kinesis-$$-$RANDOM"
status=$(post_events "$(event_batch "$id")")
[ "$status" = 202 ] || fail "POST /v1/events (kinesis) answered $status: $(cat "$scratch/events-answer.json")"
node "$scratch/kinesis.cjs" read "$kinesis_url" vane-events >"$scratch/stream.ndjson" || fail "reading the stream"
line=$(grep -F "\"$id\"" "$scratch/stream.ndjson" || true)
[ -n "$line" ] || fail "event $id is not in the stream (got: $(cat "$scratch/stream.ndjson"))"
echo "    stream got: $line"
jq -e --arg id "$id" '.id == $id and .environment == "spec" and .snapshot_version == 2
    and .edge == "cloudflare" and .country == "DE"' <<<"$line" >/dev/null ||
  fail "the streamed event lacks the enrichment fields: $line"

step "misconfiguration: an invalid var answers an opaque 500 problem and logs the cause"
stop_wrangler
start_wrangler --var "VANE_COLLECTOR_URL:$collector_url" --var VANE_SINK_TIMEOUT_MS:soon
status=$(curl -s -o "$scratch/misconfigured.json" -w '%{http_code}' --max-time 5 "$base/v1/health")
[ "$status" = 500 ] || fail "expected 500 from a misconfigured worker, got $status"
jq -e '.type | test("internal-error")' "$scratch/misconfigured.json" >/dev/null ||
  fail "the 500 is not the internal-error problem: $(cat "$scratch/misconfigured.json")"
for _ in $(seq 1 20); do
  grep -q 'VANE_SINK_TIMEOUT_MS' "$scratch/wrangler.log" && break
  sleep 0.25
done
grep -q 'VANE_SINK_TIMEOUT_MS' "$scratch/wrangler.log" || fail "the cause is not in the worker's log"
grep -qF 'soon' "$scratch/misconfigured.json" && fail "the 500 body leaks configuration"
echo "    500 internal-error; the log names VANE_SINK_TIMEOUT_MS"

echo
echo "workerd-test: all checks passed"
