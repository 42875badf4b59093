#!/usr/bin/env bash
# scripts/with-kinesalite.sh CMD...: runs CMD with a throwaway Kinesis-compatible server
# (npm kinesalite 3.3.3, in memory) on 127.0.0.1 and VANE_TEST_KINESIS_ENDPOINT pointing at it.
# If VANE_TEST_KINESIS_ENDPOINT is already set, just runs CMD.
source "$(dirname "$0")/lib.sh"
if [ -n "${VANE_TEST_KINESIS_ENDPOINT:-}" ]; then
  exec "$@"
fi
prefix="$VANE_CACHE/vane-tools/kinesalite"
if [ ! -d "$prefix/node_modules/kinesalite" ]; then
  echo "installing kinesalite 3.3.3 into $prefix" >&2
  mkdir -p "$prefix"
  npm install --silent --no-audit --no-fund --prefix "$prefix" kinesalite@3.3.3 >&2
fi
# kinesalite binds port 0 and prints the port it got: no port is reserved in advance.
log=$(mktemp)
NODE_PATH="$prefix/node_modules" node -e "
  const server = require('kinesalite')({createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100});
  server.listen(0, '127.0.0.1', () => console.log('kinesalite listening on ' + server.address().port));
" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  grep -q listening "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log" >&2; echo "kinesalite did not start" >&2; exit 1; }
  sleep 0.1
done
grep -q listening "$log" || { cat "$log" >&2; echo "kinesalite did not start in 10 s" >&2; exit 1; }
port=$(sed -n 's/^kinesalite listening on \([0-9]*\)$/\1/p' "$log")
[ -n "$port" ] || { cat "$log" >&2; echo "kinesalite did not say its port" >&2; exit 1; }
export VANE_TEST_KINESIS_ENDPOINT="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local} AWS_REGION=${AWS_REGION:-us-east-1}
set +e
"$@"
status=$?
set -e
exit $status
