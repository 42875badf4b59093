"""`VaneClient`: local evaluation with Vane's engine, a background refresher, events."""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from typing import Any, Callable, Mapping, Optional, Union

import httpx

from vane import _fork
from vane._core import (
    ContextLike,
    ExposureLog,
    exposure_for,
    not_ready_assignment,
    not_ready_flag,
    now_ms,
    track_event,
    units_of,
)
from vane._events import EventBuffer, EventWorker, Outcome, classify
from vane._native import Assignment, Engine, Evaluation, FlagEvaluation, SnapshotError

log = logging.getLogger("vane")

DEFAULT_URL = "http://127.0.0.1:8787"


def _user_agent() -> str:
    from vane import __version__

    return f"vane-sdk-python/{__version__}"


class LocalEvaluator:
    """Evaluation, exposures and `track` over the current snapshot: what the sync and the async
    local clients share. Subclasses supply the transport and the lifecycle."""

    _engine: Optional[Engine]
    _events_on: bool
    _log_exposures: bool
    _exposures: ExposureLog
    _buffer: EventBuffer
    _etag: Optional[str]
    _ready_flag: bool
    last_error: Optional[str]

    def _install(self, status: int, text: str, etag: Optional[str]) -> bool:
        """Takes a `/v1/config` answer; True when a new snapshot was installed."""
        if status == 304:
            self.last_error = None
            return False
        if status != 200:
            self.last_error = f"GET /v1/config answered {status}: {text[:200]}"
            log.warning("vane: %s", self.last_error)
            return False
        try:
            engine = Engine(text)
        except SnapshotError as error:
            self.last_error = f"the served snapshot does not compile: {error}"
            log.error("vane: %s", self.last_error)
            return False
        self._engine = engine
        self._etag = etag
        self.last_error = None
        self._ready_flag = True
        return True

    def _config_headers(self, key: Optional[str]) -> dict[str, str]:
        headers = {"authorization": f"Bearer {key}", "user-agent": _user_agent()}
        if self._etag:
            headers["if-none-match"] = self._etag
        return headers

    @property
    def engine(self) -> Optional[Engine]:
        """The compiled snapshot in use (replaced, never changed, by refreshes)."""
        return self._engine

    @property
    def events_stats(self) -> dict[str, int]:
        b = self._buffer
        return {"queued": len(b), "sent": b.sent, "dropped": b.dropped, "failed": b.failed}

    # -- evaluation ---------------------------------------------------------------------------

    def evaluate_flag(self, key: str, context: ContextLike, default: Any = None) -> FlagEvaluation:
        """Flag `key` for `context`: value, variation and reason (`default` when it cannot be
        evaluated: unknown flag, no snapshot yet)."""
        engine = self._engine
        if engine is None:
            return not_ready_flag(key, default)
        return engine.evaluate_flag(key, context, None, default)

    def get_value(self, key: str, context: ContextLike, default: Any = None) -> Any:
        return self.evaluate_flag(key, context, default).value

    def get_assignment(self, key: str, context: ContextLike, *, log_exposure: Optional[bool] = None) -> Assignment:
        """Experiment `key` for `context`. When the unit is in it, an exposure is queued, once
        per unit, experiment and variant."""
        engine = self._engine
        if engine is None:
            return not_ready_assignment(key)
        assignment = engine.assign(key, context)
        if assignment.in_experiment and (self._log_exposures if log_exposure is None else log_exposure):
            self.log_exposure(assignment, context)
        return assignment

    def log_exposure(self, assignment: Assignment, context: ContextLike) -> None:
        """Queues the exposure of `assignment` unless it was logged before."""
        if not self._events_on:
            return
        event = exposure_for(self._engine, self._exposures, assignment, context)
        if event is not None:
            self._buffer.put(event)

    def evaluate_all(self, context: ContextLike) -> Evaluation:
        """Every flag and experiment for `context`. Logs no exposures (pass the assignments you
        show to `log_exposure`)."""
        engine = self._engine
        if engine is None:
            return Evaluation.from_wire({"flags": []}, {"assignments": []})
        return engine.evaluate_all(context)


    def track(
        self,
        event: str,
        context: Union[ContextLike, None] = None,
        *,
        value: Optional[float] = None,
        properties: Optional[Mapping[str, Any]] = None,
        units: Optional[Mapping[str, str]] = None,
    ) -> bool:
        """Queues a `track` event for the unit ids of `context` (or `units`); never blocks.
        False when the queue was full (the event is dropped and counted)."""
        if not self._events_on:
            return False
        ids = dict(units) if units else units_of(context or {}, self._engine)
        return self._buffer.put(track_event(event, ids, value, properties, now_ms()))



class VaneClient(LocalEvaluator):
    """Evaluates flags and assigns experiments in-process from the snapshot an edge serves.

    The snapshot comes from `GET {url}/v1/config` with a server key and is refreshed every
    `refresh_interval` seconds by a daemon thread (`If-None-Match`: an unchanged snapshot
    costs a 304). Until the first snapshot arrives, results carry the reason `error` /
    `not_ready` and the caller's default. Exposures of `get_assignment` and `track` events are
    queued (bounded: `max_queue`, dropped and counted when full) and sent in batches by a
    second daemon thread every `flush_interval` seconds, with retries and backoff; `flush()`
    sends what is queued, `close()` (also run at exit) stops both threads after a last flush.

    Pass `snapshot=` (JSON text) to evaluate without any edge: no refresher then.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        server_key: Optional[str] = None,
        *,
        snapshot: Optional[str] = None,
        refresh_interval: float = 30.0,
        timeout: float = 5.0,
        events: bool = True,
        log_exposures: bool = True,
        flush_interval: float = 1.0,
        batch_size: int = 100,
        max_queue: int = 10_000,
        max_retries: int = 5,
        exposure_cache_size: int = 100_000,
        http_client: Optional[Callable[[], httpx.Client]] = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._key = server_key
        self.refresh_interval = refresh_interval
        self.timeout = timeout
        self._http_factory = http_client or (lambda: httpx.Client(timeout=timeout))
        self._http = self._http_factory()
        self._engine: Optional[Engine] = Engine(snapshot) if snapshot is not None else None
        self._etag = None
        self._ready_flag = self._engine is not None
        self.last_error = None
        self._ready = threading.Event()
        if self._engine is not None:
            self._ready.set()
        self._log_exposures = log_exposures and events
        self._exposures = ExposureLog(exposure_cache_size)
        self._events_on = events and server_key is not None
        self._buffer = EventBuffer(max_queue, batch_size)
        self._worker = EventWorker(self._buffer, self._send_events, flush_interval, max_retries)
        self._stop = threading.Event()
        self._refresher: Optional[threading.Thread] = None
        self._closed = False
        _fork.register(self)
        # At exit: flush and stop, without keeping the client alive for it.
        ref = weakref.ref(self)
        self._atexit = lambda: (c.close() if (c := ref()) is not None else None)
        atexit.register(self._atexit)
        self._start_threads()

    # -- lifecycle ----------------------------------------------------------------------------

    def _start_threads(self) -> None:
        if self._key is not None and snapshot_needed(self):
            self._refresher = threading.Thread(target=self._refresh_loop, name="vane-refresh", daemon=True)
            self._refresher.start()
        if self._events_on:
            self._worker.start()

    def _refresh_loop(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.refresh_interval if self._ready.is_set() else min(1.0, self.refresh_interval))

    def refresh(self) -> bool:
        """Fetches the snapshot once (one step of the refresher); True when a new one was
        installed. Failures keep the last good snapshot and are kept in `last_error`."""
        try:
            response = self._http.get(f"{self.url}/v1/config", headers=self._config_headers(self._key))
        except httpx.HTTPError as error:
            self.last_error = f"GET /v1/config: {error}"
            log.warning("vane: %s", self.last_error)
            return False
        installed = self._install(response.status_code, response.text, response.headers.get("etag"))
        if installed:
            self._ready.set()
        return installed

    def wait_until_ready(self, timeout: float = 10.0) -> bool:
        """Waits for the first snapshot; True when there is one."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Sends every queued event now; True when the queue is empty."""
        if not self._events_on:
            return True
        return self._worker.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stops the refresher, sends what is queued, stops the event thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._events_on:
            self._worker.flush(timeout)
            self._worker.stop(timeout)
        if self._refresher is not None:
            self._refresher.join(timeout)
        self._http.close()
        atexit.unregister(self._atexit)

    def __enter__(self) -> VaneClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _after_fork_in_child(self) -> None:
        """The child of a fork: new connections, locks and threads; the parent's queued events
        stay the parent's."""
        if self._closed:
            return
        self._http = self._http_factory()
        self._stop = threading.Event()
        self._exposures.after_fork()
        self._worker.after_fork()
        self._refresher = None
        self._start_threads()

    @property
    def threads_alive(self) -> dict[str, bool]:
        """Which background threads run (for health checks and tests)."""
        return {
            "refresh": self._refresher is not None and self._refresher.is_alive(),
            "events": self._worker.alive,
        }

    def _send_events(self, batch: list[dict[str, Any]]) -> Outcome:
        try:
            response = self._http.post(
                f"{self.url}/v1/events",
                json={"events": batch},
                headers={"authorization": f"Bearer {self._key}", "user-agent": _user_agent()},
            )
        except httpx.HTTPError as error:
            log.warning("vane: POST /v1/events: %s", error)
            return Outcome.RETRY
        outcome = classify(response.status_code)
        if outcome is Outcome.SENT:
            rejected = response.json().get("rejected") or []
            if rejected:
                log.warning("vane: the edge rejected %d events: %s", len(rejected), rejected[:3])
        elif outcome is Outcome.DROP:
            log.warning("vane: the edge refused a batch (%d): %s", response.status_code, response.text[:200])
        return outcome


def snapshot_needed(client: VaneClient) -> bool:
    """A client built from a snapshot alone has nothing to refresh from."""
    return client.url != "" and client._key is not None
