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

from ragline.errors import FilterError, StoreError
from ragline.store.base import SourceBatch, Store
from ragline.store.filters import matches, parse_filter
from ragline.types import Chunk, Section

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
