"""Shared fixtures. Network access is blocked for every test except loopback."""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

# The store contract ships inside the package: rewrite its asserts too, for pytest's messages.
pytest.register_assert_rewrite("ragline.testing.store_contract")

_LOOPBACK = {"127.0.0.1", "::1", "localhost", "0.0.0.0"}
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and self.family in (socket.AF_INET, socket.AF_INET6) and host not in _LOOPBACK:
        raise RuntimeError(f"test tried to reach {address!r}: only loopback is allowed in tests")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    yield


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URI of a real PostgreSQL server (the ``pgserver`` wheel) for this session; unix socket only."""
    pgserver = pytest.importorskip("pgserver")
    # Not tmp_path_factory: a concurrent pytest run may prune old pytest-of-<user> folders, and
    # deleting the data folder and socket under a running server kills it mid-session.
    pgdata = tempfile.mkdtemp(prefix="ragline-pg-")
    try:
        srv = pgserver.get_server(pgdata, cleanup_mode="stop")
        try:
            yield srv.get_uri()
        finally:
            srv.cleanup()
    finally:
        shutil.rmtree(pgdata, ignore_errors=True)


@contextmanager
def fresh_pg_database(server_url: str) -> Iterator[str]:
    """A new empty database on ``server_url``; dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    name = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(pg_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_pg_database(pg_url) as url:
        yield url


@pytest.fixture(scope="module")
def milvus_uri() -> Iterator[str]:
    """A Milvus Lite database file (the ``milvus-lite`` wheel: a Milvus engine in-process, served
    on loopback) shared by one test module: each start costs a fraction of a second and its
    threads, so stores in one module share it, each in collections of its own."""
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from milvus_lite.server_manager import server_manager_instance

    folder = tempfile.mkdtemp(prefix="ragline-milvus-")
    uri = f"{folder}/lite.db"
    try:
        yield uri
    finally:
        server_manager_instance.release_server(uri)
        shutil.rmtree(folder, ignore_errors=True)
