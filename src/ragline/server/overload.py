"""Load shedding: a bounded number of expensive requests run at once, a bounded number wait, and
the rest are refused at once with 503 and ``Retry-After``.

Without it every request waits for a worker thread: at 200 concurrent clients the liveness probe
queued behind searches for seconds and the tail latency grew without bound. Requests that wait
here hold no thread, only a coroutine; the probes and cheap routes never pass through.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

# Seconds a shed client is asked to wait; requests here take tens of milliseconds to seconds.
RETRY_AFTER_S = 1


class Slots:
    """``limit`` running, at most ``queue`` waiting in arrival order. Used from one event loop."""

    def __init__(self, limit: int, queue: int) -> None:
        self.limit, self.queue = limit, queue
        self.running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> bool:
        """Take a slot, waiting in the queue if need be; False (at once) when the queue is full."""
        if self.running < self.limit and not self._waiters:
            self.running += 1
            return True
        if len(self._waiters) >= self.queue:
            return False
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # handed a slot just as the client went away: pass it on
            elif fut in self._waiters:
                self._waiters.remove(fut)
            raise
        return True

    def release(self) -> None:
        """Hand the slot to the oldest waiter, or free it."""
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.running -= 1


class ConcurrencyLimit:
    """ASGI middleware: requests matching ``routes`` (method and path) need a slot of ``slots``."""

    def __init__(self, app: ASGIApp, slots: Slots, routes: Sequence[BaseRoute]) -> None:
        self.app, self.slots, self.routes = app, slots, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http":
            route = next((r for r in self.routes if r.matches(scope)[0] == Match.FULL), None)
        if route is None:
            await self.app(scope, receive, send)
            return
        if not await self.slots.acquire():
            scope["route"] = route  # metrics count the shed request under its route
            s = self.slots
            message = (
                f"the server is overloaded ({s.running} requests running, {s.waiting} waiting); retry in "
                f"{RETRY_AFTER_S} s (the operator can raise RAGLINE_SERVER__MAX_CONCURRENT_REQUESTS "
                "and RAGLINE_SERVER__MAX_QUEUE)"
            )
            response = JSONResponse(
                {"error": {"type": "Overloaded", "message": message}},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()
