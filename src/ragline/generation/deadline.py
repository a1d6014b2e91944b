"""One deadline for all of a request's LLM work, shared by every stage through a context variable.

An ask runs up to six LLM stages (multi-query, HyDE, filters, LLM rerank, condenser, generation),
each with its own timeout and retries: against a hanging endpoint that added up to minutes before
the degraded answer. The engine starts one :class:`Deadline` per search or ask; the chat client
reads it (:func:`current`), waits at most the time left and stops retrying when it runs out.

Example::

    dl = Deadline.start(5.0)
    with dl.active():
        chat.complete(messages)            # timeout: min(llm.timeout_s, time left)
    for event in dl.bind(engine_events):   # a stream consumed later, maybe on other threads
        ...
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_CURRENT: ContextVar[Deadline | None] = ContextVar("ragline_llm_deadline", default=None)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point in time (``time.monotonic()``) by which the request's LLM work must be done."""

    at: float
    seconds: float

    @classmethod
    def start(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds, seconds)

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    @contextmanager
    def active(self) -> Iterator[Deadline]:
        """Make this the current deadline for the block (and the threads it copies its context to)."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    def bind(self, events: Iterator[T]) -> Iterator[T]:
        """``events`` with this deadline current while each item is produced. A generator has no
        context of its own and a server may advance it from a different thread each time, so the
        deadline is set around every step rather than once."""
        try:
            while True:
                with self.active():
                    try:
                        item = next(events)
                    except StopIteration:
                        return
                yield item
        finally:
            close = getattr(events, "close", None)
            if close is not None:  # a consumer that stopped early stops the inner stream too
                with self.active():
                    close()


def current() -> Deadline | None:
    """The deadline of the request being served, or None outside one."""
    return _CURRENT.get()


@contextmanager
def request_deadline(seconds: float | None) -> Iterator[Deadline | None]:
    """The current deadline if one is running (a search inside an ask shares the ask's), else a new
    one of ``seconds`` (None: no deadline)."""
    outer = _CURRENT.get()
    if outer is not None or seconds is None:
        yield outer
        return
    with Deadline.start(seconds).active() as dl:
        yield dl
