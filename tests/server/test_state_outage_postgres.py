"""The service while its PostgreSQL state server is stopped: 503 with ``Retry-After`` on every
authenticated route (a wrong key included), ``/readyz`` 503, and service again once the server is
back, without restarting the app. The server is a dedicated one this module stops and starts."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from ragline.server.app import create_app
from ragline.settings import load_settings
from tests.server.conftest import make_keys, wait_ready

pytestmark = pytest.mark.integration
pgserver = pytest.importorskip("pgserver")
pytest.importorskip("psycopg")


@dataclass
class Postgres:
    """A PostgreSQL server of this module's own, which the tests may stop and start again."""

    server: object
    pgdata: Path
    url: str

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.pgdata, user=getattr(self.server, "system_user", None), timeout=60)

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def stop(self) -> None:
        self._pg_ctl("-w", "stop", "-m", "fast")

    def start(self) -> None:
        # The same socket folder as pgserver's first start, so the URL stays valid.
        socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.pgdata / "log"), "start")


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    pgdata = Path(tempfile.mkdtemp(prefix="ragline-pg-outage-"))
    try:
        srv = pgserver.get_server(pgdata, cleanup_mode="stop")
        try:
            yield Postgres(srv, srv.pgdata, srv.get_uri())
        finally:
            srv.cleanup()
    finally:
        shutil.rmtree(pgdata, ignore_errors=True)


def test_stopped_postgres_gives_503_then_the_same_app_recovers(postgres: Postgres, tmp_path: Path) -> None:
    keys = make_keys(tmp_path, postgres.url)
    wrong_key = {"Authorization": "Bearer rl_0123456789ab_" + "A" * 43}
    settings = load_settings(
        data_dir=tmp_path, server={"state_url": postgres.url, "json_logs": False, "state_timeout_s": 2}
    )
    routes = [
        ("GET", "/v1/keys", keys.acme_admin),
        ("GET", "/v1/jobs/0123", keys.acme_admin),
        ("GET", "/v1/audit", keys.acme_admin),
        ("POST", "/v1/keys", keys.acme_admin),
        ("GET", "/v1/keys", wrong_key),
        ("GET", "/v1/keys", {}),
    ]
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        assert client.get("/v1/keys", headers=keys.acme_admin).status_code == 200
        assert client.get("/v1/keys", headers=wrong_key).status_code == 401

        postgres.stop()
        try:
            for method, path, headers in routes:
                r = client.request(method, path, headers=headers, json={"role": "reader"})
                assert r.status_code == 503, (method, path, r.status_code, r.text)
                assert r.headers["Retry-After"].isdigit()
                err = r.json()["error"]
                assert err["type"] == "StateUnavailable"
                assert "state store is unavailable" in err["message"]
                assert "state_url" in err["message"]
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert "state store is unavailable" in ready.json()["detail"]["reason"]
        finally:
            postgres.start()

        assert client.get("/readyz").status_code == 200
        assert client.get("/v1/keys", headers=keys.acme_admin).status_code == 200
        assert client.get("/v1/keys", headers=wrong_key).status_code == 401
        assert client.get("/v1/jobs/0123", headers=keys.acme_admin).status_code == 404
        r = client.post("/v1/keys", json={"role": "reader"}, headers=keys.acme_admin)
        assert r.status_code == 201, r.text


def test_app_started_while_postgres_is_down_becomes_ready_when_it_is_back(
    postgres: Postgres, tmp_path: Path
) -> None:
    keys = make_keys(tmp_path, postgres.url)
    settings = load_settings(
        data_dir=tmp_path, server={"state_url": postgres.url, "json_logs": False, "state_timeout_s": 2}
    )
    postgres.stop()
    try:
        with TestClient(create_app(settings)) as client:
            client.app.state.service.ready.wait(120)  # models loaded; the state store is still down
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert "state store is unavailable" in ready.json()["detail"]["reason"]
            assert client.get("/v1/keys", headers=keys.acme_admin).status_code == 503
            postgres.start()
            wait_ready(client)
            assert client.get("/v1/keys", headers=keys.acme_admin).status_code == 200
    finally:
        if not postgres.running():
            postgres.start()
