"""MemoryStore, the in-process twin: the whole Store contract, persistence, and congruence with
LanceStore on seeded data.

Congruence (in the manner of qdrant-client's congruence tests): the same batches go into a
MemoryStore and a LanceStore, then the same queries, with every reference filter and access
filter, must give
- dense and sentence search: the same ids in the same order, scores equal to 1e-6 (both exact);
- keyword search: the same matching chunks with BM25 scores equal to 1e-5 relative (the twin
  reproduces LanceDB's analysis and scoring, so no looser "overlap" is needed), in the same order
  except among scores tied to within that tolerance, whose order neither store defines;
- reads (documents, find_chunks, chunks_at, stats, field values, token states): equal results.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.errors import StoreError
from ragline.store.base import Candidate, SourceBatch, capabilities, versioned_store
from ragline.store.filters import And, Filter, Visible, parse_filter
from ragline.store.lance import LanceStore
from ragline.store.memory import DATA_FILE, MemoryStore
from ragline.testing.store_contract import (
    DIM,
    FILTERS,
    PRINCIPALS,
    StoreContract,
    make_chunks,
    units_for,
    vectors_for,
    with_random_access,
)
from ragline.types import Chunk, Section


class TestMemoryContract(StoreContract):
    def make_store(self, root: Path, dimension: int, **options: Any) -> MemoryStore:
        # ann_threshold and other LanceDB tuning hints do not apply: every search is exact.
        return MemoryStore(root, dimension=dimension, model_id="test-model")


class TestMemoryContractNotPersisted(StoreContract):
    def make_store(self, root: Path, dimension: int, **options: Any) -> MemoryStore:
        return MemoryStore(root, dimension=dimension, model_id="test-model", persist=False)


def _batches(seed: int = 1) -> list[SourceBatch]:
    a = with_random_access(make_chunks(20, "/data/a.jsonl", seed=seed), seed=seed)
    b = with_random_access(make_chunks(20, "/data/b.jsonl", seed=seed + 1), seed=seed + 1)
    sec = Section("s1", a[0].doc_id, "parent", 0, 6, ("A",))
    a[0] = replace(a[0], parent_id="s1")
    return [
        SourceBatch(
            "/data/a.jsonl",
            "ha",
            a,
            vectors_for(a, seed),
            [sec],
            sentence_vectors=units_for(a, seed),
            token_states=units_for(a, seed + 7),
        ),
        SourceBatch(
            "/data/b.jsonl", "hb", b, vectors_for(b, seed + 1), sentence_vectors=units_for(b, seed + 1)
        ),
    ]


def test_a_persisted_collection_reopens_as_written(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "c", dimension=DIM, model_id="m")
    batches = _batches()
    store.upsert(batches)
    store.delete_documents([batches[1].chunks[0].doc_id])
    store.finalize()
    again = MemoryStore(tmp_path / "c", dimension=DIM, model_id="m")
    assert again.all_chunks() == store.all_chunks()
    assert again.source_hashes() == store.source_hashes() == {"/data/a.jsonl": "ha", "/data/b.jsonl": ""}
    assert again.get_sections(["s1"]) == store.get_sections(["s1"]) != []
    assert again.metadata_fields() == store.metadata_fields()
    assert again.stats().keyword_index and again.stats().chunks == store.stats().chunks
    q = vectors_for(batches[0].chunks, 3)[0]
    for search in ("dense_candidates", "sentence_candidates"):
        assert getattr(again, search)(q, 10) == getattr(store, search)(q, 10)
    assert again.keyword_candidates("alpha beta", 10) == store.keyword_candidates("alpha beta", 10)
    cands = again.dense_candidates(q, 40)
    np.testing.assert_array_equal(again.fetch_vectors(cands), store.fetch_vectors(cands))
    ids = [c.id for c in batches[0].chunks]
    for x, y in zip(again.fetch_token_states(ids), store.fetch_token_states(ids), strict=True):
        assert (x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y))
    assert (tmp_path / "c" / DATA_FILE).is_file()


def test_not_persisted_writes_nothing(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "c", dimension=DIM, model_id="m", persist=False)
    store.upsert(_batches())
    store.finalize()
    assert store.stats().chunks == 80
    assert not (tmp_path / "c").exists()
    assert MemoryStore(tmp_path / "c", dimension=DIM, model_id="m").stats().chunks == 0


def test_model_and_backend_mismatches_are_refused(tmp_path: Path) -> None:
    MemoryStore(tmp_path / "mem", dimension=DIM, model_id="m1").upsert(_batches())
    with pytest.raises(StoreError, match="m1"):
        MemoryStore(tmp_path / "mem", dimension=DIM, model_id="m2").stats()
    # A collection one backend wrote is not silently read as empty by the other.
    with pytest.raises(
        StoreError, match=r"written by the 'memory' store backend but store\.backend is 'lance'"
    ):
        LanceStore(tmp_path / "mem", dimension=DIM, model_id="m1").stats()
    LanceStore(tmp_path / "lance", dimension=DIM, model_id="m1").upsert(_batches())
    with pytest.raises(StoreError, match=r"set store\.backend = 'lance'"):
        MemoryStore(tmp_path / "lance", dimension=DIM, model_id="m1").stats()


def test_a_collection_of_the_same_weights_at_another_precision_names_the_setting(tmp_path: Path) -> None:
    MemoryStore(tmp_path / "fp32", dimension=DIM, model_id="mini@abc").upsert(_batches())
    with pytest.raises(StoreError, match=r"set embedding\.precision = 'fp32' to open it") as info:
        MemoryStore(tmp_path / "fp32", dimension=DIM, model_id="mini-int8@abc").stats()
    assert "mini@abc" in str(info.value)
    MemoryStore(tmp_path / "int8", dimension=DIM, model_id="mini-int8@abc").upsert(_batches())
    with pytest.raises(StoreError, match=r"set embedding\.precision = 'int8' to open it"):
        MemoryStore(tmp_path / "int8", dimension=DIM, model_id="mini@abc").stats()
    # other weights: no precision can open it, the message says to re-ingest
    with pytest.raises(StoreError, match="re-ingest") as other:
        MemoryStore(tmp_path / "int8", dimension=DIM, model_id="mini-int8@def").stats()
    assert "precision" not in str(other.value)
    # and nothing was changed by the refusals
    assert MemoryStore(tmp_path / "fp32", dimension=DIM, model_id="mini@abc").stats().chunks == 80


def test_memory_store_has_every_search_capability_and_export_but_no_versions(tmp_path: Path) -> None:
    assert capabilities(MemoryStore(tmp_path, DIM, "m", persist=False)) == {
        "dense search",
        "keyword search",
        "sentence search",
        "token states",
        "sentence vector fetch",
        "vector fetch",
        "export",
    }
    with pytest.raises(StoreError, match="keeps no versions"):
        versioned_store(MemoryStore(tmp_path, DIM, "m", persist=False))


# -- congruence with LanceStore ---------------------------------------------------------------------

# Words with inflections, stop words and punctuation, so stemming, stop words and the query clean-up
# all take part.
_VOCABULARY_TEXT = """
    run running runs runner ran study studies studied studying organ organization organizing
    connect connection connected connecting happy happiness happily generate general generously
    biology biologist biologists interfere interference the of and is was it to a in
    city cities agree agreed agreement C++ data-driven o'reilly résumé cafe café"""
VOCABULARY = _VOCABULARY_TEXT.split()


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(3, 30))) for _ in range(n)]


def _corpus(seed: int) -> list[SourceBatch]:
    batches = []
    for s, source in enumerate(["/c/one.jsonl", "/c/two.jsonl", "/c/three.jsonl"]):
        chunks = with_random_access(make_chunks(25, source, seed=seed + s), seed=seed + s)
        texts = _texts(len(chunks), seed + s)
        chunks = [
            replace(c, text=t, section_path=("Guide", "Part") if i % 3 == 0 else (), title=f"T{i % 4}")
            for i, (c, t) in enumerate(zip(chunks, texts, strict=True))
        ]
        batches.append(
            SourceBatch(
                source,
                f"h{s}",
                chunks,
                vectors_for(chunks, seed + s),
                sentence_vectors=units_for(chunks, seed + s),
                token_states=units_for(chunks, seed + 10 + s),
            )
        )
    return batches


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> tuple[MemoryStore, LanceStore, list[Chunk]]:
    root = tmp_path_factory.mktemp("twins")
    memory = MemoryStore(root / "memory", dimension=DIM, model_id="m")
    # float32 sentence vectors: the twins must agree exactly (float16 is tested on its own).
    lance = LanceStore(root / "lance", dimension=DIM, model_id="m", sentence_vector_dtype="float32")
    batches = _corpus(seed=40)
    for store in (memory, lance):
        store.upsert(batches)
        # A second round of writes: a source replaced, documents deleted (one within a filter).
        two = batches[1]
        assert two.sentence_vectors is not None and two.token_states is not None
        fewer = replace(
            two,
            source_hash="h1b",
            chunks=two.chunks[:20],
            vectors=two.vectors[:20],
            sentence_vectors=two.sentence_vectors[:20],
            token_states=two.token_states[:20],
        )
        store.upsert([fewer])
        store.delete_documents([batches[0].chunks[0].doc_id, batches[2].chunks[4].doc_id])
        store.delete_documents([c.doc_id for c in batches[2].chunks[10:20]], Visible(PRINCIPALS[0]))
        store.finalize()
    chunks = lance.all_chunks()
    assert memory.all_chunks() == chunks and len(chunks) > 100
    return memory, lance, chunks


CONGRUENCE_FILTERS: list[Filter | None] = [
    None,
    *(parse_filter(f) for f in FILTERS[::2]),
    *(Visible(p) for p in PRINCIPALS[:4]),
    And((Visible(PRINCIPALS[2]), parse_filter({"year": {"$gte": 2005}}))),
]
FILTER_IDS = ["none", *(str(f) for f in FILTERS[::2]), *(repr(p) for p in PRINCIPALS[:4]), "acl+year"]


def _same_ranking(got: list[Candidate], want: list[Candidate], lance: dict[str, float], rel: float) -> None:
    """Equal lists up to the order of scores tied within ``rel`` (``lance``: LanceDB's score of
    every matching chunk, so a tie at a cut-off can be told from a different ranking)."""
    assert len(got) == len(want)
    assert [c.score for c in got] == pytest.approx([c.score for c in want], rel=rel, abs=1e-9)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if g.chunk_id != w.chunk_id:
            # Only where LanceDB scores the chunk ranked here as it scores its own i-th.
            assert lance[g.chunk_id] == pytest.approx(w.score, rel=rel), (i, g, w)


@pytest.mark.parametrize("f", CONGRUENCE_FILTERS, ids=FILTER_IDS)
def test_dense_and_sentence_search_agree(
    twins: tuple[MemoryStore, LanceStore, list[Chunk]], f: Filter | None
) -> None:
    memory, lance, _ = twins
    rng = np.random.default_rng(7)
    for _ in range(10):
        q = rng.normal(size=DIM).astype(np.float32)
        for n in (5, 1000):
            for search in ("dense_candidates", "sentence_candidates"):
                got, want = getattr(memory, search)(q, n, f), getattr(lance, search)(q, n, f)
                assert [c.chunk_id for c in got] == [c.chunk_id for c in want]
                assert [c.score for c in got] == pytest.approx([c.score for c in want], abs=1e-6)
        cands = lance.dense_candidates(q, 20, f)
        assert memory.fetch_chunks(cands) == lance.fetch_chunks(cands)
        assert memory.fetch_texts(cands) == lance.fetch_texts(cands)
        np.testing.assert_array_equal(memory.fetch_vectors(cands), lance.fetch_vectors(cands))


@pytest.mark.parametrize("f", CONGRUENCE_FILTERS, ids=FILTER_IDS)
def test_keyword_search_agrees(twins: tuple[MemoryStore, LanceStore, list[Chunk]], f: Filter | None) -> None:
    memory, lance, chunks = twins
    rng = random.Random(11)
    for _ in range(25):
        query = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 5)))
        full = lance.keyword_candidates(query, len(chunks), f)
        lance_scores = {c.chunk_id: c.score for c in full}
        _same_ranking(memory.keyword_candidates(query, len(chunks), f), full, lance_scores, rel=1e-5)
        for n in (3, 10):
            top = lance.keyword_candidates(query, n, f)
            _same_ranking(memory.keyword_candidates(query, n, f), top, lance_scores, rel=1e-5)


@pytest.mark.parametrize("f", CONGRUENCE_FILTERS, ids=FILTER_IDS)
def test_reads_agree(twins: tuple[MemoryStore, LanceStore, list[Chunk]], f: Filter | None) -> None:
    memory, lance, chunks = twins
    if f is not None:
        assert memory.find_chunks(f) == lance.find_chunks(f)
    assert memory.documents(f, limit=1000) == lance.documents(f, limit=1000)
    keys = [(c.doc_id, c.position) for c in chunks[::3]] + [("nope", 0)]
    assert memory.chunks_at(keys, f) == lance.chunks_at(keys, f)
    m, s = memory.stats(f), lance.stats(f)
    assert (m.chunks, m.documents, m.sources, m.sections) == (s.chunks, s.documents, s.sources, s.sections)


def test_schema_values_hashes_and_token_states_agree(
    twins: tuple[MemoryStore, LanceStore, list[Chunk]],
) -> None:
    memory, lance, chunks = twins
    assert memory.metadata_fields() == lance.metadata_fields()
    assert memory.field_values() == lance.field_values()
    assert memory.source_hashes() == lance.source_hashes()
    assert memory.tenants() == lance.tenants()
    assert memory.stats().keyword_index == lance.stats().keyword_index
    ids = [c.id for c in chunks]
    texts = [c.embed_text if i % 5 else "changed" for i, c in enumerate(chunks)]
    for got, want in zip(
        memory.fetch_token_states(ids, texts), lance.fetch_token_states(ids, texts), strict=True
    ):
        assert (got is None) == (want is None)
        if got is not None and want is not None:
            np.testing.assert_array_equal(got, want)
