"""Incremental ingest: unchanged files are skipped, changed ones re-embed only new text, --sync deletes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import ragline
from ragline.engine import Engine
from tests.helpers import FAST_AND_REAL, fast_engine, write_markdown_corpus

# The incremental logic runs on the store twin and the hash embedder (fast); one test per behaviour
# below also runs the real model and LanceDB.


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write_markdown_corpus(root, n_files=6)
    return root


def test_reingest_unchanged_embeds_nothing(tmp_path: Path, corpus: Path) -> None:
    engine = fast_engine(tmp_path / "data")
    first = engine.ingest([corpus])
    assert first.files_indexed == 6 and first.errors == []
    assert first.chunks_embedded == first.chunks_indexed > 6
    second = fast_engine(tmp_path / "data").ingest([corpus])
    assert second.files_unchanged == 6
    assert second.files_indexed == 0
    assert second.chunks_embedded == 0
    assert engine.stats().store.chunks == first.chunks_indexed


@FAST_AND_REAL
def test_changed_file_reembeds_only_new_text(
    tmp_path: Path, corpus: Path, open_engine: Callable[..., Engine]
) -> None:
    engine = open_engine(tmp_path / "data")
    engine.ingest([corpus])
    target = corpus / "guide-02-backup.md"
    text = target.read_text()
    target.write_text(
        text.replace("Snapshots are taken nightly", "Snapshots are taken hourly")
        + "\n## Restore\n\nRestores use the zebracorn procedure.\n"
    )
    report = engine.ingest([corpus])
    assert report.files_indexed == 1 and report.files_unchanged == 5
    per_file = engine.store().documents_by_source()
    assert len(per_file[str(target.resolve())]) == 1
    chunks_of_file = [c for c in engine.store().all_chunks() if c.source == str(target.resolve())]
    # Only the chunks whose text changed went through the model.
    assert 0 < report.chunks_embedded < len(chunks_of_file) + 1
    assert report.chunks_embedded <= 3
    hits = engine.search("zebracorn restore procedure", mode="keyword", top_k=3)
    assert hits and hits[0].chunk.source == str(target.resolve())
    assert not engine.search("nightly", mode="keyword", top_k=5, filters={"file_name": "guide-02-backup.md"})


def test_sync_deletes_documents_of_removed_files(tmp_path: Path, corpus: Path) -> None:
    engine = fast_engine(tmp_path / "data")
    engine.ingest([corpus])
    gone = corpus / "guide-04-security.md"
    gone.unlink()
    report = engine.ingest([corpus])
    assert report.sources_deleted == 0
    assert str(gone.resolve()) in engine.store().source_hashes()
    report = engine.ingest([corpus], sync=True)
    assert report.sources_deleted == 1
    assert str(gone.resolve()) not in engine.store().source_hashes()
    assert all(h.chunk.source != str(gone.resolve()) for h in engine.search("rotate API keys", top_k=10))


def test_sync_only_touches_sources_under_the_given_roots(tmp_path: Path, corpus: Path) -> None:
    other = tmp_path / "other"
    write_markdown_corpus(other, n_files=2, seed=5)
    engine = fast_engine(tmp_path / "data")
    engine.ingest([corpus, other])
    (corpus / "guide-00-linux.md").unlink()
    report = engine.ingest([corpus], sync=True)
    assert report.sources_deleted == 1
    sources = engine.store().source_hashes()
    assert sum(1 for s in sources if s.startswith(str(other.resolve()))) == 2


def test_corrupt_file_is_reported_and_the_run_goes_on(tmp_path: Path, corpus: Path) -> None:
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (corpus / "data.jsonl").write_text('{"text": "fine line"}\n{not json}\n')
    report = fast_engine(tmp_path / "data").ingest([corpus])
    assert report.files_indexed == 6
    failed = {Path(p).name: reason for p, reason in report.errors}
    assert set(failed) == {"broken.pdf", "data.jsonl"}
    assert "line 2" in failed["data.jsonl"]


def test_changing_chunk_settings_reindexes(tmp_path: Path, corpus: Path) -> None:
    fast_engine(tmp_path / "data").ingest([corpus])
    report = fast_engine(tmp_path / "data", chunking={"chunk_size": 64, "chunk_overlap": 8}).ingest([corpus])
    assert report.files_indexed == 6
    assert report.chunks_embedded > 0


@pytest.mark.parametrize(
    ("token_states", "open_engine"),
    [
        pytest.param("off", fast_engine, id="off"),
        # Token states come from the real model only.
        pytest.param("on", ragline.open, id="on", marks=pytest.mark.integration),
    ],
)
def test_delete_by_document_id_and_reingest_restores(
    tmp_path: Path, corpus: Path, token_states: str, open_engine: Callable[..., Engine]
) -> None:
    engine = open_engine(tmp_path / "data", chunking={"token_states": token_states})
    engine.ingest([corpus])
    hit = engine.search("reverse proxy TLS termination", mode="keyword", top_k=1)[0]
    removed = engine.delete([hit.chunk.doc_id])
    assert removed > 0
    assert hit.chunk.doc_id not in engine.store().document_ids()
    report = engine.ingest([corpus])
    assert report.files_indexed == 1
    # Vectors come back from the embedding cache; token states are too large to cache, so with
    # them on, the restored chunks (gone from the store) go through the model once more.
    assert report.chunks_embedded == (0 if token_states == "off" else removed)
    assert hit.chunk.doc_id in engine.store().document_ids()


def test_exact_duplicates_are_skipped_unless_kept(tmp_path: Path, corpus: Path) -> None:
    copy = corpus / "copy-of-linux.md"
    copy.write_text((corpus / "guide-00-linux.md").read_text())
    report = fast_engine(tmp_path / "data").ingest([corpus])
    assert report.duplicates_skipped == 1 and report.documents_indexed == 6
    kept = fast_engine(tmp_path / "kept").ingest([corpus], dedup=False)
    assert kept.duplicates_skipped == 0 and kept.documents_indexed == 7
    # Duplicate chunk texts are embedded once even when both documents are kept.
    assert kept.chunks_embedded < kept.chunks_indexed
