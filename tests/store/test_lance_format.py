"""LanceStore's on-disk format: ``format_version`` in ``collection.json`` and the named migrations
that bring an older collection to it, each run on a collection written the way the older release
wrote it (its table without the step's columns, its collection.json without the version)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import lancedb
import pyarrow as pa
import pytest

from ragline.errors import StoreError
from ragline.store.base import SourceBatch
from ragline.store.filters import Visible
from ragline.store.lance import FORMAT_VERSION, MIGRATIONS, LanceStore
from ragline.testing.store_contract import DIM, dense_hits, make_chunks, units_for, vectors_for
from ragline.types import Principal

ACL = ["acl_tenant", "acl_groups", "acl_clearance"]


def meta(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "collection.json").read_text(encoding="utf-8"))
    return data


def written_by_older_release(root: Path, drop: list[str], version: int | None) -> list[str]:
    """A collection at ``root`` as a release before format ``version + 1`` wrote it: the chunks
    table without ``drop``, collection.json at ``version`` (no key for None). Returns its ids."""
    chunks = make_chunks(3, "/s", seed=1, chunks_per_doc=1)
    LanceStore(root, dimension=DIM, model_id="m").upsert(
        [SourceBatch("/s", "h", chunks, vectors_for(chunks, 1))]
    )
    db = lancedb.connect(str(root))
    table = db.open_table("chunks").to_arrow()
    keep = [n for n in table.schema.names if n not in drop]
    db.drop_table("chunks")
    db.create_table("chunks", table.select(keep), schema=pa.schema([table.schema.field(n) for n in keep]))
    old = {k: v for k, v in meta(root).items() if k != "format_version"}
    if version is not None:
        old["format_version"] = version
    (root / "collection.json").write_text(json.dumps(old), encoding="utf-8")
    return [c.id for c in chunks]


def migrated(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage().split("(")[-1].rstrip(")")
        for r in caplog.records
        if "migrated to format" in r.getMessage()
    ]


def test_migrations_are_named_steps_numbered_in_order() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, FORMAT_VERSION + 1))
    assert [m.name for m in MIGRATIONS] == ["access-control columns", "sentence vector column"]


def test_a_new_collection_is_written_at_the_current_format(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ragline.store.lance"):
        ch = make_chunks(2, "/s", seed=1, chunks_per_doc=1)
        LanceStore(tmp_path / "c", dimension=DIM, model_id="m").upsert(
            [SourceBatch("/s", "h", ch, vectors_for(ch, 1))]
        )
    assert meta(tmp_path / "c") == {"model_id": "m", "dimension": DIM, "format_version": FORMAT_VERSION}
    assert migrated(caplog) == []


def test_format_0_gets_every_step_in_order(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Written before access control and sentence vectors: both steps run, in order, on open."""
    root = tmp_path / "v0"
    ids = written_by_older_release(root, [*ACL, "unit_vectors"], None)
    store = LanceStore(root, dimension=DIM, model_id="m")
    with caplog.at_level(logging.INFO, logger="ragline.store.lance"):
        assert len(store.all_chunks()) == 3
    assert migrated(caplog) == ["access-control columns", "sentence vector column"]
    assert meta(root)["format_version"] == FORMAT_VERSION and meta(root)["model_id"] == "m"
    # Old chunks belong to the default tenant, readable by its callers only; no sentence vectors.
    q = vectors_for(make_chunks(3, "/s", seed=1, chunks_per_doc=1), 1)[0]
    assert {h.chunk.id for h in dense_hits(store, q, 5, Visible(Principal()))} == set(ids)
    assert dense_hits(store, q, 5, Visible(Principal("acme", ("eng",), 9))) == []
    assert store.sentence_candidates(q, 10) == []
    # Opened again, nothing more to do.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ragline.store.lance"):
        LanceStore(root, dimension=DIM, model_id="m").stats()
    assert migrated(caplog) == []


def test_format_1_gets_the_sentence_vector_column(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Written with access control but before sentence vectors: only step 2 runs; the old chunks
    hold no sentence vectors until their source is re-indexed, and every search keeps working."""
    root = tmp_path / "v1"
    written_by_older_release(root, ["unit_vectors"], 1)
    ch = make_chunks(3, "/s", seed=1, chunks_per_doc=1)
    store = LanceStore(root, dimension=DIM, model_id="m")
    with caplog.at_level(logging.INFO, logger="ragline.store.lance"):
        assert store.sentence_candidates(vectors_for(ch, 1)[0], 10) == []
    assert migrated(caplog) == ["sentence vector column"]
    assert sum("added sentence vectors" in r.getMessage() for r in caplog.records) == 1
    new = make_chunks(2, "/t", seed=2, chunks_per_doc=1)
    store.upsert([SourceBatch("/t", "h", new, vectors_for(new, 2), sentence_vectors=units_for(new, 2))])
    assert set(store.source_hashes()) == {"/s", "/t"}
    found = store.sentence_candidates(vectors_for(new, 2)[0], 10)
    with_units = {c.id for c, u in zip(new, units_for(new, 2), strict=True) if len(u)}
    assert {c.chunk_id for c in found} == with_units
    assert dense_hits(store, vectors_for(new, 2)[0], 1)[0].chunk.id == new[0].id
    # Re-indexing the old source fills its units too.
    store.upsert([SourceBatch("/s", "h2", ch, vectors_for(ch, 1), sentence_vectors=units_for(ch, 1))])
    found_ids = {c.chunk_id for c in store.sentence_candidates(vectors_for(ch, 1)[0], 10)}
    assert {c.id for c, u in zip(ch, units_for(ch, 1), strict=True) if len(u)} <= found_ids
    # Shapes are still checked, so a bad batch fails the same way on old and new collections.
    with pytest.raises(StoreError, match="unit vector"):
        store.upsert([SourceBatch("/v", "h", new, vectors_for(new, 2), sentence_vectors=[])])


def test_tables_without_a_collection_json_are_migrated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "bare"
    written_by_older_release(root, ACL, None)
    (root / "collection.json").unlink()
    with caplog.at_level(logging.INFO, logger="ragline.store.lance"):
        chunks = LanceStore(root, dimension=DIM, model_id="m").all_chunks()
    assert {c.access.tenant for c in chunks} == {"default"}
    assert migrated(caplog) == ["access-control columns"]
    assert meta(root)["format_version"] == FORMAT_VERSION


def test_a_newer_format_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "future"
    LanceStore(root, dimension=DIM, model_id="m").stats()
    (root / "collection.json").write_text(
        json.dumps({"model_id": "m", "dimension": DIM, "format_version": FORMAT_VERSION + 1}),
        encoding="utf-8",
    )
    with pytest.raises(
        StoreError, match=f"format version {FORMAT_VERSION + 1}, newer than the {FORMAT_VERSION}"
    ):
        LanceStore(root, dimension=DIM, model_id="m").stats()


def test_model_mismatch_is_refused(tmp_path: Path) -> None:
    LanceStore(tmp_path / "c", dimension=4, model_id="m1").stats()
    with pytest.raises(StoreError, match="m1"):
        LanceStore(tmp_path / "c", dimension=4, model_id="m2").stats()
