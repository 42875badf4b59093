#!/usr/bin/env bash
# Installs the tools the Cloudflare worker's build and tests need (Node 22, wrangler, binaryen,
# kinesalite, worker-build, wasm-bindgen-cli) under $VANE_TOOLS, idempotently. `make test`
# starts this in the background at its beginning, so the two cargo installs (the longest part
# of a cold run) overlap the workspace's own builds instead of following them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/workerd-lib.sh"
VANE_SCRIPT=workerd-tools
workerd_tools
step_summary
