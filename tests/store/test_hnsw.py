"""The in-memory dense graph (store.ann_engine = "faiss", ragline.store.hnsw) of a LanceStore above
its ANN threshold: built by finalize for the version it indexes, used only for unfiltered searches
of that version, never returning a deleted or replaced row, and written only when the table changed."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from ragline.settings import Settings
from ragline.store.base import Candidate, SourceBatch
from ragline.store.filters import And, Visible, matches, parse_filter
from ragline.store.hnsw import DIRNAME, GRAPH_FORMAT, graph_version
from ragline.store.lance import LanceStore
from ragline.testing.store_contract import (
    DIM,
    dense_hits,
    filter_values,
    make_chunks,
    vectors_for,
    with_random_access,
)
from ragline.types import Principal

THRESHOLD = 256


def _store(root: Path, **kw: Any) -> LanceStore:
    # The graph is opt-in (store.ann_engine = "faiss"); these tests are about it.
    kw.setdefault("ann_engine", "faiss")
    return LanceStore(root, dimension=DIM, model_id="m", ann_threshold=THRESHOLD, **kw)


def _graph_files(root: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in (root / DIRNAME).iterdir()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any], np.ndarray]:
    """A finalized collection of 600 chunks above the threshold, with random access and metadata."""
    root = tmp_path_factory.mktemp("hnsw") / "c"
    chunks = with_random_access(make_chunks(300, "/a", seed=1), seed=2)
    vecs = vectors_for(chunks, 1)
    store = _store(root)
    store.upsert([SourceBatch("/a", "h", chunks, vecs)])
    store.finalize()
    return root, chunks, vecs


def test_finalize_builds_the_graph_of_the_final_version_and_unfiltered_search_uses_it(
    built: tuple[Path, list[Any], np.ndarray],
) -> None:
    root, chunks, vecs = built
    store = _store(root)
    assert store.stats().vector_index == "IvfHnswSq"  # LanceDB's index stays, for filtered searches
    assert graph_version(root) == store.read_version
    q = np.random.default_rng(5).normal(size=DIM).astype(np.float32)
    got = store.dense_candidates(q, 20)
    assert store._graph is not None and store._graph.table_version == store.read_version
    exact = vecs @ (q / np.linalg.norm(q))
    want = np.argsort(-exact)[:20]
    # 600 points, ef >= 96: the graph finds the exact top 20, with exact cosines (float32 vectors).
    assert [c.chunk_id for c in got] == [chunks[i].id for i in want]
    assert [c.score for c in got] == pytest.approx([float(exact[i]) for i in want], abs=1e-5)
    # A label maps to the row it indexes: the fetched chunks are the searched ones.
    by_id = {c.id: c for c in chunks}
    assert [h.chunk for h in dense_hits(store, q, 5)] == [by_id[c.chunk_id] for c in got[:5]]
    # More than the collection holds: every row once.
    assert sorted(c.chunk_id for c in store.dense_candidates(q, 5000)) == sorted(by_id)


def test_filtered_searches_keep_lancedb_and_never_cross_an_access_boundary(
    built: tuple[Path, list[Any], np.ndarray],
) -> None:
    root, chunks, _ = built
    faiss, lance = _store(root), _store(root, ann_engine="lance")
    principal = Principal("acme", ("eng",), 1)
    rng = np.random.default_rng(9)
    for f in (Visible(principal), And((Visible(principal), parse_filter({"year": {"$gte": 2010}})))):
        allowed = {c.id for c in chunks if matches(f, filter_values(c), c.access)}
        assert 0 < len(allowed) < len(chunks)
        for _ in range(5):
            q = rng.normal(size=DIM).astype(np.float32)
            got = faiss.dense_candidates(q, 30, f)
            assert got and {c.chunk_id for c in got} <= allowed
            # The same path as the LanceDB engine: identical results.
            assert got == lance.dense_candidates(q, 30, f)
    assert faiss._graph is None  # never loaded: every search here had a filter


def test_a_changed_table_never_uses_the_stale_graph_until_finalize_rebuilds_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "c"
    chunks = make_chunks(150, "/a", seed=3)
    other = make_chunks(40, "/b", seed=4)
    store = _store(root)
    store.upsert([SourceBatch("/a", "h", chunks, vectors_for(chunks, 3))])
    store.upsert([SourceBatch("/b", "h", other, vectors_for(other, 4))])
    store.finalize()
    built_at = graph_version(root)
    gone = other[0]
    q = vectors_for(other, 4)[0]
    assert store.dense_candidates(q, 5)[0].chunk_id == gone.id  # through the graph
    # Replace source /b: its old chunks are deleted, new ones written; the graph still lists them.
    new = make_chunks(40, "/b", seed=40)
    new = [replace(c, id="new-" + c.id) for c in new]
    store.upsert([SourceBatch("/b", "h2", new, vectors_for(new, 40))])
    files = _graph_files(root)
    with caplog.at_level(logging.INFO, logger="ragline.store.lance"):
        for _ in range(3):
            found = {c.chunk_id for c in store.dense_candidates(q, 400)}
            assert not found & {c.id for c in other}, "a replaced row came back from the stale graph"
            assert {c.id for c in new} <= found
    stale = [r for r in caplog.records if "indexes table version" in r.getMessage()]
    assert len(stale) == 1  # the reason is logged once
    assert _graph_files(root) == files  # a query never writes
    store.finalize()
    assert graph_version(root) == store.read_version != built_at
    found = {c.chunk_id for c in store.dense_candidates(q, 400)}
    assert store._graph is not None and store._graph.table_version == store.read_version
    assert not found & {c.id for c in other} and {c.id for c in new} <= found
    # Only the current graph's files are kept.
    assert sorted(_graph_files(root)) == sorted(
        ["current.json", f"v{store.read_version}.faiss", f"v{store.read_version}.rows.arrow"]
    )


def test_finalize_of_an_unchanged_table_writes_no_graph(built: tuple[Path, list[Any], np.ndarray]) -> None:
    root, _, _ = built
    files = _graph_files(root)
    _store(root).finalize()
    assert _graph_files(root) == files


def test_a_graph_of_another_format_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "c"
    chunks = make_chunks(150, "/a", seed=6)
    store = _store(root)
    store.upsert([SourceBatch("/a", "h", chunks, vectors_for(chunks, 6))])
    store.finalize()
    meta_path = root / DIRNAME / "current.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "format": GRAPH_FORMAT + 1}))
    fresh = _store(root)
    q = vectors_for(chunks, 6)[3]
    assert fresh.dense_candidates(q, 3)[0].chunk_id == chunks[3].id  # LanceDB's index answers
    assert fresh._graph is None
    fresh.finalize()  # rebuilt in this format, though the table did not change
    assert graph_version(root) == fresh.read_version
    assert fresh.dense_candidates(q, 3)[0].chunk_id == chunks[3].id and fresh._graph is not None


def test_the_lance_engine_and_small_collections_build_no_graph(tmp_path: Path) -> None:
    chunks = make_chunks(150, "/a", seed=7)
    vecs = vectors_for(chunks, 7)
    lance = _store(tmp_path / "lance", ann_engine="lance")
    small = LanceStore(tmp_path / "small", dimension=DIM, model_id="m", ann_threshold=1000)
    for store in (lance, small):
        store.upsert([SourceBatch("/a", "h", chunks, vecs)])
        store.finalize()
        assert not (store.root / DIRNAME).exists()
    assert lance.dense_candidates(vecs[0], 1)[0].chunk_id == chunks[0].id
    with pytest.raises(ValidationError, match="ann_engine"):
        Settings.model_validate({"store": {"ann_engine": "hnswlib"}})
    assert Settings().store.ann_engine == "lance"


def test_concurrent_searches_share_one_graph(built: tuple[Path, list[Any], np.ndarray]) -> None:
    """The server searches from many threads at once: each search passes its own ef, the graph is
    only read, so concurrent results equal serial ones."""
    root, _, _ = built
    store = _store(root)
    qs = np.random.default_rng(11).normal(size=(64, DIM)).astype(np.float32)

    def search(i: int) -> list[Candidate]:
        return store.dense_candidates(qs[i], 40 + i % 3 * 40)  # three depths, so three ef values

    serial = [search(i) for i in range(len(qs))]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(search, range(len(qs)))) == serial
    assert store._graph is not None


def test_the_graph_build_logs_its_progress(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    chunks = make_chunks(300, "/a", seed=3)
    store = _store(tmp_path / "c")
    store.upsert([SourceBatch("/a", "h", chunks, vectors_for(chunks, 3))])
    with caplog.at_level(logging.INFO, logger="ragline.store.lance"):
        store.finalize()
    assert f"dense graph: adding rows 1-{len(chunks)} of {len(chunks)}" in caplog.text
