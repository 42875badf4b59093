"""`RemoteClient`: asks an edge (`/v1/evaluate`, `/v1/assign`) instead of evaluating locally.

For services that prefer not to hold the snapshot, or may use only a client key. Results are
the same classes as the local client's, built from the edge's JSON (the same engine types
serialized), with the caller's default and the reason `error` when the edge cannot answer.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

import httpx

from vane._core import ContextLike, ExposureLog, attributes, exposure_for, now_ms, track_event, units_of
from vane._events import EventBuffer, EventWorker, Outcome, classify
from vane._native import Assignment, Evaluation, FlagEvaluation
from vane.client import DEFAULT_URL, _user_agent

log = logging.getLogger("vane")


def _error_flag(key: str, error: str, default: Any) -> FlagEvaluation:
    return FlagEvaluation.from_wire(
        {"key": key, "value": None, "variation": None, "reason": {"kind": "error", "error": error}}, default
    )


class RemoteClient:
    """Evaluates at an edge. `key` may be a client or a server key. Exposures of
    `get_assignment` and `track` events go through the same batched queue as the local
    client's."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        key: str = "",
        *,
        timeout: float = 2.0,
        events: bool = True,
        log_exposures: bool = True,
        flush_interval: float = 1.0,
        batch_size: int = 100,
        max_queue: int = 10_000,
        max_retries: int = 5,
    ) -> None:
        self.url = url.rstrip("/")
        self._key = key
        self._http = httpx.Client(timeout=timeout)
        self._headers = {"authorization": f"Bearer {key}", "user-agent": _user_agent()}
        self._events_on = events
        self._log_exposures = log_exposures and events
        self._exposures = ExposureLog()
        self._buffer = EventBuffer(max_queue, batch_size)
        self._worker = EventWorker(self._buffer, self._send_events, flush_interval, max_retries)
        if events:
            self._worker.start()
        self.last_error: Optional[str] = None

    def _post(self, path: str, body: dict[str, Any]) -> Optional[dict[str, Any]]:
        try:
            response = self._http.post(f"{self.url}{path}", json=body, headers=self._headers)
        except httpx.HTTPError as error:
            self.last_error = f"POST {path}: {error}"
            return None
        if response.status_code != 200:
            self.last_error = f"POST {path} answered {response.status_code}: {response.text[:200]}"
            return None
        answer: dict[str, Any] = response.json()
        return answer

    def evaluate_flag(self, key: str, context: ContextLike, default: Any = None) -> FlagEvaluation:
        answer = self._post("/v1/evaluate", {"context": dict(attributes(context)), "flags": [key]})
        if answer is None or not answer.get("flags"):
            return _error_flag(key, "unreachable", default)
        return FlagEvaluation.from_wire(answer["flags"][0], default)

    def get_value(self, key: str, context: ContextLike, default: Any = None) -> Any:
        return self.evaluate_flag(key, context, default).value

    def get_assignment(self, key: str, context: ContextLike) -> Assignment:
        answer = self._post("/v1/assign", {"context": dict(attributes(context)), "experiments": [key]})
        if answer is None or not answer.get("assignments"):
            return Assignment.from_wire(
                {"experiment": key, "in_experiment": False, "variant": None, "variation": None,
                 "reason": {"kind": "error", "error": "unreachable"}}
            )
        assignment = Assignment.from_wire(answer["assignments"][0])
        if assignment.in_experiment and self._log_exposures:
            event = exposure_for(None, self._exposures, assignment, context)
            if event is not None:
                self._buffer.put(event)
        return assignment

    def evaluate_all(self, context: ContextLike) -> Evaluation:
        """Every flag, and the experiments the unit is in (what `/v1/assign` answers)."""
        body = {"context": dict(attributes(context))}
        flags = self._post("/v1/evaluate", body) or {"flags": []}
        assigned = self._post("/v1/assign", body) or {"assignments": []}
        return Evaluation.from_wire(flags, assigned)

    def track(
        self,
        event: str,
        context: Optional[ContextLike] = None,
        *,
        value: Optional[float] = None,
        properties: Optional[Mapping[str, Any]] = None,
        units: Optional[Mapping[str, str]] = None,
    ) -> bool:
        if not self._events_on:
            return False
        ids = dict(units) if units else units_of(context or {}, None)
        return self._buffer.put(track_event(event, ids, value, properties, now_ms()))

    def _send_events(self, batch: list[dict[str, Any]]) -> Outcome:
        try:
            response = self._http.post(f"{self.url}/v1/events", json={"events": batch}, headers=self._headers)
        except httpx.HTTPError:
            return Outcome.RETRY
        return classify(response.status_code)

    def flush(self, timeout: float = 5.0) -> bool:
        return self._worker.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        if self._events_on:
            self._worker.flush(timeout)
            self._worker.stop(timeout)
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
