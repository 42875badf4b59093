#!/usr/bin/env bash
# Builds the worker (edge/worker/build/index.js + index_bg.wasm) with worker-build, giving it
# locally installed tools so it downloads nothing. `scripts/workerd-test.sh` installs them
# under $VANE_TOOLS (default $HOME/.cache/vane-tools); wrangler.toml's [build] runs this file.
#
# The build is skipped when its inputs (the sources of the engine, the handler and the worker,
# the manifests, Cargo.lock, rustc and tool versions) are those of the existing output:
# wasm-opt alone takes over a minute. VANE_WORKER_FORCE_BUILD=1 builds anyway;
# VANE_WORKER_SKIP_BUILD=1 uses any existing output (the test script sets it for `wrangler dev`
# after building, so that edits during a run do not rebuild under it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "${VANE_WORKER_SKIP_BUILD:-}" = 1 ] && [ -f "$here/build/index.js" ]; then
  echo "edge/worker: using the existing build (VANE_WORKER_SKIP_BUILD=1)"
  exit 0
fi
root=$(cd "$here/../.." && pwd)
tools=${VANE_TOOLS:-$HOME/.cache/vane-tools}

export WASM_BINDGEN_BIN=${WASM_BINDGEN_BIN:-$tools/cargo/bin/wasm-bindgen}
export WASM_OPT_BIN=${WASM_OPT_BIN:-$tools/npm/node_modules/.bin/wasm-opt}
export ESBUILD_BIN=${ESBUILD_BIN:-$tools/npm/node_modules/.bin/esbuild}
worker_build=${WORKER_BUILD_BIN:-$tools/cargo/bin/worker-build}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/vane-target}

for tool in "$worker_build" "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
  if [ ! -x "$tool" ]; then
    echo "edge/worker/build.sh: $tool is missing; run scripts/workerd-test.sh once to install the tools" >&2
    exit 1
  fi
done

inputs() {
  (
    cd "$root"
    find edge/engine edge/handler edge/worker -path edge/worker/build -prune -o \
      -type f \( -name '*.rs' -o -name Cargo.toml \) -print | LC_ALL=C sort | xargs sha256sum
    sha256sum Cargo.toml Cargo.lock
  )
  rustc --version
  "$worker_build" --version
  "$WASM_BINDGEN_BIN" --version
  "$WASM_OPT_BIN" --version
}
stamp=$(inputs | sha256sum | cut -c1-32)
if [ "${VANE_WORKER_FORCE_BUILD:-}" != 1 ] && [ -f "$here/build/index.js" ] &&
  [ -f "$here/build/index_bg.wasm" ] && [ "$(cat "$here/build/.inputs" 2>/dev/null)" = "$stamp" ]; then
  echo "edge/worker: build is up to date ($stamp)"
  exit 0
fi

cd "$here"
"$worker_build" --release
printf '%s\n' "$stamp" >"$here/build/.inputs"
