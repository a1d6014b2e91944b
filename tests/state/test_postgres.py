"""The state contract on a real PostgreSQL server (started from the pgserver wheel)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from ragline.state import StateError, StateStore, open_state
from ragline.state.postgres import PostgresState
from tests.state.contract import MakeState, StateContract

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
    # The call that finds the connection dead fails; the next one reconnects.
    with contextlib.suppress(StateError):
        state.count_keys()
    assert state.authenticate(secret) == key
    state.close()


def test_unreachable_server_gives_state_error_without_password() -> None:
    state = PostgresState("postgresql://u:hunter2@127.0.0.1:1/db?connect_timeout=2")
    with pytest.raises(StateError, match="cannot connect") as err:
        state.count_keys()
    assert "hunter2" not in str(err.value)
