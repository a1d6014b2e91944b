"""Each chunking strategy through the whole ingest -> search path."""

from __future__ import annotations

from pathlib import Path

import pytest

import ragline
from tests.helpers import fast_engine, write_markdown_corpus


@pytest.mark.integration  # reads LanceDB's sections table
def test_parent_child_hits_point_at_their_parent_sections(tmp_path: Path) -> None:
    write_markdown_corpus(tmp_path / "docs", n_files=4, paragraphs=8)
    engine = ragline.open(
        tmp_path / "data", chunking={"strategy": "parent-child", "chunk_size": 64, "chunk_overlap": 8}
    )
    report = engine.ingest([tmp_path / "docs"])
    assert report.files_indexed == 4
    hits = engine.search("snapshots object storage thirty days", top_k=5)
    assert hits and all(h.chunk.parent_id for h in hits)
    store = engine.store()
    parents = {s.id: s for s in store.get_sections([h.chunk.parent_id for h in hits if h.chunk.parent_id])}
    for h in hits:
        parent = parents[h.chunk.parent_id]  # type: ignore[index]
        assert parent.doc_id == h.chunk.doc_id
        assert parent.start <= h.chunk.start and h.chunk.end <= parent.end
        assert h.chunk.text in parent.text
    assert store.stats().sections >= 4
    # Re-ingesting a changed file replaces its parents too: no orphan sections are left.
    target = tmp_path / "docs" / "guide-02-backup.md"
    target.write_text(target.read_text() + "\n\nOne more closing paragraph about restores.\n")
    engine.ingest([tmp_path / "docs"])
    referenced = {c.parent_id for c in store.all_chunks()}
    rows = store.sections_table.search().select(["id"]).limit(None).to_arrow().column("id").to_pylist()
    assert set(rows) == referenced


@pytest.mark.parametrize("strategy", ["recursive", "structure"])
def test_flat_strategies_record_section_paths_only_when_structured(tmp_path: Path, strategy: str) -> None:
    write_markdown_corpus(tmp_path / "docs", n_files=2)
    engine = fast_engine(tmp_path / "data", chunking={"strategy": strategy})
    engine.ingest([tmp_path / "docs"])
    chunks = engine.store().all_chunks()
    has_paths = any(c.section_path for c in chunks)
    assert has_paths == (strategy == "structure")
    assert all(c.parent_id is None for c in chunks)
