#!/usr/bin/env bash
# End to end, offline: a change in core reaches the Cloudflare worker through sync.
#
#   vane core (SQLite) --SSE--> vane sync --Cloudflare KV REST API--> local stand-in
#   (scripts/cf_kv_standin.py: checks the documented request shapes and the write order, and
#   applies each write to wrangler's local KV) --> the worker under `wrangler dev` (workerd)
#
# The worker serves environment `production` (--var VANE_ENVIRONMENT) and accepts the client
# key created in core, whose digest travels in the snapshot. The script toggles a flag in core
# and polls the worker's /v1/evaluate until it serves the new value (bounded wait); it also
# checks that sync's monitor reported the worker's served version to core (GET /api/v1/edges).
# Everything listens on 127.0.0.1. Tools: scripts/workerd-lib.sh (installed once, cached).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/workerd-lib.sh"
source "$(dirname "$0")/vane-services.sh"
VANE_SCRIPT=workerd-sync-e2e
cd "$VANE_ROOT"
PROPAGATION_TIMEOUT_S=${VANE_E2E_PROPAGATION_TIMEOUT_S:-90}
ENV=production
FLAG=e2e-banner
CF_ACCOUNT=e2e-account
CF_NAMESPACE=e2e-namespace
CF_TOKEN=e2e-token

workerd_tools_and_build

step "build the vane binary"
timed cargo build --locked --bin vane
VANE="$CARGO_TARGET_DIR/debug/vane"

scratch=$(mktemp -d)
trap workerd_cleanup EXIT
workerd_env
workerd_on_failure() {
  for log in core.log sync.log standin.log standin-violations standin-requests.jsonl; do
    [ -s "$scratch/$log" ] || continue
    echo "---- last lines of $log ----" >&2
    tail -n 30 "$scratch/$log" >&2
  done
}

step "start vane core (SQLite in a temp dir): environment $ENV, flag $FLAG (on), client and server keys"
start_core "$scratch/core-data" "$scratch/core.log" || fail "core did not start"
core_api POST /environments "{\"key\": \"$ENV\", \"name\": \"Production\"}" >/dev/null
core_api POST /flags "{\"key\": \"$FLAG\", \"type\": \"bool\", \"variations\": [false, true],
  \"environments\": {\"$ENV\": {\"enabled\": true, \"off_variation\": 0, \"default_variation\": 1}}}" >/dev/null
CLIENT_KEY=$(core_api_key "$ENV" client)
SERVER_KEY=$(core_api_key "$ENV" server)
echo "    core at $CORE_URL; snapshot version $(core_snapshot_version "$ENV")"

step "start the Cloudflare KV REST stand-in (writes go to wrangler's local KV)"
python3 scripts/cf_kv_standin.py --account "$CF_ACCOUNT" --namespace "$CF_NAMESPACE" \
  --token "$CF_TOKEN" --port-file "$scratch/standin.port" --log "$scratch/standin-requests.jsonl" \
  --violations "$scratch/standin-violations" --wrangler "$WRANGLER" \
  --wrangler-config "$VANE_ROOT/wrangler.toml" --persist-to "$state" \
  >"$scratch/standin.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  [ -s "$scratch/standin.port" ] && break
  sleep 0.1
done
[ -s "$scratch/standin.port" ] || fail "the stand-in did not start: $(cat "$scratch/standin.log")"
cf_api_base="http://127.0.0.1:$(cat "$scratch/standin.port")/client/v4"
echo "    stand-in at $cf_api_base"

step "start wrangler dev (workerd, offline) serving $ENV from its local KV"
start_wrangler --var "VANE_ENVIRONMENT:$ENV" --var VANE_EDGE_ID:cloudflare-e2e \
  --var VANE_EVENTS_MODE:discard

step "start vane sync: core's announcements -> Cloudflare KV (the stand-in); watching the worker"
RUST_LOG=${RUST_LOG:-info} "$VANE" sync --core-url "$CORE_URL" --core-key "$SERVER_KEY" \
  --environment "$ENV" --cf-account-id "$CF_ACCOUNT" --cf-namespace-id "$CF_NAMESPACE" \
  --cf-api-token "$CF_TOKEN" --cf-api-base "$cf_api_base" --edge "cloudflare-e2e=$base" \
  --poll-ms 500 --listen 127.0.0.1:0 >"$scratch/sync.log" 2>&1 &
pids+=($!)

evaluate() {
  curl -s --max-time 5 -X POST "$base/v1/evaluate" -H "authorization: Bearer $CLIENT_KEY" \
    -H 'content-type: application/json' \
    --data "{\"context\": {\"user_id\": \"e2e-user\"}, \"flags\": [\"$FLAG\"]}"
}
# wait_served VERSION VALUE: polls the worker until it answers VALUE for the flag from
# snapshot VERSION, at most PROPAGATION_TIMEOUT_S seconds. Prints the seconds it took.
wait_served() {
  local version=$1 value=$2 started=$SECONDS answer=
  while [ $((SECONDS - started)) -lt "$PROPAGATION_TIMEOUT_S" ]; do
    answer=$(evaluate || true)
    if jq -e --argjson v "$version" --argjson value "$value" \
      '.snapshot_version == $v and .flags[0].value == $value' <<<"$answer" >/dev/null 2>&1; then
      echo "    the worker serves $FLAG = $value from version $version after $((SECONDS - started)) s"
      return 0
    fi
    sleep 0.25
  done
  echo "last answer of the worker: ${answer:-none}" >&2
  echo "worker health: $(curl -s --max-time 5 "$base/v1/health")" >&2
  fail "the worker did not serve $FLAG = $value (snapshot $version) within $PROPAGATION_TIMEOUT_S s"
}

step "the worker serves the flag as core has it (on)"
first=$(core_snapshot_version "$ENV")
wait_served "$first" true

step "toggle the flag off in core; the worker serves the new value"
core_set_flag "$ENV" "$FLAG" false
toggled=$(core_snapshot_version "$ENV")
[ "$toggled" -gt "$first" ] || fail "toggling did not publish a new snapshot ($first -> $toggled)"
wait_served "$toggled" false

step "and back on"
core_set_flag "$ENV" "$FLAG" true
again=$(core_snapshot_version "$ENV")
wait_served "$again" true

step "the stand-in saw the documented shapes: bulk write of each snapshot, then its pointer"
[ ! -s "$scratch/standin-violations" ] ||
  fail "the stand-in rejected requests: $(cat "$scratch/standin-violations")"
for version in "$first" "$toggled" "$again"; do
  order=$(jq -s -r --arg env "$ENV" --arg v "$version" '
    (map(select(.op == "bulk-put" and .status == 200 and
        (.keys | index("vane/" + $env + "/snapshots/" + $v)))) | first | .seq) as $bulk
    | (map(select(.op == "put" and .status == 200 and .keys == ["vane/" + $env + "/current"]
        and .value == $v)) | first | .seq) as $pointer
    | "\($bulk) \($pointer)"' "$scratch/standin-requests.jsonl")
  read -r bulk pointer <<<"$order"
  [ "$bulk" != null ] || fail "no bulk write of snapshot $version"
  [ "$pointer" != null ] || fail "no pointer write naming version $version"
  [ "$bulk" -lt "$pointer" ] || fail "the pointer to $version (#$pointer) came before its snapshot (#$bulk)"
  echo "    version $version: bulk write #$bulk, then pointer #$pointer"
done

step "sync's monitor reported the worker's served version to core (GET /api/v1/edges)"
started=$SECONDS
until core_api GET "/edges?environment=$ENV" |
  jq -e --argjson v "$again" '.items[] | select(.id == "cloudflare-e2e") |
    .served_version == $v and .latest_version == $v and .stuck == false' >/dev/null; do
  [ $((SECONDS - started)) -lt 30 ] ||
    fail "core does not show the worker at version $again: $(core_api GET /edges)"
  sleep 0.5
done
core_api GET /edges | jq -c '.items[] | {id, environment, served_version, latest_version, lag_seconds, stuck}'

echo
echo "workerd-sync-e2e: all checks passed"
