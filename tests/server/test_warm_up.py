"""Start-up warms every tenant's collections (their stores' warm_up) before /readyz says ready."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import ragline
from ragline.server import app as app_module
from ragline.server.app import create_app
from ragline.settings import load_settings
from ragline.types import Access, Document
from tests.server.conftest import wait_ready


def test_every_tenants_collections_are_warmed_before_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = ragline.open(tmp_path)
    engine.upsert_documents(
        [Document(id="a", source="s", text="The office opens at nine.")], collection="docs"
    )
    acme = Access(tenant="acme")
    engine.upsert_documents(
        [Document(id="b", source="s", text="Badges at reception.", access=acme)], collection="hr"
    )
    warmed: list[Path] = []

    def recording(store: object) -> bool:
        root = getattr(store, "root", None)
        if root == tmp_path / "collections" / "docs":
            raise RuntimeError("a broken collection")  # must not cost the server its readiness
        warmed.append(root)  # type: ignore[arg-type]
        return True

    monkeypatch.setattr(app_module, "warm_up", recording)
    settings = load_settings(data_dir=tmp_path, server={"json_logs": False})
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        assert client.get("/readyz").status_code == 200
    assert warmed == [tmp_path / "tenants" / "acme" / "collections" / "hr"]
