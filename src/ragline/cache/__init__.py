"""Query caches: search results and answers, exact and semantic, in-process or in Redis.

Every entry is keyed by the tenant, the caller's access fingerprint (groups, clearance; a local
caller apart), the collection's version (its write token and the store's read version, so any
write from any process invalidates it), a fingerprint of the settings that shape the result and
the request itself (query, mode, top_k, normalised filters). The semantic answer cache finds a
cached question within a calibrated cosine similarity inside the same scope.

Example::

    from ragline.cache import make_cache
    cache = make_cache(settings.cache)            # None when cache.enabled is false
    hits = cache.get_hits(key) if cache else None
"""

from ragline.cache.base import CacheBackend
from ragline.cache.factory import make_cache
from ragline.cache.keys import Scope, access_fingerprint, filter_fingerprint, settings_fingerprint
from ragline.cache.query_cache import QueryCache

__all__ = [
    "CacheBackend",
    "QueryCache",
    "Scope",
    "access_fingerprint",
    "filter_fingerprint",
    "make_cache",
    "settings_fingerprint",
]
