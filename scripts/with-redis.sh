#!/usr/bin/env bash
# scripts/with-redis.sh CMD...: runs CMD with a throwaway redis-server (Debian's package) on
# 127.0.0.1 and VANE_TEST_REDIS_URL pointing at it. If VANE_TEST_REDIS_URL is set, just runs CMD.
source "$(dirname "$0")/lib.sh"
if [ -n "${VANE_TEST_REDIS_URL:-}" ]; then
  exec "$@"
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server (Debian)" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq >&2 && apt-get install -y -qq redis-server >&2
  else sudo apt-get update -qq >&2 && sudo apt-get install -y -qq redis-server >&2; fi
fi
dir=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
# redis-server reports no port it chose: pick one (free_port) and retry if it was taken.
start_redis() {
  port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$dir" --daemonize no >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      pid=
      port_taken "$dir/log" && return 75
      cat "$dir/log" >&2
      echo "redis-server did not start" >&2
      return 1
    fi
    sleep 0.1
  done
  cat "$dir/log" >&2
  echo "redis-server did not answer in 10 s" >&2
  return 1
}
retry_on_port_taken start_redis
export VANE_TEST_REDIS_URL="redis://127.0.0.1:$port/"
set +e
"$@"
status=$?
set -e
exit $status
