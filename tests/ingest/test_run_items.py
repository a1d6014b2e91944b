"""Ingestor.run_items: items of a source that is not a folder (a sync's), with the file ingest's
incremental rules: a held version is not even loaded, a failed load keeps what is indexed, the
sweep deletes only what is gone and indexed."""

from __future__ import annotations

from pathlib import Path

from ragline.errors import LoaderError
from ragline.ingest.pipeline import Ingestor, SourceItem
from ragline.types import Access, Document
from tests.helpers import fast_engine


def _ingestor(tmp_path: Path) -> Ingestor:
    engine = fast_engine(tmp_path / "data")
    store = engine.store("c")
    return Ingestor(engine.settings, store, engine.embedder, engine.chunker, None)


def _item(key: str, version: str, text: str, calls: list[str]) -> SourceItem:
    def load() -> list[Document]:
        calls.append(key)
        return [Document(id=key, source=key, text=text)]

    return SourceItem(key, version, load)


def _failing(key: str) -> SourceItem:
    def load() -> list[Document]:
        raise LoaderError(key, "HTTP 503")

    return SourceItem(key, "unavailable", load)


def test_held_versions_are_not_loaded_and_changed_ones_are(tmp_path: Path) -> None:
    ing = _ingestor(tmp_path)
    calls: list[str] = []
    first = ing.run_items([_item("a", "1", "Alpha text.", calls), _item("b", "1", "Beta text.", calls)])
    assert (first.files_indexed, calls) == (2, ["a", "b"])
    calls.clear()
    second = ing.run_items([_item("a", "1", "Alpha text.", calls), _item("b", "2", "Beta, edited.", calls)])
    assert (second.files_unchanged, second.files_indexed, calls) == (1, 1, ["b"])
    # Another access is another version of the same item: it is indexed again with it.
    third = ing.run_items([_item("a", "1", "Alpha text.", calls)], access=Access("default", ("eng",)))
    assert third.files_indexed == 1
    assert {c.access.groups for c in ing.store.find_chunks(None)} >= {("eng",)}


def test_sweep_deletes_gone_items_but_not_failed_ones(tmp_path: Path) -> None:
    ing = _ingestor(tmp_path)
    calls: list[str] = []
    ing.run_items([_item(k, "1", f"Text of {k}.", calls) for k in ("a", "b", "c")])
    swept: list[set[str]] = []

    def sweep(seen: set[str]) -> list[str]:
        swept.append(seen)
        return ["b", "c", "never-indexed"]

    report = ing.run_items([_item("a", "1", "Text of a.", calls), _failing("c")], sweep=sweep)
    assert swept == [{"a", "c"}]
    assert report.errors == [("c", "HTTP 503")]
    assert report.sources_deleted == 1  # b: c failed, never-indexed is not there
    assert set(ing.store.source_hashes()) == {"a", "c"}
