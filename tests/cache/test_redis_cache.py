"""The Redis backend shares entries between engines (replicas), and its outage fails no request."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.types import Document
from tests.helpers import fast_engine

pytestmark = pytest.mark.integration


def _docs() -> list[Document]:
    return [
        Document(id=f"n{i}", source="notes", text=f"Note {i}: the nimbus launch moved to week {i}.")
        for i in range(4)
    ]


def test_two_engines_share_entries_through_redis(tmp_path: Path, redis_url: str) -> None:
    cache = {"backend": "redis", "redis_url": redis_url, "key_prefix": f"t{tmp_path.name}:"}
    # LanceDB: its table version is the same number in every process, so replicas share keys; and
    # replicas follow each other's commits (read_consistency_s, docs/deployment.md).
    store = {"backend": "lance", "read_consistency_s": 0}
    first = fast_engine(tmp_path, store=store, cache=cache)
    first.upsert_documents(_docs())
    hits = first.search("nimbus launch week")
    answer = first.ask("When did the nimbus launch move?")
    second = fast_engine(tmp_path, store=store, cache=cache)
    assert second.search("nimbus launch week") == hits
    shared = second.ask("When did the nimbus launch move?")
    assert shared.cached is not None and shared.text == answer.text
    assert second.cache is not None and second.cache.counts() == {
        ("retrieval", "hit"): 1,
        ("answer", "hit"): 1,
    }
    # A write through either engine voids the shared entries for both.
    second.delete(["n0"])
    assert first.ask("When did the nimbus launch move?").cached is None
    assert all(h.chunk.doc_id != "n0" for h in first.search("nimbus launch week"))


def test_a_redis_outage_costs_the_cache_not_the_request(tmp_path: Path) -> None:
    cache = {"backend": "redis", "redis_url": "redis://127.0.0.1:1/0", "redis_timeout_s": 0.2}
    e = fast_engine(tmp_path, cache=cache)
    e.upsert_documents(_docs())
    assert e.search("nimbus launch")
    assert e.ask("When did the nimbus launch move?").text
    assert e.cache is not None
    counts = e.cache.counts()
    assert counts[("retrieval", "error")] >= 1 and counts[("answer", "error")] >= 1
    assert ("retrieval", "hit") not in counts
