#!/usr/bin/env bash
# `make up`: installs what building Vane needs (idempotently), builds the vane binary (release;
# cargo prints each crate as it compiles) and runs `vane up`: core-api, sync, a native edge and
# analytics on the embedded defaults under ./.vane, with an admin, keys and a running demo
# experiment. Arguments go to `vane up`: make up ARGS="--data-dir /tmp/vane". Ctrl-C stops it
# cleanly; running it again keeps all data.
source "$(dirname "$0")/lib.sh"
cd "$VANE_ROOT"

step "toolchain: cargo and a C compiler"
ensure_cargo
echo "$(cargo --version), $(cc --version | head -n1)"

step "building vane (release; the first build takes several minutes, later ones seconds)"
cargo build --locked --release --bin vane

step "admin UI: build when its sources changed (npm cache under $VANE_CACHE/vane-npm)"
if command -v npm >/dev/null 2>&1; then
  sources=$(cd admin && cat package-lock.json index.html vite.config.ts $(find src -type f | sort) | sha256sum | cut -c1-16)
  if [ ! -f "admin/dist/.built-$sources" ]; then
    (cd admin && npm ci --cache "$VANE_CACHE/vane-npm" --no-audit --no-fund --prefer-offline && npm run build \
      && touch "dist/.built-$sources")
  else
    echo "admin/dist is current"
  fi
else
  echo "npm is missing: the admin UI is not built (install Node.js 20+)"
fi

step "vane up $*"
exec "$CARGO_TARGET_DIR/release/vane" up "$@"
