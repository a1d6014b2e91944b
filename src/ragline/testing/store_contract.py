"""The Store contract: the tests every store backend must pass, shipped with ragline so a new
backend (ours or a third party's) imports them and declares which capabilities it claims.

A backend's test class inherits :class:`CoreContract` and one mixin per search capability it has
(:class:`DenseContract`, :class:`KeywordContract`, :class:`SentenceContract`,
:class:`TokenStateContract`, :class:`VectorFetchContract`; :class:`StoreContract` is all of
them and :class:`ExportContract`), :class:`VersionContract` when it keeps versions, and
implements ``make_store``::

    from ragline.testing.store_contract import CoreContract, DenseContract

    class TestMyStore(CoreContract, DenseContract):
        def make_store(self, root, dimension, **options):
            return MyStore(root, dimension=dimension, model_id="test-model")

``options`` are backend tuning hints a backend may ignore (today ``ann_threshold``, so LanceDB's
paths above and below its exact-search threshold both run). Results are checked against exact
numpy search and the reference filter evaluator (:func:`ragline.store.filters.matches`), in the
spirit of qdrant-client's congruence tests; :meth:`CoreContract.test_has_the_capabilities_it_claims`
checks the store really has each claimed capability (:func:`ragline.store.base.capabilities`).

This module needs pytest (a dev dependency, ``pip install 'ragline[dev]'``); nothing in ragline
imports it. For pytest's detailed assertion messages, register it in your ``conftest.py`` before
it is imported: ``pytest.register_assert_rewrite("ragline.testing.store_contract")``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt

try:
    import pytest
except ImportError as exc:  # pragma: no cover - only without the dev dependencies
    raise ImportError(
        "ragline.testing.store_contract needs pytest: pip install 'ragline[dev]' (or pytest)"
    ) from exc

from ragline.embedding.tokens import PackedTokens
from ragline.errors import FilterError, StoreError
from ragline.store.base import (
    Candidate,
    DenseSearch,
    KeywordSearch,
    PortableStore,
    SentenceSearch,
    SentenceVectorFetch,
    SourceBatch,
    Store,
    TokenStateStore,
    VectorFetch,
    VersionedStore,
    capabilities,
)
from ragline.store.filters import And, Filter, Scalar, Visible, matches, parse_filter
from ragline.types import Access, Chunk, Principal, Section

Floats = npt.NDArray[np.float32]
DIM = 16
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda", "sigma"]
TYPES = ["paper", "report", "memo", "o'reilly"]


def make_chunks(n_docs: int, source: str, seed: int, chunks_per_doc: int = 2) -> list[Chunk]:
    """Documents of ``chunks_per_doc`` chunks of 12 random :data:`WORDS`, with random metadata
    (each field missing from some documents)."""
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


def vectors_for(chunks: Sequence[Chunk], seed: int, dim: int = DIM) -> Floats:
    """One random unit vector per chunk."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(len(chunks), dim)).astype(np.float32)
    out: Floats = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def units_for(chunks: Sequence[Chunk], seed: int, dim: int = DIM) -> list[Floats]:
    """0-4 random unit-length vectors per chunk (about one chunk in five has none)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in chunks:
        u = rng.normal(size=(int(rng.integers(0, 5)), dim)).astype(np.float32)
        out.append(u / np.linalg.norm(u, axis=1, keepdims=True) if len(u) else u)
    return out


def maxsim_reference(chunks: Sequence[Chunk], units: Sequence[Floats], q: Floats) -> list[tuple[str, float]]:
    """(chunk id, best cosine of q with any of its units), best first; chunks without units left out."""
    qn = q / np.linalg.norm(q)
    scored = [(c.id, float((u @ qn).max())) for c, u in zip(chunks, units, strict=True) if len(u)]
    return sorted(scored, key=lambda x: -x[1])


def filter_values(c: Chunk) -> dict[str, Scalar | None]:
    """What a filter sees of a chunk: its metadata and the built-in fields."""
    return {**c.metadata, "doc_id": c.doc_id, "source": c.source, "section": c.section}


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
PRINCIPALS = [
    Principal("acme"),
    Principal("acme", ("eng",)),
    Principal("acme", ("hr", "legal"), 2),
    Principal("globex", ("ops",), 1),
    Principal("globex", tuple(GROUPS), 5),
    Principal("initech", tuple(GROUPS), 9),
    Principal("acme", ("o'brien",)),
]


def with_random_access(chunks: Sequence[Chunk], seed: int) -> list[Chunk]:
    """Give each document a random tenant, group set (often empty) and clearance."""
    rng = random.Random(seed)
    by_doc: dict[str, Access] = {}
    for c in chunks:
        if c.doc_id not in by_doc:
            groups = tuple(sorted(rng.sample(GROUPS, rng.choice([0, 0, 1, 1, 2]))))
            by_doc[c.doc_id] = Access(rng.choice(TENANTS), groups, rng.choice([0, 0, 1, 2]))
    return [replace(c, access=by_doc[c.doc_id]) for c in chunks]


class Scored(NamedTuple):
    """A searched chunk and its score."""

    chunk: Chunk
    score: float


def scored(store: Store, candidates: Sequence[Candidate]) -> list[Scored]:
    """The chunks behind ``candidates`` with their scores, in order."""
    score = {c.chunk_id: c.score for c in candidates}
    return [Scored(c, score[c.id]) for c in store.fetch_chunks(candidates)]


def dense_hits(store: Store, vector: Floats, top_k: int, filters: Filter | None = None) -> list[Scored]:
    """Dense search and fetch: the best ``top_k`` chunks for ``vector``."""
    assert isinstance(store, DenseSearch), "the store has no dense search"
    return scored(store, store.dense_candidates(vector, top_k, filters))


def keyword_hits(store: Store, text: str, top_k: int, filters: Filter | None = None) -> list[Scored]:
    """Keyword search and fetch: the best ``top_k`` chunks for ``text``."""
    assert isinstance(store, KeywordSearch), "the store has no keyword search"
    return scored(store, store.keyword_candidates(text, top_k, filters))


Filled = tuple[Store, list[Chunk], Floats]
WithUnits = tuple[Store, list[Chunk], list[Floats]]


class _Contract:
    """What every part of the contract shares: the backend's factory and the seeded stores."""

    # The capability (a name from ragline.store.base.capabilities) a mixin's tests need.
    capability: ClassVar[str | None] = None

    def make_store(self, root: Path, dimension: int, **options: Any) -> Store:
        raise NotImplementedError

    @pytest.fixture
    def filled(self, tmp_path: Path) -> Filled:
        """Two sources of 40 two-chunk documents with random metadata and vectors."""
        store = self.make_store(tmp_path / "col", DIM)
        a = make_chunks(40, "/data/a.jsonl", seed=1)
        b = make_chunks(40, "/data/b.jsonl", seed=2)
        va, vb = vectors_for(a, 1), vectors_for(b, 2)
        store.upsert([SourceBatch("/data/a.jsonl", "ha", a, va), SourceBatch("/data/b.jsonl", "hb", b, vb)])
        store.finalize()
        return store, a + b, np.concatenate([va, vb])

    @pytest.fixture
    def secured(self, tmp_path: Path) -> Filled:
        """Like ``filled``, each document with a random tenant, groups and clearance."""
        store = self.make_store(tmp_path / "acl", DIM)
        a = with_random_access(make_chunks(60, "/data/a.jsonl", seed=3), seed=3)
        b = with_random_access(make_chunks(60, "/data/b.jsonl", seed=4), seed=4)
        va, vb = vectors_for(a, 3), vectors_for(b, 4)
        store.upsert([SourceBatch("/data/a.jsonl", "ha", a, va), SourceBatch("/data/b.jsonl", "hb", b, vb)])
        store.finalize()
        return store, a + b, np.concatenate([va, vb])

    @pytest.fixture
    def with_units(self, tmp_path: Path) -> WithUnits:
        """Chunks with metadata, access and 0-4 random unit vectors each (some have none)."""
        store = self.make_store(tmp_path / "units", DIM)
        a = with_random_access(make_chunks(30, "/data/a.jsonl", seed=5), seed=5)
        b = with_random_access(make_chunks(30, "/data/b.jsonl", seed=6), seed=6)
        ua, ub = units_for(a, 5), units_for(b, 6)
        store.upsert(
            [
                SourceBatch("/data/a.jsonl", "ha", a, vectors_for(a, 5), sentence_vectors=ua),
                SourceBatch("/data/b.jsonl", "hb", b, vectors_for(b, 6), sentence_vectors=ub),
            ]
        )
        store.finalize()
        return store, a + b, ua + ub


class CoreContract(_Contract):
    """The core :class:`~ragline.store.base.Store` protocol: writes, deletes, reads by key and
    filter, counts. Every backend passes these."""

    def test_has_the_capabilities_it_claims(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "caps", DIM)
        assert isinstance(store, Store)
        claimed = {c.__dict__["capability"] for c in type(self).__mro__ if c.__dict__.get("capability")}
        assert claimed <= capabilities(store)

    def test_empty_store_reads_empty(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "empty", DIM)
        assert store.source_hashes() == {}
        assert store.stats().chunks == 0
        assert store.all_chunks() == [] and store.documents() == [] and store.fetch_chunks([]) == []
        assert store.metadata_fields() == {} and store.chunks_at([("d", 0)]) == []

    def test_upsert_replaces_a_source_atomically(self, filled: Filled) -> None:
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

    def test_all_chunks_return_whole_as_stored(self, filled: Filled) -> None:
        store, chunks, _ = filled
        assert store.all_chunks() == sorted(chunks, key=lambda c: (c.doc_id, c.position))
        stats = store.stats()
        assert (stats.chunks, stats.documents, stats.sources) == (160, 80, 2)
        assert stats.metadata_fields == {
            "year": "number",
            "doc_type": "string",
            "score": "number",
            "flag": "bool",
        }

    def test_delete_documents_and_sources(self, filled: Filled) -> None:
        store, _, _ = filled
        n = store.delete_documents(["a.jsonl-d0", "b.jsonl-d3", "missing"])
        assert n == 4
        ids = {c.doc_id for c in store.all_chunks()}
        assert "a.jsonl-d0" not in ids and "b.jsonl-d3" not in ids and "a.jsonl-d1" in ids
        # The source no longer matches its file, so the next ingest re-indexes it.
        assert store.source_hashes()["/data/a.jsonl"] == ""
        assert store.delete_sources(["/data/b.jsonl"]) == 78
        assert set(store.source_hashes()) == {"/data/a.jsonl"}
        assert store.delete_documents([]) == 0

    def test_delete_documents_within_a_filter_leaves_the_rest(self, secured: Filled) -> None:
        store, chunks, _ = secured
        p = PRINCIPALS[1]
        docs = sorted({c.doc_id for c in chunks})[:20]
        readable = [c for c in chunks if c.doc_id in docs and p.can_read(c.access)]
        assert store.delete_documents(docs, Visible(p)) == len(readable)
        left = {c.id for c in store.all_chunks()}
        assert not left & {c.id for c in readable}
        assert {c.id for c in chunks if c.doc_id in docs and not p.can_read(c.access)} <= left

    def test_unknown_field_and_type_mismatch_are_clear_errors(self, filled: Filled) -> None:
        store, _, _ = filled
        with pytest.raises(FilterError, match="yaer"):
            store.find_chunks(parse_filter({"yaer": 2010}))
        with pytest.raises(FilterError, match="number"):
            store.documents(parse_filter({"year": "2010"}))

    def test_metadata_type_clash_is_refused(self, filled: Filled) -> None:
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

    @pytest.mark.parametrize("spec", FILTERS, ids=[str(f) for f in FILTERS])
    def test_find_chunks_matches_the_reference_filter(self, filled: Filled, spec: dict[str, Any]) -> None:
        store, chunks, _ = filled
        f = parse_filter(spec)
        want = sorted(
            (c for c in chunks if matches(f, filter_values(c))), key=lambda c: (c.doc_id, c.position)
        )
        assert store.find_chunks(f) == want
        assert [d.doc_id for d in store.documents(f, limit=1000)] == sorted({c.doc_id for c in want})
        assert store.stats(f).chunks == len(want)

    def test_chunks_at_returns_requested_positions_in_order(self, filled: Filled) -> None:
        store, chunks, _ = filled
        by_key = {(c.doc_id, c.position): c for c in chunks}
        keys = [("b.jsonl-d3", 1), ("a.jsonl-d0", 0), ("a.jsonl-d0", 7), ("nope", 0), ("a.jsonl-d0", 1)]
        got = store.chunks_at(keys)
        assert [(c.doc_id, c.position) for c in got] == [k for k in keys if k in by_key]
        assert [c.id for c in got] == [by_key[k].id for k in keys if k in by_key]
        assert got[0].text == by_key[("b.jsonl-d3", 1)].text
        assert store.chunks_at([]) == []

    def test_chunks_at_sees_every_write_and_shared_doc_ids(self, filled: Filled) -> None:
        # A backend may answer from a map of positions read once: every write must be seen.
        store, chunks, _ = filled
        new = [
            replace(c, id=c.id + "-v2", text=c.text + " again") for c in chunks if c.source == "/data/a.jsonl"
        ]
        store.upsert([SourceBatch("/data/a.jsonl", "ha2", new, vectors_for(new, 9))])
        got = store.chunks_at([("a.jsonl-d0", 0), ("a.jsonl-d0", 1)])
        assert [c.id for c in got] == ["a.jsonl-d0-c0-v2", "a.jsonl-d0-c1-v2"]
        assert all(c.text.endswith(" again") for c in got)
        # Another source with the same document id: a key two documents share gives both.
        twin = [
            replace(c, id=c.id + "-twin", source="/data/c.jsonl") for c in new if c.doc_id == "a.jsonl-d0"
        ]
        store.upsert([SourceBatch("/data/c.jsonl", "hc", twin, vectors_for(twin, 10))])
        got = store.chunks_at([("a.jsonl-d0", 0)])
        assert sorted(c.source for c in got) == ["/data/a.jsonl", "/data/c.jsonl"]
        store.delete_sources(["/data/a.jsonl", "/data/c.jsonl"])
        assert store.chunks_at([("a.jsonl-d0", 0), ("a.jsonl-d0", 1)]) == []

    def test_sections_round_trip(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "sec", DIM)
        sec = Section(id="s1", doc_id="d", text="Parent text here", start=0, end=16, section_path=("A", "B"))
        ch = [
            Chunk(id="c", doc_id="d", text="Parent", position=0, start=0, end=6, parent_id="s1", source="/p")
        ]
        store.upsert([SourceBatch("/p", "h", ch, vectors_for(ch, 1), [sec])])
        assert store.get_sections(["s1", "nope"]) == [sec]
        assert [c.parent_id for c in store.all_chunks()] == ["s1"]
        assert store.stats().sections == 1
        # Replacing the source with new sections drops the old ones.
        sec2 = Section(id="s2", doc_id="d", text="Other", start=0, end=5)
        ch2 = [
            Chunk(id="c2", doc_id="d", text="Other", position=0, start=0, end=5, parent_id="s2", source="/p")
        ]
        store.upsert([SourceBatch("/p", "h2", ch2, vectors_for(ch, 2), [sec2])])
        assert store.get_sections(["s1", "s2"]) == [sec2]

    def test_wrong_vector_shape_is_refused(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "shape", DIM)
        ch = make_chunks(2, "/x", seed=1, chunks_per_doc=1)
        with pytest.raises(StoreError, match="shape"):
            store.upsert([SourceBatch("/x", "h", ch, np.zeros((2, DIM + 1), np.float32))])

    def test_documents_and_find_chunks(self, filled: Filled) -> None:
        store, chunks, _ = filled
        doc_ids = sorted({c.doc_id for c in chunks})
        page1 = store.documents(limit=10)
        page2 = store.documents(limit=10, offset=10)
        assert [d.doc_id for d in page1 + page2] == doc_ids[:20]
        assert all(d.chunks == 2 and d.source.startswith("/data/") for d in page1)
        assert store.documents(parse_filter({"doc_id": "nope"})) == []
        one = store.find_chunks(parse_filter({"doc_id": doc_ids[3]}))
        assert [c.id for c in one] == [c.id for c in chunks if c.doc_id == doc_ids[3]]

    def test_field_values_lists_small_string_fields(self, filled: Filled) -> None:
        store, _, _ = filled
        assert store.field_values() == {"doc_type": sorted(TYPES)}
        assert store.field_values(max_values=3) == {}

    @pytest.mark.parametrize("principal", PRINCIPALS, ids=[repr(p) for p in PRINCIPALS])
    def test_access_filter_reads_exactly_the_readable_chunks(
        self, secured: Filled, principal: Principal
    ) -> None:
        store, chunks, _ = secured
        f = Visible(principal)
        readable = {c.id for c in chunks if principal.can_read(c.access)}
        assert {c.id for c in store.find_chunks(f)} == readable
        docs = store.documents(f, limit=1000)
        assert {d.doc_id for d in docs} == {c.doc_id for c in chunks if c.id in readable}
        assert all(principal.can_read(d.access) for d in docs)
        keys = [(c.doc_id, c.position) for c in chunks]
        assert {c.id for c in store.chunks_at(keys, f)} == readable
        assert store.stats(f).chunks == len(readable)

    def test_access_round_trips_and_reference_matches(self, secured: Filled) -> None:
        store, chunks, _ = secured
        by_id = {c.id: c for c in chunks}
        for c in store.all_chunks():
            assert c.access == by_id[c.id].access
        p = PRINCIPALS[2]
        assert all(matches(Visible(p), c.metadata, c.access) == p.can_read(c.access) for c in chunks)
        assert store.tenants() == {c.access.tenant for c in chunks}
        gone = sum(c.access.tenant != "acme" for c in chunks)
        assert store.retain_tenant("acme") == gone
        assert store.tenants() == {"acme"}


class DenseContract(_Contract):
    """:class:`~ragline.store.base.DenseSearch`: exact cosine ranking, prefiltered."""

    capability = "dense search"

    def test_dense_empty_store_finds_nothing(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "empty", DIM)
        assert dense_hits(store, np.ones(DIM, np.float32), 5) == []

    def test_dense_matches_exact_search(self, filled: Filled) -> None:
        store, chunks, vecs = filled
        q = vecs[3] + 0.3 * vecs[50]
        q /= np.linalg.norm(q)
        hits = dense_hits(store, q, 10)
        expected = [chunks[i].id for i in np.argsort(-(vecs @ q))[:10]]
        assert [h.chunk.id for h in hits] == expected
        assert all(hits[i].score >= hits[i + 1].score for i in range(len(hits) - 1))
        assert [h.score for h in hits] == pytest.approx(sorted(vecs @ q, reverse=True)[:10], abs=1e-5)
        by_id = {c.id: c for c in chunks}
        # Chunks come back whole: text, span and metadata as stored.
        assert all(h.chunk == by_id[h.chunk.id] for h in hits)

    @pytest.mark.parametrize("spec", FILTERS, ids=[str(f) for f in FILTERS])
    def test_dense_every_filter_operator_matches_reference(
        self, filled: Filled, spec: dict[str, Any]
    ) -> None:
        store, chunks, vecs = filled
        f = parse_filter(spec)
        allowed = [i for i, c in enumerate(chunks) if matches(f, filter_values(c))]
        q = vecs[0]
        # All matching chunks come back, and nothing else.
        everything = dense_hits(store, q, len(chunks), f)
        assert {h.chunk.id for h in everything} == {chunks[i].id for i in allowed}
        # A small top-k is the exact top of the filtered set: the filter ran before the limit.
        ref = sorted(allowed, key=lambda i: -float(vecs[i] @ q))[:5]
        assert [h.chunk.id for h in dense_hits(store, q, 5, f)] == [chunks[i].id for i in ref]

    def test_dense_candidates_then_fetch_give_chunks_and_texts(self, filled: Filled) -> None:
        store, chunks, vecs = filled
        assert isinstance(store, DenseSearch)
        cands = store.dense_candidates(vecs[5], 12, parse_filter({"year": {"$gte": 2008}}))
        by_id = {c.id: c for c in chunks}
        assert store.fetch_chunks(cands[::-1]) == [by_id[c.chunk_id] for c in cands[::-1]]
        assert store.fetch_texts(cands[::-1]) == [by_id[c.chunk_id].embed_text for c in cands[::-1]]
        assert store.fetch_chunks([]) == [] and store.fetch_texts([]) == []
        assert store.dense_candidates(vecs[5], 0) == []

    def test_dense_search_sees_every_write_after_a_search(self, filled: Filled) -> None:
        # A backend may serve exact search from an in-memory copy of the vectors: a write must
        # drop it, or searches would return deleted chunks and miss new ones.
        store, _, vecs = filled
        assert isinstance(store, DenseSearch)
        assert store.dense_candidates(vecs[0], 5)
        new = [replace(c, id=c.id + "-v3") for c in make_chunks(3, "/data/a.jsonl", seed=7, chunks_per_doc=1)]
        new_vecs = vectors_for(new, 11)
        store.upsert([SourceBatch("/data/a.jsonl", "ha3", new, new_vecs)])
        assert store.dense_candidates(new_vecs[0], 1)[0].chunk_id == new[0].id
        store.delete_documents([new[0].doc_id])
        assert new[0].id not in {c.chunk_id for c in store.dense_candidates(new_vecs[0], 1000)}

    def test_dense_unknown_field_and_type_mismatch_are_clear_errors(self, filled: Filled) -> None:
        store, _, vecs = filled
        with pytest.raises(FilterError, match="yaer"):
            dense_hits(store, vecs[0], 5, parse_filter({"yaer": 2010}))
        with pytest.raises(FilterError, match="number"):
            dense_hits(store, vecs[0], 5, parse_filter({"year": "2010"}))

    @pytest.mark.parametrize("principal", PRINCIPALS, ids=[repr(p) for p in PRINCIPALS])
    def test_dense_access_filter_returns_exactly_the_readable_chunks(
        self, secured: Filled, principal: Principal
    ) -> None:
        store, chunks, vecs = secured
        readable = {c.id for c in chunks if principal.can_read(c.access)}
        f = Visible(principal)
        q = vecs[7]
        assert {h.chunk.id for h in dense_hits(store, q, len(chunks), f)} == readable
        # A small top-k is the top of the readable set: the ACL is a prefilter, not a post-filter.
        top = dense_hits(store, q, 5, f)
        ref = sorted((i for i, c in enumerate(chunks) if c.id in readable), key=lambda i: -float(vecs[i] @ q))
        assert [h.chunk.id for h in top] == [chunks[i].id for i in ref[:5]]
        # ANDed with a caller's own filter, the result only narrows.
        year = parse_filter({"year": {"$gte": 2010}})
        got = {h.chunk.id for h in dense_hits(store, q, len(chunks), And((f, year)))}
        assert got == {c.id for c in chunks if c.id in readable and matches(year, c.metadata)}


class KeywordContract(_Contract):
    """:class:`~ragline.store.base.KeywordSearch`: BM25 with English stemming, prefiltered."""

    capability = "keyword search"

    def test_keyword_empty_store_finds_nothing(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "empty", DIM)
        assert keyword_hits(store, "alpha", 5) == []

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
        hits = keyword_hits(store, "Running dogs!", 10)
        # Stemming makes "run"/"runs"/"running" and "dog"/"dogs" match; c2 has more of them.
        assert [h.chunk.id for h in hits] == ["c2", "c1"]
        assert hits[0].score > hits[1].score > 0
        assert keyword_hits(store, "?!", 10) == []
        assert keyword_hits(store, "the", 10) == []  # a stop word alone matches nothing

    @pytest.mark.parametrize("spec", FILTERS, ids=[str(f) for f in FILTERS])
    def test_keyword_every_filter_operator_matches_reference(
        self, filled: Filled, spec: dict[str, Any]
    ) -> None:
        store, chunks, _ = filled
        f = parse_filter(spec)
        allowed = {c.id for c in chunks if matches(f, filter_values(c))}
        kw = keyword_hits(store, "alpha gamma", len(chunks), f)
        assert {h.chunk.id for h in kw} <= allowed
        with_terms = [c for c in chunks if c.id in allowed and {"alpha", "gamma"} & set(c.text.split())]
        assert len(kw) == len(with_terms)
        assert all(kw[i].score >= kw[i + 1].score for i in range(len(kw) - 1))
        # A small n is the top of the filtered set (by score: random texts tie often).
        top = keyword_hits(store, "alpha gamma", 3, f)
        assert [h.score for h in top] == pytest.approx([h.score for h in kw[:3]], rel=1e-6)

    def test_keyword_candidates_then_fetch_give_chunks_and_texts(self, filled: Filled) -> None:
        store, chunks, _ = filled
        assert isinstance(store, KeywordSearch)
        kw = store.keyword_candidates("beta kappa", 7)
        by_id = {c.id: c for c in chunks}
        assert len(kw) == 7
        assert store.fetch_chunks(kw[::-1]) == [by_id[c.chunk_id] for c in kw[::-1]]
        assert store.fetch_texts(kw) == [by_id[c.chunk_id].embed_text for c in kw]
        assert store.keyword_candidates("beta kappa", 0) == []

    @pytest.mark.parametrize("principal", PRINCIPALS, ids=[repr(p) for p in PRINCIPALS])
    def test_keyword_access_filter_returns_exactly_the_readable_chunks(
        self, secured: Filled, principal: Principal
    ) -> None:
        store, chunks, _ = secured
        readable = {c.id for c in chunks if principal.can_read(c.access)}
        kw = keyword_hits(store, "alpha beta gamma delta", len(chunks), Visible(principal))
        terms = {"alpha", "beta", "gamma", "delta"}
        assert {h.chunk.id for h in kw} == {
            c.id for c in chunks if c.id in readable and terms & set(c.text.split())
        }
        assert all(principal.can_read(h.chunk.access) for h in kw)


class SentenceContract(_Contract):
    """:class:`~ragline.store.base.SentenceSearch`: MaxSim over sentence vectors, prefiltered."""

    capability = "sentence search"

    @staticmethod
    def _units(store: Store) -> SentenceSearch:
        assert isinstance(store, SentenceSearch)
        return store

    def test_sentence_candidates_match_numpy_maxsim(self, with_units: WithUnits) -> None:
        store, chunks, units = with_units
        assert any(len(u) == 0 for u in units) and any(len(u) > 1 for u in units)
        q = np.random.default_rng(0).normal(size=DIM).astype(np.float32) * 3  # not unit length
        ref = maxsim_reference(chunks, units, q)
        for n in (1, 10, len(chunks)):
            got = self._units(store).sentence_candidates(q, n)
            assert [c.chunk_id for c in got] == [cid for cid, _ in ref[:n]]
            assert [c.score for c in got] == pytest.approx([s for _, s in ref[:n]], abs=1e-5)
        # Chunks without units never come back, however many are asked for.
        assert len(self._units(store).sentence_candidates(q, 1000)) == sum(len(u) > 0 for u in units)
        assert self._units(store).sentence_candidates(q, 0) == []

    @pytest.mark.parametrize("spec", FILTERS[::3], ids=[str(f) for f in FILTERS[::3]])
    def test_sentence_candidates_honour_filters(self, with_units: WithUnits, spec: dict[str, Any]) -> None:
        store, chunks, units = with_units
        f = parse_filter(spec)
        q = units[1][0] if len(units[1]) else np.ones(DIM, np.float32)
        ok = {c.id for c in chunks if matches(f, filter_values(c))}
        ref = [(cid, s) for cid, s in maxsim_reference(chunks, units, q) if cid in ok]
        got = self._units(store).sentence_candidates(q, len(chunks), f)
        assert [c.chunk_id for c in got] == [cid for cid, _ in ref]
        # A small n is the top of the filtered set: the filter ran before the limit.
        assert [c.chunk_id for c in self._units(store).sentence_candidates(q, 3, f)] == [
            cid for cid, _ in ref[:3]
        ]

    @pytest.mark.parametrize("principal", PRINCIPALS[:4], ids=[repr(p) for p in PRINCIPALS[:4]])
    def test_sentence_candidates_return_only_readable_chunks(
        self, with_units: WithUnits, principal: Principal
    ) -> None:
        store, chunks, units = with_units
        readable = {c.id for c in chunks if principal.can_read(c.access)}
        q = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
        ref = [cid for cid, _ in maxsim_reference(chunks, units, q) if cid in readable]
        search = self._units(store)
        assert [c.chunk_id for c in search.sentence_candidates(q, len(chunks), Visible(principal))] == ref
        assert [c.chunk_id for c in search.sentence_candidates(q, 4, Visible(principal))] == ref[:4]

    def test_sentence_candidates_see_every_write_after_a_search(self, with_units: WithUnits) -> None:
        # Like dense search, unit search may serve from an in-memory copy: writes must drop it.
        store, chunks, units = with_units
        search = self._units(store)
        q = np.random.default_rng(2).normal(size=DIM).astype(np.float32)
        assert search.sentence_candidates(q, 5)
        new = [replace(c, id=c.id + "-v2") for c in make_chunks(6, "/data/a.jsonl", seed=8, chunks_per_doc=1)]
        new_units = units_for(new, 8)
        store.upsert(
            [SourceBatch("/data/a.jsonl", "ha2", new, vectors_for(new, 8), sentence_vectors=new_units)]
        )
        b = [(c, u) for c, u in zip(chunks, units, strict=True) if c.source == "/data/b.jsonl"]
        now_chunks = new + [c for c, _ in b]
        now_units = new_units + [u for _, u in b]
        got = search.sentence_candidates(q, 1000)
        ref = maxsim_reference(now_chunks, now_units, q)
        assert [c.chunk_id for c in got] == [cid for cid, _ in ref]
        assert [c.score for c in got] == pytest.approx([s for _, s in ref], abs=1e-5)
        # Replacing a source without unit vectors takes its chunks out of unit search.
        store.upsert([SourceBatch("/data/a.jsonl", "ha3", new, vectors_for(new, 8))])
        assert {c.chunk_id for c in search.sentence_candidates(q, 1000)} == {c.id for c, u in b if len(u)}
        store.delete_sources(["/data/b.jsonl"])
        assert search.sentence_candidates(q, 1000) == []

    def test_wrong_unit_vector_shape_is_refused(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "ushape", DIM)
        ch = make_chunks(2, "/x", seed=1, chunks_per_doc=1)
        vecs = vectors_for(ch, 1)
        with pytest.raises(StoreError, match="unit vector"):
            store.upsert(
                [SourceBatch("/x", "h", ch, vecs, sentence_vectors=[np.zeros((1, DIM), np.float32)])]
            )
        bad = [np.zeros((2, DIM), np.float32), np.zeros((3, DIM - 1), np.float32)]
        with pytest.raises(StoreError, match=rf"\(k, {DIM}\)"):
            store.upsert([SourceBatch("/x", "h", ch, vecs, sentence_vectors=bad)])
        assert "/x" not in store.source_hashes()

    def test_fetch_chunks_on_sentence_candidates(self, with_units: WithUnits) -> None:
        store, chunks, units = with_units
        by_id = {c.id: c for c in chunks}
        cands = self._units(store).sentence_candidates(
            units[4][0] if len(units[4]) else np.ones(DIM, np.float32), 8
        )
        assert len(cands) == 8
        assert store.fetch_chunks(cands[::-1]) == [by_id[c.chunk_id] for c in cands[::-1]]
        assert store.fetch_texts(cands) == [by_id[c.chunk_id].embed_text for c in cands]

    def test_fetch_sentence_vectors_gives_each_chunks_text_and_vectors(self, with_units: WithUnits) -> None:
        store, chunks, units = with_units
        if not isinstance(store, SentenceVectorFetch):
            pytest.skip("the backend does not hand out sentence vectors (the answerer embeds instead)")
        ids = [c.id for c in chunks[::-1]] + ["no-such-chunk", chunks[0].id]
        got = store.fetch_sentence_vectors(ids)
        by_id = {c.id: (c, u) for c, u in zip(chunks, units, strict=True)}
        assert len(got) == len(ids) and got[-2] is None
        for cid, g in zip(ids, got, strict=True):
            if cid not in by_id:
                continue
            chunk, u = by_id[cid]
            if len(u) == 0:
                assert g is None
                continue
            assert g is not None and g.text == chunk.text
            # Stored as float16 by some backends: equal up to that rounding, in order.
            want = u / np.linalg.norm(u, axis=1, keepdims=True)
            have = g.vectors / np.linalg.norm(g.vectors, axis=1, keepdims=True)
            np.testing.assert_allclose(have, want, atol=2e-3)
        assert store.fetch_sentence_vectors([]) == []

    def test_sentence_candidates_empty_without_units(self, tmp_path: Path, filled: Filled) -> None:
        store, _, vecs = filled
        assert self._units(store).sentence_candidates(vecs[0], 10) == []
        assert self._units(self.make_store(tmp_path / "none", DIM)).sentence_candidates(vecs[0], 10) == []


class TokenStateContract(_Contract):
    """:class:`~ragline.store.base.TokenStateStore`: token embeddings stored as int8, in order."""

    capability = "token states"

    @staticmethod
    def _states(store: Store) -> TokenStateStore:
        assert isinstance(store, TokenStateStore)
        return store

    @pytest.mark.parametrize("ann_threshold", [10_000, 5])
    def test_token_states_round_trip_in_order(self, tmp_path: Path, ann_threshold: int) -> None:
        """LanceDB: below the ANN threshold states are read by row id, above it by chunk id."""
        store = self.make_store(tmp_path / "tok", DIM, ann_threshold=ann_threshold)
        chunks = make_chunks(10, "/t.jsonl", seed=5)
        tokens = units_for(chunks, seed=6)  # 0-4 unit rows each: some chunks have no tokens
        store.upsert([SourceBatch("/t.jsonl", "h", chunks, vectors_for(chunks, 5), token_states=tokens)])
        store.finalize()
        ids = [c.id for c in chunks]
        order = [*ids[::-1], "no-such-chunk"]
        got = self._states(store).fetch_token_states(order)
        assert len(got) == len(order) and got[-1] is None
        want = dict(zip(ids, tokens, strict=True))
        for cid, m in zip(order[:-1], got[:-1], strict=True):
            assert m is not None and m.shape == want[cid].shape
            # int8 per row: each component within half a step of the row's absmax / 127.
            step = np.abs(want[cid]).max(axis=1, keepdims=True) / 127 if len(m) else 0
            assert np.all(np.abs(m - want[cid]) <= step * 0.51 + 1e-6)
        assert self._states(store).fetch_token_states([]) == []
        # With the embedded texts given, a chunk whose stored text differs gets None.
        texts = [c.embed_text for c in chunks]
        texts[2] = "another header\n" + texts[2]
        checked = self._states(store).fetch_token_states(ids, texts)
        assert checked[2] is None and all(m is not None for i, m in enumerate(checked) if i != 2)
        with pytest.raises(StoreError, match="one each"):
            self._states(store).fetch_token_states(ids, texts[:3])

    def test_token_states_absent_unless_stored_and_replaced_with_their_source(self, filled: Filled) -> None:
        store, chunks, vecs = filled
        states = self._states(store)
        assert states.fetch_token_states([chunks[0].id]) == [None]  # none stored yet
        a = [c for c in chunks if c.source == "/data/a.jsonl"]
        tokens = [np.eye(DIM, dtype=np.float32)[: 1 + i % 3] for i in range(len(a))]
        store.upsert([SourceBatch("/data/a.jsonl", "ha2", a, vecs[: len(a)], token_states=tokens)])
        got = states.fetch_token_states([a[1].id, chunks[-1].id])
        assert got[0] is not None and np.allclose(got[0], tokens[1], atol=1e-6)
        assert got[1] is None  # /data/b.jsonl was written before token states
        store.upsert([SourceBatch("/data/a.jsonl", "ha3", a, vecs[: len(a)])])  # re-indexed without
        assert states.fetch_token_states([a[1].id]) == [None]

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
        as_arrays = self._states(store).fetch_token_states([c.id for c in ch])
        packed = [PackedTokens.of(t.reshape(-1, DIM)) for t in tokens]
        store.upsert([SourceBatch("/x", "h2", ch, vectors_for(ch, 1), token_states=packed)])
        for a, b in zip(as_arrays, self._states(store).fetch_token_states([c.id for c in ch]), strict=True):
            assert a is not None and b is not None
            np.testing.assert_array_equal(a, b)


class VectorFetchContract(_Contract):
    """:class:`~ragline.store.base.VectorFetch`: the stored vectors of search candidates."""

    capability = "vector fetch"

    def test_fetch_vectors_returns_the_stored_embeddings_in_order(self, filled: Filled) -> None:
        store, chunks, vecs = filled
        assert isinstance(store, VectorFetch) and isinstance(store, DenseSearch)
        cands = store.dense_candidates(vecs[3], 6)
        got = store.fetch_vectors(cands[::-1])
        index = {c.id: i for i, c in enumerate(chunks)}
        want = np.stack([vecs[index[c.chunk_id]] for c in cands[::-1]])
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        assert store.fetch_vectors([]).shape == (0, DIM)

    def test_fetch_vectors_sees_writes(self, filled: Filled) -> None:
        store, _, _ = filled
        assert isinstance(store, VectorFetch) and isinstance(store, DenseSearch)
        new = [replace(c, id=c.id + "-v3") for c in make_chunks(3, "/data/a.jsonl", seed=7, chunks_per_doc=1)]
        new_vecs = vectors_for(new, 11)
        store.upsert([SourceBatch("/data/a.jsonl", "ha3", new, new_vecs)])
        got = store.fetch_vectors(store.dense_candidates(new_vecs[1], 1))
        np.testing.assert_allclose(got, new_vecs[1:2], atol=1e-6)


class ExportContract(_Contract):
    """:class:`~ragline.store.base.PortableStore`: what a store holds, read out and written back
    into an empty store without embedding, reads and searches the same."""

    capability = "export"

    @staticmethod
    def _portable(store: Store) -> PortableStore:
        assert isinstance(store, PortableStore)
        return store

    def _full(self, root: Path) -> tuple[Store, list[Chunk], list[Floats], dict[str, Floats]]:
        """Two sources with access, metadata and sentence vectors; half of /a's documents with
        token states (a source is then exported as two batches); a parent section."""
        store = self.make_store(root, DIM)
        a = with_random_access(make_chunks(12, "/data/a.jsonl", seed=21), seed=21)
        b = with_random_access(make_chunks(8, "/data/b.jsonl", seed=22), seed=22)
        a[0] = replace(a[0], parent_id="s1")
        sec = Section("s1", a[0].doc_id, "the parent", 0, 10, ("Top", "Sub"))
        ua, ub = units_for(a, 21), units_for(b, 22)
        token_docs = sorted({c.doc_id for c in a})[::2]
        tokens = {c.id: t for c, t in zip(a, units_for(a, 23), strict=True) if c.doc_id in token_docs}
        with_tokens = [c for c in a if c.id in tokens]
        rest = [c for c in a if c.id not in tokens]
        va, vb = vectors_for(a, 21), vectors_for(b, 22)
        at = {c.id: i for i, c in enumerate(a)}
        store.upsert(
            [
                SourceBatch(
                    "/data/a.jsonl",
                    "ha",
                    with_tokens,
                    va[[at[c.id] for c in with_tokens]],
                    [sec],
                    documents=tuple(sorted({c.doc_id for c in with_tokens})),
                    sentence_vectors=[ua[at[c.id]] for c in with_tokens],
                    token_states=[tokens[c.id] for c in with_tokens],
                ),
            ]
        )
        store.upsert(
            [
                SourceBatch(
                    "/data/a.jsonl",
                    "ha",
                    rest,
                    va[[at[c.id] for c in rest]],
                    documents=tuple(sorted({c.doc_id for c in rest})),
                    sentence_vectors=[ua[at[c.id]] for c in rest],
                ),
                SourceBatch("/data/b.jsonl", "hb", b, vb, sentence_vectors=ub),
            ]
        )
        store.finalize()
        return store, a + b, [*va, *vb], tokens

    def test_export_then_upsert_gives_the_same_collection(self, tmp_path: Path) -> None:
        store, chunks, vecs, tokens = self._full(tmp_path / "orig")
        batches = list(self._portable(store).export_batches())
        assert {b.source for b in batches} == {"/data/a.jsonl", "/data/b.jsonl"}
        assert sum(len(b.chunks) for b in batches) == len(chunks)
        copy = self.make_store(tmp_path / "copy", DIM)
        self._portable(copy).declare_fields(store.metadata_fields())
        copy.upsert(batches)
        copy.finalize()
        assert copy.all_chunks() == store.all_chunks() == sorted(chunks, key=lambda c: (c.doc_id, c.position))
        assert copy.source_hashes() == store.source_hashes() == {"/data/a.jsonl": "ha", "/data/b.jsonl": "hb"}
        assert copy.metadata_fields() == store.metadata_fields()
        assert copy.get_sections(["s1"]) == store.get_sections(["s1"]) != []
        assert copy.stats().chunks == store.stats().chunks and copy.stats().sections == 1
        ids = [c.id for c in chunks]
        if isinstance(store, TokenStateStore) and isinstance(copy, TokenStateStore):
            for cid, got, want in zip(
                ids, copy.fetch_token_states(ids), store.fetch_token_states(ids), strict=True
            ):
                assert (got is None) == (want is None) == (cid not in tokens)
                if got is not None and want is not None:
                    np.testing.assert_array_equal(got, want)
        rng = np.random.default_rng(5)
        for q in [*vecs[:3], *rng.normal(size=(3, DIM)).astype(np.float32)]:
            for search in ("dense_candidates", "sentence_candidates"):
                if hasattr(store, search):
                    want = getattr(store, search)(q, 15, Visible(Principal("acme", ("eng",), 1)))
                    got = getattr(copy, search)(q, 15, Visible(Principal("acme", ("eng",), 1)))
                    assert [c.chunk_id for c in got] == [c.chunk_id for c in want]
                    assert [c.score for c in got] == pytest.approx([c.score for c in want], abs=1e-6)
        if isinstance(store, KeywordSearch) and isinstance(copy, KeywordSearch):
            for text in ("alpha beta", "sigma", "gamma delta kappa"):
                want_k = store.keyword_candidates(text, 20)
                got_k = copy.keyword_candidates(text, 20)
                assert {c.chunk_id for c in got_k} == {c.chunk_id for c in want_k}
                assert sorted(c.score for c in got_k) == pytest.approx(
                    sorted(c.score for c in want_k), rel=1e-5
                )

    def test_declared_fields_keep_their_kind_whatever_comes_first(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path / "decl", DIM)
        self._portable(store).declare_fields({"code": "string", "rank": "number"})
        ch = [
            Chunk(id="c", doc_id="d", text="t", position=0, start=0, end=1, metadata={"code": 7}, source="/x")
        ]
        store.upsert([SourceBatch("/x", "h", ch, vectors_for(ch, 1))])
        # A number first would have made "code" a number field; the declared kind wins.
        assert store.metadata_fields() == {"code": "string", "rank": "number"}
        assert store.find_chunks(parse_filter({"code": "7"}))[0].id == "c"
        self._portable(store).declare_fields({"code": "number", "flag": "bool"})  # existing: unchanged
        assert store.metadata_fields() == {"code": "string", "rank": "number", "flag": "bool"}

    def test_export_of_an_empty_store_is_empty(self, tmp_path: Path) -> None:
        assert list(self._portable(self.make_store(tmp_path / "none", DIM)).export_batches()) == []


class VersionContract(_Contract):
    """:class:`~ragline.store.base.VersionedStore`: tagged and numbered versions to go back to."""

    capability = "versions"

    @staticmethod
    def _versioned(store: Store) -> VersionedStore:
        assert isinstance(store, VersionedStore)
        return store

    def test_restore_brings_back_a_replaced_source(self, filled: Filled) -> None:
        store, chunks, _ = filled
        versioned = self._versioned(store)
        before = store.all_chunks()
        tagged = versioned.tag_version("before")
        assert tagged.tags == ("before",) and tagged.chunks == len(chunks)
        number = versioned.versions()[-1].version
        edited = [replace(c, text="edited " + c.text) for c in chunks if c.source == "/data/a.jsonl"]
        store.upsert([SourceBatch("/data/a.jsonl", "ha2", edited, vectors_for(edited, 40))])
        store.finalize()
        assert store.source_hashes()["/data/a.jsonl"] == "ha2"
        now = versioned.restore_version("before")
        assert now.version > number and now.tags == ()
        assert store.all_chunks() == before
        assert store.source_hashes() == {"/data/a.jsonl": "ha", "/data/b.jsonl": "hb"}
        # The edit is a version too: restore it by number, then the tag again.
        edit_version = max(v.version for v in versioned.versions() if v.version < now.version)
        versioned.restore_version(edit_version)
        assert {c.text for c in store.all_chunks()} >= {c.text for c in edited}
        versioned.restore_version(str(number))
        assert store.all_chunks() == before
        assert [v.version for v in versioned.versions() if "before" in v.tags] == [number]

    def test_unknown_version_and_taken_tag_are_clear_errors(self, filled: Filled) -> None:
        store, _, _ = filled
        versioned = self._versioned(store)
        versioned.tag_version("mine")
        with pytest.raises(StoreError, match="'mine' already names version"):
            versioned.tag_version("mine")
        with pytest.raises(StoreError, match="is invalid"):
            versioned.tag_version("has space")
        with pytest.raises(StoreError, match=r"no version or snapshot tag 'nope'.*mine="):
            versioned.restore_version("nope")
        with pytest.raises(StoreError, match="not on disk"):
            versioned.restore_version(10_000)
        versioned.delete_tag("mine")
        assert not any(v.tags for v in versioned.versions())
        with pytest.raises(StoreError, match="no snapshot tag 'mine'; there are: none"):
            versioned.delete_tag("mine")


class StoreContract(
    CoreContract,
    DenseContract,
    KeywordContract,
    SentenceContract,
    TokenStateContract,
    VectorFetchContract,
    ExportContract,
):
    """Every part of the contract but versions: a backend with every search capability that
    exports (:class:`VersionContract` is added by backends that keep versions)."""
