# Vane: the two commands a fresh machine needs are `make up` and `make test`.
# Build output lives outside the clone so CI runs on the same machine stay warm.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/vane-target
export CARGO_TERM_COLOR ?= never
# Incremental caches add tens of GB to that directory and help little when every run is a
# fresh clone; dependencies stay cached either way.
export CARGO_INCREMENTAL ?= 0

.PHONY: up test demo fmt lint unit wasm vectors bench

## Start Vane locally on its embedded defaults: core-api, sync, a native edge and analytics
## under ./.vane, with a running demo experiment (`make up ARGS="--data-dir /tmp/vane"`).
up:
	@bash scripts/up.sh $(ARGS)

## The engine alone: "why does this user see that?" for a few users of a demo snapshot.
demo:
	@bash scripts/demo.sh

## Run every check CI runs.
test:
	@bash scripts/test.sh

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings

bench:
	cargo bench -p vane-bench
