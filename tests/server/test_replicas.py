"""Two real ``ragline serve`` processes as a split deployment runs them (deploy/k8s): an ingest
replica (``server.role = "ingest"``) and a query replica (``"query"``) over one data directory, one
PostgreSQL (keys, jobs, traces) and one redis-server (the answer and retrieval caches)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cache.conftest import _free_port, redis_url  # noqa: F401 (redis_url: a real redis-server)
from tests.conftest import fresh_pg_database
from tests.server.conftest import Keys, make_keys

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def ragline_serve(data: Path, env: dict[str, str], role: str, log: Path) -> Iterator[httpx.Client]:
    """``ragline serve`` in its own process with ``server.role = role``; a client once /readyz is 200."""
    port = _free_port()
    cmd = [sys.executable, "-c", "from ragline.cli.main import app; app()"]
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)]
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*cmd, *args],
            env={**env, "RAGLINE_SERVER__ROLE": role},
            cwd=log.parent,  # no ragline.toml there
            stdout=err,
            stderr=err,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"ragline serve ({role}) exited: {log.read_text()}"
            try:
                ready = client.get("/readyz")
                if ready.status_code == 200:
                    assert ready.json()["detail"]["role"] == role
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{role} replica not ready: {log.read_text()}"
            time.sleep(0.2)
        yield client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def split(
    pg_url: str,
    redis_url: str,  # noqa: F811 (the imported fixture)
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[httpx.Client, httpx.Client, Keys]]:
    """(ingest replica, query replica, keys)."""
    tmp = tmp_path_factory.mktemp("replicas")
    data = tmp / "data"
    with fresh_pg_database(pg_url) as url:
        keys = make_keys(data, url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
        env.update(
            PYTHONPATH=f"{ROOT / 'src'}:{ROOT}",
            RAGLINE_SERVER__STATE_URL=url,
            RAGLINE_SERVER__JSON_LOGS="false",
            RAGLINE_CACHE__BACKEND="redis",
            RAGLINE_CACHE__REDIS_URL=redis_url,
            RAGLINE_CACHE__KEY_PREFIX=f"replicas-{uuid.uuid4().hex[:8]}:",
            # The query replica follows the ingest replica's LanceDB commits on every search.
            RAGLINE_STORE__READ_CONSISTENCY_S="0",
        )
        with (
            ragline_serve(data, env, "ingest", tmp / "ingest.log") as ingest,
            ragline_serve(data, env, "query", tmp / "query.log") as query,
        ):
            yield ingest, query, keys


def _upload(client: httpx.Client, keys: Keys, text: str) -> httpx.Response:
    files = [("files", ("tides.md", text.encode(), "text/markdown"))]
    return client.post("/v1/collections/docs/files", files=files, headers=keys.acme_admin)


def _wait_job(client: httpx.Client, job: dict[str, Any], keys: Keys) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        r = client.get(f"/v1/jobs/{job['id']}", headers=keys.acme_admin)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("done", "failed"):
            return dict(r.json())
        time.sleep(0.1)
    raise AssertionError(f"job {job['id']} did not finish")


def _ask(client: httpx.Client, keys: Keys) -> dict[str, Any]:
    r = client.post(
        "/v1/collections/docs/ask", json={"question": "When is high tide?"}, headers=keys.acme_eng
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_an_ingest_and_a_query_replica_share_state_caches_and_the_store(
    split: tuple[httpx.Client, httpx.Client, Keys],
) -> None:
    ingest, query, keys = split
    # The query replica refuses the upload, saying where to send it.
    refused = _upload(query, keys, "# Tides\n\nHigh tide in the bay is at 6 pm today.")
    assert refused.status_code == 405, refused.text
    assert refused.json()["error"]["type"] == "ReadOnlyReplica"
    assert "server.role = 'query'" in refused.json()["error"]["message"]
    assert "ingest" in refused.json()["error"]["message"]
    # Uploaded through the ingest replica, the job followed (PostgreSQL) and answered on the query one.
    r = _upload(ingest, keys, "# Tides\n\nHigh tide in the bay is at 6 pm today.")
    assert r.status_code == 202, r.text
    job = _wait_job(query, r.json(), keys)
    assert job["status"] == "done" and job["chunks"] >= 1, job
    first = _ask(query, keys)
    assert "6 pm" in first["text"] and first["citations"] and first["cached"] is None
    # The same question again: served from the shared cache, on either replica (Redis).
    assert _ask(query, keys)["cached"]["kind"] == "exact"
    on_ingest = _ask(ingest, keys)
    assert on_ingest["cached"] is not None and "6 pm" in on_ingest["text"]
    # A trace written by the query replica is readable on the ingest replica (PostgreSQL).
    trace = ingest.get(f"/v1/traces/{first['trace_id']}", headers=keys.acme_eng)
    assert trace.status_code == 200 and trace.json()["question"] == "When is high tide?"
    # A key created on the ingest replica authenticates on the query replica; revoked there, refused here.
    new = ingest.post("/v1/keys", json={"role": "reader", "groups": ["eng"]}, headers=keys.acme_admin)
    assert new.status_code == 201, new.text
    h = {"Authorization": f"Bearer {new.json()['secret']}"}
    assert query.post("/v1/collections/docs/search", json={"query": "tide"}, headers=h).status_code == 200
    assert query.delete(f"/v1/keys/{new.json()['id']}", headers=keys.acme_admin).status_code == 200
    assert ingest.post("/v1/collections/docs/search", json={"query": "tide"}, headers=h).status_code == 401
    # A write on the ingest replica voids the query replica's cached answer (the collection's version).
    r = _upload(ingest, keys, "# Tides\n\nHigh tide in the bay is at 9 pm today.")
    assert _wait_job(query, r.json(), keys)["status"] == "done"
    after = _ask(query, keys)
    assert after["cached"] is None, after["cached"]
    assert "9 pm" in after["text"] and "6 pm" not in after["text"]
    # Two ingests audited: the refused upload started no job.
    jobs = [e for e in ingest.get("/v1/audit", headers=keys.acme_admin).json() if e["action"] == "ingest"]
    assert len(jobs) == 2
