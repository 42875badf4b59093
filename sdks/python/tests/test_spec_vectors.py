"""The shared, language-neutral vectors in spec/ through the binding: buckets, targeting
conditions, full evaluations and invalid snapshots (see spec/README.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import vane
from conftest import SPEC


def load(name: str) -> Any:
    return json.loads((SPEC / name).read_text())


def millis(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


def test_every_bucket_vector_matches() -> None:
    cases = load("buckets.json")["cases"]
    assert len(cases) >= 100
    wrong = [
        c
        for c in cases
        if vane.hash_unit(c["salt"], c["unit_id"]) != int(c["hash"])
        or vane.bucket(c["salt"], c["unit_id"]) != c["bucket"]
    ]
    assert wrong == []


def subset_mismatches(name: str, expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    return [
        f"{name}.{field}: expected {want!r}, got {actual.get(field)!r}"
        for field, want in expected.items()
        if actual.get(field) != want or type(actual.get(field)) is not type(want)
    ]


def test_every_evaluation_vector_matches() -> None:
    failures: list[str] = []
    count = 0
    for path in sorted((SPEC / "evaluations").glob("*.json")):
        doc = json.loads(path.read_text())
        engine = vane.Engine(json.dumps(doc["snapshot"]))
        for case in doc["cases"]:
            count += 1
            at = millis(case["at"])
            context = case["context"]
            everything = engine.evaluate_all(context, at_ms=at)
            for key, want in case.get("flags", {}).items():
                one = engine.evaluate_flag(key, context, at_ms=at)
                name = f"{path.name} / {case['name']} / flag {key}"
                failures += subset_mismatches(name, want, one.to_dict())
                if everything.flag(key).to_dict() != one.to_dict():
                    failures.append(f"{name}: evaluate_all differs from evaluate_flag")
                # The typed attributes agree with the serialized form.
                assert one.reason == want.get("reason", one.to_dict()["reason"])["kind"]
            for key, want in case.get("experiments", {}).items():
                a = engine.assign(key, context, at_ms=at)
                name = f"{path.name} / {case['name']} / experiment {key}"
                got = a.to_dict()
                failures += subset_mismatches(name, want, got)
                if "payload" not in want and "payload" in got:
                    failures.append(f"{name}: unexpected payload")
                if everything.assignment(key).to_dict() != got:
                    failures.append(f"{name}: evaluate_all differs from assign")
                assert a.in_experiment == got["in_experiment"]
                assert a.variant == got["variant"]
                assert a.reason == got["reason"]["kind"]
    assert count >= 40
    assert failures == []


def test_every_invalid_snapshot_reports_exactly_its_errors() -> None:
    failures = []
    for case in load("invalid.json")["cases"]:
        try:
            vane.Engine(json.dumps(case["snapshot"]))
        except vane.SnapshotError as error:
            got = sorted((e["path"], e["code"]) for e in error.errors)
            want = sorted((e["path"], e["code"]) for e in case["errors"])
            if got != want:
                failures.append(f"{case['name']}: expected {want}, got {got}")
        else:
            failures.append(f"{case['name']}: compiled, but should not")
    assert failures == []


def condition_snapshot(doc: dict[str, Any], condition: Any) -> str:
    """One boolean flag whose only rule has `condition`; the vectors' segments beside it."""
    segments: list[dict[str, Any]] = [
        {"key": name, "id_list": {"attribute": "user_id", "ids": ids}}
        for name, ids in doc["id_lists"].items()
    ]
    segments += [{"key": name, "condition": {}} for name in doc["other_segments"]]
    flag = {
        "key": "f",
        "type": "bool",
        "variations": [False, True],
        "enabled": True,
        "off_variation": 0,
        "default_variation": 0,
        "rules": [{"id": "r", "condition": condition, "serve": {"variation": 1}}],
    }
    return json.dumps(
        {"schema_version": 1, "environment": "spec", "version": 1, "segments": segments,
         "flags": [flag]}
    )


def test_every_condition_vector_matches_through_a_flag_rule() -> None:
    doc = load("conditions.json")
    prefix = "flags[0].rules[0]."
    failures = []
    for case in doc["cases"]:
        text = condition_snapshot(doc, case["condition"])
        if "errors" in case:
            try:
                vane.Engine(text)
            except vane.SnapshotError as error:
                got = sorted(
                    (e["path"].removeprefix(prefix), e["code"])
                    for e in error.errors
                )
                want = sorted((e["path"], e["code"]) for e in case["errors"])
                if got != want:
                    failures.append(f"{case['name']}: expected {want}, got {got}")
            else:
                failures.append(f"{case['name']}: compiled, but should not")
            continue
        result = vane.Engine(text).evaluate_flag("f", case["attributes"], at_ms=0)
        matched = result.reason == "rule_match"
        if matched != case["expected"]:
            failures.append(f"{case['name']}: expected {case['expected']}, got {matched}")
    assert len(doc["cases"]) >= 150
    assert failures == []
