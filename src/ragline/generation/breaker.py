"""A circuit breaker per LLM model: after ``failures`` consecutive failures or timeouts the model
is skipped (no call, no wait) until ``cooldown_s`` has passed; then one probe call goes through,
closing the breaker on success or opening it again for another cool-down on failure.

Example::

    breakers = Breakers(failures=5, cooldown_s=30)
    b = breakers.get("gpt-4o-mini")
    if b.allow():
        try:
            call()
            b.success()
        except TimeoutError:
            b.failure()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]
# The gauge value of each state in the metrics (ragline_llm_breaker_state).
STATE_VALUES: dict[State, int] = {"closed": 0, "half_open": 1, "open": 2}


class CircuitBreaker:
    """Thread-safe; ``clock`` is injectable so tests need not sleep through a cool-down."""

    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self.opened = 0  # times it opened, for the metrics

    @property
    def state(self) -> State:
        with self._lock:
            return self._state()

    def _state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._probing or self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go out now. In half-open state only one caller (the probe) gets True
        until it reports back."""
        if self.threshold <= 0:
            return True
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "open" or self._probing:
                return False
            self._probing = True
            return True

    def retry_in(self) -> float:
        """Seconds until the next probe may go out (0 when closed)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def success(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._probing = 0, None, False

    def failure(self) -> None:
        if self.threshold <= 0:
            return
        with self._lock:
            self._failures += 1
            if self._probing or (self._opened_at is None and self._failures >= self.threshold):
                self._opened_at = self._clock()
                self.opened += 1
            self._probing = False

    def release(self) -> None:
        """The probe ended without a verdict (e.g. the request's deadline cut it): let another try."""
        with self._lock:
            self._probing = False


class Breakers:
    """One :class:`CircuitBreaker` per model name, made on first use."""

    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures, self.cooldown_s, self._clock = failures, cooldown_s, clock
        self._by_model: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def get(self, model: str) -> CircuitBreaker:
        with self._lock:
            b = self._by_model.get(model)
            if b is None:
                b = self._by_model[model] = CircuitBreaker(self.failures, self.cooldown_s, self._clock)
            return b

    def states(self) -> dict[str, tuple[State, int]]:
        """Each model's state and how many times its breaker opened (for the metrics)."""
        with self._lock:
            items = list(self._by_model.items())
        return {m: (b.state, b.opened) for m, b in items}
