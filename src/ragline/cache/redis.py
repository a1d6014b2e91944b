"""The Redis cache backend: entries shared by every replica (``cache.backend = "redis"``).

Needs the ``redis`` client (``pip install 'ragline[redis]'``), imported on first use. Every key
carries ``key_prefix``; values expire by Redis's own TTL; lists are trimmed on each push. A call
that fails or takes longer than ``timeout_s`` raises :class:`~ragline.errors.CacheUnavailable`,
which the cache layer treats as a miss.

Example::

    b = RedisBackend("redis://localhost:6379/0")
    b.set("k", b"v", ttl_s=60)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from ragline.errors import CacheUnavailable, ConfigError

T = TypeVar("T")


class RedisBackend:
    """Cache entries in Redis under ``key_prefix``. Connects on first use."""

    name = "redis"

    def __init__(self, url: str, *, key_prefix: str = "ragline:", timeout_s: float = 0.5) -> None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(
                f"cache.redis_url {url!r} is not a Redis URL; write redis://HOST:PORT/DB "
                "(rediss:// for TLS, unix:///path/to/socket)"
            )
        self.url = url
        self.key_prefix = key_prefix
        self.timeout_s = timeout_s

    @cached_property
    def _client(self) -> Any:
        try:
            import redis
        except ImportError:
            raise ConfigError(
                "cache.backend = 'redis' needs the redis client: pip install 'ragline[redis]'"
            ) from None
        return redis.Redis.from_url(
            self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
        )

    def _call(self, what: str, fn: Callable[[Any], T]) -> T:
        import redis

        try:
            return fn(self._client)
        except redis.RedisError as exc:
            raise CacheUnavailable(f"redis cache at {self.url} failed on {what}: {exc}") from exc

    def get(self, key: str) -> bytes | None:
        value = self._call("get", lambda r: r.get(self.key_prefix + key))
        return bytes(value) if value is not None else None

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        self._call("set", lambda r: r.set(self.key_prefix + key, value, px=max(1, int(ttl_s * 1000))))

    def push(self, key: str, value: bytes, ttl_s: float, max_len: int) -> None:
        k = self.key_prefix + key

        def run(r: Any) -> None:
            # One round trip, applied together: the list never stays untrimmed or without a TTL.
            pipe = r.pipeline(transaction=True)
            pipe.lpush(k, value)
            pipe.ltrim(k, 0, max_len - 1)
            pipe.pexpire(k, max(1, int(ttl_s * 1000)))
            pipe.execute()

        self._call("push", run)

    def items(self, key: str) -> list[bytes]:
        values = self._call("items", lambda r: r.lrange(self.key_prefix + key, 0, -1))
        return [bytes(v) for v in values]

    def clear(self) -> None:
        def run(r: Any) -> None:
            keys = list(r.scan_iter(match=self.key_prefix + "*", count=1000))
            for i in range(0, len(keys), 1000):
                r.delete(*keys[i : i + 1000])

        self._call("clear", run)
