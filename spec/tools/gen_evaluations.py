#!/usr/bin/env python3
"""Writes the evaluation vectors in spec/evaluations/ (flags.json, experiments.json).

Expected results are derived here from the contract in DESIGN.md, not from Vane's Rust code:
buckets come from the `xxhash` PyPI package and the variant ranges are laid out by hand
(variant i owns [cum_i, cum_i + w_i * coverage) in basis points). Unit ids are picked by
searching for ids whose bucket lands where a case needs it.

Usage: python3 spec/tools/gen_evaluations.py   (rewrites the files in place)
"""
import json
import os

import xxhash

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "evaluations")
T0 = "2026-11-24T12:00:00Z"


def bucket(salt, unit):
    h = xxhash.xxh64(f"{salt}:{unit}".encode(), seed=0).intdigest()
    return ((h >> 32) * 10000) >> 32


def find_unit(salt, lo, hi, prefix="u"):
    """The first id `{prefix}{n}` with lo <= bucket < hi."""
    for n in range(1_000_000):
        uid = f"{prefix}{n}"
        if lo <= bucket(salt, uid) < hi:
            return uid
    raise SystemExit(f"no unit for {salt} in [{lo},{hi})")


def reason(kind, **kw):
    return {"kind": kind, **kw}


def flag(key, kind, variations, **kw):
    f = {"key": key, "type": kind, "variations": variations, "enabled": True,
         "off_variation": 0, "default_variation": 0}
    f.update(kw)
    return f


def flags_file():
    beta_ids = ["qa-1", "qa-2"]
    snapshot = {
        "schema_version": 1, "environment": "spec", "version": 1,
        "segments": [
            {"key": "germany", "condition": {"country": "DE"}},
            {"key": "qa", "id_list": {"attribute": "user_id", "ids": beta_ids}},
        ],
        "holdouts": [{"key": "global", "salt": "holdout-global", "share": 0.1, "unit_attribute": "user_id"}],
        "flags": [
            flag("killed", "bool", [False, True], enabled=False,
                 rules=[{"serve": {"variation": 1}}]),
            flag("plain-default", "string", ["blue", "green"], default_variation=1),
            flag("targeted", "bool", [False, True], rules=[
                {"id": "pro-users", "condition": {"plan": "pro", "age": {"$gte": 18}}, "serve": {"variation": 1}},
                {"id": "germans", "segments": ["germany"], "serve": {"variation": 1}},
            ]),
            flag("qa-only", "json", [{"tier": "none"}, {"tier": "qa", "limits": [1, 2]}], rules=[
                {"id": "qa-list", "condition": {"user_id": {"$inGroup": "qa"}}, "serve": {"variation": 1}},
            ]),
            flag("qa-segment", "number", [0, 10], rules=[
                {"segments": ["qa"], "serve": {"variation": 1}},
            ]),
            flag("half-rollout", "string", ["off", "on"], rules=[
                {"id": "ramp", "serve": {"rollout": {"weights": [0.5, 0.5], "coverage": 0.4}}},
                {"id": "fallback", "serve": {"variation": 0}},
            ]),
            flag("device-rollout", "bool", [False, True], rules=[
                {"serve": {"rollout": {"weights": [0.2, 0.8], "unit_attribute": "device_id", "salt": "dev-salt"}}},
            ]),
            flag("parent", "bool", [False, True], rules=[
                {"condition": {"country": {"$in": ["DE", "FR"]}}, "serve": {"variation": 1}},
            ]),
            flag("child", "string", ["none", "child-on"], default_variation=1,
                 prerequisites=[{"flag": "parent", "condition": {"value": True}}]),
            flag("grandchild", "number", [0, 3], default_variation=1,
                 prerequisites=[{"flag": "child", "condition": {"value": "child-on"}}]),
            flag("child-of-killed", "bool", [False, True], default_variation=1,
                 prerequisites=[{"flag": "killed", "condition": {"value": False}}]),
            flag("scheduled", "bool", [False, True], default_variation=1,
                 schedule={"start": "2026-12-01T00:00:00Z", "end": "2026-12-31T00:00:00Z"}),
            flag("held", "bool", [False, True], holdouts=["global"],
                 rules=[{"serve": {"variation": 1}}]),
        ],
    }
    cases = []

    def case(name, context, flags, at=T0):
        cases.append({"name": name, "at": at, "context": context, "flags": flags})

    case("a disabled flag serves its off variation whatever its rules say",
         {"user_id": "a"}, {"killed": {"value": False, "variation": 0, "reason": reason("disabled")}})
    case("a flag without rules serves its default variation",
         {"user_id": "a"}, {"plain-default": {"value": "green", "variation": 1, "reason": reason("default")}})
    case("the first matching rule wins and names its id",
         {"user_id": "a", "plan": "pro", "age": 30, "country": "DE"},
         {"targeted": {"value": True, "variation": 1, "reason": reason("rule_match", rule_index=0, rule_id="pro-users")}})
    case("a rule whose condition fails falls through to the next rule",
         {"user_id": "a", "plan": "pro", "age": 16, "country": "DE"},
         {"targeted": {"value": True, "variation": 1, "reason": reason("rule_match", rule_index=1, rule_id="germans")}})
    case("no matching rule gives the default",
         {"user_id": "a", "plan": "free", "country": "US"},
         {"targeted": {"value": False, "variation": 0, "reason": reason("default")}})
    case("an empty context gets defaults, not errors", {},
         {"targeted": {"value": False, "variation": 0, "reason": reason("default")},
          "half-rollout": {"value": "off", "variation": 0, "reason": reason("rule_match", rule_index=1, rule_id="fallback")}})
    case("$inGroup matches an id in an id-list segment",
         {"user_id": "qa-2"},
         {"qa-only": {"value": {"tier": "qa", "limits": [1, 2]}, "variation": 1,
                      "reason": reason("rule_match", rule_index=0, rule_id="qa-list")},
          "qa-segment": {"value": 10, "variation": 1, "reason": reason("rule_match", rule_index=0, rule_id="0")}})
    case("an id outside the id list does not match",
         {"user_id": "qa-3"},
         {"qa-only": {"value": {"tier": "none"}, "variation": 0, "reason": reason("default")},
          "qa-segment": {"value": 0, "variation": 0, "reason": reason("default")}})
    # half-rollout: weights 0.5/0.5 at coverage 0.4: off owns [0, 2000), on owns [5000, 7000).
    for lo, hi, value, var in [(0, 2000, "off", 0), (5000, 7000, "on", 1)]:
        uid = find_unit("half-rollout", lo, hi, prefix="roll-")
        case(f"a unit in bucket range [{lo}, {hi}) of the rollout gets {value}",
             {"user_id": uid},
             {"half-rollout": {"value": value, "variation": var,
                               "reason": reason("rollout", rule_index=0, rule_id="ramp", bucket=bucket("half-rollout", uid))}})
    for lo, hi in [(2000, 5000), (7000, 10000)]:
        uid = find_unit("half-rollout", lo, hi, prefix="roll-")
        case(f"a unit in bucket range [{lo}, {hi}) is outside rollout coverage and falls through",
             {"user_id": uid},
             {"half-rollout": {"value": "off", "variation": 0, "reason": reason("rule_match", rule_index=1, rule_id="fallback")}})
    # Numeric unit ids hash as their decimal string.
    num = next(n for n in range(100000) if 5000 <= bucket("half-rollout", str(n)) < 7000)
    case("a numeric unit id hashes as its decimal string",
         {"user_id": num},
         {"half-rollout": {"value": "on", "variation": 1,
                           "reason": reason("rollout", rule_index=0, rule_id="ramp", bucket=bucket("half-rollout", str(num)))}})
    # device-rollout: custom attribute and salt; false owns [0, 2000), true [2000, 10000).
    dev = find_unit("dev-salt", 0, 2000, prefix="dev-")
    case("a rollout hashes on its own unit attribute with its own salt",
         {"user_id": "whoever", "device_id": dev},
         {"device-rollout": {"value": False, "variation": 0,
                             "reason": reason("rollout", rule_index=0, rule_id="0", bucket=bucket("dev-salt", dev))}})
    case("a rollout skips a unit that lacks its attribute",
         {"user_id": "whoever"},
         {"device-rollout": {"value": False, "variation": 0, "reason": reason("default")}})
    case("prerequisites that hold let the chain through",
         {"user_id": "a", "country": "FR"},
         {"parent": {"value": True, "variation": 1, "reason": reason("rule_match", rule_index=0, rule_id="0")},
          "child": {"value": "child-on", "variation": 1, "reason": reason("default")},
          "grandchild": {"value": 3, "variation": 1, "reason": reason("default")}})
    case("a failed prerequisite serves the off variation and a chain fails with it",
         {"user_id": "a", "country": "US"},
         {"child": {"value": "none", "variation": 0, "reason": reason("prerequisite_failed", flag="parent")},
          "grandchild": {"value": 0, "variation": 0, "reason": reason("prerequisite_failed", flag="child")}})
    case("a prerequisite on a disabled flag sees its off value",
         {"user_id": "a"},
         {"child-of-killed": {"value": True, "variation": 1, "reason": reason("default")}})
    case("a scheduled flag is off before its window",
         {"user_id": "a"}, {"scheduled": {"value": False, "variation": 0, "reason": reason("outside_window")}},
         at="2026-11-30T23:59:59Z")
    case("a scheduled flag is on at the first instant of its window",
         {"user_id": "a"}, {"scheduled": {"value": True, "variation": 1, "reason": reason("default")}},
         at="2026-12-01T00:00:00Z")
    case("a scheduled flag is off at the end of its window (the end is exclusive)",
         {"user_id": "a"}, {"scheduled": {"value": False, "variation": 0, "reason": reason("outside_window")}},
         at="2026-12-31T00:00:00Z")
    held = find_unit("holdout-global", 0, 1000, prefix="h-")
    free = find_unit("holdout-global", 1000, 10000, prefix="h-")
    case("a unit in a flag's holdout skips the rules and gets the default",
         {"user_id": held}, {"held": {"value": False, "variation": 0, "reason": reason("in_holdout", holdout="global")}})
    case("a unit outside the holdout gets the rules",
         {"user_id": free}, {"held": {"value": True, "variation": 1, "reason": reason("rule_match", rule_index=0, rule_id="0")}})
    case("an unknown flag is an error with a null value",
         {"user_id": "a"}, {"no-such-flag": {"value": None, "variation": None, "reason": reason("error", error="not_found")}})
    return {"description": "Flag evaluation: kill switch, defaults, rules, segments, id lists, rollouts with coverage, prerequisites, schedules, holdouts.",
            "snapshot": snapshot, "cases": cases}


def experiment(key, **kw):
    e = {"key": key, "status": "running", "salt": key,
         "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]}
    e.update(kw)
    return e


def experiments_file():
    snapshot = {
        "schema_version": 1, "environment": "spec", "version": 2,
        "segments": [{"key": "mobile", "condition": {"platform": {"$in": ["ios", "android"]}}}],
        "layers": [{"key": "checkout", "salt": "layer-checkout", "unit_attribute": "user_id"}],
        "holdouts": [{"key": "h2026", "salt": "h2026", "share": 0.05, "unit_attribute": "user_id"}],
        "experiments": [
            experiment("basic", variants=[
                {"key": "control", "weight": 0.5, "payload": {"color": "blue"}},
                {"key": "treatment", "weight": 0.5, "payload": {"color": "green"}}]),
            experiment("ramp-20", salt="ramp", coverage=0.2),
            experiment("ramp-60", salt="ramp", coverage=0.6),
            experiment("three-way", variants=[
                {"key": "a", "weight": 0.2}, {"key": "b", "weight": 0.3}, {"key": "c", "weight": 0.5}]),
            experiment("draft", status="draft"),
            experiment("stopped", status="stopped"),
            experiment("scheduled", status="scheduled",
                       schedule={"start": "2026-12-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}),
            experiment("targeted", condition={"country": "DE"}, segments=["mobile"],
                       overrides={"qa-user": "treatment"}),
            experiment("by-device", unit_attribute="device_id"),
            experiment("held", holdouts=["h2026"]),
            experiment("left-half", layer={"key": "checkout", "start": 0.0, "end": 0.5}),
            experiment("right-half", layer={"key": "checkout", "start": 0.5, "end": 1.0}),
        ],
    }
    cases = []

    def case(name, context, experiments, at=T0):
        cases.append({"name": name, "at": at, "context": context, "experiments": experiments})

    def assigned(variant, salt, unit, payload=None):
        r = {"in_experiment": True, "variant": variant, "reason": reason("assigned", bucket=bucket(salt, unit))}
        if payload is not None:
            r["payload"] = payload
        return r

    def out(kind, **kw):
        return {"in_experiment": False, "variant": None, "reason": reason(kind, **kw)}

    c = find_unit("basic", 0, 5000, prefix="b-")
    t = find_unit("basic", 5000, 10000, prefix="b-")
    case("a unit in the lower half of an even split gets control and its payload",
         {"user_id": c}, {"basic": assigned("control", "basic", c, {"color": "blue"})})
    case("a unit in the upper half gets treatment",
         {"user_id": t}, {"basic": assigned("treatment", "basic", t, {"color": "green"})})
    # ramp: control owns [0, 1000) at 20% and [0, 3000) at 60%; treatment [5000, 6000) then [5000, 8000).
    for lo, hi, variant in [(0, 1000, "control"), (5000, 6000, "treatment")]:
        u = find_unit("ramp", lo, hi, prefix="r-")
        case(f"a unit covered at 20% keeps {variant} at 60% coverage",
             {"user_id": u}, {"ramp-20": assigned(variant, "ramp", u), "ramp-60": assigned(variant, "ramp", u)})
    u = find_unit("ramp", 1000, 3000, prefix="r-")
    case("a unit outside 20% coverage enters when coverage grows to 60%",
         {"user_id": u}, {"ramp-20": out("not_in_coverage", bucket=bucket("ramp", u)),
                          "ramp-60": assigned("control", "ramp", u)})
    u = find_unit("ramp", 8000, 10000, prefix="r-")
    case("a unit above every covered range is in neither ramp",
         {"user_id": u}, {"ramp-20": out("not_in_coverage", bucket=bucket("ramp", u)),
                          "ramp-60": out("not_in_coverage", bucket=bucket("ramp", u))})
    for lo, hi, v in [(0, 2000, "a"), (2000, 5000, "b"), (5000, 10000, "c")]:
        u = find_unit("three-way", lo, hi, prefix="w-")
        case(f"an uneven three-way split puts bucket range [{lo}, {hi}) in {v}",
             {"user_id": u}, {"three-way": assigned(v, "three-way", u)})
    case("draft and stopped experiments assign nobody", {"user_id": "a"},
         {"draft": out("not_running", status="draft"), "stopped": out("not_running", status="stopped")})
    case("a scheduled experiment waits for its start", {"user_id": "a"},
         {"scheduled": out("outside_window")}, at="2026-11-30T23:59:59.999Z")
    u = "a"
    case("a scheduled experiment assigns from its start on its own",
         {"user_id": u}, {"scheduled": assigned("control" if bucket("scheduled", u) < 5000 else "treatment", "scheduled", u)},
         at="2026-12-01T00:00:00Z")
    case("a scheduled experiment stops at its end", {"user_id": "a"},
         {"scheduled": out("outside_window")}, at="2027-01-01T00:00:00Z")
    case("a context without the unit attribute is not assigned", {"country": "DE"},
         {"basic": out("missing_unit", attribute="user_id"), "by-device": out("missing_unit", attribute="device_id")})
    case("an empty unit id counts as missing", {"user_id": ""},
         {"basic": out("missing_unit", attribute="user_id")})
    d = find_unit("by-device", 5000, 10000, prefix="d-")
    case("an experiment hashes on its own unit attribute", {"user_id": "someone", "device_id": d},
         {"by-device": assigned("treatment", "by-device", d)})
    case("an override forces a variant even when targeting fails", {"user_id": "qa-user", "country": "US"},
         {"targeted": {"in_experiment": True, "variant": "treatment", "reason": reason("override")}})
    case("a failed condition keeps a unit out", {"user_id": "a", "country": "US", "platform": "ios"},
         {"targeted": out("condition_not_met")})
    case("a unit outside a required segment is kept out", {"user_id": "a", "country": "DE", "platform": "web"},
         {"targeted": out("not_in_segment", segment="mobile")})
    u = "targeted-user"
    case("a unit meeting condition and segment is assigned", {"user_id": u, "country": "DE", "platform": "android"},
         {"targeted": assigned("control" if bucket("targeted", u) < 5000 else "treatment", "targeted", u)})
    h = find_unit("h2026", 0, 500, prefix="h-")
    case("a held-out unit never enters an experiment of its holdout", {"user_id": h},
         {"held": out("in_holdout", holdout="h2026")})
    f = find_unit("h2026", 500, 10000, prefix="h-")
    case("a unit outside the holdout is assigned normally", {"user_id": f},
         {"held": assigned("control" if bucket("held", f) < 5000 else "treatment", "held", f)})
    left = find_unit("layer-checkout", 0, 5000, prefix="l-")
    right = find_unit("layer-checkout", 5000, 10000, prefix="l-")
    for u, inside, outside in [(left, "left-half", "right-half"), (right, "right-half", "left-half")]:
        lb = bucket("layer-checkout", u)
        case(f"a unit in layer bucket {lb} enters {inside} and not {outside}", {"user_id": u},
             {inside: assigned("control" if bucket(inside, u) < 5000 else "treatment", inside, u),
              outside: out("not_in_layer_range", layer="checkout", bucket=lb)})
    case("an unknown experiment is an error", {"user_id": "a"},
         {"no-such-experiment": out("error", error="not_found")})
    return {"description": "Experiment assignment: splits, coverage ramps, status and schedule, unit attributes, overrides, targeting, holdouts, layers.",
            "snapshot": snapshot, "cases": cases}


def main():
    for name, doc in [("flags.json", flags_file()), ("experiments.json", experiments_file())]:
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        print(f"wrote {name}: {len(doc['cases'])} cases")


if __name__ == "__main__":
    main()
