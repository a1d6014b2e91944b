"""Rate limits and daily quotas per API key and per tenant, answered with 429 and ``Retry-After``.

Requests per minute are token buckets (a minute's worth of burst, refilled continuously), kept in
this process or, with ``limits.redis_url``, in Redis so every replica draws from the same bucket.
Daily token and cost quotas are read from the usage the state store records per key and UTC day
(:meth:`~ragline.service_state.StateStore.record_usage`), which replicas share already; the request that
crosses a quota is served (its cost is known only afterwards), the next one is refused.

Example::

    limiter = Limiter(settings.limits, state)
    limiter.check(caller)      # raises RateLimited (429) with retry_after_s
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Protocol

from ragline.errors import ConfigError, RaglineError
from ragline.server.auth import Caller
from ragline.service_state import StateStore
from ragline.service_state.base import utc_day
from ragline.settings import LimitSettings, QuotaSettings

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)


class RateLimited(RaglineError):
    """A key or tenant is over a limit (429); ``retry_after_s`` says when to come back."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class Buckets(Protocol):
    """Token buckets by name: :meth:`take` one token, returning 0 or the seconds until one is free."""

    def take(self, name: str, per_minute: int) -> float: ...


class LocalBuckets:
    """Buckets in this process (one replica)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)

    def take(self, name: str, per_minute: int) -> float:
        rate, now = per_minute / 60.0, time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(name, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - at) * rate)
            if tokens >= 1:
                self._buckets[name] = (tokens - 1, now)
                return 0.0
            self._buckets[name] = (tokens, now)
            return (1 - tokens) / rate


# The same bucket, atomically in Redis, timed by the Redis server's clock (replicas' clocks may
# disagree). Returns the wait as a string: Lua numbers become integers on the way out.
_TAKE_LUA = """
local rate = tonumber(ARGV[1]) / 60.0
local cap = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or cap
local at = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 120)
return tostring(wait)
"""


class RedisBuckets:
    """Buckets in Redis, shared by every replica pointed at the same server. While Redis cannot be
    reached requests are let through (logged): a limiter outage must not become a service outage."""

    def __init__(self, url: str, prefix: str = "ragline:rate:") -> None:
        try:
            import redis
        except ImportError:
            raise ConfigError(
                "limits.redis_url needs the Redis client: pip install 'ragline[redis]'"
            ) from None
        self.prefix = prefix
        self._client: redis.Redis = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._take = self._client.register_script(_TAKE_LUA)
        self._warned_at = -math.inf

    def take(self, name: str, per_minute: int) -> float:
        import redis

        try:
            return float(self._take(keys=[self.prefix + name], args=[per_minute]))
        except redis.RedisError as exc:
            now = time.monotonic()
            if now - self._warned_at > 60:  # once a minute, not once a request
                self._warned_at = now
                log.warning("rate limits not enforced: Redis at limits.redis_url failed: %s", exc)
            return 0.0

    def close(self) -> None:
        self._client.close()


def make_buckets(settings: LimitSettings) -> Buckets:
    """Redis buckets when ``limits.redis_url`` is set, else buckets in this process."""
    return RedisBuckets(settings.redis_url) if settings.redis_url else LocalBuckets()


def _seconds_to_utc_midnight(now: float) -> float:
    return 86_400 - now % 86_400


class Limiter:
    """Checks a caller against its key's and its tenant's limits before an expensive request."""

    def __init__(self, settings: LimitSettings, state: StateStore, buckets: Buckets | None = None) -> None:
        self.settings = settings
        self.state = state
        self.buckets = buckets or make_buckets(settings)

    def check(self, caller: Caller) -> None:
        """Raise :class:`RateLimited` when the caller's key or tenant is over a quota or its
        per-minute rate; otherwise take one request from both buckets."""
        key = self.settings.for_key(caller.key_id)
        tenant = self.settings.for_tenant(caller.tenant)
        if _has_daily(key) or _has_daily(tenant):
            self._check_daily(caller, key, tenant)
        for who, name, q in (
            (f"key {caller.key_id}", f"key:{caller.key_id}", key),
            (f"tenant {caller.tenant!r}", f"tenant:{caller.tenant}", tenant),
        ):
            if q.requests_per_minute:
                wait = self.buckets.take(name, q.requests_per_minute)
                if wait > 0:
                    raise RateLimited(
                        f"{who} is over its limit of {q.requests_per_minute} requests per minute; retry in "
                        f"{math.ceil(wait)} s (the operator sets limits.key / limits.tenant / "
                        "limits.keys.<id> / limits.tenants.<name>.requests_per_minute)",
                        wait,
                    )

    def _check_daily(self, caller: Caller, key: QuotaSettings, tenant: QuotaSettings) -> None:
        now = time.time()
        rows = self.state.list_usage(tenant=caller.tenant, since_day=utc_day(now))
        mine = [r for r in rows if r.key_id == caller.key_id]
        for who, q, used in (
            (f"key {caller.key_id}", key, mine),
            (f"tenant {caller.tenant!r}", tenant, rows),
        ):
            tokens = sum(r.prompt_tokens + r.completion_tokens for r in used)
            cost = sum(r.cost_usd for r in used)
            over = None
            if q.tokens_per_day and tokens >= q.tokens_per_day:
                over = f"{tokens:,} of its {q.tokens_per_day:,} LLM tokens per day"
            elif q.cost_per_day_usd and cost >= q.cost_per_day_usd:
                over = f"${cost:.4f} of its ${q.cost_per_day_usd:g} LLM cost per day"
            if over:
                wait = _seconds_to_utc_midnight(now)
                raise RateLimited(
                    f"{who} has used {over}; the quota resets at 00:00 UTC, in {math.ceil(wait)} s "
                    "(the operator sets limits.*.tokens_per_day / cost_per_day_usd)",
                    wait,
                )


def _has_daily(q: QuotaSettings) -> bool:
    return bool(q.tokens_per_day or q.cost_per_day_usd)
