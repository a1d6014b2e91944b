"""LanceStore against the Store contract, plus LanceDB-specific behaviour (ANN index, model pinning)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.errors import StoreError
from ragline.settings import load_settings
from ragline.store import lance
from ragline.store.base import SourceBatch, searches_in_memory, warm_up
from ragline.store.filters import And, Visible, parse_filter
from ragline.store.lance import LanceStore
from ragline.testing.store_contract import (
    DIM,
    KeywordContract,
    StoreContract,
    VersionContract,
    dense_hits,
    keyword_hits,
    make_chunks,
    maxsim_reference,
    units_for,
    vectors_for,
    with_random_access,
)
from ragline.types import Chunk, Principal


class TestLanceContract(StoreContract, VersionContract):
    def make_store(self, root: Path, dimension: int, **kw: Any) -> LanceStore:
        # The contract checks exact MaxSim scores: float32 sentence vectors (float16, the default,
        # is checked against them in test_compact_forms.py).
        kw.setdefault("sentence_vector_dtype", "float32")
        return LanceStore(root, dimension=dimension, model_id="test-model", **kw)


def clustered(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim))
    v = centers[rng.integers(0, clusters, n)] + 0.35 * rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["lance", "faiss"])
def test_ann_index_built_above_threshold_keeps_recall(tmp_path: Path, engine: str) -> None:
    n, dim = 6000, 32
    vecs = clustered(n + 50, dim, 40, seed=7)
    data, queries = vecs[:n], vecs[n:]
    chunks = [
        Chunk(id=f"c{i}", doc_id=f"d{i}", text=f"t{i}", position=0, start=0, end=2, source="/s")
        for i in range(n)
    ]
    # "faiss": unfiltered dense searches through the in-memory graph (ragline.store.hnsw).
    store = LanceStore(
        tmp_path / "ann",
        dimension=dim,
        model_id="m",
        ann_threshold=5000,
        sentence_index=True,
        ann_engine=engine,
    )
    # Two or three sentences per chunk, each near the chunk's own vector.
    noise = np.random.default_rng(8)
    units = [data[i] + 0.5 * noise.normal(size=(2 + i % 2, dim)).astype(np.float32) for i in range(n)]
    units = [u / np.linalg.norm(u, axis=1, keepdims=True) for u in units]
    store.upsert([SourceBatch("/s", "h", chunks, data, sentence_vectors=units)])
    store.finalize()
    assert store.stats().vector_index == "IvfHnswSq"
    recalls = []
    for q in queries:
        exact = {f"c{i}" for i in np.argsort(-(data @ q))[:10]}
        got = {h.chunk.id for h in dense_hits(store, q, 10)}
        recalls.append(len(exact & got) / 10)
    assert float(np.mean(recalls)) >= 0.97
    # The interactive depth (120 candidates a list), against exact search.
    deep_recalls = []
    for q in queries:
        exact = {f"c{i}" for i in np.argsort(-(data @ q))[:120]}
        deep_recalls.append(len(exact & {c.chunk_id for c in store.dense_candidates(q, 120)}) / 120)
    assert float(np.mean(deep_recalls)) >= 0.97
    assert (store._graph is not None) == (engine == "faiss")
    if engine == "faiss":  # at least as good as LanceDB's index on the same table, at both depths
        lance_store = LanceStore(tmp_path / "ann", dimension=dim, model_id="m", ann_engine="lance")
        for k, got_recall in ((10, recalls), (120, deep_recalls)):
            lance_recall = [
                len(
                    {f"c{i}" for i in np.argsort(-(data @ q))[:k]}
                    & {c.chunk_id for c in lance_store.dense_candidates(q, k)}
                )
                / k
                for q in queries
            ]
            assert float(np.mean(got_recall)) >= float(np.mean(lance_recall))
    # Deep cut-offs (evaluation asks for hundreds of candidates) must work through the index too.
    deep = dense_hits(store, queries[0], 300)
    assert len(deep) == 300
    assert len(store.dense_candidates(queries[0], 1200)) == 1200
    # Unit search goes through its own index (MaxSim per row), with cosine scores.
    unit_recalls = []
    for q in queries:
        ref = dict(maxsim_reference(chunks, units, q)[:10])
        unit_hits = store.sentence_candidates(q, 10)
        unit_recalls.append(len(ref.keys() & {c.chunk_id for c in unit_hits}) / 10)
        for c in unit_hits:
            if c.chunk_id in ref:
                # Refined: the cosines of the stored float16 sentence vectors (~3 significant digits).
                assert c.score == pytest.approx(ref[c.chunk_id], abs=1e-3)
    assert float(np.mean(unit_recalls)) >= 0.9
    if engine == "lance":
        # A top k of at most ann_refine_max_rows is re-scored with the full vectors (exact
        # cosines); a deeper candidate list keeps the index's quantised cosines, close but not exact.
        exact_of = {f"c{i}": i for i in range(n)}
        for k, refined in ((10, True), (120, False)):
            errors = [
                abs(c.score - float(data[exact_of[c.chunk_id]] @ q))
                for q in queries[:10]
                for c in store.dense_candidates(q, k)
            ]
            assert max(errors) < 0.05
            assert (max(errors) < 1e-5) == refined, (k, max(errors))
        deeper = LanceStore(tmp_path / "ann", dimension=dim, model_id="m", ann_refine_max_rows=120)
        never = LanceStore(tmp_path / "ann", dimension=dim, model_id="m", ann_refine_factor=0)
        q = queries[0]
        assert all(
            c.score == pytest.approx(float(data[exact_of[c.chunk_id]] @ q), abs=1e-5)
            for c in deeper.dense_candidates(q, 120)
        )
        # Factor 0: not even a top 10 is re-scored.
        assert (
            max(abs(c.score - float(data[exact_of[c.chunk_id]] @ q)) for c in never.dense_candidates(q, 10))
            > 1e-5
        )


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
    # float32 sentence vectors: the two paths must agree to the last digit (float16 rounding
    # would reorder near-ties between them; tests/store/test_compact_forms.py covers float16).
    f32: dict[str, Any] = {"sentence_vector_dtype": "float32"}
    exact = LanceStore(tmp_path / "exact", dimension=DIM, model_id="m", **f32)
    # Not finalized: an IVF index over 80 rows is pointless, and the scan path is what is tested.
    lance = LanceStore(tmp_path / "lance", dimension=DIM, model_id="m", ann_threshold=5, **f32)
    for store in (exact, lance):
        store.upsert([SourceBatch("/a", "h", chunks, vecs, sentence_vectors=units)])
    exact.finalize()
    q = np.random.default_rng(3).normal(size=DIM).astype(np.float32)
    lance_view, exact_view = lance._view(), exact._view()
    assert lance_view is not None and exact_view is not None
    assert lance.sentence_candidates(q, 5) and lance._exact_units(lance_view) is None
    assert exact._exact_units(exact_view) is not None
    # What the pipeline asks to schedule the sentence search: a scan in memory or not.
    assert searches_in_memory(exact) and not searches_in_memory(lance)
    assert not searches_in_memory(LanceStore(tmp_path / "empty", dimension=DIM, model_id="m"))
    ref = maxsim_reference(chunks, units, q)
    both = And((Visible(Principal("acme", ("eng",), 1)), parse_filter({"year": {"$gte": 2005}})))
    for f in (None, parse_filter({"doc_type": {"$in": ["paper", "memo"]}}), both):
        for n in (3, 1000):
            want, got = exact.sentence_candidates(q, n, f), lance.sentence_candidates(q, n, f)
            assert [c.chunk_id for c in got] == [c.chunk_id for c in want]
            assert [c.score for c in got] == pytest.approx([c.score for c in want], abs=1e-5)
    # Chunks without units (an empty list in the column) are never returned by LanceDB either.
    got = lance.sentence_candidates(q, 1000)
    assert [c.chunk_id for c in got] == [cid for cid, _ in ref]
    assert [c.score for c in got] == pytest.approx([s for _, s in ref], abs=1e-5)
    by_id = {c.id: c for c in chunks}
    assert lance.fetch_chunks(got[:5]) == [by_id[c.chunk_id] for c in got[:5]]


def test_sentence_scores_are_exact_maxsim_over_the_given_candidates(tmp_path: Path) -> None:
    """The sentence list above the threshold from other searches' candidates: each candidate
    once, scored by its best stored sentence (MaxSim), best first; those without sentences left
    out; rows read from the version their search read."""
    chunks = make_chunks(30, "/a", seed=5)
    vecs, units = vectors_for(chunks, 5), units_for(chunks, 5)
    f32: dict[str, Any] = {"sentence_vector_dtype": "float32"}
    store = LanceStore(tmp_path / "c", dimension=DIM, model_id="m", ann_threshold=5, **f32)
    store.upsert([SourceBatch("/a", "h", chunks, vecs, sentence_vectors=units)])
    q = np.random.default_rng(6).normal(size=DIM).astype(np.float32)
    found = store.dense_candidates(q, 25)
    given = [*found, *found[:10]]  # a chunk both searches found is given twice
    # A write after the search moves rows: the candidates' version is still the one read.
    extra = make_chunks(3, "/b", seed=9)
    store.upsert([SourceBatch("/b", "h", extra, vectors_for(extra, 9))])
    got = store.sentence_scores(q, given)
    ref = dict(maxsim_reference(chunks, units, q))
    want = sorted((c.chunk_id for c in found if c.chunk_id in ref), key=lambda cid: -ref[cid])
    assert len(want) < 25 and [c.chunk_id for c in got] == want  # some have no sentences
    assert [c.score for c in got] == pytest.approx([ref[cid] for cid in want], abs=1e-5)
    refs = {c.chunk_id: c.ref for c in found}
    assert all(c.ref == refs[c.chunk_id] for c in got)
    assert store.fetch_chunks(got[:3]) == [next(x for x in chunks if x.id == c.chunk_id) for c in got[:3]]
    assert store.sentence_scores(q, []) == []
    assert LanceStore(tmp_path / "empty", dimension=DIM, model_id="m").sentence_scores(q, found) == []


def test_finalize_above_threshold_without_sentence_vectors_builds_no_unit_index(tmp_path: Path) -> None:
    """``chunking.sentence_vectors = "off"`` past ``ann_threshold``: the column holds only empty lists,
    which LanceDB cannot train an index on. Finalize skips it, and unit search finds nothing."""
    n, dim = 300, 16
    vecs = clustered(n, dim, 8, seed=5)
    chunks = [
        Chunk(id=f"c{i}", doc_id=f"d{i}", text=f"t{i}", position=0, start=0, end=2, source="/s")
        for i in range(n)
    ]
    store = LanceStore(tmp_path / "off", dimension=dim, model_id="m", ann_threshold=100, sentence_index=True)
    store.upsert(
        [SourceBatch("/s", "h", chunks, vecs, sentence_vectors=[np.zeros((0, dim), np.float32)] * n)]
    )
    store.finalize()
    indexes = store._index_types()
    assert "vector" in indexes and "unit_vectors" not in indexes
    assert store.sentence_candidates(vecs[0], 10) == []
    assert [c.chunk_id for c in store.dense_candidates(vecs[0], 1)] == ["c0"]
    # Once some chunks bring sentence vectors, the next finalize indexes them.
    units = [vecs[i : i + 1] for i in range(n)]
    store.upsert([SourceBatch("/s", "h2", chunks, vecs, sentence_vectors=units)])
    store.finalize()
    assert "unit_vectors" in store._index_types()
    assert store.sentence_candidates(vecs[0], 1)[0].chunk_id == "c0"
    # Without store.sentence_index (the default) no sentence index is built; sentence search
    # scans the column, exactly.
    plain = LanceStore(tmp_path / "plain", dimension=dim, model_id="m", ann_threshold=100)
    plain.upsert([SourceBatch("/s", "h2", chunks, vecs, sentence_vectors=units)])
    plain.finalize()
    assert "vector" in plain._index_types() and "unit_vectors" not in plain._index_types()
    found = plain.sentence_candidates(vecs[0], 5)
    want = np.argsort(-(vecs @ vecs[0]))[:5]
    assert [c.chunk_id for c in found] == [f"c{i}" for i in want]


def test_retention_window_keeps_old_versions_and_snapshots_outlive_it(tmp_path: Path) -> None:
    """finalize (each ingest's optimize) deletes versions older than retention_days, except
    tagged ones: with the default window an upsert can be rolled back; with 0 only a snapshot."""
    chunks = make_chunks(6, "/s", seed=1)
    for days, restorable in ((7.0, True), (0.0, False)):
        store = LanceStore(tmp_path / f"r{days}", dimension=DIM, model_id="m", retention_days=days)
        store.upsert([SourceBatch("/s", "h1", chunks, vectors_for(chunks, 1))])
        store.finalize()
        first = store.versions()[-1].version
        store.tag_version("kept")
        store.upsert([SourceBatch("/s", "h2", chunks[:2], vectors_for(chunks[:2], 2))])
        store.finalize()
        after_edit = store.versions()[-1].version
        store.upsert([SourceBatch("/s", "h3", chunks[:1], vectors_for(chunks[:1], 3))])
        store.finalize()
        numbers = [v.version for v in store.versions()]
        assert (after_edit in numbers) == restorable and first in numbers  # the tag keeps it
        if restorable:
            store.restore_version(after_edit)
            assert store.source_hashes() == {"/s": "h2"}
        else:
            with pytest.raises(StoreError, match=r"not on disk.*tags: kept="):
                store.restore_version(after_edit)
        store.restore_version("kept")
        assert store.source_hashes() == {"/s": "h1"} and len(store.all_chunks()) == len(chunks)


def test_doc_ids_come_from_memory_or_from_the_version_searched(tmp_path: Path) -> None:
    dim = 8
    store = LanceStore(tmp_path / "c", dimension=dim, model_id="m")
    a = make_chunks(6, "/a.jsonl", seed=1)
    store.upsert([SourceBatch("/a.jsonl", "h", a, vectors_for(a, 1, dim))])
    doc_of = {c.id: c.doc_id for c in a}
    found = store.dense_candidates(vectors_for(a, 1, dim)[2], len(a))
    assert store.fetch_doc_ids(found) == [doc_of[c.chunk_id] for c in found]  # from the flat copy
    gone = found[0]._replace(chunk_id="no-such-chunk")
    assert store.fetch_doc_ids([gone, found[1]]) == [None, doc_of[found[1].chunk_id]]
    # After a write the candidates name the version their search read: its rows are read.
    b = make_chunks(2, "/b.jsonl", seed=2)
    store.upsert([SourceBatch("/b.jsonl", "h", b, vectors_for(b, 2, dim))])
    assert store.fetch_doc_ids(found) == [doc_of[c.chunk_id] for c in found]
    assert len(set(doc_of.values())) > 1


@pytest.mark.parametrize("cap", [lance._ROWS_IN_MEMORY, 0])
def test_result_rows_held_in_memory_read_as_rows_do(tmp_path: Path, monkeypatch, cap: int) -> None:
    # cap 0: too large to hold, every call reads rows (an indexed collection's path).
    monkeypatch.setattr(lance, "_ROWS_IN_MEMORY", cap)
    dim = 8
    store = LanceStore(tmp_path / "c", dimension=dim, model_id="m")
    a = with_random_access(make_chunks(6, "/a.jsonl", seed=1), seed=1)
    store.upsert([SourceBatch("/a.jsonl", "h", a, vectors_for(a, 1, dim))])
    found = store.dense_candidates(vectors_for(a, 1, dim)[3], len(a))
    by_id = {c.id: c for c in a}
    # A row is named by its ref (version and address): gone is a chunk no longer stored whose
    # version was cleaned up since, so it is looked up by id, and left out.
    gone = found[0]._replace(chunk_id="no-such-chunk", ref=999 << 64 | found[0].ref & lance._ADDRESS)
    got = store.fetch_chunks([found[2], gone, found[0], found[2]])
    assert got == [by_id[found[2].chunk_id], by_id[found[0].chunk_id], by_id[found[2].chunk_id]]
    view = store._view()
    assert view is not None and view.results_held is (cap > 0)
    # After a write: candidates of the old version are read from it, new ones from memory.
    b = make_chunks(2, "/b.jsonl", seed=2)
    store.upsert([SourceBatch("/b.jsonl", "h", b, vectors_for(b, 2, dim))])
    assert store.fetch_chunks(found) == [by_id[c.chunk_id] for c in found]
    new = store.dense_candidates(vectors_for(b, 2, dim)[1], 1)
    assert store.fetch_chunks(new) == [b[1]]


@pytest.mark.parametrize(("small_cap", "held_mb"), [(lance._SMALL_IN_MEMORY, 512), (0, 0)])
def test_reads_by_candidate_keep_the_candidates_order_across_fragments_deletions_and_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_cap: int, held_mb: int
) -> None:
    """Above the threshold rows are read by ref without their ids (the take returns them in the
    order asked), their small columns, sentence vectors and vectors from memory when held
    (small_cap and held_mb 0: never): every reader gives each candidate its own row, whatever the
    candidates' order, repeats, fragments, deleted rows beside them, or the versions their
    searches read."""
    monkeypatch.setattr(lance, "_SMALL_IN_MEMORY", small_cap)
    f32: dict[str, Any] = {"sentence_vector_dtype": "float32", "held_columns_mb": held_mb}  # exact MaxSim
    store = LanceStore(tmp_path / "c", dimension=DIM, model_id="m", ann_threshold=5, **f32)
    chunks: list[Chunk] = []
    vec_of: dict[str, np.ndarray] = {}
    units: list[np.ndarray] = []
    rng = np.random.default_rng(5)
    for i, src in enumerate(["/a", "/b", "/c"]):  # one fragment per upsert
        part = with_random_access(make_chunks(5, src, seed=i), seed=i)
        vecs, part_units = vectors_for(part, i), units_for(part, i)
        tokens = [rng.normal(size=(3 + j % 4, DIM)).astype(np.float32) for j in range(len(part))]
        tokens = [t / np.linalg.norm(t, axis=1, keepdims=True) for t in tokens]
        batch = SourceBatch(src, "h", part, vecs, sentence_vectors=part_units, token_states=tokens)
        store.upsert([batch])
        chunks += part
        units += part_units
        vec_of |= {c.id: v for c, v in zip(part, vecs, strict=True)}
    deleted = chunks[12].doc_id
    assert store.delete_documents([deleted]) > 0  # a deletion file inside /b's fragment
    view = store._view()
    assert view is not None and len(view.ds.get_fragments()) == 3 and not store.searches_in_memory()
    by_id = {c.id: c for c in chunks}
    q = rng.normal(size=DIM).astype(np.float32)
    old = store.dense_candidates(q, 100)
    assert len(old) == sum(c.doc_id != deleted for c in chunks)
    # A write after the search: those candidates name the version before it, new ones this one.
    extra = make_chunks(2, "/d", seed=9)
    store.upsert([SourceBatch("/d", "h", extra, vectors_for(extra, 9))])
    by_id |= {c.id: c for c in extra}
    vec_of |= {c.id: v for c, v in zip(extra, vectors_for(extra, 9), strict=True)}
    new = store.dense_candidates(q, 100)
    # The view's own candidates (small columns from memory when held), then two versions'.
    now = [new[i] for i in rng.permutation(len(new))] + new[:3]
    assert store.fetch_chunks(now) == [by_id[c.chunk_id] for c in now]
    assert store.fetch_doc_ids(now) == [by_id[c.chunk_id].doc_id for c in now]
    np.testing.assert_array_equal(store.fetch_vectors(now), np.stack([vec_of[c.chunk_id] for c in now]))
    ref = dict(maxsim_reference(chunks, units, q))
    got_now = store.sentence_scores(q, now)
    assert {c.chunk_id for c in got_now} == {c.chunk_id for c in now if c.chunk_id in ref}
    assert all(c.score == pytest.approx(ref[c.chunk_id], abs=1e-5) for c in got_now)
    view = store._view()
    assert view is not None and view.small_held is (small_cap > 0) and view.results_held is not True
    # Token states of the view's own candidates by ref: each chunk's own (held when budgeted).
    by_ref = store.fetch_token_states_of(now)
    by_ids = store.fetch_token_states([c.chunk_id for c in now])
    assert [m is None for m in by_ref] == [m is None for m in by_ids]
    assert all(a is None or np.array_equal(a, b) for a, b in zip(by_ref, by_ids, strict=True))
    # Held per fragment (four: one per upsert) for the view's own candidates; 0 MB holds none.
    held = (view.held_units, view.held_vectors, view.held_tokens, view.held_texts)
    assert [h is not None for h in held] == [held_mb > 0] * 4
    assert view.held_units is None or len(view.held_units) == 4
    mixed = [old[i] for i in rng.permutation(len(old))] + [new[i] for i in rng.permutation(len(new))[:6]]
    mixed += mixed[:4]  # repeats
    assert {c.ref >> 64 for c in mixed} == {old[0].ref >> 64, new[0].ref >> 64}
    assert store.fetch_chunks(mixed) == [by_id[c.chunk_id] for c in mixed]
    assert store.fetch_doc_ids(mixed) == [by_id[c.chunk_id].doc_id for c in mixed]
    assert store.fetch_texts(mixed) == [by_id[c.chunk_id].embed_text for c in mixed]
    np.testing.assert_array_equal(store.fetch_vectors(mixed), np.stack([vec_of[c.chunk_id] for c in mixed]))
    # The sentence scores of the older version's candidates are their own rows' (exact MaxSim).
    got = store.sentence_scores(q, old)
    assert {c.chunk_id for c in got} == {c.chunk_id for c in old if c.chunk_id in ref}
    assert all(c.score == pytest.approx(ref[c.chunk_id], abs=1e-5) for c in got)
    # Token states by chunk id: each id's own, as read alone.
    ids = [c.chunk_id for c in mixed] + [chunks[12].id]  # the deleted one: None
    together = store.fetch_token_states(ids)
    stateless = {c.id for c in extra} | {chunks[12].id}
    assert [m is None for m in together] == [cid in stateless for cid in ids]
    for cid, m in zip(ids, together, strict=True):
        alone = store.fetch_token_states([cid])[0]
        assert (m is None and alone is None) or np.array_equal(m, alone)
    # By the candidates' refs: the same states, without mapping every chunk id to its row.
    again = LanceStore(store.root, dimension=DIM, model_id="m", ann_threshold=5, **f32)
    of = again.fetch_token_states_of(mixed)
    assert [m is None for m in of] == [m is None for m in together[:-1]]
    assert all(a is None or np.array_equal(a, b) for a, b in zip(of, together[:-1], strict=True))
    view = again._view()
    assert view is not None and view.rows is None


class _IndexKeywords(LanceStore):
    """A LanceStore whose keyword search always asks LanceDB's full-text index (the path above
    ``ann_threshold``), for comparison with the BM25 it holds in memory below it."""

    def _exact_keywords(self, view: Any) -> None:  # type: ignore[override]
        return None


class TestLanceIndexKeywordContract(KeywordContract):
    """The keyword contract through LanceDB's full-text index, which small test collections
    otherwise never reach (below ``ann_threshold`` BM25 runs in memory)."""

    def make_store(self, root: Path, dimension: int, **kw: Any) -> LanceStore:
        return _IndexKeywords(root, dimension=dimension, model_id="test-model", **kw)


_WORD_TEXT = (
    "running runs ran runner dogs dog's cats studies studied study heat pumps pumping solar panel "
    "panels café naïve Zürich résumé 2010 42 snake_case well-known o'reilly the and of is because "
    "battery batteries storage stored maintenance rainwater tanks meters metering subsidies "
    "subsidy noisy noise C++ e-mail ÆON straße"
)
_WORDS = _WORD_TEXT.split()


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(_WORDS, size=int(rng.integers(3, 40)))) for _ in range(n)]


def _keyword_chunks(texts: list[str], prefix: str) -> list[Chunk]:
    return [
        Chunk(
            id=f"{prefix}{i}",
            doc_id=f"{prefix}d{i}",
            text=t,
            position=0,
            start=0,
            end=len(t),
            source=f"/{prefix}",
        )
        for i, t in enumerate(texts)
    ]


def test_below_the_threshold_keyword_search_gives_the_full_text_index_bm25(tmp_path: Path) -> None:
    """Below ``ann_threshold`` BM25 runs over the texts held in memory: the same chunks and the
    index's scores (float32 there, float64 here) as LanceDB's full-text index, filters included."""
    chunks = with_random_access(_keyword_chunks(_texts(150, seed=3), "k"), seed=3)
    store = LanceStore(tmp_path / "c", dimension=DIM, model_id="m")
    store.upsert([SourceBatch("/k", "h", chunks, vectors_for(chunks, 3))])
    store.finalize()
    index = _IndexKeywords(store.root, dimension=DIM, model_id="m")
    assert searches_in_memory(store)
    queries = [
        "running dogs",
        "Zurich cafe",
        "study of batteries",
        "noisy heat pump",
        "C++ e-mail",
        "strasse aeon",
    ]
    some = Visible(Principal("acme", ("eng",), 2))
    for query in queries:
        for f in (None, parse_filter({"doc_id": {"$in": [f"kd{i}" for i in range(0, 150, 3)]}}), some):
            mine = store.keyword_candidates(query, 200, f)
            theirs = index.keyword_candidates(query, 200, f)
            assert mine, query
            assert {c.chunk_id for c in mine} == {c.chunk_id for c in theirs}, query
            by_id = {c.chunk_id: c.score for c in theirs}
            assert [c.score for c in mine] == pytest.approx([by_id[c.chunk_id] for c in mine], rel=1e-5)
            assert all(mine[i].score >= mine[i + 1].score for i in range(len(mine) - 1))
    assert store.keyword_candidates("the and of", 10) == []  # stop words alone


def test_keyword_search_in_memory_follows_writes_and_analyses_only_new_texts(tmp_path: Path) -> None:
    first = _keyword_chunks(_texts(40, seed=4), "a")
    store = LanceStore(tmp_path / "c", dimension=DIM, model_id="m")
    store.upsert([SourceBatch("/a", "h", first, vectors_for(first, 4))])
    assert store.keyword_candidates("zeppelin", 5) == []
    analysed = dict(store._keyword_terms)
    assert set(analysed) == {c.text for c in first}
    second = _keyword_chunks(["a zeppelin over Zürich", "zeppelins and airships"], "b")
    store.upsert([SourceBatch("/b", "h", second, vectors_for(second, 5))])
    assert {c.chunk_id for c in store.keyword_candidates("zeppelin", 5)} == {"b0", "b1"}
    # The first texts' terms are the same list objects: carried over, not analysed again.
    assert all(store._keyword_terms[t] is analysed[t] for t in analysed)
    store.delete_sources(["/b"])
    assert store.keyword_candidates("zeppelin", 5) == []
    assert set(store._keyword_terms) == {c.text for c in first}


def test_below_the_threshold_sentence_scores_of_candidates_equal_the_row_read(tmp_path: Path) -> None:
    """The sentence MaxSim of given candidates from the unit vectors held in memory equals the
    one read from their rows (the path past ``ann_threshold``)."""
    chunks = make_chunks(40, "/u", seed=12)
    units = units_for(chunks, seed=12)
    store = LanceStore(tmp_path / "c", dimension=DIM, model_id="m", sentence_vector_dtype="float32")
    store.upsert([SourceBatch("/u", "h", chunks, vectors_for(chunks, 12), sentence_vectors=units)])
    on_disk = LanceStore(
        store.root, dimension=DIM, model_id="m", ann_threshold=5, sentence_vector_dtype="float32"
    )
    assert searches_in_memory(store) and not searches_in_memory(on_disk)
    rng = np.random.default_rng(12)
    for _ in range(5):
        q = rng.normal(size=DIM).astype(np.float32)
        picked = store.dense_candidates(q, 25) + store.keyword_candidates("alpha beta", 10)
        held, read = store.sentence_scores(q, picked), on_disk.sentence_scores(q, picked)
        assert [c.chunk_id for c in held] == [c.chunk_id for c in read]
        assert [c.score for c in held] == pytest.approx([c.score for c in read], abs=1e-6)
        assert held and len(held) <= len({c.chunk_id for c in picked})


def test_past_the_threshold_keyword_search_leaves_memory_for_the_index(tmp_path: Path) -> None:
    """Once a collection outgrows ``ann_threshold`` its keyword search goes to LanceDB's index
    and the texts analysed for the in-memory BM25 are let go."""
    first = _keyword_chunks(["zeppelins over the lake", "airships and balloons"], "a")
    store = LanceStore(tmp_path / "c", dimension=DIM, model_id="m", ann_threshold=5)
    store.upsert([SourceBatch("/a", "h", first, vectors_for(first, 6))])
    assert [c.chunk_id for c in store.keyword_candidates("zeppelin", 5)] == ["a0"]
    assert store._keyword_terms
    more = _keyword_chunks([*_texts(8, seed=6), "a zeppelin hangar"], "b")
    store.upsert([SourceBatch("/b", "h", more, vectors_for(more, 7))])
    store.finalize()
    assert not searches_in_memory(store)
    assert {c.chunk_id for c in store.keyword_candidates("zeppelin", 5)} == {"a0", "b8"}
    assert store._keyword_terms == {}


@pytest.mark.parametrize("held_mb", [1024, 0])
def test_past_the_threshold_searches_name_their_rows_by_held_ids_or_read_ones(
    tmp_path: Path, held_mb: int
) -> None:
    """Above the threshold, with chunk ids held, dense and keyword searches return only row ids
    and scores and the ids come from memory: the same candidates, ids and scores as reading the
    ids with the search (held_mb 0), after deletions and in a second fragment."""
    chunks = _keyword_chunks([*_texts(30, seed=3), "a zeppelin hangar", "zeppelin rides"], "a")
    store = LanceStore(tmp_path / "c", dimension=DIM, model_id="m", ann_threshold=5, held_columns_mb=held_mb)
    store.upsert([SourceBatch("/a", "h", chunks[:20], vectors_for(chunks[:20], 1))])
    store.upsert([SourceBatch("/b", "h", chunks[20:], vectors_for(chunks[20:], 2))])
    before_delete = store.versions()[-1].version
    store.delete_documents([chunks[3].doc_id])
    store.finalize()
    reader = LanceStore(store.root, dimension=DIM, model_id="m", ann_threshold=5, held_columns_mb=0)
    q = np.random.default_rng(4).normal(size=DIM).astype(np.float32)
    for query in ("zeppelin", "hangar rides"):
        got, want = store.keyword_candidates(query, 10), reader.keyword_candidates(query, 10)
        assert got == want and got
    got, want = store.dense_candidates(q, 15), reader.dense_candidates(q, 15)
    assert [(c.chunk_id, c.ref) for c in got] == [(c.chunk_id, c.ref) for c in want]
    assert [c.score for c in got] == pytest.approx([c.score for c in want], abs=1e-6)
    assert chunks[3].id not in {c.chunk_id for c in got}
    view = store._view()
    assert view is not None and (view.held_ids is not None) == (held_mb > 0)
    # Restored to before the delete: the deleted chunk is live again, in a fragment held while it
    # was deleted; its id is not served from memory, and the searches still name it.
    store.restore_version(before_delete)
    reader = LanceStore(store.root, dimension=DIM, model_id="m", ann_threshold=5, held_columns_mb=0)
    everything = store.dense_candidates(q, 40)
    assert {c.chunk_id for c in everything} == {c.id for c in chunks}
    assert [c.chunk_id for c in everything] == [c.chunk_id for c in reader.dense_candidates(q, 40)]


def test_warm_up_holds_now_what_the_first_search_would(tmp_path: Path) -> None:
    chunks = make_chunks(30, "/a", seed=2)
    store = LanceStore(tmp_path / "c", dimension=DIM, model_id="m", ann_threshold=5)
    assert warm_up(store) is True  # an empty collection: nothing to hold, no error
    store.upsert(
        [SourceBatch("/a", "h", chunks, vectors_for(chunks, 2), sentence_vectors=units_for(chunks, 2))]
    )
    store.finalize()
    fresh = LanceStore(store.root, dimension=DIM, model_id="m", ann_threshold=5)
    fresh.warm_up()
    view = fresh._view()
    assert (
        view is not None and view.held_checked and view.held_ids is not None and view.held_units is not None
    )
    # Below the threshold the exact search holds its own copies: warming up holds nothing more.
    small = LanceStore(tmp_path / "small", dimension=DIM, model_id="m", ann_threshold=1000)
    small.upsert(
        [SourceBatch("/a", "h", chunks, vectors_for(chunks, 2), sentence_vectors=units_for(chunks, 2))]
    )
    small.warm_up()
    view = small._view()
    assert view is not None and view.held_ids is None and view.held_units is None
    assert warm_up(object()) is False


def test_held_columns_refuse_a_negative_budget_and_concurrent_first_queries_agree(tmp_path: Path) -> None:
    """A negative budget is refused naming the fix; several threads' first queries of a version
    (each may start the holding) give what the row reads give."""
    from concurrent.futures import ThreadPoolExecutor

    from ragline.errors import ConfigError

    with pytest.raises(StoreError, match="held_columns_mb must be >= 0, got -1; 0 holds none"):
        LanceStore(tmp_path / "x", dimension=DIM, model_id="m", held_columns_mb=-1)
    with pytest.raises((ConfigError, ValueError), match="held_columns_mb"):
        load_settings(store={"held_columns_mb": -5})
    chunks = make_chunks(40, "/a", seed=4)
    vecs, units = vectors_for(chunks, 4), units_for(chunks, 4)
    store = LanceStore(tmp_path / "c", dimension=DIM, model_id="m", ann_threshold=5)
    store.upsert([SourceBatch("/a", "h", chunks, vecs, sentence_vectors=units)])
    store.finalize()
    reader = LanceStore(store.root, dimension=DIM, model_id="m", ann_threshold=5, held_columns_mb=0)
    fresh = LanceStore(store.root, dimension=DIM, model_id="m", ann_threshold=5)
    queries = np.random.default_rng(5).normal(size=(8, DIM)).astype(np.float32)

    def work(s: LanceStore, q: np.ndarray) -> tuple[Any, ...]:
        found = s.dense_candidates(q, 20)
        return (
            found,
            s.sentence_scores(q, found),
            s.fetch_chunks(found[:5]),
            s.fetch_vectors(found).tolist(),
        )

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda q: work(fresh, q), queries))
    assert together == [work(reader, q) for q in queries]
    view = fresh._view()
    assert view is not None and view.held_units is not None
