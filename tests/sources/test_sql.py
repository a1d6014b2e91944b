"""The SQL source on SQLite and on a real PostgreSQL: rows as documents with metadata, incremental
by a version column or a row hash, deleted rows deleted, tenant scope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from ragline.engine import Engine
from ragline.errors import ConfigError
from ragline.sources import definition_from
from ragline.types import Principal
from tests.sources.conftest import add_source, counts, readable

ROWS = [
    (1, "How do I reset my password?", "Open settings and choose reset.", "en", 1),
    (2, "Wie ändere ich die Sprache?", "Unter Einstellungen die Sprache wählen.", "de", 1),
    (3, "Where are invoices kept?", "Invoices live in the billing archive.", "en", 1),
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'faq.db'}"
    else:
        yield request.getfixturevalue("db_url")


def _db(url: str) -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture
def faq(sql_url: str) -> Iterator[str]:
    db = _db(sql_url)
    with db.begin() as conn:
        conn.execute(
            sqlalchemy.text(
                "CREATE TABLE faq "
                "(id INTEGER PRIMARY KEY, question TEXT, answer TEXT, lang TEXT, rev INTEGER)"
            )
        )
        conn.execute(
            sqlalchemy.text("INSERT INTO faq VALUES (:id, :q, :a, :lang, :rev)"),
            [dict(zip(("id", "q", "a", "lang", "rev"), r, strict=True)) for r in ROWS],
        )
    db.dispose()
    yield sql_url


def _run(url: str, sql: str, **params: object) -> None:
    db = _db(url)
    with db.begin() as conn:
        conn.execute(sqlalchemy.text(sql), params)
    db.dispose()


def _config(url: str, **extra: object) -> dict[str, object]:
    return {
        "type": "sql",
        "url": url,
        "query": "SELECT id, question, answer, lang, rev FROM faq",
        "id_column": "id",
        "title_column": "question",
        "text_columns": ["question", "answer"],
        "metadata_columns": ["lang"],
        **extra,
    }


@pytest.mark.parametrize("version_column", ["rev", None])
def test_rows_sync_incrementally(engine: Engine, faq: str, version_column: str | None) -> None:
    add_source(engine, "faq", _config(faq, version_column=version_column))
    first = engine.sync_source("faq")
    assert counts(first) == {
        "fetched": 3,
        "added": 3,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "failed": 0,
    }
    assert readable(engine, "c") == {"sql:faq/1", "sql:faq/2", "sql:faq/3"}
    hits = engine.search("billing archive invoices", collection="c", mode="keyword", filters={"lang": "en"})
    assert hits[0].chunk.doc_id == "sql:faq/3"
    assert hits[0].chunk.title == "Where are invoices kept?"
    assert not engine.search("Sprache", collection="c", mode="keyword", filters={"lang": "en"})

    again = engine.sync_source("faq")
    assert (again.added, again.updated, again.unchanged, again.deleted) == (0, 0, 3, 0)
    assert again.fetched == again.chunks_indexed == again.chunks_embedded == 0

    _run(faq, "UPDATE faq SET answer = 'Invoices moved to the finance vault.', rev = 2 WHERE id = 3")
    _run(faq, "DELETE FROM faq WHERE id = 2")
    third = engine.sync_source("faq")
    assert (third.fetched, third.added, third.updated, third.unchanged, third.deleted) == (1, 0, 1, 1, 1)
    assert readable(engine, "c") == {"sql:faq/1", "sql:faq/3"}
    assert engine.search("finance vault", collection="c", mode="keyword")[0].chunk.doc_id == "sql:faq/3"


def test_a_version_column_decides_alone(engine: Engine, faq: str) -> None:
    """With a version column, an edit that keeps the version is (by the user's contract) no change."""
    add_source(engine, "faq", _config(faq, version_column="rev"))
    engine.sync_source("faq")
    _run(faq, "UPDATE faq SET answer = 'silently edited' WHERE id = 1")
    assert engine.sync_source("faq").unchanged == 3


def test_tenant_scoped_rows_are_invisible_to_another_tenant(engine: Engine, faq: str) -> None:
    add_source(engine, "faq", _config(faq), tenant="acme", clearance=2)
    assert engine.sync_source("faq", tenant="acme").added == 3
    assert len(readable(engine, "c", Principal("acme", clearance=2))) == 3
    assert readable(engine, "c", Principal("acme", clearance=1)) == set()
    assert readable(engine, "c", Principal("globex", clearance=9)) == set()


def test_bad_columns_and_duplicate_ids_are_named(engine: Engine, faq: str) -> None:
    add_source(engine, "bad", _config(faq, metadata_columns=["langg"]))
    with pytest.raises(ConfigError, match=r"no column\(s\) \['langg'\].*returns \['id', 'question'"):
        engine.sync_source("bad")
    add_source(engine, "dup", _config(faq, query="SELECT 1 AS id, question, answer, lang, rev FROM faq"))
    with pytest.raises(ConfigError, match="holds 1 twice"):
        engine.sync_source("dup")


def test_sql_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="text_columns"):
        definition_from(
            name="s",
            collection="c",
            config={"type": "sql", "url": "sqlite://", "query": "x", "id_column": "id"},
        )
    with pytest.raises(ConfigError, match="metadata_columns"):
        definition_from(name="s", collection="c", config=_config("sqlite://", metadata_columns=["a b"]))


def test_overlapping_sources_of_one_collection_are_refused(engine: Engine) -> None:
    add_source(engine, "a", {"type": "web", "urls": ["http://x/docs/"]})
    with pytest.raises(ConfigError, match=r"would share items .* with source 'a' in collection 'c'"):
        add_source(engine, "b", {"type": "web", "urls": ["http://x/docs/api/"]})
    add_source(engine, "b", {"type": "web", "urls": ["http://x/docs/api/"]}, collection="other")
    add_source(engine, "b2", {"type": "web", "urls": ["http://x/blog/"]})
    add_source(engine, "s1", {"type": "s3", "bucket": "bkt", "prefix": "a/"})
    with pytest.raises(ConfigError, match="with source 's1'"):
        add_source(engine, "s2", {"type": "s3", "bucket": "bkt"})
    add_source(engine, "q1", _config("sqlite://"))
    add_source(engine, "q2", _config("sqlite://"))  # one key prefix per SQL source name
    add_source(engine, "a", {"type": "web", "urls": ["http://x/docs/"]}, tenant="acme")  # another tenant
