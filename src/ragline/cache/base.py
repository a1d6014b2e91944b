"""The ``CacheBackend`` protocol: bytes under string keys with a time to live, and bounded lists.

Values are bytes (JSON, never pickle: a shared Redis must not be able to run code in a reader).
A backend never raises for a lost connection: :class:`~ragline.errors.CacheUnavailable` is raised
and the cache layer turns it into a miss, so a cache outage slows requests down but fails none.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class CacheBackend(Protocol):
    """Where cache entries live. ``name`` appears in logs and errors."""

    name: str

    def get(self, key: str) -> bytes | None:
        """The value under ``key``, or None when absent or expired."""
        ...

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store ``value`` under ``key`` for ``ttl_s`` seconds."""
        ...

    def push(self, key: str, value: bytes, ttl_s: float, max_len: int) -> None:
        """Prepend ``value`` to the list under ``key``, keep its newest ``max_len`` items and let
        the whole list expire ``ttl_s`` seconds from now."""
        ...

    def items(self, key: str) -> list[bytes]:
        """The list under ``key``, newest first (empty when absent or expired)."""
        ...

    def clear(self) -> None:
        """Drop every entry this backend holds (under its key prefix)."""
        ...
