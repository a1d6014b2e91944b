"""``server.role``: a query replica serves reads and refuses every write with a clear 405; the
ingest (or all-in-one) replica takes them. The two-process version over PostgreSQL, Redis and one
data directory is tests/server/test_replicas.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragline.errors import ConfigError
from ragline.server.app import create_app
from ragline.settings import load_settings
from tests.helpers import fast_engine
from tests.server.conftest import wait_job, wait_ready


def _client(data: Path, role: str) -> TestClient:
    settings = load_settings(data_dir=data, server={"auth": False, "json_logs": False, "role": role})
    return TestClient(create_app(settings, engine=fast_engine(data)))


@pytest.fixture
def query(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path, "query") as c:
        wait_ready(c)
        yield c


def test_a_query_replica_refuses_writes_and_runs_no_job_workers(query: TestClient) -> None:
    assert query.app.state.service.jobs is None  # type: ignore[attr-defined]
    r = query.post("/v1/collections/kb/files", files=[("files", ("a.md", b"# A\n\nalpha", "text/markdown"))])
    assert r.status_code == 405, r.text
    err = r.json()["error"]
    assert err["type"] == "ReadOnlyReplica"
    assert "server.role = 'query'" in err["message"] and "uploads" in err["message"]
    assert "ingest" in err["message"]
    assert r.headers["Allow"] == ""  # nothing else is served on that path
    r = query.post("/v1/collections/kb/documents", json={"documents": [{"id": "a", "text": "alpha"}]})
    assert r.status_code == 405 and "documents" in r.json()["error"]["message"]
    assert r.headers["Allow"] == "GET"
    r = query.delete("/v1/collections/kb/documents/default/a")
    assert r.status_code == 405 and "deletions" in r.json()["error"]["message"]
    assert r.headers["Allow"] == "GET"
    # Reads are served, and readiness names the role.
    assert query.get("/readyz").json()["detail"]["role"] == "query"
    assert query.get("/v1/collections").status_code == 200


@pytest.mark.parametrize("role", ["ingest", "all"])
def test_an_ingest_replica_takes_writes(tmp_path: Path, role: str) -> None:
    with _client(tmp_path, role) as c:
        wait_ready(c)
        r = c.post("/v1/collections/kb/documents", json={"documents": [{"id": "a", "text": "alpha beta"}]})
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json(), {})["status"] == "done"
        hits = c.post("/v1/collections/kb/search", json={"query": "alpha"}).json()["hits"]
        assert hits and hits[0]["doc_id"] == "default/a"


def test_an_unknown_role_is_rejected_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="query"):
        load_settings(server={"role": "reader"})
