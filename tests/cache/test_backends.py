"""The cache backends: one contract for the in-process LRU and Redis, and the key parts."""

from __future__ import annotations

import pytest

from ragline.cache import access_fingerprint, filter_fingerprint, settings_fingerprint
from ragline.cache.base import CacheBackend
from ragline.cache.memory import MemoryBackend
from ragline.cache.redis import RedisBackend
from ragline.errors import CacheUnavailable, ConfigError
from ragline.settings import LLMSettings, load_settings
from ragline.store.filters import parse_filter
from ragline.types import Principal


def _contract(b: CacheBackend) -> None:
    assert b.get("absent") is None
    b.set("k", b"v1", 60)
    assert b.get("k") == b"v1"
    b.set("k", b"v2", 60)
    assert b.get("k") == b"v2"
    for i in range(5):
        b.push("list", str(i).encode(), 60, max_len=3)
    assert b.items("list") == [b"4", b"3", b"2"]  # newest first, trimmed
    assert b.items("no-list") == []
    b.clear()
    assert b.get("k") is None and b.items("list") == []


def test_memory_backend_contract() -> None:
    _contract(MemoryBackend())


@pytest.mark.integration
def test_redis_backend_contract(redis_url: str) -> None:
    _contract(RedisBackend(redis_url, key_prefix="contract:"))


def test_memory_backend_expires_and_evicts_least_recently_used() -> None:
    now = [0.0]
    b = MemoryBackend(max_entries=2)
    b._now = lambda: now[0]  # a controlled clock: no sleeping in tests
    b.set("a", b"1", ttl_s=10)
    b.set("b", b"2", ttl_s=100)
    assert b.get("a") == b"1"  # "a" is now the most recently used
    b.set("c", b"3", ttl_s=100)
    assert b.get("b") is None and b.get("a") == b"1" and b.get("c") == b"3"
    now[0] = 10.0
    assert b.get("a") is None and b.get("c") == b"3"


def test_a_redis_outage_is_a_clear_cache_error() -> None:
    # Nothing listens on port 1: the call fails fast with the URL named.
    b = RedisBackend("redis://127.0.0.1:1/0", timeout_s=0.2)
    with pytest.raises(CacheUnavailable, match=r"127\.0\.0\.1:1"):
        b.get("k")


def test_bad_cache_settings_are_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="redis_url"):
        load_settings(cache={"backend": "redis"})
    with pytest.raises(ConfigError, match=r"cache\.ttls"):
        load_settings(cache={"ttls": 3})
    with pytest.raises(ConfigError, match="not a Redis URL"):
        RedisBackend("http://localhost:6379")


def test_access_fingerprint_is_what_decides_access() -> None:
    assert access_fingerprint(None) != access_fingerprint(Principal())
    assert access_fingerprint(Principal("a", ("x", "y"), 1)) == access_fingerprint(
        Principal("a", ("y", "x", "x"), 1)
    )
    distinct = {
        access_fingerprint(p)
        for p in [
            Principal("a", ("x",), 1),
            Principal("b", ("x",), 1),
            Principal("a", ("y",), 1),
            Principal("a", ("x",), 2),
        ]
    }
    assert len(distinct) == 4


def test_filters_that_mean_the_same_share_a_fingerprint() -> None:
    a = parse_filter({"lang": "en", "year": {"$in": [2020, 2021]}})
    b = parse_filter({"year": {"$in": [2021, 2020, 2020]}, "lang": "en"})
    assert filter_fingerprint(a) == filter_fingerprint(b)
    # 1, 1.0 and true may match different rows: kept apart.
    values = [parse_filter({"n": v}) for v in (1, 1.0, True)]
    assert len({filter_fingerprint(f) for f in values}) == 3
    assert filter_fingerprint(parse_filter({"lang": "de"})) != filter_fingerprint(
        parse_filter({"lang": "en"})
    )


def test_settings_fingerprint_ignores_api_keys_but_not_models() -> None:
    base = LLMSettings(base_url="http://x/v1", model="m1")
    keyed = LLMSettings(base_url="http://x/v1", model="m1", api_key="secret")
    assert settings_fingerprint(base) == settings_fingerprint(keyed)
    assert settings_fingerprint(base) != settings_fingerprint(LLMSettings(base_url="http://x/v1", model="m2"))
