"""The in-process cache backend: a bounded LRU with a time to live per entry.

Example::

    b = MemoryBackend(max_entries=1000)
    b.set("k", b"v", ttl_s=60)
    b.get("k")   # b"v"
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class MemoryBackend:
    """Entries in a dict ordered by use; the least recently used goes when ``max_entries`` is
    exceeded, and an expired one when it is read. Thread-safe."""

    name = "memory"

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._now = time.monotonic
        self._entries: OrderedDict[str, tuple[float, bytes | list[bytes]]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, key: str) -> bytes | list[bytes] | None:
        """The entry under ``key`` if it has not expired (call with the lock held)."""
        found = self._entries.get(key)
        if found is None:
            return None
        expires, value = found
        if expires <= self._now():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def _put(self, key: str, value: bytes | list[bytes], ttl_s: float) -> None:
        self._entries[key] = (self._now() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._live(key)
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        with self._lock:
            self._put(key, value, ttl_s)

    def push(self, key: str, value: bytes, ttl_s: float, max_len: int) -> None:
        with self._lock:
            old = self._live(key)
            items = [value, *(old if isinstance(old, list) else [])][:max_len]
            self._put(key, items, ttl_s)

    def items(self, key: str) -> list[bytes]:
        with self._lock:
            value = self._live(key)
        return list(value) if isinstance(value, list) else []

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
