"""The Collection handle: one resolved object per collection, cached and refreshed when its
collection.json changes; per-collection overrides honoured by search and ask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

import ragline
from ragline.engine import Engine
from ragline.errors import ConfigError
from ragline.settings import CollectionSettings, RetrievalSettings, load_settings
from ragline.types import Document

PLAIN = {"prf": False, "dense_prf": False, "sentences": False, "smoothing": False, "rerank": []}


def _docs(n: int) -> list[Document]:
    return [
        Document(id=f"d{i}", source="api", text=f"Note {i} about harbour tides and boats.") for i in range(n)
    ]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    eng = ragline.open(
        tmp_path_factory.mktemp("coll"),
        collections={
            "narrow": {"retrieval": {"top_k": 3}, "answer": {"top_k": 2, "max_sentences": 1}},
            "wide": {"retrieval": {"top_k": 7, "mode": "keyword"}},
        },
    )
    for name in ("narrow", "wide", "plain"):
        eng.upsert_documents(_docs(12), collection=name)
    return eng


def test_per_collection_top_k_and_mode_are_honoured_by_search(engine: Engine) -> None:
    assert len(engine.search("harbour tides", collection="narrow")) == 3
    wide = engine.search("harbour tides", collection="wide")
    assert len(wide) == 7 and all(set(h.retrievers) == {"keyword"} for h in wide)
    assert len(engine.search("harbour tides", collection="plain")) == engine.settings.retrieval.top_k
    assert len(engine.search("harbour tides", collection="narrow", top_k=5)) == 5  # the call wins


def test_per_collection_answer_settings_are_honoured_by_ask(engine: Engine) -> None:
    narrow = engine.ask("What are the notes about?", collection="narrow", debug=True)
    assert narrow.debug is not None and len(narrow.debug.hits) == 2
    plain = engine.ask("What are the notes about?", collection="plain", debug=True)
    assert plain.debug is not None and len(plain.debug.hits) == engine.settings.answer.top_k


def test_collection_is_cached_and_refreshed_when_its_meta_changes(engine: Engine) -> None:
    first = engine.collection("plain")
    assert engine.collection("plain") is first
    meta = first.path / "collection.json"
    tmp = meta.with_suffix(".new")
    tmp.write_text(json.dumps(json.loads(meta.read_text())))
    tmp.replace(meta)  # what a tune in another process does (a new file, renamed in place)
    again = engine.collection("plain")
    assert again is not first and again.store.stats().chunks == first.store.stats().chunks


def test_stages_are_derived_from_the_settings() -> None:
    assert RetrievalSettings(**PLAIN).stages() == []
    on = RetrievalSettings(**{**PLAIN, "hyde": True, "auto_filters": "rules", "multi_query": 2})
    assert on.stages() == ["query.auto_filters", "query.multi_query", "query.hyde"]
    assert "rerank" in RetrievalSettings().stages()


def test_plain_settings_use_the_plain_hybrid_retriever(tmp_path: Path) -> None:
    from ragline.retrieval.retrievers import HybridRetriever

    eng = ragline.open(tmp_path, retrieval=PLAIN)
    eng.upsert_documents(_docs(3))
    assert isinstance(eng.retriever(), HybridRetriever)
    staged = eng.with_settings(retrieval={"adaptive_k": True})
    assert not isinstance(staged.retriever(), HybridRetriever)


def test_per_collection_overrides_are_validated_at_start_up() -> None:
    with pytest.raises(ValidationError, match="top_kk"):
        CollectionSettings(retrieval={"top_kk": 3})
    with pytest.raises(ValidationError, match="cannot be set per collection"):
        CollectionSettings(answer={"generator": "llm"})
    with pytest.raises((ValidationError, ConfigError)):
        load_settings(collections={"x": {"answer": {"top_k": 0}}})
