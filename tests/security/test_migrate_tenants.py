"""Upgrading a data directory from before tenant namespaces: every tenant's documents sat in one
collection under ``<data_dir>/collections``; ``ragline migrate-tenants`` gives each its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import ragline
from ragline.cli.main import app
from ragline.errors import CollectionNotFound
from ragline.ingest.pipeline import Ingestor
from ragline.types import Access, Document, Principal


def _legacy(data: Path) -> None:
    """What the service wrote before namespaces: one table, rows of three tenants."""
    engine = ragline.open(data)
    docs = [
        Document(id=f"{t}/{i}", source=f"api:{t}", text=f"{t} note {i} about tides.", access=Access(t))
        for t in ("default", "acme", "globex")
        for i in range(3)
    ]
    store = engine.store("notes")
    ingestor = Ingestor(engine.settings, store, engine.embedder, engine.chunker, engine.tokenizer)
    for tenant in ("default", "acme", "globex"):
        ingestor.upsert_documents([d for d in docs if d.access.tenant == tenant])
    assert store.tenants() == {"default", "acme", "globex"}


def test_migration_moves_each_tenants_documents_into_its_namespace(tmp_path: Path) -> None:
    _legacy(tmp_path)
    engine = ragline.open(tmp_path)
    with pytest.raises(CollectionNotFound):  # before: acme's documents are out of its reach
        engine.search("tides", collection="notes", principal=Principal("acme"))
    assert engine.migrate_tenants() == {"acme": 3, "globex": 3}
    for tenant in ("acme", "globex"):
        hits = engine.search("tides", collection="notes", principal=Principal(tenant))
        assert sorted(h.chunk.doc_id for h in hits) == [f"{tenant}/{i}" for i in range(3)]
        assert engine.store("notes", tenant=tenant).tenants() == {tenant}
    assert engine.store("notes").tenants() == {"default"}
    assert engine.stats("notes").store.documents == 3
    # Again: nothing duplicated, nothing lost.
    assert engine.migrate_tenants() == {}
    assert engine.stats("notes", principal=Principal("acme")).store.documents == 3


def test_migrate_tenants_command(tmp_path: Path) -> None:
    _legacy(tmp_path)
    res = CliRunner().invoke(app, ["migrate-tenants", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "tenant acme: 3 chunks" in res.output and "tenant globex: 3 chunks" in res.output
    res = CliRunner().invoke(app, ["migrate-tenants", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0 and "nothing to move" in res.output
