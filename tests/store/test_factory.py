"""One store factory: every store the engine opens (collections, summaries, summarize's target,
reembed's copy) comes from ``make_store`` with the configured ``store`` settings, and the engine
runs whole on the memory backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ragline
from ragline.errors import ConfigError, StoreError
from ragline.settings import StoreSettings, load_settings
from ragline.store import factory
from ragline.store.base import Store
from ragline.store.lance import LanceStore
from ragline.store.memory import MemoryStore
from ragline.text.tokenizer import packaged_model_dir
from ragline.types import Document

DOCS = [
    Document(id="a", source="notes", title="Energy", text="Solar panels were installed on the roof."),
    Document(id="b", source="notes", title="Heating", text="The heat pump replaced the gas boiler."),
    Document(id="c", source="notes", title="Travel", text="Trains are preferred over flights in Europe."),
]
TUNED = {
    "ann_threshold": 300,
    "ann_ef": 64,
    "ann_partitions": 2,
    "ann_refine_factor": 3,
    "ann_refine_max_rows": 40,
    "held_columns_mb": 64,
    "ann_ef_construction": 50,
    "read_consistency_s": 1.5,
    "sentence_index": True,
}


def test_make_store_passes_every_store_setting(tmp_path: Path) -> None:
    store = factory.make_store(StoreSettings(**TUNED), tmp_path / "c", dimension=8, model_id="m")
    assert isinstance(store, LanceStore)
    assert {k: getattr(store, k) for k in TUNED} == TUNED
    assert (store.root, store.dimension, store.model_id) == (tmp_path / "c", 8, "m")
    memory = factory.make_store(StoreSettings(backend="memory"), tmp_path / "m", dimension=8, model_id="m")
    assert isinstance(memory, MemoryStore) and memory.root == tmp_path / "m"


def test_an_unknown_backend_is_refused_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match="'qdrant' is not a store backend; use 'lance'"):
        load_settings(store={"backend": "qdrant"})
    assert load_settings(store={"backend": "memory"}).store.backend == "memory"


@pytest.mark.integration
def test_every_store_the_engine_opens_comes_from_the_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[Path, StoreSettings]] = []
    real = factory.make_store

    def recording(settings: StoreSettings, path: Path, **kw: Any) -> Store:
        made.append((path, settings))
        return real(settings, path, **kw)

    monkeypatch.setattr("ragline.engine.make_store", recording)
    engine = ragline.open(tmp_path / "data", store=TUNED)
    engine.upsert_documents(DOCS)
    assert engine.summarize(llm=False) == 3
    summaries = engine.summaries_store()
    assert isinstance(summaries, LanceStore) and summaries.ann_threshold == 300
    assert summaries.read_consistency_s == 1.5
    engine.reembed(engine.settings.collection, packaged_model_dir())
    root = engine.collection_path(engine.settings.collection)
    assert [p for p, _ in made] == [
        root,  # the collection
        root / "summaries",  # summarize's target
        root / "summaries",  # the summaries store searches read
        root.with_name(f".{root.name}.reembed"),  # reembed's copy
    ]
    assert all(s == engine.settings.store for _, s in made)


@pytest.mark.integration
def test_the_engine_runs_on_the_memory_backend(tmp_path: Path) -> None:
    engine = ragline.open(tmp_path / "data", store={"backend": "memory"})
    engine.upsert_documents(DOCS)
    assert isinstance(engine.store(), MemoryStore)
    hits = engine.search("what replaced the gas boiler", top_k=2)
    assert hits[0].chunk.doc_id == "b"
    assert engine.summarize(llm=False) == 3
    assert isinstance(engine.summaries_store(), MemoryStore)
    # Persisted: another engine on the same directory finds the same, summaries included.
    again = ragline.open(tmp_path / "data", store={"backend": "memory"})
    assert [h.chunk.id for h in again.search("what replaced the gas boiler", top_k=2)] == [
        h.chunk.id for h in hits
    ]
    assert again.stats().store.documents == 3 and again.summaries_store() is not None
    assert again.delete(["a"]) == 1
    assert {d.doc_id for d in again.documents()} == {"b", "c"}
    # A collection the memory backend wrote is refused by the lance backend, not read as empty.
    with pytest.raises(StoreError, match="'memory' store backend"):
        ragline.open(tmp_path / "data").search("boiler")
