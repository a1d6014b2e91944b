"""Ingest indexes one vector per sentence of each chunk (chunking.sentence_vectors), from the
chunk's own model run, and keeps them in step with the chunks on replace and delete."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ragline
from ragline.embedding.sentence_map import sentence_map_for
from ragline.embedding.sentence_vectors import embed_with_sentence_vectors, sentence_layout
from ragline.types import Document
from tests.helpers import fast_engine

from . import NOTES

DOCS = NOTES


@pytest.mark.integration
def test_sentence_vectors_are_indexed_and_searched(tmp_path: Path) -> None:
    engine = ragline.open(tmp_path / "data")
    report = engine.upsert_documents(DOCS)
    assert report.chunks_embedded == 2
    # "header + sentence" texts, embedded apart; b's one sentence is its chunk text, already embedded.
    assert engine.embedder.sentences_embedded == 2
    store = engine.store()
    q = engine.embedder.embed_query("what replaced the gas boiler")
    found = store.sentence_candidates(q, 5)
    chunk = next(c for c in store.all_chunks() if c.doc_id == "a")
    assert found[0].chunk_id == chunk.id
    # The score is the best sentence's cosine, recomputed here.
    _, sentence_vecs = embed_with_sentence_vectors(engine.embedder.inner, *sentence_layout([chunk]))
    assert sentence_vecs[0].shape[0] == 2
    assert found[0].score == pytest.approx(float((sentence_vecs[0] @ q).max()), abs=1e-4)
    assert found[0].score > float(store.fetch_vectors(found[:1])[0] @ q)


def test_replaced_and_deleted_documents_take_their_sentences_along(tmp_path: Path) -> None:
    engine = fast_engine(tmp_path / "data")
    engine.upsert_documents(DOCS)
    engine.upsert_documents([Document(id="a", source="notes", title="Office energy", text="Bikes are lent.")])
    store = engine.store()
    q = engine.embedder.embed_query("what replaced the gas boiler")
    ids = {c.chunk_id for c in store.sentence_candidates(q, 10)}
    assert ids == {c.id for c in store.all_chunks()}
    assert engine.delete(["b"]) == 1
    assert [c.chunk_id for c in engine.store().sentence_candidates(q, 10)] == [
        c.id for c in engine.store().all_chunks()
    ]


@pytest.mark.integration  # "late" reads the real model's token outputs
def test_late_sentence_vectors_cost_no_extra_run(tmp_path: Path) -> None:
    # Token states off: with them, "late" takes a second run (see embedding.sentence_vectors.embed_chunks).
    engine = ragline.open(tmp_path / "data", chunking={"sentence_vectors": "late", "token_states": "off"})
    report = engine.upsert_documents(DOCS)
    assert report.chunks_embedded == 2 and engine.embedder.sentences_embedded == 0
    chunk = next(c for c in engine.store().all_chunks() if c.doc_id == "a")
    q = engine.embedder.embed_query("what replaced the gas boiler")
    layout = sentence_layout([chunk])
    _, sentence_vecs = embed_with_sentence_vectors(engine.embedder.inner, *layout, late=True)
    found = engine.store().sentence_candidates(q, 1)
    assert found[0].chunk_id == chunk.id
    assert found[0].score == pytest.approx(float((sentence_vecs[0] @ q).max()), abs=1e-4)


def test_sentence_vectors_can_be_turned_off(tmp_path: Path) -> None:
    engine = fast_engine(tmp_path / "data", chunking={"sentence_vectors": "off"})
    engine.upsert_documents(DOCS)
    q = np.asarray(engine.embedder.embed_query("gas boiler"))
    assert engine.store().sentence_candidates(q, 5) == []
    hits = engine.search("what replaced the gas boiler", top_k=2)
    assert hits and all("dense_sentences" not in h.retrievers for h in hits)


@pytest.mark.integration  # "mapped" pools the real model's token states, then maps them
def test_mapped_sentence_vectors_are_stored_from_one_run(tmp_path: Path) -> None:
    engine = ragline.open(tmp_path / "data", chunking={"sentence_vectors": "mapped"})
    report = engine.upsert_documents(DOCS)
    assert report.chunks_embedded == 2 and engine.embedder.sentences_embedded == 0
    chunk = next(c for c in engine.store().all_chunks() if c.doc_id == "a")
    inner = engine.embedder.inner
    vectors, late = embed_with_sentence_vectors(inner, *sentence_layout([chunk]), late=True)
    smap = sentence_map_for(inner.model_id)
    assert smap is not None
    stored = engine.store().fetch_sentence_vectors([chunk.id])[0]
    assert stored is not None and stored[1].shape == (2, 384)
    # float16 storage: equal to the map of the late vectors within its rounding, not to the late ones.
    np.testing.assert_allclose(stored[1], smap.apply(late[0], vectors[0]), atol=2e-3)
    assert np.abs(stored[1] - late[0]).max() > 1e-2


@pytest.mark.integration  # "split" runs the real model's last layer per sentence
def test_split_sentence_vectors_are_stored_from_one_run(tmp_path: Path) -> None:
    engine = ragline.open(tmp_path / "data", chunking={"sentence_vectors": "split", "split_layers": 2})
    report = engine.upsert_documents(DOCS)
    assert report.chunks_embedded == 2 and engine.embedder.sentences_embedded == 0
    chunk = next(c for c in engine.store().all_chunks() if c.doc_id == "a")
    inner = engine.embedder.inner
    layout = sentence_layout([chunk])
    _, split, _ = inner.embed_split(*layout, layers=2)
    _, late = embed_with_sentence_vectors(inner, *layout, late=True)
    stored = engine.store().fetch_sentence_vectors([chunk.id])[0]
    assert stored is not None and stored[1].shape == (2, 384)
    # float16 storage: the split vectors within its rounding, not the late ones.
    np.testing.assert_allclose(stored[1], split[0], atol=2e-3)
    assert np.abs(stored[1] - late[0]).max() > 1e-2
    states = engine.store().fetch_token_states([chunk.id], [layout[0][0]])[0]
    assert states is not None and len(states)  # token states from the same run


def test_a_collection_with_separate_sentence_vectors_opens_and_searches_under_mapped(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text(
        "# Office energy\n\nSolar panels were installed. The heat pump replaced the gas boiler.\n"
    )
    engine = fast_engine(tmp_path / "data")  # the default: "separate"
    assert engine.ingest([notes]).files_indexed == 1
    before = [h.chunk.id for h in engine.search("what replaced the gas boiler", top_k=2)]
    reopened = fast_engine(tmp_path / "data", chunking={"sentence_vectors": "mapped"})
    q = reopened.embedder.embed_query("what replaced the gas boiler")
    assert len(reopened.store().sentence_candidates(q, 5)) == 1
    assert [h.chunk.id for h in reopened.search("what replaced the gas boiler", top_k=2)] == before
    # "mapped" stands in for "separate": switching (or upgrading to it) re-indexes nothing...
    again = reopened.ingest([notes])
    assert (again.files_unchanged, again.files_indexed) == (1, 0)
    # ...while "late" is another form, as before.
    late = fast_engine(tmp_path / "data", chunking={"sentence_vectors": "late"}).ingest([notes])
    assert late.files_indexed == 1


def test_switching_between_separate_and_split_re_indexes_nothing(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Office energy\n\nSolar panels were installed. The heat pump replaced the boiler.\n")
    assert fast_engine(tmp_path / "data").ingest([notes]).files_indexed == 1
    # "split" stands in for "separate", whatever its number of layers: nothing is re-indexed...
    for layers in (1, 3):
        split = fast_engine(tmp_path / "data", chunking={"sentence_vectors": "split", "split_layers": layers})
        again = split.ingest([notes])
        assert (again.files_unchanged, again.files_indexed) == (1, 0)
    # ...and a changed file under "split" is re-indexed as usual.
    notes.write_text("# Office energy\n\nSolar panels were installed. A heat pump heats the office.\n")
    assert split.ingest([notes]).files_indexed == 1
