"""The state contract on a real PostgreSQL server (started from the pgserver wheel)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ragline.service_state import StateError, StateStore, StateUnavailable, open_state
from ragline.service_state.base import SCHEMA_VERSION
from ragline.service_state.postgres import PostgresState
from tests.service_state.contract import MakeState, StateContract, check_v1_migrated, v1_statements

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.integration


class TestPostgres(StateContract):
    @pytest.fixture
    def make_state(self, db_url: str) -> Iterator[MakeState]:
        made: list[StateStore] = []

        def make(**kwargs: object) -> StateStore:
            s = open_state(db_url, data_dir=None, **kwargs)  # type: ignore[arg-type]
            made.append(s)
            return s

        yield make
        for s in made:
            s.close()

    def stored_key_bytes(self, state: StateStore) -> bytes:
        assert isinstance(state, PostgresState)
        rows = state._execute("SELECT * FROM api_keys")
        return repr(rows).encode()


def test_open_state_picks_postgres(db_url: str) -> None:
    state = open_state(db_url, data_dir=None)  # type: ignore[arg-type]
    assert isinstance(state, PostgresState)
    state.close()


def test_append_only_holds_for_any_connection(db_url: str) -> None:
    state = PostgresState(db_url)
    state.append_audit(tenant="acme", key_id="k", action="ingest")
    with pytest.raises(StateError, match="append-only"):
        state._execute("TRUNCATE audit_log")
    state.close()
    with psycopg.connect(db_url, autocommit=True) as conn:
        for sql in ("UPDATE audit_log SET tenant = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(sql)
        assert conn.execute("SELECT COUNT(*) FROM audit_log").fetchone() == (1,)


def test_two_stores_share_one_database(db_url: str) -> None:
    a, b = PostgresState(db_url), PostgresState(db_url)
    try:
        key, secret = a.create_key(name="", tenant="acme", groups=[], role="reader")
        assert b.authenticate(secret) == key
        e1 = a.append_audit(tenant="acme", key_id="k", action="x")
        e2 = b.append_audit(tenant="acme", key_id="k", action="x")
        assert e2.seq > e1.seq
        assert a.revoke_key(key.id)
        assert b.authenticate(secret) is None
    finally:
        a.close()
        b.close()


def test_reconnects_after_the_connection_is_killed(db_url: str) -> None:
    state = PostgresState(db_url)
    key, secret = state.create_key(name="", tenant="acme", groups=[], role="reader")
    pid = state._execute("SELECT pg_backend_pid()")[0][0]
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The call that finds the connection dead fails as "unavailable"; the next one reconnects.
    with pytest.raises(StateUnavailable, match="state store is unavailable"):
        state.count_keys()
    assert state.authenticate(secret) == key
    state.close()


def test_unreachable_server_gives_state_error_without_password() -> None:
    state = PostgresState("postgresql://u:hunter2@127.0.0.1:1/db?connect_timeout=2")
    with pytest.raises(StateUnavailable, match="cannot connect") as err:
        state.count_keys()
    assert "hunter2" not in str(err.value)
    assert "state_url" in str(err.value)
    with pytest.raises(StateUnavailable):
        state.ping()


def test_a_lock_held_elsewhere_is_waited_for_a_bounded_time(db_url: str) -> None:
    state = PostgresState(db_url, timeout_s=0.3)
    job = state.create_job(tenant="acme", collection="kb", key_id="k")
    with psycopg.connect(db_url) as other:  # a transaction holding the table until it ends
        other.execute("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StateUnavailable, match="lock"):
            state.update_job(job.id, status="running")
        other.rollback()
    assert state.update_job(job.id, status="running").status == "running"
    state.close()


# The jobs table of schema version 1, before job leases.
_V1_JOBS = """CREATE TABLE jobs (
    n BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL, collection TEXT NOT NULL,
    status TEXT NOT NULL, total BIGINT NOT NULL, done BIGINT NOT NULL, chunks BIGINT NOT NULL,
    errors_json TEXT NOT NULL, message TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL, key_id TEXT NOT NULL)"""


def test_version_1_database_is_migrated_in_place(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        for sql in v1_statements(_V1_JOBS):
            conn.execute(sql)
    state = PostgresState(db_url)
    check_v1_migrated(state)
    state.close()
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
