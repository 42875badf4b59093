"""Random snapshots and typed contexts for the differential against `vane eval`.

One `vane eval` process costs tens of milliseconds, so each run packs many units into one
context: slot `k` of a snapshot has its own unit attribute `u{k}`, its own typed attribute
`a{k}` and `b{k}`, and its own flag `f{k}` and experiment `e{k}` that hash on `u{k}` and
target on `a{k}`/`b{k}`. One evaluation of such a context therefore places `slots` independent
units (each with its own type of unit id, or none), and one run of `vane eval` answers for all
of them at once.
"""

from __future__ import annotations

import random
from typing import Any, Callable

AT = "2026-11-24T12:00:00Z"
AT_MS = 1_795_521_600_000


def typed_value(rng: random.Random, depth: int = 0) -> Any:
    """A context value of a random JSON-able Python type, biased to edge cases."""
    kind = rng.randrange(14 if depth < 2 else 10)
    if kind == 0:
        return rng.choice([True, False])
    if kind == 1:
        return rng.choice([0, 1, -1, 18, 42, 2**53, 2**63 - 1, 2**63, 2**64 - 1])
    if kind == 2:
        return rng.randint(-1000, 1000)
    if kind == 3:
        return rng.choice([0.0, 1.0, 42.0, 0.5, -2.25, 1e21, 1e-7, 18.000001])
    if kind == 4:
        return rng.uniform(-100, 100)
    if kind == 5:
        return rng.choice(["", "DE", "de", "1", "42", "1.0", "true", "null", "2.10.0", " 5 "])
    if kind == 6:
        return f"s{rng.randrange(100)}"
    if kind == 7:
        return None
    if kind == 8:
        return rng.choice([10**20, -(10**25), 2**64, 3 * 10**30])  # beyond 64 bits
    if kind == 9:
        return rng.choice(["1.2.3", "v2.0.0", "2.0.0-beta", "10.1", "ü", "日本"])
    if kind in (10, 11):
        return [typed_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 12:
        return tuple(typed_value(rng, depth + 1) for _ in range(rng.randrange(3)))
    return {f"k{i}": typed_value(rng, depth + 1) for i in range(rng.randrange(3))}


def unit_value(rng: random.Random, i: int) -> Any:
    """A unit id of a random type: mostly strings, also ints, floats, and ids that are not."""
    kind = rng.randrange(20)
    if kind < 12:
        return f"user-{rng.randrange(10**9)}-{i}"
    if kind < 15:
        return rng.randrange(-(10**12), 10**12)
    if kind == 15:
        return float(rng.randrange(10**6))  # integral floats print without ".0"
    if kind == 16:
        return rng.uniform(0, 1000)
    if kind == 17:
        return rng.choice(["", True, None, [1], {"id": 1}])  # no unit id
    if kind == 18:
        return 10**22  # a big int: its JSON form is a float
    return "ü-" + str(i)


def condition(rng: random.Random, a: str, b: str) -> Any:
    templates: list[Callable[[], Any]] = [
        lambda: {a: typed_value(rng)} if rng.random() < 0.5 else {a: rng.choice([1, True, "1"])},
        lambda: {a: {"$eq": rng.choice([1, 1.0, True, "1", None, 0])}},
        lambda: {a: {"$ne": rng.choice([1, True, None, ""])}},
        lambda: {a: {rng.choice(["$gt", "$gte", "$lt", "$lte"]): rng.choice([0, 18, 0.5, "5", "m"])}},
        lambda: {a: {"$in": [1, "1", True, None, "DE", 42.0]}},
        lambda: {a: {"$nin": [0, False, "", None]}},
        lambda: {a: {"$exists": rng.choice([True, False])}},
        lambda: {a: {"$type": rng.choice(["string", "number", "boolean", "array", "object", "null"])}},
        lambda: {a: {"$size": rng.randrange(3)}},
        lambda: {a: {"$elemMatch": {"$gt": 0}}},
        lambda: {a: {"$all": [1]}},
        lambda: {a: {"$regex": rng.choice(["^1", "e", "^s[0-9]$", "^$"])}},
        lambda: {a: {"$vgte": rng.choice(["1.2.3", "2.0.0", "0"])}},
        lambda: {f"{a}.0": rng.choice([1, None, "a"])},
        lambda: {f"{a}.k0": {"$exists": True}},
        lambda: {"$or": [{a: True}, {b: {"$gt": 10}}]},
        lambda: {"$and": [{a: {"$ne": None}}, {b: {"$type": "number"}}]},
        lambda: {"$not": {b: {"$in": [None, "", 0]}}},
        lambda: {a: None},
        lambda: {a: [1, 2]} if rng.random() < 0.5 else {a: {"k0": 1}},
    ]
    return rng.choice(templates)()


def split(rng: random.Random, n: int) -> list[int]:
    """`n` weights in basis points summing to 10,000."""
    cuts = sorted(rng.randrange(10_001) for _ in range(n - 1))
    edges = [0, *cuts, 10_000]
    return [edges[i + 1] - edges[i] for i in range(n)]


def snapshot(rng: random.Random, slots: int) -> dict[str, Any]:
    flags: list[dict[str, Any]] = []
    experiments: list[dict[str, Any]] = []
    layers = [{"key": f"layer-{k}", "salt": f"ls-{k}", "unit_attribute": f"u{k}"} for k in range(0, slots, 7)]
    holdouts = [{"key": f"hold-{k}", "salt": f"hs-{k}", "share": rng.randrange(0, 3001) / 10_000,
                 "unit_attribute": f"u{k}"} for k in range(0, slots, 11)]
    for k in range(slots):
        a, b, u = f"a{k}", f"b{k}", f"u{k}"
        rules: list[dict[str, Any]] = []
        for r in range(rng.randrange(4)):
            rule: dict[str, Any] = {"id": f"r{r}"}
            if rng.random() < 0.7:
                rule["condition"] = condition(rng, a, b)
            if rng.random() < 0.5:
                w = split(rng, 3)
                rule["serve"] = {"rollout": {"weights": [x / 10_000 for x in w],
                                             "coverage": rng.randrange(10_001) / 10_000,
                                             "unit_attribute": u, "salt": f"fs-{k}-{r}"}}
            else:
                rule["serve"] = {"variation": rng.randrange(3)}
            rules.append(rule)
        flag: dict[str, Any] = {
            "key": f"f{k}", "type": "string", "variations": ["x", "y", "z"],
            "enabled": rng.random() < 0.95, "off_variation": 0, "default_variation": rng.randrange(3),
            "rules": rules,
        }
        if k % 11 == 0 and rng.random() < 0.5:
            flag["holdouts"] = [f"hold-{k}"]
        if k > 0 and rng.random() < 0.1:
            flag["prerequisites"] = [{"flag": f"f{k - 1}", "condition": {"value": rng.choice(["x", "y"])}}]
        flags.append(flag)
        n = rng.randrange(2, 5)
        weights = split(rng, n)
        experiment: dict[str, Any] = {
            "key": f"e{k}", "status": rng.choice(["running"] * 8 + ["draft", "stopped", "scheduled"]),
            "salt": f"es-{k}", "unit_attribute": u,
            "variants": [{"key": f"v{i}", "weight": weights[i] / 10_000,
                          **({"payload": {"i": i}} if i == 1 else {})} for i in range(n)],
            "coverage": rng.choice([1.0, rng.randrange(10_001) / 10_000]),
        }
        if rng.random() < 0.4:
            experiment["condition"] = condition(rng, a, b)
        if k % 7 == 0:
            start = rng.randrange(0, 5001)
            experiment["layer"] = {"key": f"layer-{k}", "start": start / 10_000,
                                   "end": (start + rng.randrange(1, 5001)) / 10_000}
        if k % 11 == 0:
            experiment["holdouts"] = [f"hold-{k}"]
        if rng.random() < 0.05:
            experiment["overrides"] = {f"user-forced-{k}": "v0"}
        if rng.random() < 0.05:
            experiment["schedule"] = {"start": "2026-11-01T00:00:00Z",
                                      "end": rng.choice(["2026-11-20T00:00:00Z", "2027-01-01T00:00:00Z"])}
        experiments.append(experiment)
    return {"schema_version": 1, "environment": "diff", "version": 1, "flags": flags,
            "experiments": experiments, "layers": layers, "holdouts": holdouts}


def context(rng: random.Random, slots: int, run: int) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for k in range(slots):
        if rng.random() < 0.97:
            ctx[f"u{k}"] = unit_value(rng, run * slots + k)
            if rng.random() < 0.01:
                ctx[f"u{k}"] = f"user-forced-{k}"
        if rng.random() < 0.9:
            ctx[f"a{k}"] = typed_value(rng)
        if rng.random() < 0.7:
            ctx[f"b{k}"] = typed_value(rng)
    return ctx
