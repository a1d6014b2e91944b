"""A source's own PII and near-duplicate switches (``ragline sources add --pii --near-duplicates``):
its items are redacted and its near-copies left out and reported, and a copy comes in once the
original row is deleted upstream."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from ragline.engine import Engine
from tests.helpers import paragraph
from tests.sources.conftest import add_source


def _body(seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(paragraph(rng) for _ in range(3))


def _kb(db: Path, rows: list[tuple[int, str]]) -> dict[str, object]:
    """A SQLite table of ``rows`` (id, body) and the SQL source config reading it."""
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE kb (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany("INSERT INTO kb VALUES (?, ?)", rows)
    url = f"sqlite:///{db}"
    return {
        "type": "sql",
        "url": url,
        "query": "SELECT id, body FROM kb",
        "id_column": "id",
        "text_columns": ["body"],
    }


def test_a_source_redacts_and_leaves_out_near_copies(engine: Engine, tmp_path: Path) -> None:
    db = tmp_path / "kb.db"
    original = _body(1)
    rows = [
        (1, original + " Ask maria.garcia@example.com."),
        (2, original.replace("the", "teh", 2) + " Ask maria.garcia@example.com. Thanks."),
        (3, _body(2)),
    ]
    config = _kb(db, rows)
    add_source(engine, "kb", config, pii=True, near_duplicates=True)
    first = engine.sync_source("kb")
    assert len(first.near_duplicates) == 1 and first.documents == 2
    copy, of = first.near_duplicates[0]
    texts = [h.chunk.text for h in engine.search("maria", collection="c", top_k=20)]
    assert texts and not any("maria.garcia@" in t for t in texts)
    assert any("<EMAIL>" in t for t in texts)
    # The original row goes upstream: the sync deletes it, and the next one brings its copy in.
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM kb WHERE id = 1")
    assert engine.sync_source("kb").deleted == 1
    docs = {d.doc_id for d in engine.documents(collection="c")}
    assert of not in docs and copy not in docs
    engine.sync_source("kb")
    assert copy in {d.doc_id for d in engine.documents(collection="c")}


def test_the_collection_setting_applies_unless_the_source_says_otherwise(
    engine: Engine, tmp_path: Path
) -> None:
    db = tmp_path / "kb.db"
    rows = [(1, _body(3) + " Call (415) 555-0132.")]
    config = _kb(db, rows)
    add_source(engine, "raw", config)
    engine.sync_source("raw")
    assert "(415) 555-0132" in engine.search("call", collection="c")[0].chunk.text
