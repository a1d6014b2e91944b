"""Bad input in an ingested folder (issue 21, finding 10): each bad file is a per-file error or a
reported skip, the ingest never hangs or dies, and the good files are indexed."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

import ragline
from ragline.errors import ConfigError
from ragline.types import Document
from tests.helpers import fast_engine

JAPANESE = "東京は日本の首都です。検索エンジンはこの文章を正しく読めるはずです。"


@pytest.mark.integration
@pytest.mark.timeout(120)  # the FIFO used to hang the ingest forever
def test_bad_files_are_reported_and_the_rest_is_indexed(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "good.md").write_text("# Backups\n\nSnapshots are taken nightly and kept for thirty days.\n")
    (root / "japanese.txt").write_bytes(JAPANESE.encode("shift_jis"))
    depth = 20_000
    (root / "deep.html").write_text("<html><body>" + "<div>" * depth + "zebracorn" + "</div>" * depth)
    os.mkfifo(root / "pipe.txt")
    rng = random.Random(5)
    (root / "noise.txt").write_bytes(bytes(rng.randrange(0x80, 0x100) for _ in range(50_000)))
    (root / "big.txt").write_text("A sentence of plain words. " * 3000)  # 80,999 characters
    wide = {"_id": "wide", "text": "Too many fields.", **{f"k{i}": i for i in range(100)}}
    (root / "wide.jsonl").write_text(json.dumps(wide) + "\n")

    engine = ragline.open(tmp_path / "data", loaders={"max_document_chars": 50_000})
    report = engine.ingest([root])

    assert report.skipped == [(str(root / "pipe.txt"), "not a regular file (a FIFO)")]
    errors = {Path(path).name: reason for path, reason in report.errors}
    assert set(errors) == {"big.txt", "noise.txt", "wide.jsonl"}
    assert "has 80,999 characters of text, above loaders.max_document_chars = 50,000" in errors["big.txt"]
    assert errors["noise.txt"].startswith("does not look like text")
    assert errors["wide.jsonl"].startswith(
        "document 'wide' has 102 metadata fields, above loaders.max_metadata_fields = 64"
    )
    assert report.files_indexed == 3
    by_source = {Path(c.source).name: c.text for c in engine.store().all_chunks()}
    assert by_source["japanese.txt"] == JAPANESE
    assert "zebracorn" in by_source["deep.html"]
    [hit] = engine.search("snapshots nightly", mode="keyword", top_k=1)
    assert hit.chunk.source == str((root / "good.md").resolve())


def test_metadata_limits_per_document_and_per_collection(tmp_path: Path) -> None:
    engine = fast_engine(tmp_path / "data")
    wide = Document(id="wide", source="api", text="x", metadata={f"k{i}": i for i in range(65)})
    with pytest.raises(ConfigError) as info:
        engine.upsert_documents([wide])
    assert str(info.value).startswith(
        "document 'wide' has 65 metadata fields, above loaders.max_metadata_fields = 64"
    )
    # Within the per-document limit, but ten files of 60 distinct fields each pass the collection's 512.
    root = tmp_path / "docs"
    root.mkdir()
    for f in range(10):
        row = {"_id": f"doc{f}", "text": f"Document number {f}.", **{f"f{f}_{i}": i for i in range(60)}}
        (root / f"part{f}.jsonl").write_text(json.dumps(row) + "\n")
    report = engine.ingest([root])
    # file_name and file_type are shared: 8 files bring 482 fields, the 9th would make 542.
    assert report.files_indexed == 8
    assert sorted(Path(p).name for p, _ in report.errors) == ["part8.jsonl", "part9.jsonl"]
    assert all("above the limit of 512 fields per collection" in why for _, why in report.errors)
    assert len(engine.store().metadata_fields()) == 482
