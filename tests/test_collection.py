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


def test_model_settings_follow_what_the_collection_was_built_with() -> None:
    from ragline.collection import model_settings
    from ragline.settings import EmbeddingSettings

    auto = EmbeddingSettings()
    # a new collection, or one built at int8: the configured settings themselves
    assert model_settings(auto, {}) is auto
    assert model_settings(auto, {"model_id": "all-MiniLM-L6-v2-int8@abc"}) is auto
    # built before int8 was the default: its fp32 graph
    assert model_settings(auto, {"model_id": "all-MiniLM-L6-v2@abc"}).precision == "fp32"
    # a tuned model keeps its path (and was built at fp32)
    tuned = model_settings(auto, {"model_id": "tuned@def", "model_path": "/models/tuned"})
    assert tuned.model_path == Path("/models/tuned") and tuned.precision == "fp32"
    # an explicit precision is the user's: not overridden (the store then names the setting)
    int8 = EmbeddingSettings(precision="int8")
    assert model_settings(int8, {"model_id": "all-MiniLM-L6-v2@abc"}) is int8
    st = EmbeddingSettings(backend="sentence-transformers")
    assert model_settings(st, {"model_id": "all-MiniLM-L6-v2@abc"}) is st


@pytest.mark.integration
def test_a_collection_built_at_fp32_keeps_opening_under_the_int8_default(tmp_path: Path) -> None:
    from ragline.errors import StoreError

    docs = [
        Document(id="a", source="a.txt", text="Harbor keeps request bodies in the spool directory."),
        Document(id="b", source="b.txt", text="The lighthouse was automated in 1985."),
    ]
    old = ragline.open(tmp_path, embedding={"precision": "fp32"})
    old.upsert_documents(docs, collection="old")
    q = "when was the lighthouse automated"
    want = [(h.chunk.doc_id, round(h.score, 4)) for h in old.search(q, collection="old")]
    fp32_id = old.embedder_for("old").model_id
    assert "-int8@" not in fp32_id

    new = ragline.open(tmp_path)  # embedding.precision "auto"
    assert new.embedder_for("old").model_id == fp32_id
    got = [(h.chunk.doc_id, round(h.score, 4)) for h in new.search(q, collection="old")]
    assert got == want and got[0][0] == "b"
    # a new collection in the same data directory is built at int8
    new.upsert_documents(docs, collection="fresh")
    assert new.embedder_for("fresh").model_id == fp32_id.replace("@", "-int8@")
    meta = json.loads((new.collection_path("fresh") / "collection.json").read_text())
    assert meta["model_id"] == fp32_id.replace("@", "-int8@")
    # asking for int8 explicitly on the old collection names the setting instead
    with pytest.raises(StoreError, match=r"set embedding\.precision = 'fp32' to open it"):
        ragline.open(tmp_path, embedding={"precision": "int8"}).search("lighthouse", collection="old")
