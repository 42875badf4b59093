"""`AsyncVaneClient`: the local client for asyncio applications (FastAPI, Starlette, aiohttp).

Evaluation is the same in-process engine call as in `VaneClient` (microseconds, no I/O, so
the methods are plain functions that are safe to call on the event loop); the snapshot refresh
and the event delivery are asyncio tasks over `httpx.AsyncClient` instead of threads.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Optional

import httpx

from vane._core import ExposureLog
from vane._events import EventBuffer, Outcome, backoff, classify
from vane._native import Engine
from vane.client import DEFAULT_URL, LocalEvaluator, _user_agent

log = logging.getLogger("vane")


class AsyncVaneClient(LocalEvaluator):
    """Same options and evaluation API as `VaneClient`; start it with `await client.start()`
    or `async with AsyncVaneClient(...) as client:`, stop it with `await client.close()`."""

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
        http_client: Optional[Callable[[], httpx.AsyncClient]] = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._key = server_key
        self.refresh_interval = refresh_interval
        self._http = (http_client or (lambda: httpx.AsyncClient(timeout=timeout)))()
        self._engine = Engine(snapshot) if snapshot is not None else None
        self._etag = None
        self._ready_flag = self._engine is not None
        self.last_error = None
        self._log_exposures = log_exposures and events
        self._exposures = ExposureLog(exposure_cache_size)
        self._events_on = events and server_key is not None
        self._buffer = EventBuffer(max_queue, batch_size)
        self.flush_interval = flush_interval
        self.max_retries = max_retries
        self._tasks: list[asyncio.Task[None]] = []
        self._wake: Optional[asyncio.Event] = None
        self._buffer.on_full = self._wake_soon
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._closed = False

    def _wake_soon(self) -> None:
        loop = self._loop
        wake = self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def start(self, wait: float = 10.0) -> bool:
        """Fetches the first snapshot (waiting at most `wait` seconds) and starts the refresh
        and event tasks; True when a snapshot is loaded."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self._key is not None and not self._tasks:
            try:
                await asyncio.wait_for(self.refresh(), wait)
            except asyncio.TimeoutError:
                self.last_error = f"no snapshot within {wait} s"
            self._tasks.append(asyncio.create_task(self._refresh_loop()))
        if self._events_on:
            self._tasks.append(asyncio.create_task(self._events_loop()))
        return self.ready

    @property
    def ready(self) -> bool:
        return self._ready_flag

    async def refresh(self) -> bool:
        """One step of the refresher (see `VaneClient.refresh`)."""
        try:
            response = await self._http.get(f"{self.url}/v1/config", headers=self._config_headers(self._key))
        except httpx.HTTPError as error:
            self.last_error = f"GET /v1/config: {error}"
            log.warning("vane: %s", self.last_error)
            return False
        return self._install(response.status_code, response.text, response.headers.get("etag"))

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval if self.ready else min(1.0, self.refresh_interval))
            await self.refresh()

    async def _send(self, batch: list[dict[str, Any]]) -> Outcome:
        try:
            response = await self._http.post(
                f"{self.url}/v1/events",
                json={"events": batch},
                headers={"authorization": f"Bearer {self._key}", "user-agent": _user_agent()},
            )
        except httpx.HTTPError as error:
            log.warning("vane: POST /v1/events: %s", error)
            return Outcome.RETRY
        return classify(response.status_code)

    async def _deliver(self, batch: list[dict[str, Any]], retries: int) -> None:
        for attempt in range(retries + 1):
            outcome = await self._send(batch)
            if outcome is Outcome.SENT:
                self._buffer.sent += len(batch)
                return
            if outcome is Outcome.DROP or attempt == retries:
                self._buffer.failed += len(batch)
                log.warning("vane: dropped %d events (%s)", len(batch), outcome.value)
                return
            await asyncio.sleep(backoff(attempt + 1))

    async def _events_loop(self) -> None:
        wake = self._wake or asyncio.Event()
        while True:
            try:
                await asyncio.wait_for(wake.wait(), self.flush_interval)
            except asyncio.TimeoutError:
                pass
            wake.clear()
            while batch := self._buffer.take():
                await self._deliver(batch, self.max_retries)

    async def flush(self) -> None:
        """Sends every queued event now."""
        while batch := self._buffer.take():
            await self._deliver(batch, self.max_retries)

    async def close(self) -> None:
        """Stops the tasks after sending what is queued; idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._events_on:
            while batch := self._buffer.take():
                await self._deliver(batch, 1)
        await self._http.aclose()

    async def __aenter__(self) -> AsyncVaneClient:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
