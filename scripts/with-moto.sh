#!/usr/bin/env bash
# scripts/with-moto.sh CMD...: runs CMD with a throwaway S3-compatible server (PyPI
# moto[s3] 5.2.5, in memory) on 127.0.0.1 and VANE_TEST_S3_ENDPOINT pointing at it, plus dummy
# AWS credentials. The server lives in a virtual environment under
# $HOME/.cache/vane-py/moto. If VANE_TEST_S3_ENDPOINT is already set, just runs CMD.
source "$(dirname "$0")/lib.sh"
if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi
if [ -n "${VANE_TEST_S3_ENDPOINT:-}" ]; then
  exec "$@"
fi
py=$(ensure_venv moto "moto[s3]==5.2.5" flask flask-cors)
bin=$(dirname "$py")
log=$(mktemp)
pid=
trap '[ -z "$pid" ] || kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT
# Starts moto_server on a free port; 75 when another process had taken it.
start_moto() {
  port=$(free_port)
  "$bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  pid=$!
  local started=$SECONDS
  until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/moto-api/"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      pid=
      port_taken "$log" && return 75
      cat "$log" >&2
      echo "moto_server exited" >&2
      return 1
    fi
    [ $((SECONDS - started)) -lt 15 ] || { cat "$log" >&2; echo "moto_server did not start in 15 s" >&2; return 1; }
    sleep 0.2
  done
}
retry_on_port_taken start_moto
export VANE_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local} AWS_REGION=${AWS_REGION:-us-east-1}
set +e
"$@"
status=$?
set -e
exit $status
