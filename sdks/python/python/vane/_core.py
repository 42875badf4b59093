"""What every client shares: unit ids, event records, the exposure log, not-ready results.

Nothing here does I/O or starts threads; the clients add transport and lifecycle around it.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Union

from vane._native import Assignment, Context, Engine, FlagEvaluation

ContextLike = Union[Mapping[str, Any], Context]

#: Event limits the edge enforces (vane_engine::event::limits).
MAX_EVENTS_PER_BATCH = 500
MAX_UNITS = 8


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def rfc3339(millis: int) -> str:
    at = datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def new_event_id() -> str:
    """A client-generated event id: the dedup key analytics drops repeats by."""
    return uuid.uuid4().hex


def unit_id(value: Any) -> Optional[str]:
    """The unit id the engine reads from an attribute: a non-empty string as it is, a number
    as JavaScript's `String(n)` prints it, anything else none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int):
        if abs(value) < 2**64:
            return str(value)
        value = float(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    return None


def attributes(context: ContextLike) -> Mapping[str, Any]:
    if isinstance(context, Context):
        return context.to_dict()
    return context


def units_of(context: ContextLike, engine: Optional[Engine], first: Optional[str] = None) -> dict[str, str]:
    """The unit ids of a context: `first` (an experiment's unit attribute) and every other
    attribute the snapshot hashes on, at most the edge's limit."""
    attrs = attributes(context)
    names = [first] if first else []
    names += engine.unit_attributes if engine is not None else []
    if "user_id" not in names:
        names.append("user_id")
    out: dict[str, str] = {}
    for name in names:
        uid = unit_id(attrs.get(name))
        if uid is not None and name not in out:
            out[name] = uid
        if len(out) == MAX_UNITS:
            break
    return out


def exposure_event(assignment: Assignment, units: dict[str, str], at_ms: int) -> dict[str, Any]:
    return {
        "id": new_event_id(),
        "type": "exposure",
        "experiment": assignment.experiment,
        "variant": assignment.variant,
        "timestamp": rfc3339(at_ms),
        "units": units,
    }


def track_event(
    event: str,
    units: dict[str, str],
    value: Optional[float],
    properties: Optional[Mapping[str, Any]],
    at_ms: int,
) -> dict[str, Any]:
    if not units:
        raise ValueError("track: the context names no unit id (e.g. user_id)")
    if value is not None and (isinstance(value, bool) or not math.isfinite(float(value))):
        raise ValueError("track: value must be a finite number")
    record: dict[str, Any] = {
        "id": new_event_id(),
        "type": "track",
        "event": event,
        "timestamp": rfc3339(at_ms),
        "units": units,
    }
    if value is not None:
        record["value"] = float(value)
    if properties:
        record["properties"] = dict(properties)
    return record


class ExposureLog:
    """Remembers which (unit attribute, unit id, experiment, variant) were logged, so each is
    logged once; the oldest are forgotten past `capacity`."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[tuple[str, str, str, str], None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def first_time(self, key: tuple[str, str, str, str]) -> bool:
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True

    def after_fork(self) -> None:
        self._lock = threading.Lock()


def not_ready_flag(key: str, default: Any) -> FlagEvaluation:
    return FlagEvaluation.from_wire(
        {"key": key, "value": None, "variation": None,
         "reason": {"kind": "error", "error": "not_ready"}},
        default,
    )


def not_ready_assignment(key: str) -> Assignment:
    return Assignment.from_wire(
        {"experiment": key, "in_experiment": False, "variant": None, "variation": None,
         "reason": {"kind": "error", "error": "not_ready"}}
    )


def exposure_for(
    engine: Optional[Engine], log: ExposureLog, assignment: Assignment, context: ContextLike
) -> Optional[dict[str, Any]]:
    """The exposure event to send for `assignment`, or None when the unit is not in the
    experiment or this exposure was logged before."""
    if not assignment.in_experiment or assignment.variant is None:
        return None
    attribute = assignment.unit_attribute or "user_id"
    units = units_of(context, engine, attribute)
    uid = units.get(attribute)
    if uid is None:
        return None
    if not log.first_time((attribute, uid, assignment.experiment, assignment.variant)):
        return None
    return exposure_event(assignment, units, now_ms())
