"""The service with its state (keys, jobs, traces, feedback, audit) in a real PostgreSQL server:
the same flows as with SQLite, and two app instances (replicas) sharing that state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragline.server.app import create_app
from ragline.settings import load_settings
from tests.conftest import fresh_pg_database
from tests.server.conftest import Keys, make_keys, wait_job, wait_ready

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def replicas(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, TestClient, Keys]]:
    data = tmp_path_factory.mktemp("pg-service")
    with fresh_pg_database(pg_url) as url:
        keys = make_keys(data, url)
        settings = load_settings(
            data_dir=data,
            server={"state_url": url, "json_logs": False},
            store={"read_consistency_s": 0},
        )
        with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
            wait_ready(a)
            wait_ready(b)
            yield a, b, keys


def test_flows_on_postgres_state_shared_by_two_replicas(
    replicas: tuple[TestClient, TestClient, Keys],
) -> None:
    a, b, keys = replicas
    assert not (Path(a.app.state.service.settings.data_dir) / "state.sqlite").exists()
    # Upload on replica A, follow the job and query on replica B.
    r = a.post(
        "/v1/collections/docs/files",
        files=[
            ("files", ("tides.md", b"# Tides\n\nHigh tide in the bay is at 6 pm today.", "text/markdown"))
        ],
        headers=keys.acme_admin,
    )
    assert r.status_code == 202
    job = wait_job(b, r.json(), keys.acme_admin)
    assert job["status"] == "done" and job["chunks"] >= 1
    ans = b.post(
        "/v1/collections/docs/ask", json={"question": "When is high tide?"}, headers=keys.acme_eng
    ).json()
    assert "6 pm" in ans["text"] and ans["citations"]
    # The trace written by B is readable from A; feedback on A; audit sees both.
    assert a.get(f"/v1/traces/{ans['trace_id']}", headers=keys.acme_eng).status_code == 200
    fb = a.post(
        "/v1/feedback",
        json={"trace_id": ans["trace_id"], "rating": "down", "comment": "too slow"},
        headers=keys.acme_eng,
    )
    assert fb.status_code == 201
    actions = [e["action"] for e in b.get("/v1/audit", headers=keys.acme_admin).json()]
    assert "ingest" in actions and "query" in actions
    # A key created through A authenticates on B; revoked on B, refused on A.
    new = a.post("/v1/keys", json={"role": "reader", "groups": ["eng"]}, headers=keys.acme_admin).json()
    h = {"Authorization": f"Bearer {new['secret']}"}
    assert b.post("/v1/collections/docs/search", json={"query": "tide"}, headers=h).status_code == 200
    assert b.delete(f"/v1/keys/{new['id']}", headers=keys.acme_admin).status_code == 200
    assert a.post("/v1/collections/docs/search", json={"query": "tide"}, headers=h).status_code == 401
