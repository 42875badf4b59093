"""Context conversion keeps the engine's JSON semantics and names the attribute it rejects."""

from __future__ import annotations

import json
from typing import Any

import pytest

import vane


def test_python_types_become_the_json_types_the_engine_sees() -> None:
    got = vane.normalize_context(
        {"b": True, "i": 1, "f": 1.0, "n": None, "big": 10**30, "t": (1, "x"), "d": {"k": [False, 2.5]}}
    )
    assert json.dumps(got, sort_keys=True) == json.dumps(
        {"b": True, "i": 1, "f": 1.0, "n": None, "big": 1e30, "t": [1, "x"], "d": {"k": [False, 2.5]}},
        sort_keys=True,
    )
    assert type(got["b"]) is bool and type(got["i"]) is int and type(got["f"]) is float


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({1: "x"}, "context: key 1 is not a str (int)"),
        ({"a": {"b": {2: 1}}}, "context.a.b: key 2 is not a str"),
        ({"a": [1, float("nan")]}, "context.a[1]: NaN is not a JSON number"),
        ({"a": float("inf")}, "context.a: inf is not a JSON number"),
        ({"a": 10**400}, "context.a: int is too large"),
        ({"a": {1, 2}}, "context.a: a set cannot be a context value"),
        ({"a": "\ud800"}, "context.a: str is not valid UTF-8"),
    ],
)
def test_values_json_cannot_say_are_rejected_with_their_path(context: dict[Any, Any], message: str) -> None:
    with pytest.raises(vane.ContextError) as raised:
        vane.normalize_context(context)
    assert message in str(raised.value)


def test_a_context_that_contains_itself_is_rejected_not_recursed_forever() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(vane.ContextError, match="nested more than"):
        vane.normalize_context(loop)


def test_a_client_without_a_snapshot_answers_not_ready_with_the_default() -> None:
    client = vane.VaneClient(url="http://127.0.0.1:9", server_key=None, events=False)
    result = client.evaluate_flag("anything", {"user_id": "u1"}, default="fallback")
    assert (result.value, result.reason, result.error) == ("fallback", "error", "not_ready")
    assert client.get_assignment("e", {"user_id": "u1"}).error == "not_ready"
    client.close()
