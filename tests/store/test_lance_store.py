"""LanceStore against the Store contract, plus LanceDB-specific behaviour (ANN index, model pinning)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.errors import StoreError
from ragline.store.base import SourceBatch
from ragline.store.filters import And, Visible, parse_filter
from ragline.store.lance import LanceStore
from ragline.testing.store_contract import (
    DIM,
    StoreContract,
    dense_hits,
    keyword_hits,
    make_chunks,
    maxsim_reference,
    units_for,
    vectors_for,
    with_random_access,
)
from ragline.types import Chunk, Principal


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
    # Two or three sentences per chunk, each near the chunk's own vector.
    noise = np.random.default_rng(8)
    units = [data[i] + 0.5 * noise.normal(size=(2 + i % 2, dim)).astype(np.float32) for i in range(n)]
    units = [u / np.linalg.norm(u, axis=1, keepdims=True) for u in units]
    store.upsert([SourceBatch("/s", "h", chunks, data, unit_vectors=units)])
    store.finalize()
    assert store.stats().vector_index == "IvfHnswSq"
    recalls = []
    for q in queries:
        exact = {f"c{i}" for i in np.argsort(-(data @ q))[:10]}
        got = {h.chunk.id for h in dense_hits(store, q, 10)}
        recalls.append(len(exact & got) / 10)
    assert float(np.mean(recalls)) >= 0.97
    # Deep cut-offs (evaluation asks for hundreds of candidates) must work through the index too.
    deep = dense_hits(store, queries[0], 300)
    assert len(deep) == 300
    assert len(store.dense_candidates(queries[0], 1200)) == 1200
    # Unit search goes through its own index (MaxSim per row), with cosine scores.
    unit_recalls = []
    for q in queries:
        ref = dict(maxsim_reference(chunks, units, q)[:10])
        unit_hits = store.unit_candidates(q, 10)
        unit_recalls.append(len(ref.keys() & {c.chunk_id for c in unit_hits}) / 10)
        for c in unit_hits:
            if c.chunk_id in ref:
                assert c.score == pytest.approx(ref[c.chunk_id], abs=1e-5)  # refined: exact cosines
    assert float(np.mean(unit_recalls)) >= 0.9


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
    assert [h.chunk.id for h in dense_hits(store, q, 10)] == [f"c{i}" for i in np.argsort(-(vecs @ q))[:10]]


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
    assert [h.chunk.id for h in dense_hits(reopened, q, 5, Visible(Principal()))] == ["c1"]
    assert dense_hits(reopened, q, 5, Visible(Principal("acme", ("eng",), 9))) == []
    assert dense_hits(reopened, q, 5)[0].chunk.access.tenant == "default"


def test_a_replica_with_read_consistency_sees_another_writers_commits(tmp_path: Path) -> None:
    """Two processes (replicas) on one data directory: the reader follows the writer's commits."""
    writer = LanceStore(tmp_path / "c", dimension=4, model_id="m")
    reader = LanceStore(tmp_path / "c", dimension=4, model_id="m", read_consistency_s=0)
    q = np.ones(4, np.float32) / 2
    first = [Chunk(id="c1", doc_id="d1", text="alpha", position=0, start=0, end=5, source="/a")]
    writer.upsert([SourceBatch("/a", "h", first, np.ones((1, 4), np.float32) / 2)])
    assert [h.chunk.id for h in dense_hits(reader, q, 5)] == ["c1"]
    second = [Chunk(id="c2", doc_id="d2", text="beta", position=0, start=0, end=4, source="/b")]
    writer.upsert([SourceBatch("/b", "h", second, np.ones((1, 4), np.float32) / 2)])
    writer.finalize()
    assert {h.chunk.id for h in dense_hits(reader, q, 5)} == {"c1", "c2"}
    assert {h.chunk.id for h in keyword_hits(reader, "beta", 5)} == {"c2"}


def test_unit_search_above_threshold_matches_the_exact_path(tmp_path: Path) -> None:
    """Past ``ann_threshold`` LanceDB's multivector search serves unit search: same MaxSim ranking."""
    chunks = with_random_access(make_chunks(40, "/a", seed=11), seed=11)
    vecs, units = vectors_for(chunks, 11), units_for(chunks, 11)
    exact = LanceStore(tmp_path / "exact", dimension=DIM, model_id="m")
    # Not finalized: an IVF index over 80 rows is pointless, and the scan path is what is tested.
    lance = LanceStore(tmp_path / "lance", dimension=DIM, model_id="m", ann_threshold=5)
    for store in (exact, lance):
        store.upsert([SourceBatch("/a", "h", chunks, vecs, unit_vectors=units)])
    exact.finalize()
    q = np.random.default_rng(3).normal(size=DIM).astype(np.float32)
    lance_view, exact_view = lance._view(), exact._view()
    assert lance_view is not None and exact_view is not None
    assert lance.unit_candidates(q, 5) and lance._exact_units(lance_view) is None
    assert exact._exact_units(exact_view) is not None
    ref = maxsim_reference(chunks, units, q)
    both = And((Visible(Principal("acme", ("eng",), 1)), parse_filter({"year": {"$gte": 2005}})))
    for f in (None, parse_filter({"doc_type": {"$in": ["paper", "memo"]}}), both):
        for n in (3, 1000):
            want, got = exact.unit_candidates(q, n, f), lance.unit_candidates(q, n, f)
            assert [c.chunk_id for c in got] == [c.chunk_id for c in want]
            assert [c.score for c in got] == pytest.approx([c.score for c in want], abs=1e-5)
    # Chunks without units (an empty list in the column) are never returned by LanceDB either.
    got = lance.unit_candidates(q, 1000)
    assert [c.chunk_id for c in got] == [cid for cid, _ in ref]
    assert [c.score for c in got] == pytest.approx([s for _, s in ref], abs=1e-5)
    by_id = {c.id: c for c in chunks}
    assert lance.fetch_chunks(got[:5]) == [by_id[c.chunk_id] for c in got[:5]]


def test_collection_written_before_unit_vectors_gains_them_on_upsert(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A table without the ``unit_vectors`` column gets it on the first upsert that brings units;
    its older chunks hold none until re-indexed, and every search keeps working."""
    import lancedb
    import pyarrow as pa

    root = tmp_path / "old"
    ch = make_chunks(3, "/s", seed=1, chunks_per_doc=1)
    LanceStore(root, dimension=DIM, model_id="m").upsert([SourceBatch("/s", "h", ch, vectors_for(ch, 1))])
    # Rewrite the table as the previous release did: no unit_vectors column.
    db = lancedb.connect(str(root))
    old = db.open_table("chunks").to_arrow()
    keep = [n for n in old.schema.names if n != "unit_vectors"]
    db.drop_table("chunks")
    db.create_table("chunks", old.select(keep), schema=pa.schema([old.schema.field(n) for n in keep]))

    store = LanceStore(root, dimension=DIM, model_id="m")
    assert store.unit_candidates(vectors_for(ch, 1)[0], 10) == []
    new = make_chunks(2, "/t", seed=2, chunks_per_doc=1)
    with caplog.at_level(logging.INFO, logger="ragline.store.lance"):
        store.upsert([SourceBatch("/t", "h", new, vectors_for(new, 2), unit_vectors=units_for(new, 2))])
    assert sum("added sentence vectors" in r.getMessage() for r in caplog.records) == 1
    assert set(store.source_hashes()) == {"/s", "/t"}
    found = store.unit_candidates(vectors_for(new, 2)[0], 10)
    with_units = {c.id for c, u in zip(new, units_for(new, 2), strict=True) if len(u)}
    assert {c.chunk_id for c in found} == with_units
    assert dense_hits(store, vectors_for(new, 2)[0], 1)[0].chunk.id == new[0].id
    # Re-indexing the old source fills its units too.
    store.upsert([SourceBatch("/s", "h2", ch, vectors_for(ch, 1), unit_vectors=units_for(ch, 1))])
    found = {c.chunk_id for c in store.unit_candidates(vectors_for(ch, 1)[0], 10)}
    assert {c.id for c, u in zip(ch, units_for(ch, 1), strict=True) if len(u)} <= found
    # Shapes are still checked, so a bad batch fails the same way on old and new collections.
    with pytest.raises(StoreError, match="unit vector"):
        store.upsert([SourceBatch("/v", "h", new, vectors_for(new, 2), unit_vectors=[])])


def test_finalize_above_threshold_without_sentence_vectors_builds_no_unit_index(tmp_path: Path) -> None:
    """``chunking.sentence_vectors = "off"`` past ``ann_threshold``: the column holds only empty lists,
    which LanceDB cannot train an index on. Finalize skips it, and unit search finds nothing."""
    n, dim = 300, 16
    vecs = clustered(n, dim, 8, seed=5)
    chunks = [
        Chunk(id=f"c{i}", doc_id=f"d{i}", text=f"t{i}", position=0, start=0, end=2, source="/s")
        for i in range(n)
    ]
    store = LanceStore(tmp_path / "off", dimension=dim, model_id="m", ann_threshold=100)
    store.upsert([SourceBatch("/s", "h", chunks, vecs, unit_vectors=[np.zeros((0, dim), np.float32)] * n)])
    store.finalize()
    indexes = store._index_types()
    assert "vector" in indexes and "unit_vectors" not in indexes
    assert store.unit_candidates(vecs[0], 10) == []
    assert [c.chunk_id for c in store.dense_candidates(vecs[0], 1)] == ["c0"]
    # Once some chunks bring sentence vectors, the next finalize indexes them.
    units = [vecs[i : i + 1] for i in range(n)]
    store.upsert([SourceBatch("/s", "h2", chunks, vecs, unit_vectors=units)])
    store.finalize()
    assert "unit_vectors" in store._index_types()
    assert store.unit_candidates(vecs[0], 1)[0].chunk_id == "c0"
