# Vane's own services for end-to-end scripts and measurements: `vane core` on a SQLite file
# with a bootstrap admin, and calls to its API. Source it after lib.sh; do not run it.
# The caller sets $VANE (the vane binary) and keeps a $pids array that its exit trap stops.

CORE_ADMIN_EMAIL=admin@example.com
CORE_ADMIN_PASSWORD=end-to-end-admin-password

# start_core DATA_DIR LOG: starts core on a free port (SQLite under DATA_DIR) and logs in.
# Sets CORE_URL and CORE_TOKEN (the admin's session).
start_core() {
  retry_on_port_taken start_core_once "$@"
}

start_core_once() {
  local dir=$1 log=$2 port pid
  port=$(free_port)
  CORE_URL="http://127.0.0.1:$port"
  VANE_BOOTSTRAP_ADMIN_PASSWORD=$CORE_ADMIN_PASSWORD RUST_LOG=${RUST_LOG:-info} \
    "$VANE" core --data-dir "$dir" --listen "127.0.0.1:$port" \
    --bootstrap-admin "$CORE_ADMIN_EMAIL" >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  local started=$SECONDS
  until curl -s -o /dev/null --max-time 2 "$CORE_URL/healthz"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      port_taken "$log" && return 75
      tail -n 40 "$log" >&2
      return 1
    fi
    [ $((SECONDS - started)) -lt 60 ] || { tail -n 40 "$log" >&2; return 1; }
    sleep 0.2
  done
  CORE_TOKEN=
  CORE_TOKEN=$(core_api POST /auth/login \
    "{\"email\": \"$CORE_ADMIN_EMAIL\", \"password\": \"$CORE_ADMIN_PASSWORD\"}" | jq -r .token)
  [ -n "$CORE_TOKEN" ] && [ "$CORE_TOKEN" != null ]
}

# core_api METHOD PATH [BODY [CURL-ARGS...]]: calls $CORE_URL/api/v1PATH as the admin and
# prints the answer's body; fails (with the body on stderr) unless the status is 2xx.
core_api() {
  local method=$1 path=$2 body=${3-} reply status
  shift 2
  [ $# -gt 0 ] && shift
  local args=(-s --max-time 30 -X "$method" -w '\n%{http_code}' -H 'content-type: application/json')
  [ -n "${CORE_TOKEN:-}" ] && args+=(-H "authorization: Bearer $CORE_TOKEN")
  [ -n "$body" ] && args+=(--data-binary "$body")
  reply=$(curl "${args[@]}" "$@" "$CORE_URL/api/v1$path") || {
    echo "core_api $method $path: no answer" >&2
    return 1
  }
  status=${reply##*$'\n'}
  reply=${reply%$'\n'*}
  if [ "${status:0:1}" != 2 ]; then
    echo "core_api $method $path answered $status: $reply" >&2
    return 1
  fi
  printf '%s\n' "$reply"
}

# core_api_key ENV KIND: creates an API key and prints it.
core_api_key() {
  core_api POST "/environments/$1/api-keys" "{\"kind\": \"$2\", \"name\": \"$2 key\"}" | jq -r .key
}

# core_set_flag ENV KEY ENABLED: turns flag KEY on (true) or off (false) in ENV, keeping the
# rest of its state there (the PUT replaces it whole), with the If-Match its version needs.
core_set_flag() {
  local env=$1 key=$2 enabled=$3 flag
  flag=$(core_api GET "/flags/$key")
  core_api PUT "/flags/$key/environments/$env" \
    "$(jq -c --arg env "$env" --argjson on "$enabled" '.environments[$env] | .enabled = $on' <<<"$flag")" \
    -H "if-match: \"$(jq -r .version <<<"$flag")\"" >/dev/null
}

# core_snapshot_version ENV: the latest published snapshot version of ENV.
core_snapshot_version() {
  core_api GET "/environments/$1/snapshot" | jq -r .version
}
