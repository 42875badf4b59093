# Shared helpers for Vane's scripts. Source it; do not run it.
set -euo pipefail

VANE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/vane-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
VANE_CACHE=${VANE_CACHE:-$HOME/.cache}

step() { printf '\n==> %s\n' "$*"; }

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

# A free TCP port on 127.0.0.1 (bound and released; fine for tests on one machine).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
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
