"""A collection holds at most MAX_METADATA_FIELDS distinct metadata fields (issue 21: one document
with 3,000 keys made 3,000 columns, 4.3 GB at ingest and 1.1 GB on disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.errors import StoreError
from ragline.store.base import SourceBatch
from ragline.store.lance import MAX_METADATA_FIELDS, LanceStore
from ragline.testing.store_contract import DIM, vectors_for
from ragline.types import Chunk


def _batch(source: str, keys: range, prefix: str) -> SourceBatch:
    chunk = Chunk(
        id=f"{source}-c0",
        doc_id=f"{source}-d0",
        text=f"text of {source}",
        position=0,
        start=0,
        end=10,
        source=source,
        metadata={f"{prefix}{i}": i for i in keys},
    )
    return SourceBatch(source, "h", [chunk], vectors_for([chunk], seed=len(source)))


def test_fields_beyond_the_collection_limit_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    assert MAX_METADATA_FIELDS == 512
    store = LanceStore(tmp_path / "c", dimension=DIM, model_id="m")
    store.upsert([_batch("/a", range(300), "a")])
    assert len(store.metadata_fields()) == 300
    with pytest.raises(StoreError, match="bring 213 new metadata fields to a collection holding 300") as info:
        store.upsert([_batch("/b", range(213), "b")])
    assert "above the limit of 512 fields per collection" in str(info.value)
    assert len(store.metadata_fields()) == 300
    assert set(store.source_hashes()) == {"/a"}
    # Up to the limit is fine, and known fields cost nothing new.
    store.upsert([_batch("/c", range(212), "c"), _batch("/d", range(300), "a")])
    assert len(store.metadata_fields()) == 512
    assert set(store.source_hashes()) == {"/a", "/c", "/d"}
