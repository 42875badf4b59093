#!/usr/bin/env bash
# Exercises the `vane eval` command line end to end: a valid snapshot answers with reasons,
# an invalid one exits with status 2 and lists every error with its path.
source "$(dirname "$0")/lib.sh"
cd "$VANE_ROOT"
cargo build --locked --quiet --bin vane
vane="$CARGO_TARGET_DIR/debug/vane"

out=$("$vane" eval --snapshot examples/demo-snapshot.json \
  --context '{"user_id":"alice","country":"DE","app_version":"2.5.0"}' --at 2026-11-28T10:00:00Z)
grep -q '"rule_id": "internal-users"' <<<"$out" || { echo "eval did not explain the rule match"; echo "$out"; exit 1; }
grep -q '"kind": "override"' <<<"$out" || { echo "eval did not apply alice's override"; exit 1; }

bad=$(mktemp)
trap 'rm -f "$bad"' EXIT
sed -e 's/"weight": 0.5, "payload": {"label": "Buy now"}/"weight": 0.9, "payload": {"label": "Buy now"}/' \
    -e 's/"flag": "new-checkout"/"flag": "no-such-flag"/' examples/demo-snapshot.json >"$bad"
set +e
errors=$("$vane" eval --snapshot "$bad" --context '{}' 2>&1 >/dev/null)
status=$?
set -e
[ "$status" -eq 2 ] || { echo "invalid snapshot: expected exit 2, got $status"; exit 1; }
grep -q 'experiments\[0\].variants: weights sum to' <<<"$errors" || { echo "missing weight error: $errors"; exit 1; }
grep -q 'flags\[1\].prerequisites\[0\].flag: unknown flag `no-such-flag`' <<<"$errors" || { echo "missing prerequisite error: $errors"; exit 1; }
echo "vane eval: ok (valid snapshot answered; invalid one exited 2 with $(grep -c '^error:' <<<"$errors") errors)"

stats=$(printf '%s' '{"method":"frequentist","metrics":[{"name":"purchase","type":"proportion","variants":[{"name":"control","n":10000,"sum":1000},{"name":"treatment","n":10000,"sum":1150}]}]}' | "$vane" stats)
grep -q '"p_value"' <<<"$stats" || { echo "vane stats did not answer: $stats"; exit 1; }
set +e
"$vane" stats <<<'{"metrics": 3}' >/dev/null 2>&1
status=$?
set -e
[ "$status" -eq 2 ] || { echo "vane stats: bad input should exit 2, got $status"; exit 1; }
echo "vane stats: ok"
