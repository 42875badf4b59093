#!/usr/bin/env bash
# Regenerate analytics/tests/gbstats/reference.json from GrowthBook's gbstats 0.8.0, or with
# --check verify that the committed file is what the generator writes.
#
# --check compares structurally (analytics/tests/gbstats/compare.py), not byte for byte: numpy
# and scipy choose SIMD kernels per processor, which sum in another order, so the same pinned
# packages give floats that differ in the last digits from one CPU to the next. Every key,
# string and integer must be equal and every float within 1e-12 relative (plus 1e-15 absolute,
# for tail p-values like 1e-244); the comparison's own
# self-test (run first) shows that a 1e-9 change to any single number of magnitude 1e-5 or
# more fails the check.
#
# The Python environment lives outside the checkout, in $VANE_GBSTATS_VENV (default
# $HOME/.cache/vane-py/gbstats). It is created on first use and reinstalled whenever
# analytics/tests/gbstats/requirements.txt changes. Needs Python 3.9-3.11 (pandas 1.5.3, which
# gbstats 0.8.0 requires, has no wheels for newer versions); pick one with PYTHON=python3.11.
set -euo pipefail

usage() {
    echo "usage: $0 [--check]" >&2
    echo "  (no argument)  regenerate analytics/tests/gbstats/reference.json" >&2
    echo "  --check        regenerate into a temporary file; fail if it differs from the committed one" >&2
  echo "                 (floats within 1e-12 relative + 1e-15, everything else exactly)" >&2
}

mode=write
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    -h | --help) usage; exit 0 ;;
    *) usage; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/analytics/tests/gbstats"
venv="${VANE_GBSTATS_VENV:-$HOME/.cache/vane-py/gbstats}"
python="${PYTHON:-python3}"
log() { echo "gbstats-reference: $*" >&2; }

if [[ ! -x "$venv/bin/python" ]]; then
    command -v "$python" >/dev/null || { log "no $python on PATH (set PYTHON=...)"; exit 1; }
    version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    case "$version" in
        3.9 | 3.10 | 3.11) ;;
        *) log "warning: Python $version; pandas 1.5.3 needs 3.9-3.11 (set PYTHON=python3.11)" ;;
    esac
    log "creating virtual environment $venv (Python $version)"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
fi

stamp="$venv/.vane-requirements.sha256"
want="$(sha256sum "$dir/requirements.txt" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    log "installing pinned packages from analytics/tests/gbstats/requirements.txt"
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$dir/requirements.txt"
    echo "$want" >"$stamp"
else
    log "using virtual environment $venv (packages up to date)"
fi

if [[ "$mode" == write ]]; then
    log "generating $dir/reference.json"
    tmp="$(mktemp "$dir/.reference.XXXXXX")"
    trap 'rm -f "$tmp"' EXIT
    "$venv/bin/python" "$dir/generate.py" "$tmp" >&2
    chmod 644 "$tmp"
    mv "$tmp" "$dir/reference.json"
    trap - EXIT
    log "done"
else
    tmp="$(mktemp)"
    trap 'rm -f "$tmp"' EXIT
    log "regenerating into $tmp"
    "$venv/bin/python" "$dir/generate.py" "$tmp" >&2
    "$venv/bin/python" "$dir/compare.py" --self-test "$dir/reference.json" >&2
    if "$venv/bin/python" "$dir/compare.py" "$dir/reference.json" "$tmp"; then
        if cmp -s "$tmp" "$dir/reference.json"; then
            log "ok: analytics/tests/gbstats/reference.json is up to date (byte for byte)"
        else
            log "ok: analytics/tests/gbstats/reference.json is up to date (floats within 1e-12 relative + 1e-15)"
        fi
    else
        log "analytics/tests/gbstats/reference.json differs from the generator's output (above)"
        log "run scripts/gbstats-reference.sh to regenerate it"
        exit 1
    fi
fi
