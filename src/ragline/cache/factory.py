"""``make_cache``: the query cache the ``[cache]`` settings describe.

Example::

    cache = make_cache(settings.cache, semantic_default=False)
"""

from __future__ import annotations

from ragline.cache.base import CacheBackend
from ragline.cache.query_cache import QueryCache
from ragline.settings import CacheSettings


def make_backend(s: CacheSettings) -> CacheBackend:
    """The backend ``cache.backend`` names (Redis connects on first use)."""
    if s.backend == "redis":
        from ragline.cache.redis import RedisBackend

        return RedisBackend(s.redis_url, key_prefix=s.key_prefix, timeout_s=s.redis_timeout_s)
    from ragline.cache.memory import MemoryBackend

    return MemoryBackend(max_entries=s.max_entries)


def make_cache(s: CacheSettings, *, semantic_default: bool = False) -> QueryCache | None:
    """The query cache, or None when ``cache.enabled`` is false. ``semantic_default`` decides
    ``cache.semantic = "auto"`` (the engine passes whether an LLM answers)."""
    if not s.enabled:
        return None
    return QueryCache(
        make_backend(s),
        ttl_s=s.ttl_s,
        retrieval=s.retrieval,
        answers=s.answers,
        semantic=s.semantic == "on" or (s.semantic == "auto" and semantic_default),
        semantic_threshold=s.semantic_threshold,
        semantic_max_per_scope=s.semantic_max_per_scope,
    )
