"""The binding against the Rust binary: `vane eval` and `vane.Engine.evaluate_all` must give
the same answer, field for field and type for type, for random snapshots and typed contexts.

The context goes to `vane eval` as `json.dumps` text and to the binding as Python objects, so
this also shows that converting Python values is the same as parsing their JSON: bool vs int
vs float, big ints, None, nested lists, tuples and dicts. `VANE_DIFF_UNITS` sets the number
of units (default 100,000: 200 runs of 500 slots).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import vane
from differential import AT, AT_MS, context, snapshot

SLOTS = 500


def canonical(value: Any) -> Any:
    """JSON values with their types kept apart (True is not 1, 1 is not 1.0)."""
    return json.dumps(value, sort_keys=True)


def test_the_binding_agrees_with_vane_eval_on_every_unit(vane_bin: Path) -> None:
    units = int(os.environ.get("VANE_DIFF_UNITS", "100000"))
    runs = max(1, units // SLOTS)
    rng = random.Random(20261203)
    compared = placed = 0
    disagreements: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        # Two snapshots, alternated, so that conditions differ between runs too.
        snapshots = []
        for s in range(2):
            doc = snapshot(rng, SLOTS)
            path = Path(tmp) / f"snapshot-{s}.json"
            path.write_text(json.dumps(doc))
            snapshots.append((path, vane.Engine(json.dumps(doc))))
        pending: list[tuple[subprocess.Popen[bytes], Any, dict[str, Any]]] = []

        def check(proc: subprocess.Popen[bytes], expected_engine: Any, ctx: dict[str, Any]) -> None:
            nonlocal compared, placed
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
            theirs = json.loads(out)
            ours = expected_engine.evaluate_all(ctx, at_ms=AT_MS).to_dict()
            for kind in ("flags", "experiments"):
                for mine, other in zip(ours[kind], theirs[kind]):
                    compared += 1
                    if canonical(mine) != canonical(other):
                        disagreements.append(f"{kind}: binding {mine} vs vane eval {other}")
                assert len(ours[kind]) == len(theirs[kind]) == SLOTS
            placed += sum(1 for a in ours["experiments"] if a["in_experiment"])

        for run in range(runs):
            path, engine = snapshots[run % 2]
            ctx = context(rng, SLOTS, run)
            ctx_file = Path(tmp) / f"context-{run % 4}.json"
            ctx_file.write_text(json.dumps(ctx))
            proc = subprocess.Popen(
                [str(vane_bin), "eval", "--snapshot", str(path), "--context", f"@{ctx_file}",
                 "--at", AT],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            pending.append((proc, engine, ctx))
            if len(pending) >= 2:  # two at a time: the machine has two cores
                check(*pending.pop(0))
        for item in pending:
            check(*item)
    assert disagreements[:20] == []
    assert compared == runs * SLOTS * 2
    # The workload is not degenerate: many units are placed, many are not.
    assert placed > runs * SLOTS // 10
    assert placed < runs * SLOTS
    print(f"differential: {runs * SLOTS} units, {compared} answers compared, 100% agreement")
