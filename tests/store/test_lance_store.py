"""LanceStore against the Store contract, plus LanceDB-specific behaviour (ANN index, model pinning)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.errors import StoreError
from ragline.store.base import SourceBatch
from ragline.store.lance import LanceStore
from ragline.types import Chunk
from tests.store.contract import StoreContract


class TestLanceContract(StoreContract):
    def make_store(self, root: Path, dimension: int, **kw: Any) -> LanceStore:
        return LanceStore(root, dimension=dimension, model_id="test-model", **kw)


def test_model_mismatch_is_refused(tmp_path: Path) -> None:
    LanceStore(tmp_path / "c", dimension=4, model_id="m1").stats()
    with pytest.raises(StoreError, match="m1"):
        LanceStore(tmp_path / "c", dimension=4, model_id="m2").stats()


def clustered(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim))
    v = centers[rng.integers(0, clusters, n)] + 0.35 * rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.slow
def test_ann_index_built_above_threshold_keeps_recall(tmp_path: Path) -> None:
    n, dim = 6000, 32
    vecs = clustered(n + 50, dim, 40, seed=7)
    data, queries = vecs[:n], vecs[n:]
    chunks = [
        Chunk(id=f"c{i}", doc_id=f"d{i}", text=f"t{i}", position=0, start=0, end=2, source="/s")
        for i in range(n)
    ]
    store = LanceStore(tmp_path / "ann", dimension=dim, model_id="m", ann_threshold=5000)
    store.upsert([SourceBatch("/s", "h", chunks, data)])
    store.finalize()
    assert store.stats().vector_index == "IvfHnswSq"
    recalls = []
    for q in queries:
        exact = {f"c{i}" for i in np.argsort(-(data @ q))[:10]}
        got = {h.chunk.id for h in store.search_dense(q, 10)}
        recalls.append(len(exact & got) / 10)
    assert float(np.mean(recalls)) >= 0.97
    # Deep cut-offs (evaluation asks for hundreds of candidates) must work through the index too.
    deep = store.search_dense(queries[0], 300)
    assert len(deep) == 300
    assert len(store.dense_candidates(queries[0], 1200)) == 1200


def test_below_threshold_search_is_exact_without_index(tmp_path: Path) -> None:
    vecs = clustered(300, 8, 5, seed=1)
    chunks = [
        Chunk(id=f"c{i}", doc_id=f"d{i}", text="x", position=0, start=0, end=1, source="/s")
        for i in range(300)
    ]
    store = LanceStore(tmp_path / "exact", dimension=8, model_id="m", ann_threshold=1000)
    store.upsert([SourceBatch("/s", "h", chunks, vecs)])
    store.finalize()
    assert store.stats().vector_index is None
    q = vecs[17]
    assert [h.chunk.id for h in store.search_dense(q, 10)] == [f"c{i}" for i in np.argsort(-(vecs @ q))[:10]]


def test_collection_written_before_access_control_is_migrated(tmp_path: Path) -> None:
    """A table without the ACL columns gains them, readable by the default tenant only."""
    import lancedb
    import pyarrow as pa

    from ragline.store.filters import Visible
    from ragline.types import Principal

    store = LanceStore(tmp_path / "old", dimension=4, model_id="m")
    ch = [Chunk(id="c1", doc_id="d1", text="alpha beta", position=0, start=0, end=10, source="/s")]
    store.upsert([SourceBatch("/s", "h", ch, np.ones((1, 4), np.float32) / 2)])
    # Rewrite the table as the previous release did: no acl_* columns.
    db = lancedb.connect(str(tmp_path / "old"))
    tbl = db.open_table("chunks")
    old = tbl.to_arrow()
    keep = [n for n in old.schema.names if not n.startswith("acl_")]
    db.drop_table("chunks")
    db.create_table("chunks", old.select(keep), schema=pa.schema([old.schema.field(n) for n in keep]))

    reopened = LanceStore(tmp_path / "old", dimension=4, model_id="m")
    q = np.ones(4, np.float32) / 2
    assert [h.chunk.id for h in reopened.search_dense(q, 5, Visible(Principal()))] == ["c1"]
    assert reopened.search_dense(q, 5, Visible(Principal("acme", ("eng",), 9))) == []
    assert reopened.search_dense(q, 5)[0].chunk.access.tenant == "default"


def test_a_replica_with_read_consistency_sees_another_writers_commits(tmp_path: Path) -> None:
    """Two processes (replicas) on one data directory: the reader follows the writer's commits."""
    writer = LanceStore(tmp_path / "c", dimension=4, model_id="m")
    reader = LanceStore(tmp_path / "c", dimension=4, model_id="m", read_consistency_s=0)
    q = np.ones(4, np.float32) / 2
    first = [Chunk(id="c1", doc_id="d1", text="alpha", position=0, start=0, end=5, source="/a")]
    writer.upsert([SourceBatch("/a", "h", first, np.ones((1, 4), np.float32) / 2)])
    assert [h.chunk.id for h in reader.search_dense(q, 5)] == ["c1"]
    second = [Chunk(id="c2", doc_id="d2", text="beta", position=0, start=0, end=4, source="/b")]
    writer.upsert([SourceBatch("/b", "h", second, np.ones((1, 4), np.float32) / 2)])
    writer.finalize()
    assert {h.chunk.id for h in reader.search_dense(q, 5)} == {"c1", "c2"}
    assert {h.chunk.id for h in reader.search_keyword("beta", 5)} == {"c2"}
