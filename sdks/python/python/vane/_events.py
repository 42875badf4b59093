"""The event queue: bounded, batched, retried with backoff; never blocks the caller.

`EventBuffer` holds the events and decides batches and delays; `EventWorker` (a thread) and
the async client's task deliver them through a `send` callable that says what happened.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
from collections import deque
from typing import Any, Callable, Optional

from vane._core import MAX_EVENTS_PER_BATCH

log = logging.getLogger("vane")


class Outcome(enum.Enum):
    """What delivering one batch did."""

    SENT = "sent"
    #: A temporary failure (network, 429, 5xx): send the same batch again later.
    RETRY = "retry"
    #: The edge refused the batch for good (400/401/403/413/422): drop it.
    DROP = "drop"


def classify(status: int) -> Outcome:
    if status in (200, 202):
        return Outcome.SENT
    if status == 429 or status >= 500 or status == 408:
        return Outcome.RETRY
    return Outcome.DROP


def backoff(attempt: int, base: float = 0.2, cap: float = 10.0) -> float:
    """Seconds to wait before retry `attempt` (1, 2, ...): exponential with full jitter."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


class EventBuffer:
    """A bounded queue of event records. `put` drops (and counts) when full, never waits."""

    def __init__(self, max_size: int = 10_000, batch_size: int = 100) -> None:
        self.max_size = max_size
        self.batch_size = max(1, min(batch_size, MAX_EVENTS_PER_BATCH))
        self._events: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self.dropped = 0
        self.sent = 0
        self.failed = 0
        #: Called (outside the lock) when a batch is full, to wake the sender early.
        self.on_full: Optional[Callable[[], None]] = None

    def put(self, event: dict[str, Any]) -> bool:
        with self._lock:
            if len(self._events) >= self.max_size:
                self.dropped += 1
                return False
            self._events.append(event)
            full = len(self._events) >= self.batch_size
        if full and self.on_full is not None:
            self.on_full()
        return True

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            n = min(self.batch_size, len(self._events))
            return [self._events.popleft() for _ in range(n)]

    def requeue_front(self, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            self._events.extendleft(reversed(batch))

    def __len__(self) -> int:
        return len(self._events)

    def after_fork(self) -> None:
        """In a forked child: the parent's events are the parent's to send."""
        self._lock = threading.Lock()
        self._events.clear()


Send = Callable[[list[dict[str, Any]]], Outcome]


class EventWorker:
    """A daemon thread that flushes `buffer` every `interval` seconds (or when a batch is
    full), retrying a failed batch up to `max_retries` times with backoff."""

    def __init__(self, buffer: EventBuffer, send: Send, interval: float = 1.0, max_retries: int = 5) -> None:
        self.buffer = buffer
        self.send = send
        self.interval = interval
        self.max_retries = max_retries
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._thread: Optional[threading.Thread] = None
        buffer.on_full = self._wake.set

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="vane-events", daemon=True)
            self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def deliver_once(self) -> bool:
        """Sends one batch (with its retries). False when there was nothing to send."""
        batch = self.buffer.take()
        if not batch:
            return False
        with self._idle:
            self._busy = True
        try:
            for attempt in range(self.max_retries + 1):
                try:
                    outcome = self.send(batch)
                except Exception as error:  # a bug in transport code must not kill the thread
                    log.warning("vane: sending events failed: %s", error)
                    outcome = Outcome.RETRY
                if outcome is Outcome.SENT:
                    self.buffer.sent += len(batch)
                    return True
                if outcome is Outcome.DROP or attempt == self.max_retries:
                    self.buffer.failed += len(batch)
                    log.warning("vane: dropped %d events (%s)", len(batch), outcome.value)
                    return True
                if self._stop.wait(backoff(attempt + 1)):
                    # Closing: one last try happens in flush(); keep the batch.
                    self.buffer.requeue_front(batch)
                    return True
            return True
        finally:
            with self._idle:
                self._busy = False
                self._idle.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            while not self._stop.is_set() and self.deliver_once():
                pass

    def flush(self, timeout: float = 5.0) -> bool:
        """Sends everything queued now, from the calling thread; True when the queue emptied."""
        import time

        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
        while len(self.buffer) and time.monotonic() < deadline:
            batch = self.buffer.take()
            try:
                outcome = self.send(batch)
            except Exception as error:
                log.warning("vane: sending events failed: %s", error)
                outcome = Outcome.RETRY
            if outcome is Outcome.SENT:
                self.buffer.sent += len(batch)
            elif outcome is Outcome.DROP:
                self.buffer.failed += len(batch)
            else:
                self.buffer.requeue_front(batch)
                if not self._stop.is_set():
                    time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
                else:
                    break
        return len(self.buffer) == 0

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def after_fork(self) -> None:
        """In a forked child the thread is gone: fresh primitives; `start` makes a new one."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._thread = None
        self.buffer.after_fork()
        self.buffer.on_full = self._wake.set
