"""The Store contract: every backend must pass these tests (import and subclass StoreContract).

A backend's test module provides a ``make_store(tmp_path, dimension, **kw)`` fixture-style method.
Results are checked against exact numpy search and the reference filter evaluator
(:func:`ragline.store.filters.matches`), in the spirit of qdrant-client's congruence tests.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.embedding.tokens import PackedTokens
from ragline.errors import FilterError, StoreError
from ragline.store.base import SourceBatch, Store
from ragline.store.filters import And, Visible, matches, parse_filter
from ragline.types import Access, Chunk, Principal, Section

DIM = 16
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda", "sigma"]
TYPES = ["paper", "report", "memo", "o'reilly"]


def make_chunks(n_docs: int, source: str, seed: int, chunks_per_doc: int = 2) -> list[Chunk]:
    rng = random.Random(seed)
    out = []
    for d in range(n_docs):
        doc_id = f"{Path(source).name}-d{d}"
        meta: dict[str, Any] = {}
        if rng.random() < 0.85:
            meta["year"] = rng.randint(2000, 2024)
        if rng.random() < 0.9:
            meta["doc_type"] = rng.choice(TYPES)
        if rng.random() < 0.7:
            meta["score"] = round(rng.uniform(0, 1), 3)
        if rng.random() < 0.8:
            meta["flag"] = rng.random() < 0.5
        for p in range(chunks_per_doc):
            text = " ".join(rng.choice(WORDS) for _ in range(12))
            out.append(
                Chunk(
                    id=f"{doc_id}-c{p}",
                    doc_id=doc_id,
                    text=text,
                    position=p,
                    start=p * 100,
                    end=p * 100 + len(text),
                    metadata=dict(meta),
                    source=source,
                )
            )
    return out


def vectors_for(chunks: list[Chunk], seed: int, dim: int = DIM) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(len(chunks), dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


FILTERS: list[dict[str, Any]] = [
    {"year": 2010},
    {"year": {"$eq": 2010}},
    {"year": {"$ne": 2010}},
    {"year": {"$gt": 2015}},
    {"year": {"$gte": 2015}},
    {"year": {"$lt": 2005}},
    {"year": {"$lte": 2005}},
    {"doc_type": {"$in": ["paper", "o'reilly"]}},
    {"doc_type": {"$nin": ["paper", "memo"]}},
    {"score": {"$exists": True}},
    {"score": {"$exists": False}},
    {"flag": True},
    {"flag": {"$ne": True}},
    {"score": {"$gte": 0.25, "$lt": 0.75}},
    {"$and": [{"year": {"$gte": 2010}}, {"doc_type": "report"}]},
    {"$or": [{"year": {"$lt": 2003}}, {"doc_type": "memo"}]},
    {"$not": {"doc_type": "paper"}},
    {"$not": {"$or": [{"year": {"$gt": 2020}}, {"flag": False}]}},
    {"year": {"$not": {"$gte": 2012}}},
    {"doc_type": "o'reilly", "year": {"$gte": 2000}},
    {"doc_id": {"$in": ["a.jsonl-d1", "a.jsonl-d7"]}},
    {"$or": [{"flag": {"$exists": False}}, {"score": {"$lt": 0.1}}]},
]


TENANTS = ["acme", "globex"]
GROUPS = ["eng", "hr", "legal", "ops"]


def with_random_access(chunks: list[Chunk], seed: int) -> list[Chunk]:
    """Give each document a random tenant, group set (often empty) and clearance."""
    rng = random.Random(seed)
    by_doc: dict[str, Access] = {}
    for c in chunks:
        if c.doc_id not in by_doc:
            groups = tuple(sorted(rng.sample(GROUPS, rng.choice([0, 0, 1, 1, 2]))))
            by_doc[c.doc_id] = Access(rng.choice(TENANTS), groups, rng.choice([0, 0, 1, 2]))
    return [replace(c, access=by_doc[c.doc_id]) for c in chunks]


PRINCIPALS = [
    Principal("acme"),
    Principal("acme", ("eng",)),
    Principal("acme", ("hr", "legal"), 2),
    Principal("globex", ("ops",), 1),
    Principal("globex", tuple(GROUPS), 5),
    Principal("initech", tuple(GROUPS), 9),
    Principal("acme", ("o'brien",)),
]


class StoreContract:
    """Subclass and implement ``make_store``."""

    def make_store(self, root: Path, dimension: int, **kw: Any) -> Store:
        raise NotImplementedError

    @pytest.fixture
    def filled(self, tmp_path: Path) -> tuple[Store, list[Chunk], np.ndarray]:
        store = self.make_store(tmp_path / "col", DIM)
        a = make_chunks(40, "/data/a.jsonl", seed=1)
        b = make_chunks(40, "/data/b.jsonl", seed=2)
        va, vb = vectors_for(a, 1), vectors_for(b, 2)
        store.upsert([SourceBatch("/data/a.jsonl", "ha", a, va), SourceBatch("/data/b.jsonl", "hb", b, vb)])
        store.finalize()
        return store, a + b, np.concatenate([va, vb])

    def test_empty_store_returns_empty_lists(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "empty", DIM)
        assert store.search_dense(np.ones(DIM, np.float32), 5) == []
        assert store.search_keyword("alpha", 5) == []
        assert store.source_hashes() == {}
        assert store.stats().chunks == 0

    def test_dense_matches_exact_search(self, filled: tuple[Store, list[Chunk], np.ndarray]) -> None:
        store, chunks, vecs = filled
        q = vecs[3] + 0.3 * vecs[50]
        q /= np.linalg.norm(q)
        hits = store.search_dense(q, 10)
        expected = [chunks[i].id for i in np.argsort(-(vecs @ q))[:10]]
        assert [h.chunk.id for h in hits] == expected
        assert all(hits[i].score >= hits[i + 1].score for i in range(len(hits) - 1))
        by_id = {c.id: c for c in chunks}
        # Chunks come back whole: text, span and metadata as stored.
        assert all(h.chunk == by_id[h.chunk.id] for h in hits)

    @pytest.mark.parametrize("spec", FILTERS, ids=[str(f) for f in FILTERS])
    def test_every_filter_operator_matches_reference(
        self, filled: tuple[Store, list[Chunk], np.ndarray], spec: dict[str, Any]
    ) -> None:
        store, chunks, vecs = filled
        f = parse_filter(spec)
        allowed = [
            i
            for i, c in enumerate(chunks)
            if matches(f, {**c.metadata, "doc_id": c.doc_id, "source": c.source})
        ]
        q = vecs[0]
        # All matching chunks come back, and nothing else.
        everything = store.search_dense(q, len(chunks), f)
        assert {h.chunk.id for h in everything} == {chunks[i].id for i in allowed}
        # A small top-k is the exact top of the filtered set: the filter ran before the limit.
        top = store.search_dense(q, 5, f)
        ref = sorted(allowed, key=lambda i: -float(vecs[i] @ q))[:5]
        assert [h.chunk.id for h in top] == [chunks[i].id for i in ref]
        kw = store.search_keyword("alpha gamma", len(chunks), f)
        assert {h.chunk.id for h in kw} <= {chunks[i].id for i in allowed}
        with_terms = [i for i in allowed if {"alpha", "gamma"} & set(chunks[i].text.split())]
        assert len(kw) == len(with_terms)
        # The candidate path (ids and scores only) applies the same prefilter.
        cands = store.keyword_candidates("alpha gamma", len(chunks), f)
        assert [c.chunk_id for c in cands] == [h.chunk.id for h in kw]
        assert [c.chunk_id for c in store.dense_candidates(q, 5, f)] == [chunks[i].id for i in ref]

    def test_candidates_then_fetch_equal_a_full_search(
        self, filled: tuple[Store, list[Chunk], np.ndarray]
    ) -> None:
        store, _, vecs = filled
        f = parse_filter({"year": {"$gte": 2008}})
        full = store.search_dense(vecs[5], 12, f)
        cands = store.dense_candidates(vecs[5], 12, f)
        assert [c.chunk_id for c in cands] == [h.chunk.id for h in full]
        assert [c.score for c in cands] == pytest.approx([h.score for h in full], abs=1e-6)
        assert store.fetch_chunks(cands) == [h.chunk for h in full]
        kw_full = store.search_keyword("beta kappa", 7)
        kw = store.keyword_candidates("beta kappa", 7)
        assert [c.chunk_id for c in kw] == [h.chunk.id for h in kw_full]
        assert store.fetch_chunks(kw[::-1]) == [h.chunk for h in kw_full][::-1]
        assert store.fetch_chunks([]) == []

    def test_fetch_vectors_returns_the_stored_embeddings_in_order(
        self, filled: tuple[Store, list[Chunk], np.ndarray]
    ) -> None:
        store, chunks, vecs = filled
        cands = store.dense_candidates(vecs[3], 6)
        got = store.fetch_vectors(cands[::-1])
        index = {c.id: i for i, c in enumerate(chunks)}
        want = np.stack([vecs[index[c.chunk_id]] for c in cands[::-1]])
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        assert store.fetch_vectors([]).shape[0] == 0

    def test_fetch_texts_returns_the_indexed_text_in_order(
        self, filled: tuple[Store, list[Chunk], np.ndarray]
    ) -> None:
        store, _, vecs = filled
        cands = store.dense_candidates(vecs[7], 5)[::-1]
        assert store.fetch_texts(cands) == [c.embed_text for c in store.fetch_chunks(cands)]
        assert store.fetch_texts([]) == []

    def test_keyword_ranks_term_frequency(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "kw", DIM)
        texts = [
            "the cat sat on the mat",
            "dogs are running in the park",
            "a dog runs; dogs run daily",
            "nothing here",
        ]
        chunks = [
            Chunk(id=f"c{i}", doc_id=f"d{i}", text=t, position=0, start=0, end=len(t), source="/s")
            for i, t in enumerate(texts)
        ]
        store.upsert([SourceBatch("/s", "h", chunks, vectors_for(chunks, 3))])
        store.finalize()
        hits = store.search_keyword("Running dogs!", 10)
        # Stemming makes "run"/"runs"/"running" and "dog"/"dogs" match.
        assert [h.chunk.id for h in hits][:2] == ["c2", "c1"] or [h.chunk.id for h in hits][:2] == [
            "c1",
            "c2",
        ]
        assert {h.chunk.id for h in hits} == {"c1", "c2"}
        assert store.search_keyword("?!", 10) == []

    def test_upsert_replaces_a_source_atomically(self, filled: tuple[Store, list[Chunk], np.ndarray]) -> None:
        store, chunks, _ = filled
        new = make_chunks(5, "/data/a.jsonl", seed=99, chunks_per_doc=1)
        new = [replace(c, id=c.id + "-v2") for c in new]
        store.upsert([SourceBatch("/data/a.jsonl", "ha2", new, vectors_for(new, 9))])
        left = {c.id for c in store.all_chunks()}
        assert {c.id for c in new} <= left
        assert not any(
            c.id in left for c in chunks if c.source == "/data/a.jsonl" and c.id not in {n.id for n in new}
        )
        assert store.source_hashes() == {"/data/a.jsonl": "ha2", "/data/b.jsonl": "hb"}

    def test_dense_search_sees_every_write_after_a_search(
        self, filled: tuple[Store, list[Chunk], np.ndarray]
    ) -> None:
        # Exact search below the ANN threshold may serve from an in-memory copy of the vectors:
        # a write must drop it, or searches would return deleted chunks and miss new ones.
        store, _, vecs = filled
        assert store.dense_candidates(vecs[0], 5)
        new = [replace(c, id=c.id + "-v3") for c in make_chunks(3, "/data/a.jsonl", seed=7, chunks_per_doc=1)]
        new_vecs = vectors_for(new, 11)
        store.upsert([SourceBatch("/data/a.jsonl", "ha3", new, new_vecs)])
        assert store.dense_candidates(new_vecs[0], 1)[0].chunk_id == new[0].id
        np.testing.assert_allclose(
            store.fetch_vectors(store.dense_candidates(new_vecs[1], 1)), new_vecs[1:2], atol=1e-6
        )
        store.delete_documents([new[0].doc_id])
        assert new[0].id not in {c.chunk_id for c in store.dense_candidates(new_vecs[0], 1000)}

    def test_delete_documents_and_sources(self, filled: tuple[Store, list[Chunk], np.ndarray]) -> None:
        store, _, vecs = filled
        n = store.delete_documents(["a.jsonl-d0", "b.jsonl-d3", "missing"])
        assert n == 4
        ids = {h.chunk.doc_id for h in store.search_dense(vecs[0], 1000)}
        assert "a.jsonl-d0" not in ids and "b.jsonl-d3" not in ids and "a.jsonl-d1" in ids
        # The source no longer matches its file, so the next ingest re-indexes it.
        assert store.source_hashes()["/data/a.jsonl"] == ""
        assert store.delete_sources(["/data/b.jsonl"]) == 78
        assert set(store.source_hashes()) == {"/data/a.jsonl"}
        assert store.delete_documents([]) == 0

    def test_unknown_field_and_type_mismatch_are_clear_errors(
        self, filled: tuple[Store, list[Chunk], np.ndarray]
    ) -> None:
        store, _, vecs = filled
        with pytest.raises(FilterError, match="yaer"):
            store.search_dense(vecs[0], 5, parse_filter({"yaer": 2010}))
        with pytest.raises(FilterError, match="number"):
            store.search_dense(vecs[0], 5, parse_filter({"year": "2010"}))

    def test_metadata_type_clash_is_refused(self, filled: tuple[Store, list[Chunk], np.ndarray]) -> None:
        store, _, _ = filled
        bad = [
            Chunk(
                id="x",
                doc_id="x",
                text="alpha",
                position=0,
                start=0,
                end=5,
                metadata={"year": "last year"},
                source="/c",
            )
        ]
        with pytest.raises(StoreError, match="year"):
            store.upsert([SourceBatch("/c", "h", bad, vectors_for(bad, 1))])
        assert "/c" not in store.source_hashes()

    def test_chunks_at_returns_requested_positions_in_order(
        self, filled: tuple[Store, list[Chunk], np.ndarray]
    ) -> None:
        store, chunks, _ = filled
        by_key = {(c.doc_id, c.position): c for c in chunks}
        keys = [("b.jsonl-d3", 1), ("a.jsonl-d0", 0), ("a.jsonl-d0", 7), ("nope", 0), ("a.jsonl-d0", 1)]
        got = store.chunks_at(keys)
        assert [(c.doc_id, c.position) for c in got] == [k for k in keys if k in by_key]
        assert [c.id for c in got] == [by_key[k].id for k in keys if k in by_key]
        assert got[0].text == by_key[("b.jsonl-d3", 1)].text
        assert store.chunks_at([]) == []

    def test_sections_round_trip(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "sec", DIM)
        sec = Section(id="s1", doc_id="d", text="Parent text here", start=0, end=16, section_path=("A", "B"))
        ch = [
            Chunk(id="c", doc_id="d", text="Parent", position=0, start=0, end=6, parent_id="s1", source="/p")
        ]
        store.upsert([SourceBatch("/p", "h", ch, vectors_for(ch, 1), [sec])])
        assert store.get_sections(["s1", "nope"]) == [sec]
        hit = store.search_dense(vectors_for(ch, 1)[0], 1)[0]
        assert hit.chunk.parent_id == "s1"
        # Replacing the source with new sections drops the old ones.
        sec2 = Section(id="s2", doc_id="d", text="Other", start=0, end=5)
        store.upsert(
            [
                SourceBatch(
                    "/p",
                    "h2",
                    [
                        Chunk(
                            id="c2",
                            doc_id="d",
                            text="Other",
                            position=0,
                            start=0,
                            end=5,
                            parent_id="s2",
                            source="/p",
                        )
                    ],
                    vectors_for(ch, 2),
                    [sec2],
                )
            ]
        )
        assert store.get_sections(["s1", "s2"]) == [sec2]

    def test_wrong_vector_shape_is_refused(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "shape", DIM)
        ch = make_chunks(2, "/x", seed=1, chunks_per_doc=1)
        with pytest.raises(StoreError, match="shape"):
            store.upsert([SourceBatch("/x", "h", ch, np.zeros((2, DIM + 1), np.float32))])

    @pytest.fixture
    def secured(self, tmp_path: Path) -> tuple[Store, list[Chunk], np.ndarray]:
        store = self.make_store(tmp_path / "acl", DIM)
        a = with_random_access(make_chunks(60, "/data/a.jsonl", seed=3), seed=3)
        b = with_random_access(make_chunks(60, "/data/b.jsonl", seed=4), seed=4)
        va, vb = vectors_for(a, 3), vectors_for(b, 4)
        store.upsert([SourceBatch("/data/a.jsonl", "ha", a, va), SourceBatch("/data/b.jsonl", "hb", b, vb)])
        store.finalize()
        return store, a + b, np.concatenate([va, vb])

    @pytest.mark.parametrize("principal", PRINCIPALS, ids=[repr(p) for p in PRINCIPALS])
    def test_access_filter_returns_exactly_the_readable_chunks(
        self, secured: tuple[Store, list[Chunk], np.ndarray], principal: Principal
    ) -> None:
        store, chunks, vecs = secured
        readable = {c.id for c in chunks if principal.can_read(c.access)}
        f = Visible(principal)
        q = vecs[7]
        assert {h.chunk.id for h in store.search_dense(q, len(chunks), f)} == readable
        # A small top-k is the top of the readable set: the ACL is a prefilter, not a post-filter.
        top = store.search_dense(q, 5, f)
        ref = sorted((i for i, c in enumerate(chunks) if c.id in readable), key=lambda i: -float(vecs[i] @ q))
        assert [h.chunk.id for h in top] == [chunks[i].id for i in ref[:5]]
        kw = store.keyword_candidates("alpha beta gamma delta", len(chunks), f)
        terms = {"alpha", "beta", "gamma", "delta"}
        with_terms = {c.id for c in chunks if c.id in readable and terms & set(c.text.split())}
        assert {c.chunk_id for c in kw} == with_terms
        assert all(principal.can_read(c.access) for c in store.fetch_chunks(kw))
        # ANDed with a caller's own filter, the result only narrows.
        both = And((f, parse_filter({"year": {"$gte": 2010}})))
        got = {h.chunk.id for h in store.search_dense(q, len(chunks), both)}
        assert got == {
            c.id
            for c in chunks
            if c.id in readable and matches(parse_filter({"year": {"$gte": 2010}}), c.metadata)
        }
        docs = store.documents(f, limit=1000)
        assert {d.doc_id for d in docs} == {c.doc_id for c in chunks if c.id in readable}
        assert all(principal.can_read(d.access) for d in docs)
        assert all(principal.can_read(c.access) for c in store.find_chunks(f))

    def test_access_round_trips_and_reference_matches(
        self, secured: tuple[Store, list[Chunk], np.ndarray]
    ) -> None:
        store, chunks, vecs = secured
        by_id = {c.id: c for c in chunks}
        for h in store.search_dense(vecs[0], 20):
            assert h.chunk.access == by_id[h.chunk.id].access
        p = PRINCIPALS[2]
        assert all(matches(Visible(p), c.metadata, c.access) == p.can_read(c.access) for c in chunks)

    def test_documents_and_find_chunks(self, filled: tuple[Store, list[Chunk], np.ndarray]) -> None:
        store, chunks, _ = filled
        doc_ids = sorted({c.doc_id for c in chunks})
        page1 = store.documents(limit=10)
        page2 = store.documents(limit=10, offset=10)
        assert [d.doc_id for d in page1 + page2] == doc_ids[:20]
        assert all(d.chunks == 2 and d.source.startswith("/data/") for d in page1)
        assert store.documents(parse_filter({"doc_id": "nope"})) == []
        one = store.find_chunks(parse_filter({"doc_id": doc_ids[3]}))
        assert [c.id for c in one] == [c.id for c in chunks if c.doc_id == doc_ids[3]]

    # -- unit (sentence) vectors: MaxSim search ------------------------------------------------------

    @pytest.fixture
    def with_units(self, tmp_path: Path) -> tuple[Store, list[Chunk], list[np.ndarray]]:
        """Chunks with metadata, access and 0-4 random unit vectors each (some have none)."""
        store = self.make_store(tmp_path / "units", DIM)
        a = with_random_access(make_chunks(30, "/data/a.jsonl", seed=5), seed=5)
        b = with_random_access(make_chunks(30, "/data/b.jsonl", seed=6), seed=6)
        ua, ub = units_for(a, 5), units_for(b, 6)
        store.upsert(
            [
                SourceBatch("/data/a.jsonl", "ha", a, vectors_for(a, 5), unit_vectors=ua),
                SourceBatch("/data/b.jsonl", "hb", b, vectors_for(b, 6), unit_vectors=ub),
            ]
        )
        store.finalize()
        return store, a + b, ua + ub

    def test_unit_candidates_match_numpy_maxsim(
        self, with_units: tuple[Store, list[Chunk], list[np.ndarray]]
    ) -> None:
        store, chunks, units = with_units
        assert any(len(u) == 0 for u in units) and any(len(u) > 1 for u in units)
        q = np.random.default_rng(0).normal(size=DIM).astype(np.float32) * 3  # not unit length
        ref = maxsim_reference(chunks, units, q)
        for n in (1, 10, len(chunks)):
            got = store.unit_candidates(q, n)
            assert [c.chunk_id for c in got] == [cid for cid, _ in ref[:n]]
            assert [c.score for c in got] == pytest.approx([s for _, s in ref[:n]], abs=1e-5)
        # Chunks without units never come back, however many are asked for.
        assert len(store.unit_candidates(q, 1000)) == sum(len(u) > 0 for u in units)
        assert store.unit_candidates(q, 0) == []

    @pytest.mark.parametrize("spec", FILTERS[::3], ids=[str(f) for f in FILTERS[::3]])
    def test_unit_candidates_honour_filters(
        self, with_units: tuple[Store, list[Chunk], list[np.ndarray]], spec: dict[str, Any]
    ) -> None:
        store, chunks, units = with_units
        f = parse_filter(spec)
        q = units[1][0] if len(units[1]) else np.ones(DIM, np.float32)
        ok = {c.id for c in chunks if matches(f, {**c.metadata, "doc_id": c.doc_id, "source": c.source})}
        ref = [(cid, s) for cid, s in maxsim_reference(chunks, units, q) if cid in ok]
        assert [c.chunk_id for c in store.unit_candidates(q, len(chunks), f)] == [cid for cid, _ in ref]
        # A small n is the top of the filtered set: the filter ran before the limit.
        assert [c.chunk_id for c in store.unit_candidates(q, 3, f)] == [cid for cid, _ in ref[:3]]

    @pytest.mark.parametrize("principal", PRINCIPALS[:4], ids=[repr(p) for p in PRINCIPALS[:4]])
    def test_unit_candidates_return_only_readable_chunks(
        self, with_units: tuple[Store, list[Chunk], list[np.ndarray]], principal: Principal
    ) -> None:
        store, chunks, units = with_units
        readable = {c.id for c in chunks if principal.can_read(c.access)}
        q = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
        ref = [cid for cid, _ in maxsim_reference(chunks, units, q) if cid in readable]
        assert [c.chunk_id for c in store.unit_candidates(q, len(chunks), Visible(principal))] == ref
        assert [c.chunk_id for c in store.unit_candidates(q, 4, Visible(principal))] == ref[:4]

    def test_unit_candidates_see_every_write_after_a_search(
        self, with_units: tuple[Store, list[Chunk], list[np.ndarray]]
    ) -> None:
        # Like dense search, unit search may serve from an in-memory copy: writes must drop it.
        store, chunks, units = with_units
        q = np.random.default_rng(2).normal(size=DIM).astype(np.float32)
        assert store.unit_candidates(q, 5)
        new = [replace(c, id=c.id + "-v2") for c in make_chunks(6, "/data/a.jsonl", seed=8, chunks_per_doc=1)]
        new_units = units_for(new, 8)
        store.upsert([SourceBatch("/data/a.jsonl", "ha2", new, vectors_for(new, 8), unit_vectors=new_units)])
        b = [(c, u) for c, u in zip(chunks, units, strict=True) if c.source == "/data/b.jsonl"]
        now_chunks = new + [c for c, _ in b]
        now_units = new_units + [u for _, u in b]
        got = store.unit_candidates(q, 1000)
        ref = maxsim_reference(now_chunks, now_units, q)
        assert [c.chunk_id for c in got] == [cid for cid, _ in ref]
        assert [c.score for c in got] == pytest.approx([s for _, s in ref], abs=1e-5)
        # Replacing a source without unit vectors takes its chunks out of unit search.
        store.upsert([SourceBatch("/data/a.jsonl", "ha3", new, vectors_for(new, 8))])
        assert {c.chunk_id for c in store.unit_candidates(q, 1000)} == {c.id for c, u in b if len(u)}
        store.delete_sources(["/data/b.jsonl"])
        assert store.unit_candidates(q, 1000) == []

    def test_wrong_unit_vector_shape_is_refused(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "ushape", DIM)
        ch = make_chunks(2, "/x", seed=1, chunks_per_doc=1)
        vecs = vectors_for(ch, 1)
        with pytest.raises(StoreError, match="unit vector"):
            store.upsert([SourceBatch("/x", "h", ch, vecs, unit_vectors=[np.zeros((1, DIM), np.float32)])])
        bad = [np.zeros((2, DIM), np.float32), np.zeros((3, DIM - 1), np.float32)]
        with pytest.raises(StoreError, match=rf"\(k, {DIM}\)"):
            store.upsert([SourceBatch("/x", "h", ch, vecs, unit_vectors=bad)])
        assert "/x" not in store.source_hashes()

    def test_fetch_chunks_on_unit_candidates(
        self, with_units: tuple[Store, list[Chunk], list[np.ndarray]]
    ) -> None:
        store, chunks, units = with_units
        by_id = {c.id: c for c in chunks}
        cands = store.unit_candidates(units[4][0] if len(units[4]) else np.ones(DIM, np.float32), 8)
        assert len(cands) == 8
        assert store.fetch_chunks(cands[::-1]) == [by_id[c.chunk_id] for c in cands[::-1]]
        assert store.fetch_texts(cands) == [by_id[c.chunk_id].embed_text for c in cands]

    def test_unit_candidates_empty_without_units(
        self, tmp_path: Path, filled: tuple[Store, list[Chunk], np.ndarray]
    ) -> None:
        store, _, vecs = filled
        assert store.unit_candidates(vecs[0], 10) == []
        assert self.make_store(tmp_path / "none", DIM).unit_candidates(vecs[0], 10) == []

    # -- token states (late interaction) ---------------------------------------------------------

    @pytest.mark.parametrize("ann_threshold", [10_000, 5])
    def test_token_states_round_trip_in_order(self, tmp_path: Path, ann_threshold: int) -> None:
        """Below the ANN threshold states are read by row id, above it by a chunk-id lookup."""
        store = self.make_store(tmp_path / "tok", DIM, ann_threshold=ann_threshold)
        chunks = make_chunks(10, "/t.jsonl", seed=5)
        tokens = units_for(chunks, seed=6)  # 0-4 unit rows each: some chunks have no tokens
        store.upsert([SourceBatch("/t.jsonl", "h", chunks, vectors_for(chunks, 5), token_states=tokens)])
        store.finalize()
        ids = [c.id for c in chunks]
        order = [*ids[::-1], "no-such-chunk"]
        got = store.fetch_token_states(order)
        assert len(got) == len(order) and got[-1] is None
        want = dict(zip(ids, tokens, strict=True))
        for cid, m in zip(order[:-1], got[:-1], strict=True):
            assert m is not None and m.shape == want[cid].shape
            # int8 per row: each component within half a step of the row's absmax / 127.
            step = np.abs(want[cid]).max(axis=1, keepdims=True) / 127 if len(m) else 0
            assert np.all(np.abs(m - want[cid]) <= step * 0.51 + 1e-6)
        assert store.fetch_token_states([]) == []
        # With the embedded texts given, a chunk whose stored text differs gets None.
        texts = [c.embed_text for c in chunks]
        texts[2] = "another header\n" + texts[2]
        checked = store.fetch_token_states(ids, texts)
        assert checked[2] is None and all(m is not None for i, m in enumerate(checked) if i != 2)
        with pytest.raises(StoreError, match="one each"):
            store.fetch_token_states(ids, texts[:3])

    def test_token_states_absent_unless_stored_and_replaced_with_their_source(
        self, tmp_path: Path, filled: tuple[Store, list[Chunk], np.ndarray]
    ) -> None:
        store, chunks, vecs = filled
        assert store.fetch_token_states([chunks[0].id]) == [None]  # collection without the column
        a = [c for c in chunks if c.source == "/data/a.jsonl"]
        tokens = [np.eye(DIM, dtype=np.float32)[: 1 + i % 3] for i in range(len(a))]
        store.upsert([SourceBatch("/data/a.jsonl", "ha2", a, vecs[: len(a)], token_states=tokens)])
        got = store.fetch_token_states([a[1].id, chunks[-1].id])
        assert got[0] is not None and np.allclose(got[0], tokens[1], atol=1e-6)
        assert got[1] is None  # /data/b.jsonl was written before token states
        store.upsert([SourceBatch("/data/a.jsonl", "ha3", a, vecs[: len(a)])])  # re-indexed without
        assert store.fetch_token_states([a[1].id]) == [None]

    def test_wrong_token_state_shape_is_refused(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "tshape", DIM)
        ch = make_chunks(2, "/x", seed=1, chunks_per_doc=1)
        vecs = vectors_for(ch, 1)
        with pytest.raises(StoreError, match="token-state"):
            store.upsert([SourceBatch("/x", "h", ch, vecs, token_states=[np.zeros((1, DIM), np.float32)])])
        bad = [np.zeros((2, DIM), np.float32), np.zeros((3, DIM - 1), np.float32)]
        with pytest.raises(StoreError, match=rf"\(tokens, {DIM}\)"):
            store.upsert([SourceBatch("/x", "h", ch, vecs, token_states=bad)])
        packed = [PackedTokens.of(np.ones((2, DIM), np.float32)), PackedTokens.of(np.ones((1, DIM - 1)))]
        with pytest.raises(StoreError, match=rf"{DIM - 1}-d; expected \(tokens, {DIM}\)"):
            store.upsert([SourceBatch("/x", "h", ch, vecs, token_states=packed)])
        assert "/x" not in store.source_hashes()

    def test_packed_token_states_store_as_the_matrices_do(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "packed", DIM)
        ch = make_chunks(2, "/x", seed=1, chunks_per_doc=1)
        tokens = units_for(ch, seed=3)
        store.upsert([SourceBatch("/x", "h", ch, vectors_for(ch, 1), token_states=tokens)])
        as_arrays = store.fetch_token_states([c.id for c in ch])
        packed = [PackedTokens.of(t.reshape(-1, DIM)) for t in tokens]
        store.upsert([SourceBatch("/x", "h2", ch, vectors_for(ch, 1), token_states=packed)])
        for a, b in zip(as_arrays, store.fetch_token_states([c.id for c in ch]), strict=True):
            assert a is not None and b is not None
            np.testing.assert_array_equal(a, b)


def units_for(chunks: list[Chunk], seed: int, dim: int = DIM) -> list[np.ndarray]:
    """0-4 random unit-length vectors per chunk (about one chunk in five has none)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in chunks:
        u = rng.normal(size=(int(rng.integers(0, 5)), dim)).astype(np.float32)
        out.append(u / np.linalg.norm(u, axis=1, keepdims=True) if len(u) else u)
    return out


def maxsim_reference(chunks: list[Chunk], units: list[np.ndarray], q: np.ndarray) -> list[tuple[str, float]]:
    """(chunk id, best cosine of q with any of its units), best first; chunks without units left out."""
    qn = q / np.linalg.norm(q)
    scored = [(c.id, float((u @ qn).max())) for c, u in zip(chunks, units, strict=True) if len(u)]
    return sorted(scored, key=lambda x: -x[1])
