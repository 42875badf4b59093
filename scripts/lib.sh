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
