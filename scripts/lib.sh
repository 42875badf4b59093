# Shared helpers for Vane's scripts. Source it; do not run it.
set -euo pipefail

VANE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/vane-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
VANE_CACHE=${VANE_CACHE:-$HOME/.cache}

# `step NAME` starts a stage and closes the one before it, printing how long that took;
# `step_summary` closes the last one and prints every stage's duration and the total.
_step_name=
_step_started=0
VANE_STEP_LOG=()
step() {
  _step_close
  _step_name=$*
  _step_started=$SECONDS
  printf '\n==> %s\n' "$*"
}
_step_close() {
  [ -n "$_step_name" ] || return 0
  local took=$((SECONDS - _step_started))
  printf '    (%d s)\n' "$took"
  VANE_STEP_LOG+=("$(printf '%6d s  %s' "$took" "$_step_name")")
  _step_name=
}
step_summary() {
  _step_close
  printf '\n==> stage durations\n'
  [ "${#VANE_STEP_LOG[@]}" -eq 0 ] || printf '%s\n' "${VANE_STEP_LOG[@]}"
  printf '%6d s  total\n' "$SECONDS"
}

# Adds rustup targets and components once; falls back to saying what is missing.
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed: install Rust with rustup first" >&2
    exit 1
  fi
  local installed
  installed=$(rustup target list --installed 2>/dev/null || true)
  for target in wasm32-unknown-unknown wasm32-wasip2; do
    grep -qx "$target" <<<"$installed" || rustup target add "$target"
  done
  local components
  components=$(rustup component list --installed 2>/dev/null || true)
  for component in rustfmt clippy; do
    grep -q "^$component" <<<"$components" || rustup component add "$component"
  done
}

# A Python virtual environment under the cache with the given pip packages, idempotent.
# Prints the environment's python path.
ensure_venv() {
  local name=$1
  shift
  local dir="$VANE_CACHE/vane-py/$name"
  local stamp="$dir/.installed-$(printf '%s ' "$@" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    python3 -m venv "$dir" >&2
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
    touch "$stamp"
  fi
  echo "$dir/bin/python"
}

# A TCP port on 127.0.0.1 for a server that cannot bind port 0 and report the port it got.
# Prefer that (`vane up` writes addresses.json; kinesalite prints its port). The port is picked
# at random below the kernel's ephemeral range (ip_local_port_range), where no outgoing
# connection can take it between this check and the server's bind; another server still can,
# so start such servers with `retry_on_port_taken`.
free_port() {
  python3 - <<'PY'
import random, socket
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    low = 32768
for _ in range(200):
    port = random.randrange(10000, max(low, 10001))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("free_port: no free port found below the ephemeral range")
PY
}

# port_taken LOG: whether a server's LOG says its bind failed because the address was in use.
port_taken() {
  grep -qiE 'address already in use|addrinuse|address in use|eaddrinuse' "$1" 2>/dev/null
}

# retry_on_port_taken FUNC [ARGS...]: runs FUNC, which starts a server on a `free_port` and
# returns 75 when the server reported that port taken (`port_taken`), up to five times.
retry_on_port_taken() {
  local attempt status
  for attempt in 1 2 3 4 5; do
    status=0
    "$@" || status=$?
    [ "$status" -eq 75 ] || return "$status"
    echo "    $1: the port was taken by another process; trying another (attempt $attempt)" >&2
  done
  echo "$1: every port tried was taken" >&2
  return 1
}

# Waits until URL answers HTTP (any status) or fails after TIMEOUT_S seconds (default 60).
wait_http() {
  local url=$1 timeout=${2:-60} started=$SECONDS
  until curl -s -o /dev/null --max-time 2 "$url"; do
    if [ $((SECONDS - started)) -ge "$timeout" ]; then
      echo "$url did not answer within $timeout s" >&2
      return 1
    fi
    sleep 0.2
  done
}

# What building the vane binary needs: cargo at the workspace's rust-version or newer, and a C
# compiler (bundled SQLite, ring). Installs the compiler from Debian when missing (as root);
# says how to get Rust when cargo is missing or too old. Idempotent.
ensure_cargo() {
  [ -x "$HOME/.cargo/bin/cargo" ] && case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) PATH="$HOME/.cargo/bin:$PATH" ;; esac
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed: install Rust with rustup (https://rustup.rs), then run this again" >&2
    exit 1
  fi
  local want have
  want=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "$VANE_ROOT/Cargo.toml" | head -n1)
  have=$(rustc --version | awk '{print $2}')
  if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" != "$want" ]; then
    if command -v rustup >/dev/null 2>&1; then
      echo "rustc $have is older than the workspace's $want: updating the stable toolchain" >&2
      rustup update stable
    else
      echo "rustc $have is older than the workspace's rust-version $want: install a newer Rust" >&2
      exit 1
    fi
  fi
  if ! command -v cc >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "no C compiler: installing gcc from Debian" >&2
      apt-get update -qq && apt-get install -y -qq gcc libc6-dev
    else
      echo "no C compiler (cc): install gcc or clang" >&2
      exit 1
    fi
  fi
}
