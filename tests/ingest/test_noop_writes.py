"""A run that changes nothing writes nothing, and the answer of an unchanged collection does not
depend on how often it was ingested or optimised (issue 26: evaluating an unchanged collection
must be read-only and reproducible)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ragline.engine import Engine
from tests.helpers import FAST_AND_REAL, paragraph

QUERIES = ["coral reef survey", "glacier moss", "alpha bravo charlie", "harbour lighthouse keeper", "delta"]
TOPICS = ["coral reef survey", "glacier moss growth", "harbour lighthouse keeper", "desert rainfall"]


def _corpus(root: Path, n: int) -> Path:
    rng = random.Random(7)
    root.mkdir(parents=True)
    for i in range(n):
        text = f"# Note {i}\n\n{TOPICS[i % len(TOPICS)]} number {i}. {paragraph(rng, 30)}\n"
        (root / f"note-{i:03d}.md").write_text(text, encoding="utf-8")
    return root


def _files(data: Path) -> dict[str, tuple[int, int]]:
    # Lock files are how writers wait for each other; everything else is data.
    return {
        str(p.relative_to(data)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in data.rglob("*")
        if p.is_file() and not p.name.endswith(".lock")
    }


def _results(engine: Engine) -> list[list[tuple[str, float]]]:
    return [
        [(h.chunk.id, round(h.score, 6)) for h in engine.search(q, collection="notes", top_k=8)]
        for q in QUERIES
    ]


@FAST_AND_REAL
@pytest.mark.parametrize("docs", [40, 300], ids=["exact", "ann-index"])
def test_an_unchanged_collection_is_read_only_and_answers_the_same(
    tmp_path: Path, open_engine: Callable[..., Engine], docs: int
) -> None:
    if docs > 40 and open_engine.__name__ == "open":
        pytest.skip("the ANN-index case runs on the fast engine only (300 real embeddings are slow)")
    folder = _corpus(tmp_path / "docs", docs)
    data = tmp_path / "data"
    settings: dict[str, Any] = {"store": {"backend": "lance", "ann_threshold": 256}}
    engine = open_engine(data, **settings)
    first = engine.ingest([folder], collection="notes")
    assert first.chunks_embedded >= docs
    if docs > 40:
        assert engine.store("notes").stats().vector_index  # the ANN path is the one measured
    fresh = _results(engine)
    files = _files(data)

    again = engine.ingest([folder], collection="notes")
    assert again.chunks_embedded == 0 and again.files_unchanged == docs
    assert _files(data) == files, "a no-op re-ingest wrote to the data directory"
    assert _results(engine) == fresh

    store = engine.store("notes")
    store.finalize()
    assert _files(data) == files, "finalize of an unchanged collection wrote to the data directory"
    # Optimising (compaction, index folding) an already optimised collection is a no-op too, and
    # a new process opening it answers exactly as the process that built it.
    store.chunks_table.optimize()  # type: ignore[attr-defined]
    assert _files(data) == files
    reopened = open_engine(data, **settings)
    assert _results(reopened) == fresh
