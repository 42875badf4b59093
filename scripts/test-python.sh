#!/usr/bin/env bash
# The Python SDK (sdks/python): lint the PyO3 crate (its own workspace, see sdks/python/README.md),
# build the abi3 wheel with maturin, install it into a fresh virtual environment from a cached
# wheelhouse, then mypy --strict and pytest: the spec/ vectors through the binding, the
# differential against `vane eval` (100,000 units), and the clients against a running `vane up`.
source "$(dirname "$0")/lib.sh"
cd "$VANE_ROOT"
sdk=sdks/python
started=$SECONDS
lap() { echo "   ($1: $((SECONDS - started)) s so far)"; }

# Exact versions; the wheelhouse is downloaded once per set and reused.
requirements=(httpx==0.29.0 openfeature-sdk==0.10.0 pytest==9.2.0 mypy==2.4.1 growthbook==4.0.0)
tools=$(ensure_venv python-sdk-tools maturin==1.16.0)
tools_bin=$(dirname "$tools")
wheelhouse="$VANE_CACHE/vane-py/wheelhouse-$(printf '%s ' "${requirements[@]}" | sha256sum | cut -c1-16)"
if [ ! -f "$wheelhouse/.complete" ]; then
  mkdir -p "$wheelhouse"
  "$tools_bin/pip" download --quiet --disable-pip-version-check -d "$wheelhouse" "${requirements[@]}"
  touch "$wheelhouse/.complete"
fi

cargo fmt --manifest-path "$sdk/Cargo.toml" -- --check
cargo clippy --manifest-path "$sdk/Cargo.toml" --locked --all-targets -- -D warnings
lap "clippy"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$tools_bin/maturin" build --quiet --release --locked --manifest-path "$sdk/Cargo.toml" --out "$scratch/dist" 2>&1 | grep -v '^📦\|^🔗\|^🐍\|^⚠️' || true
wheel=$(ls "$scratch"/dist/vane_sdk-*-cp39-abi3-*.whl)
echo "built $(basename "$wheel")"
lap "wheel"

python3 -m venv "$scratch/venv"
py="$scratch/venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$wheelhouse" \
  "${requirements[@]}" "$wheel"
lap "fresh venv"

(cd "$sdk" && "$py" -m mypy --strict --no-incremental --cache-dir "$scratch/mypy")
lap "mypy"

# The differential runs the Rust binary; make test has built it already (eval smoke).
cargo build --locked --quiet --bin vane
VANE_BIN="$CARGO_TARGET_DIR/debug/vane" CI="${CI:-}" \
  "$py" -m pytest -q -p no:cacheprovider "$sdk/tests"
lap "pytest"
echo "python sdk: ok in $((SECONDS - started)) s"
