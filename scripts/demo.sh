#!/usr/bin/env bash
# `make demo`: builds Vane and shows the engine alone answering "why does this user see that?"
# for a few users of the demo snapshot. `make up` starts the whole platform (scripts/up.sh).
source "$(dirname "$0")/lib.sh"
cd "$VANE_ROOT"
step "building vane (first build takes a few minutes)"
cargo build --locked --release --bin vane
vane="$CARGO_TARGET_DIR/release/vane"
for context in \
  '{"user_id":"alice","country":"DE","app_version":"2.5.0","plan":"pro"}' \
  '{"user_id":"user-1234","country":"FR","app_version":"2.1.0"}' \
  '{"user_id":"user-9876","country":"US","plan":"enterprise"}'; do
  step "vane eval --snapshot examples/demo-snapshot.json --context '$context'"
  "$vane" eval --snapshot examples/demo-snapshot.json --context "$context"
done
echo
echo "Try your own: $vane eval --snapshot examples/demo-snapshot.json --context '{\"user_id\":\"you\"}' [--flag KEY] [--at RFC3339]"
