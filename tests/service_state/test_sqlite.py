"""The state contract on SQLite, plus what only SQLite and :func:`open_state` have."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragline.errors import ConfigError
from ragline.service_state import StateError, StateStore, StateUnavailable, open_state
from ragline.service_state.base import SCHEMA_VERSION
from ragline.service_state.postgres import PostgresState
from ragline.service_state.sqlite import SqliteState
from tests.service_state.contract import MakeState, StateContract, check_v1_migrated, v1_statements


class TestSqlite(StateContract):
    @pytest.fixture
    def make_state(self, tmp_path: Path) -> Iterator[MakeState]:
        made: list[SqliteState] = []

        def make(**kwargs: object) -> StateStore:
            s = SqliteState(tmp_path / "state.sqlite", **kwargs)  # type: ignore[arg-type]
            made.append(s)
            return s

        yield make
        for s in made:
            s.close()

    def stored_key_bytes(self, state: StateStore) -> bytes:
        assert isinstance(state, SqliteState)
        # WAL mode: recent commits may still sit in the -wal file, so read every file of the database.
        return b"".join(p.read_bytes() for p in sorted(state.path.parent.glob(state.path.name + "*")))


def test_append_only_holds_for_any_connection(tmp_path: Path) -> None:
    state = SqliteState(tmp_path / "s.sqlite")
    state.append_audit(tenant="acme", key_id="k", action="ingest")
    state.close()
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit_log SET tenant = 'x'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit_log")
        assert conn.execute("SELECT COUNT(*) FROM audit_log").fetchone() == (1,)
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    finally:
        conn.close()


def test_constructor_does_not_touch_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "later" / "state.sqlite"
    state = SqliteState(path)
    assert not path.parent.exists()
    assert state.count_keys() == 0
    assert path.is_file()
    state.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    SqliteState(path).close()
    state = SqliteState(path)
    state.count_keys()
    state.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="upgrade ragline"):
        SqliteState(path).count_keys()


def test_unusable_file_gives_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match=r"state\.sqlite"):
        SqliteState(path).count_keys()


def test_locked_database_is_unavailable_after_the_timeout_not_a_hang(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    state = SqliteState(path, timeout_s=0.2)
    key, secret = state.create_key(name="", tenant="acme", groups=[], role="reader")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StateUnavailable, match="locked") as err:
            state.create_key(name="", tenant="acme", groups=[], role="reader")
        msg = str(err.value)
        assert "state store is unavailable" in msg and str(path) in msg and "retry" in msg
        with pytest.raises(StateUnavailable, match="locked"):
            state.ping()
        assert state.authenticate(secret) == key, "WAL: reads go on while another process writes"
        other.execute("ROLLBACK")
    finally:
        other.close()
    state.ping()
    assert state.count_keys() == 1
    state.close()


def test_bad_timeout_is_refused(tmp_path: Path) -> None:
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="timeout"):
            SqliteState(tmp_path / "s.sqlite", timeout_s=bad)


# The jobs table of schema version 1, before job leases.
_V1_JOBS = """CREATE TABLE jobs (
    n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL,
    collection TEXT NOT NULL, status TEXT NOT NULL, total INTEGER NOT NULL, done INTEGER NOT NULL,
    chunks INTEGER NOT NULL, errors_json TEXT NOT NULL, message TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, key_id TEXT NOT NULL)"""


def test_version_1_file_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    conn = sqlite3.connect(path)
    for sql in v1_statements(_V1_JOBS):
        conn.execute(sql)
    conn.commit()
    conn.close()
    state = SqliteState(path)
    check_v1_migrated(state)
    state.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    conn.close()


def test_bad_retention_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="trace_retention"):
        SqliteState(tmp_path / "s.sqlite", trace_retention=-1)
    with pytest.raises(ConfigError, match="trace_retention_days"):
        SqliteState(tmp_path / "s.sqlite", trace_retention_days=0)


# -- open_state -----------------------------------------------------------------------------------


def test_open_state_default_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    state = open_state("", tmp_path / "data", trace_retention=7, trace_retention_days=2.0)
    assert isinstance(state, SqliteState)
    assert state.path == tmp_path / "data" / "state.sqlite"
    key, secret = state.create_key(name="", tenant="acme", groups=[], role="admin")
    state.close()
    assert (tmp_path / "data" / "state.sqlite").is_file()
    again = open_state("", tmp_path / "data")
    assert again.authenticate(secret) == key
    again.close()


def test_open_state_sqlite_url(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "my.sqlite"
    for url in (f"sqlite://{target}", f"sqlite:///{target}"):
        assert url.startswith("sqlite:///")
        spelled = open_state(url, tmp_path / "data")
        assert isinstance(spelled, SqliteState)
        assert spelled.path == target
    state = open_state(f"sqlite://{target}", tmp_path / "data")
    state.append_audit(tenant="acme", key_id="k", action="x")
    state.close()
    assert target.is_file()
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "url", ["postgresql://u:p@127.0.0.1:5432/db", "postgres://localhost/db", "postgresql:///db?host=/tmp"]
)
def test_open_state_postgres_url_is_lazy(tmp_path: Path, url: str) -> None:
    state = open_state(url, tmp_path)
    assert isinstance(state, PostgresState)
    assert state.url == url


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "sqlite://relative.db", "sqlite:///", "state.sqlite", "redis://x", " "]
)
def test_open_state_rejects_unknown_urls(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError) as err:
        open_state(url, tmp_path)
    msg = str(err.value)
    assert repr(url) in msg
    assert "sqlite:///" in msg and "postgresql://" in msg


def test_open_state_error_hides_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        open_state("mysql://user:hunter2@db/x", tmp_path)
    assert "hunter2" not in str(err.value)


def test_postgres_without_psycopg_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    state = PostgresState("postgresql://u:secret@127.0.0.1/db")
    with pytest.raises(ConfigError, match=r"pip install 'ragline\[postgres\]'") as err:
        state.count_keys()
    assert "secret" not in str(err.value)
    assert "***" in repr(state) and "secret" not in repr(state)
