"""The extractive answerer reads its candidate sentences' vectors from the collection's stored
sentence vectors instead of embedding them again, and embeds them when the collection has none."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ragline
from ragline.embedding.cache import TransientEmbedder
from ragline.engine import Engine
from ragline.generation.answering import Answering
from ragline.generation.base import collect
from ragline.generation.extractive import ExtractiveAnswerer
from ragline.types import Context
from tests.helpers import FAST_AND_REAL, fast_engine, write_fact_corpus

QUESTIONS = [
    "When was the Harbor Lighthouse built?",
    "How long should the dough rest before shaping?",
    "What do tiltmeters measure?",
    "When does the observatory raise the alert level to orange?",
]


def _context(engine: Engine, question: str) -> Context:
    return engine.assemble(engine.retrieve_for_answer(question))


def _answerers(engine: Engine) -> tuple[ExtractiveAnswerer, ExtractiveAnswerer, TransientEmbedder]:
    coll = engine.collection(None)
    fresh = engine.answering.extractive_for(coll.answer)
    reused = engine.answering.extractive_for(coll.answer, coll.store)
    assert isinstance(fresh.embedder, TransientEmbedder)
    return fresh, reused, fresh.embedder


def _cold(answerer: ExtractiveAnswerer, engine: Engine) -> ExtractiveAnswerer:
    """``answerer`` over a new, empty query-time embedding cache."""
    cold = copy.copy(answerer)
    cold.embedder = engine.embedder.transient()
    return cold


@FAST_AND_REAL
def test_stored_vectors_choose_what_fresh_embedding_chooses(tmp_path: Path, open_engine: Any) -> None:
    engine = open_engine(tmp_path / "data")
    engine.ingest([tmp_path / "docs"] if write_fact_corpus(tmp_path / "docs") else [])
    fresh, reused, embedder = _answerers(engine)
    assert fresh.stored is None and reused.stored is not None
    # The LanceDB store keeps sentence vectors as float16; the in-process twin as float32.
    tol = 1e-6 if engine.settings.store.backend == "memory" else 3e-3
    for q in QUESTIONS:
        ctx = _context(engine, q)
        before = embedder.embedded
        got, got_vecs = reused.score(q, ctx)
        embedded_now = embedder.embedded - before
        # Every candidate here is a plain sentence of one chunk: nothing is embedded at query time.
        assert got and embedded_now == 0, q
        # Fresh embedding, through an empty cache: every candidate is embedded.
        cold = _cold(fresh, engine)
        want, want_vecs = cold.score(q, ctx)
        assert isinstance(cold.embedder, TransientEmbedder) and cold.embedder.embedded == len(want)
        assert [(s.passage, s.start, s.end) for s in got] == [(s.passage, s.start, s.end) for s in want]
        assert [s.similarity for s in got] == pytest.approx([s.similarity for s in want], abs=tol)
        np.testing.assert_allclose(got_vecs, want_vecs, atol=tol)
        a, b = collect(reused.stream(q, ctx)), collect(fresh.stream(q, ctx))
        assert (a.text, a.abstained, a.short) == (b.text, b.abstained, b.short)
        assert [c.chunk_id for c in a.citations] == [c.chunk_id for c in b.citations]
        assert a.confidence == pytest.approx(b.confidence, abs=0.02)
    # ask goes through the stored vectors too, and answers.
    answer = engine.ask(QUESTIONS[0])
    assert not answer.abstained and "1872" in answer.text


def test_a_collection_without_sentence_vectors_embeds_every_candidate(tmp_path: Path) -> None:
    # Ingested with sentence vectors off (as a collection written before them): the store has the
    # capability, holds none, and the answerer embeds its candidates as before.
    write_fact_corpus(tmp_path / "docs")
    fast_engine(tmp_path / "data", chunking={"sentence_vectors": "off"}).ingest([tmp_path / "docs"])
    engine = fast_engine(tmp_path / "data")
    fresh, reused, _ = _answerers(engine)
    assert reused.stored is not None
    for q in QUESTIONS[:2]:
        ctx = _context(engine, q)
        ids = [c.chunk_id for p in ctx.passages for c in p.chunks]
        assert ids and reused.stored(ids) == [None] * len(ids)
        cold = _cold(reused, engine)
        got, _ = cold.score(q, ctx)
        assert isinstance(cold.embedder, TransientEmbedder) and got and cold.embedder.embedded == len(got)
        a, b = collect(reused.stream(q, ctx)), collect(fresh.stream(q, ctx))
        assert (a.text, a.citations, a.confidence) == (b.text, b.citations, b.confidence)
    assert "1872" in engine.ask(QUESTIONS[0]).text


PORTS_PAGE = (
    "# Server settings\n\nThe server listens on one port for every client connection.\n\n"
    "| Setting | Default | Meaning |\n|---|---|---|\n"
    "| Port | 8080 | the port the server listens on |\n"
    "| Workers | 4 | worker processes that serve requests |\n"
)


def _score_table_question(tmp_path: Path) -> tuple[int, int, int]:
    """(units embedded at question time, table rows among the scored units, all scored units)
    for a default question over a page with a table, checking the scores equal fresh ones."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ports.md").write_text(PORTS_PAGE, encoding="utf-8")
    engine = fast_engine(tmp_path / "data")
    engine.ingest([docs])
    fresh, reused, _ = _answerers(engine)
    q = "What is the default port of the server?"
    ctx = _context(engine, q)
    cold = _cold(reused, engine)
    got, got_vecs = cold.score(q, ctx)
    rows = [s for s in got if s.text.startswith("|")]
    assert rows, [s.text for s in got]
    want, want_vecs = fresh.score(q, ctx)
    assert [s.text for s in got] == [s.text for s in want]
    np.testing.assert_allclose(got_vecs, want_vecs, atol=1e-6)
    assert isinstance(cold.embedder, TransientEmbedder)
    return cold.embedder.embedded, len(rows), len(got)


def test_a_tables_rows_are_stored_sentences_of_their_own(tmp_path: Path) -> None:
    # Each row is a sentence vector at ingest (text/sentences.row_spans), so the answerer embeds
    # nothing at question time, rows included.
    embedded, rows, _ = _score_table_question(tmp_path)
    assert rows >= 2
    assert embedded == 0


def test_rows_of_a_source_indexed_when_a_table_was_one_sentence_are_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A source indexed by an earlier release stored one vector for the whole table: its rows are
    # no stored sentences and are embedded now; its prose still comes from the store.
    from ragline.embedding import sentence_vectors
    from ragline.text.sentences import sentence_spans

    monkeypatch.setattr(sentence_vectors, "row_spans", sentence_spans)
    embedded, rows, scored = _score_table_question(tmp_path)
    assert embedded == rows < scored


def test_stored_spans_are_used_only_when_the_splitter_that_made_them_is_known() -> None:
    from ragline.generation.extractive import _stored_spans

    prose = "One sentence. Another one."
    assert _stored_spans(prose, 2) == [(0, 13), (14, 26)]
    assert _stored_spans(prose, 3) is None
    table = "Intro.\n\n| a | b |\n| c | d |"
    assert _stored_spans(table, 3) == [(0, 6), (8, 17), (18, 27)]  # one per row
    assert _stored_spans(table, 2) == [(0, 6), (8, 27)]  # an older source: the table one sentence
    # Rows and sentences both count two, split differently: which made the vectors is unknown.
    ambiguous = "| a | It ends. Then more |\n| d | e |"
    assert _stored_spans(ambiguous, 2) is None


class _NoSentenceVectors:
    model_id = "hash"


@pytest.mark.parametrize(
    ("mode", "store", "reads"),
    [
        ("separate", None, False),
        ("separate", _NoSentenceVectors(), False),
        # The hash embedder pools no spans: under "late" and "mapped" it stored separately
        # embedded sentences, which the answerer would embed again (paid calls on an API).
        ("late", "coll", True),
        ("mapped", "coll", True),
        ("split", "coll", True),
        ("separate", "coll", True),
    ],
    ids=[
        "no store",
        "store without the capability",
        "late from an embedder that pools no spans",
        "mapped from an embedder that pools no spans",
        "split from an embedder without hidden states (stored separate)",
        "separate",
    ],
)
def test_which_stores_the_answerer_reads(tmp_path: Path, mode: str, store: Any, reads: bool) -> None:
    engine = fast_engine(tmp_path / "data", chunking={"sentence_vectors": mode})
    write_fact_corpus(tmp_path / "docs")
    engine.ingest([tmp_path / "docs"])
    coll = engine.collection(None)
    answering: Answering = engine.answering
    got = answering.extractive_for(coll.answer, coll.store if store == "coll" else store)
    assert (got.stored is not None) == reads
    # The shared answerer is never changed by a collection's view of it.
    assert answering.extractive_for(coll.answer).stored is None


def test_a_store_of_another_model_is_not_read(tmp_path: Path) -> None:
    engine = fast_engine(tmp_path / "data")
    write_fact_corpus(tmp_path / "docs")
    engine.ingest([tmp_path / "docs"])
    coll = engine.collection(None)
    coll.store.model_id = "a-tuned-model"  # type: ignore[misc]
    assert engine.answering.extractive_for(coll.answer, coll.store).stored is None


@pytest.mark.integration
def test_real_engine_on_an_old_style_collection_answers(tmp_path: Path) -> None:
    # The real model and LanceDB, a collection without sentence vectors: the fallback path.
    write_fact_corpus(tmp_path / "docs")
    ragline.open(tmp_path / "data", chunking={"sentence_vectors": "off"}).ingest([tmp_path / "docs"])
    answer = ragline.open(tmp_path / "data").ask(QUESTIONS[0])
    assert not answer.abstained and "1872" in answer.text


@pytest.mark.integration
def test_mapped_vectors_are_read_not_embedded(tmp_path: Path) -> None:
    # The real model has a shipped map: a "mapped" collection's stored vectors are what the
    # answerer scores with (they differ from the embedded ones), and nothing is embedded for them.
    write_fact_corpus(tmp_path / "docs")
    engine = ragline.open(tmp_path / "data", chunking={"sentence_vectors": "mapped"})
    engine.ingest([tmp_path / "docs"])
    fresh, reused, _ = _answerers(engine)
    assert reused.stored is not None
    store = engine.collection(None).store
    for q in QUESTIONS[:2]:
        ctx = _context(engine, q)
        cold = _cold(reused, engine)
        got, got_vecs = cold.score(q, ctx)
        assert isinstance(cold.embedder, TransientEmbedder)
        assert got and cold.embedder.embedded == 0, q
        ids = [c.chunk_id for p in ctx.passages for c in p.chunks]
        rows = [np.asarray(v[1], np.float32) for v in store.fetch_sentence_vectors(ids) if v]
        stored = np.concatenate(rows)
        # Each scored vector is a stored (float16) row ...
        nearest = np.abs(got_vecs[:, None, :] - stored[None, :, :]).max(axis=2).min(axis=1)
        assert nearest.max() < 3e-3
        # ... and not the vector embedding the sentence now would give.
        want, want_vecs = _cold(fresh, engine).score(q, ctx)
        embedded_now = {(s.passage, s.start, s.end): v for s, v in zip(want, want_vecs, strict=True)}
        assert set(embedded_now) == {(s.passage, s.start, s.end) for s in got}
        apart = [
            np.abs(v - embedded_now[(s.passage, s.start, s.end)]).max()
            for s, v in zip(got, got_vecs, strict=True)
        ]
        assert min(apart) > 1e-2
    answer = engine.ask(QUESTIONS[0])
    assert not answer.abstained and "1872" in answer.text


@pytest.mark.integration
def test_split_vectors_are_read_not_embedded(tmp_path: Path) -> None:
    # The real model runs its last layer per sentence: a "split" collection's stored vectors are
    # what the answerer scores with, and nothing is embedded for them.
    write_fact_corpus(tmp_path / "docs")
    engine = ragline.open(tmp_path / "data", chunking={"sentence_vectors": "split"})
    engine.ingest([tmp_path / "docs"])
    assert engine.embedder.sentences_embedded == 0  # no sentence text went through the model
    fresh, reused, _ = _answerers(engine)
    assert reused.stored is not None
    store = engine.collection(None).store
    differ = []
    for q in QUESTIONS[:2]:
        ctx = _context(engine, q)
        cold = _cold(reused, engine)
        got, got_vecs = cold.score(q, ctx)
        assert got and cold.embedder.embedded == 0, q
        ids = [c.chunk_id for p in ctx.passages for c in p.chunks]
        rows = [np.asarray(v[1], np.float32) for v in store.fetch_sentence_vectors(ids) if v]
        stored = np.concatenate(rows)
        nearest = np.abs(got_vecs[:, None, :] - stored[None, :, :]).max(axis=2).min(axis=1)
        assert nearest.max() < 3e-3  # each scored vector is a stored (float16) row
        want, want_vecs = _cold(fresh, engine).score(q, ctx)
        embedded_now = {(s.passage, s.start, s.end): v for s, v in zip(want, want_vecs, strict=True)}
        differ += [
            float(np.abs(v - embedded_now[(s.passage, s.start, s.end)]).max())
            for s, v in zip(got, got_vecs, strict=True)
            if (s.passage, s.start, s.end) in embedded_now
        ]
    # A one-sentence chunk's split vector is its separate one; the others are not.
    assert differ and max(differ) > 1e-2
    answer = engine.ask(QUESTIONS[0])
    assert not answer.abstained and "1872" in answer.text


@pytest.mark.integration
def test_late_vectors_pooled_by_the_model_are_not_read(tmp_path: Path) -> None:
    # The real model pools "late" sentence vectors inside the chunk's run: they score differently
    # from the embedded sentences the answerer ranks by, so it embeds its candidates itself.
    write_fact_corpus(tmp_path / "docs")
    engine = ragline.open(tmp_path / "data", chunking={"sentence_vectors": "late"})
    engine.ingest([tmp_path / "docs"])
    coll = engine.collection(None)
    assert engine.answering.extractive_for(coll.answer, coll.store).stored is None
    answer = engine.ask(QUESTIONS[0])
    assert not answer.abstained and "1872" in answer.text
