"""The service while its SQLite state store is locked or blipping, and ingest jobs across replicas:
503 with ``Retry-After`` (not 404) while the state is unusable, ``/readyz`` following it, recovery
without a restart, and job leases that survive a blip and a second replica's start-up."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.locks import file_lock
from ragline.server.app import create_app
from ragline.service_state import open_state
from ragline.settings import load_settings
from tests.server.conftest import Keys, make_keys, wait_job, wait_ready

pytestmark = pytest.mark.integration

DOC = "# Tides\n\nHigh tide in the bay is at 6 pm today."


def _app(data_dir: Path, **server: Any) -> TestClient:
    settings = load_settings(
        data_dir=data_dir,
        server={"json_logs": False, "state_timeout_s": 0.5, **server},
        store={"read_consistency_s": 0},
    )
    return TestClient(create_app(settings))


@contextmanager
def locked_sqlite(path: Path) -> Iterator[None]:
    """Another process's connection holding the state file's write lock."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def _held_collection(data_dir: Path, collection: str = "docs") -> Any:
    """The collection's writer lock: an ingest into it waits (running) until this is released."""
    # Keys.acme_admin writes into tenant acme's namespace.
    return file_lock(data_dir / "tenants" / "acme" / "collections" / f".{collection}.write.lock")


def _upload(client: TestClient, keys: Keys, name: str = "tides.md") -> dict[str, Any]:
    r = client.post(
        "/v1/collections/docs/files",
        files=[("files", (name, DOC.encode(), "text/markdown"))],
        headers=keys.acme_admin,
    )
    assert r.status_code == 202, r.text
    return dict(r.json())


def _until(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _status(client: TestClient, keys: Keys, job_id: str) -> str:
    """The job's status; "unavailable" for the documented 503 a busy state store answers (a loaded
    machine can keep its connection past server.state_timeout_s: callers poll, as clients retry)."""
    r = client.get(f"/v1/jobs/{job_id}", headers=keys.acme_admin)
    if r.status_code == 503 and r.json()["error"]["type"] == "StateUnavailable":
        return "unavailable"
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def keys(data_dir: Path) -> Keys:
    return make_keys(data_dir)


def test_locked_sqlite_state_gives_503_and_readyz_follows_it(data_dir: Path, keys: Keys) -> None:
    with _app(data_dir) as client:
        wait_ready(client)
        job = wait_job(client, _upload(client, keys), keys.acme_admin)
        assert job["status"] == "done"
        search = {"query": "high tide"}
        assert (
            client.post("/v1/collections/docs/search", json=search, headers=keys.acme_eng).status_code == 200
        )

        with locked_sqlite(data_dir / "state.sqlite"):
            # A search writes its trace and audit event: the state cannot take them now.
            r = client.post("/v1/collections/docs/search", json=search, headers=keys.acme_eng)
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"].isdigit()
            err = r.json()["error"]
            assert err["type"] == "StateUnavailable"
            assert "state store is unavailable" in err["message"]
            assert "locked" in err["message"] and "state_url" in err["message"]
            ready = client.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert "state store is unavailable" in ready.json()["detail"]["reason"]
            assert client.get("/healthz").status_code == 200, "liveness does not depend on the state"

        # The lock is gone: the same app serves again, no restart.
        assert client.get("/readyz").status_code == 200
        assert (
            client.post("/v1/collections/docs/search", json=search, headers=keys.acme_eng).status_code == 200
        )


def test_state_blip_while_a_job_records_its_outcome_is_retried(
    data_dir: Path, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ragline.server.jobs")
    with _app(data_dir) as client:
        wait_ready(client)
        with ExitStack() as held:
            held.enter_context(_held_collection(data_dir))
            job = _upload(client, keys)
            _until("the job to run", lambda: _status(client, keys, job["id"]) == "running")
            with locked_sqlite(data_dir / "state.sqlite"):
                # The worker indexes now, then cannot record the outcome while the state is locked.
                held.close()
                _until(
                    "the worker to meet the locked state and retry",
                    lambda: any(
                        job["id"] in r.getMessage() and "retrying" in r.getMessage() for r in caplog.records
                    ),
                )
                still = "the job's status, still running"
                _until(still, lambda: _status(client, keys, job["id"]) == "running")
        done = wait_job(client, job, keys.acme_admin)
        assert done["status"] == "done", done
        assert done["chunks"] >= 1
        actions = [e["action"] for e in client.get("/v1/audit", headers=keys.acme_admin).json()]
        assert "ingest" in actions


def test_second_replica_start_leaves_the_first_replicas_running_job_alone(data_dir: Path, keys: Keys) -> None:
    with _app(data_dir) as a:
        wait_ready(a)
        with _held_collection(data_dir):
            job = _upload(a, keys)
            _until("the job to run", lambda: _status(a, keys, job["id"]) == "running")
            with _app(data_dir) as b:
                wait_ready(b)
                assert _status(b, keys, job["id"]) == "running"
        done = wait_job(a, job, keys.acme_admin)
        assert done["status"] == "done", done


def test_jobs_of_a_dead_replica_are_recovered_once_their_lease_lapses(data_dir: Path, keys: Keys) -> None:
    st = open_state("", data_dir)
    try:
        # A replica that died: it took its jobs and stopped renewing the leases.
        dead = st.create_job(tenant="acme", collection="docs", key_id=keys.acme_admin_id, total=1)
        assert st.claim_job(dead.id, owner="replica-dead", lease_s=0.001) is not None
        # A replica alive elsewhere, whose lease runs for a long time yet.
        live = st.create_job(tenant="acme", collection="docs", key_id=keys.acme_admin_id, total=1)
        assert st.claim_job(live.id, owner="replica-live", lease_s=3600) is not None
        st.update_job(live.id, status="running")
        time.sleep(0.01)
        with _app(data_dir, job_lease_s=1) as client:
            wait_ready(client)
            got = client.get(f"/v1/jobs/{dead.id}", headers=keys.acme_admin).json()
            assert got["status"] == "failed", "recovered at start-up"
            assert "upload" in got["message"] and "lease" in got["message"]
            assert _status(client, keys, live.id) == "running"
            # One that dies while this replica runs is recovered by its periodic sweep.
            later = st.create_job(tenant="acme", collection="docs", key_id=keys.acme_admin_id, total=1)
            assert st.claim_job(later.id, owner="replica-dead-2", lease_s=0.5) is not None
            st.update_job(later.id, status="running")
            _until("the periodic sweep", lambda: _status(client, keys, later.id) == "failed")
            assert _status(client, keys, live.id) == "running"
    finally:
        st.close()
