#!/usr/bin/env bash
# Every check CI runs: formatting, lints, all Rust tests, the engine's wasm32 builds, and the
# shared vectors regenerated from independent references. Installs what it needs, idempotently.
source "$(dirname "$0")/lib.sh"
cd "$VANE_ROOT"

step "toolchain (rustup targets and components)"
ensure_rust
mkdir -p "$CARGO_TARGET_DIR"
run_started="$CARGO_TARGET_DIR/.make-test-started"
touch "$run_started"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (workspace) against throwaway PostgreSQL, Redis, kinesalite and moto S3 on 127.0.0.1"
bash scripts/with-postgres.sh \
  bash scripts/with-redis.sh \
  bash scripts/with-kinesalite.sh \
  bash scripts/with-moto.sh \
  cargo test --workspace --locked

step "engine builds for wasm32-unknown-unknown and wasm32-wasip2"
cargo build -p vane-engine --locked --release --target wasm32-unknown-unknown
cargo build -p vane-engine --locked --release --target wasm32-wasip2

step "shared vectors match their independent generators (Python xxhash)"
py=$(ensure_venv spec xxhash==3.5.0)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$py" spec/tools/gen_buckets.py >"$scratch/buckets.json"
diff -u spec/buckets.json "$scratch/buckets.json"
cp -r spec/evaluations "$scratch/committed"
"$py" spec/tools/gen_evaluations.py >/dev/null
diff -ru "$scratch/committed" spec/evaluations

step "statistics reference vectors match gbstats 0.8.0 (PyPI)"
bash scripts/gbstats-reference.sh --check

step "vane eval and vane stats answer, and reject bad input with exit 2"
bash scripts/eval-smoke.sh

step "edge conformance: the Cloudflare worker under workerd (wrangler dev, offline)"
bash scripts/workerd-test.sh

step "end to end: a flag toggled in core -> vane sync -> Cloudflare KV (local REST stand-in) -> the worker under workerd"
bash scripts/workerd-sync-e2e.sh

step "edge conformance: the Spin component under wasmtime serve"
bash scripts/wasmtime-test.sh

step "OFREP: the official OpenFeature providers (server and web) against a running vane edge"
bash scripts/test-js.sh

# Each clone path links its own test executables (hundreds of MB each with debug info); old ones
# are never reused once their clone is gone. When the disk runs low, drop those this run did not
# build: a later run at an old path just rebuilds them.
free_kib=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR==2 {print $4}')
if [ "${free_kib:-0}" -lt $((20 * 1024 * 1024)) ]; then
  step "cache hygiene: under 20 GiB free; removing test executables this run did not build"
  find "$CARGO_TARGET_DIR/debug/deps" -maxdepth 1 -type f -perm -u+x ! -name '*.*' \
    ! -newer "$run_started" -size +5M -print -delete | wc -l | sed 's/$/ removed/'
fi

echo
echo "make test: all checks passed"
