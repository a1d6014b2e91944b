"""A store without a search capability degrades the stage that needs it, with one logged reason
per store, instead of failing: retrieval over it returns what the same retrieval with that stage
turned off returns over a full store."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import ragline
from ragline.engine import Engine
from ragline.ingest.pipeline import Ingestor
from ragline.retrieval.pipeline import PipelineRetriever
from ragline.retrieval.retrievers import DenseRetriever, HybridRetriever, KeywordRetriever
from ragline.settings import RetrievalSettings
from ragline.store.base import capabilities
from ragline.store.memory import MemoryStore
from ragline.types import Document, Hit
from tests.helpers import fast_engine

DOCS = [
    Document(
        id="solar", source="notes", title="Energy", text="Solar panels were installed on the roof in May."
    ),
    Document(
        id="heat", source="notes", title="Heating", text="The heat pump replaced the gas boiler. It is quiet."
    ),
    Document(id="train", source="notes", title="Travel", text="Trains are preferred over flights in Europe."),
    Document(id="wind", source="notes", title="Wind", text="A small wind turbine was rejected as too noisy."),
    Document(
        id="bat", source="notes", title="Storage", text="Battery storage keeps servers running in outages."
    ),
    Document(
        id="bike", source="notes", title="Commute", text="Staff who cycle to work get a shower and lockers."
    ),
]


# Backends lacking capabilities: a protocol member set to None is, for isinstance, not there.
class NoSentencesNoVectors(MemoryStore):
    sentence_candidates = None
    fetch_sentence_vectors = None
    fetch_vectors = None


class NoKeyword(MemoryStore):
    keyword_candidates = None


class NoDense(MemoryStore):
    dense_candidates = None


class NoTokenStates(MemoryStore):
    fetch_token_states = None


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    eng = fast_engine(tmp_path_factory.mktemp("caps") / "data")
    eng.upsert_documents(DOCS)
    return eng


def _reopened(engine: Engine, cls: type[MemoryStore]) -> MemoryStore:
    """The engine's collection, opened by a backend class with fewer capabilities."""
    e = engine.embedder
    return cls(engine.store().root, dimension=e.dimension, model_id=e.model_id)


def _ids(hits: list[Hit]) -> list[str]:
    return [h.chunk.id for h in hits]


def _reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "has no" in r.getMessage()]


QUERIES = ["what replaced the gas boiler", "noisy turbine", "servers during outages", "cycling"]


def test_stages_needing_a_missing_capability_are_skipped_as_if_off(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    lacking = _reopened(engine, NoSentencesNoVectors)
    assert capabilities(lacking) == {"dense search", "keyword search", "token states", "export"}
    on = RetrievalSettings(sentences=True, dense_prf=True, smoothing=True, prf=True, rerank=[])
    off = on.overridden(
        RetrievalSettings(
            sentences=False, feedback={"dense": {"enabled": False}}, smoothing={"enabled": False}
        )
    )
    full = PipelineRetriever(engine.store(), engine.embedder, off)
    with caplog.at_level(logging.INFO, logger="ragline"):
        for _ in range(2):  # a retriever per search, as the engine builds them: still one line each
            degraded = PipelineRetriever(lacking, engine.embedder, on)
            for q in QUERIES:
                got, want = degraded.run(q, 4), full.run(q, 4)
                assert _ids(got) == _ids(want)
                assert [h.score for h in got] == pytest.approx([h.score for h in want])
    reasons = _reasons(caplog)
    assert len(reasons) == 2
    assert "has no sentence search" in reasons[0] and "retrieval.sentences is skipped" in reasons[0]
    assert "has no vector fetch" in reasons[1] and "feedback.dense and retrieval.smoothing" in reasons[1]
    # The full store has every capability: the same settings use them all and log nothing.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ragline"):
        every = PipelineRetriever(engine.store(), engine.embedder, on)
        changed = [
            q for q in QUERIES if [h.score for h in every.run(q, 4)] != [h.score for h in full.run(q, 4)]
        ]
    assert changed  # the stages do something where the store can serve them
    assert _reasons(caplog) == []


def test_a_store_without_keyword_search_serves_the_dense_side_alone(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    lacking = _reopened(engine, NoKeyword)
    with caplog.at_level(logging.INFO, logger="ragline"):
        assert KeywordRetriever(lacking).run("boiler", 3) == []
        hybrid = HybridRetriever(lacking, engine.embedder).run("what replaced the gas boiler", 3)
        piped = PipelineRetriever(lacking, engine.embedder, RetrievalSettings(rerank=[])).run("gas boiler", 3)
    assert hybrid[0].chunk.doc_id == "heat" and all(set(h.retrievers) == {"dense"} for h in hybrid)
    assert piped and all("keyword" not in h.retrievers for h in piped)
    assert _reasons(caplog) == [
        f"store {lacking.root} has no keyword search (NoKeyword backend): keyword retrieval finds nothing"
    ]


def test_a_store_without_dense_search_serves_the_keyword_side_alone(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    lacking = _reopened(engine, NoDense)
    with caplog.at_level(logging.INFO, logger="ragline"):
        assert DenseRetriever(lacking, engine.embedder).run("boiler", 3) == []
        hybrid = HybridRetriever(lacking, engine.embedder).run("gas boiler", 3)
    assert hybrid[0].chunk.doc_id == "heat"
    assert all(set(h.retrievers) == {"keyword"} for h in hybrid)
    assert len(_reasons(caplog)) == 1 and "has no dense search" in _reasons(caplog)[0]


@pytest.mark.integration  # token states come from the real model
def test_without_token_states_ingest_and_late_interaction_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ragline.rerank.late_interaction import LateInteractionReranker

    engine = ragline.open(tmp_path / "data", store={"backend": "memory"})
    e = engine.embedder
    store = NoTokenStates(tmp_path / "c", dimension=e.dimension, model_id=e.model_id)
    chunking = engine.settings.chunking.model_copy(update={"token_states": "on"})
    settings = engine.settings.model_copy(update={"chunking": chunking})
    assert settings.stores_token_states
    with caplog.at_level(logging.INFO, logger="ragline"):
        report = Ingestor(settings, store, e, engine.chunker, engine.tokenizer).upsert_documents(DOCS)
        assert report.errors == [] and store.stats().chunks == len(DOCS)
        late = RetrievalSettings(rerank=["late-interaction"])
        [reranker] = engine.rerankers(late, store, e)
    assert isinstance(reranker, LateInteractionReranker) and reranker.states is None
    reasons = _reasons(caplog)
    assert len(reasons) == 1 and "has no token states" in reasons[0]
