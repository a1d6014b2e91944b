"""The PostgreSQL state backend (psycopg 3), for several servers sharing one state.

psycopg is imported on first connect, so ragline imports without it; install it with
``pip install 'ragline[postgres]'``.

Example::

    from ragline.service_state.postgres import PostgresState
    state = PostgresState("postgresql://ragline:secret@db.internal/ragline")
    state.append_audit(tenant="acme", key_id="k1", action="ingest", collection="kb")
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ragline.errors import ConfigError
from ragline.service_state.base import Row, Run, SqlStateBase, StateError, unavailable

if TYPE_CHECKING:
    import psycopg

# Serialises schema creation across processes that start at the same moment ("ragline" in ASCII).
_SCHEMA_LOCK_ID = 0x7261676C696E65

_DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS api_keys (
        n BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        tenant TEXT NOT NULL,
        groups_json TEXT NOT NULL,
        role TEXT NOT NULL,
        clearance INTEGER NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        revoked_at DOUBLE PRECISION
    )""",
    "CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys (tenant, n)",
    """CREATE TABLE IF NOT EXISTS jobs (
        n BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        collection TEXT NOT NULL,
        status TEXT NOT NULL,
        total BIGINT NOT NULL,
        done BIGINT NOT NULL,
        chunks BIGINT NOT NULL,
        errors_json TEXT NOT NULL,
        message TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        key_id TEXT NOT NULL,
        owner TEXT NOT NULL DEFAULT '',
        lease_until DOUBLE PRECISION NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS jobs_tenant ON jobs (tenant, n)",
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status)",
    """CREATE TABLE IF NOT EXISTS query_traces (
        n BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        key_id TEXT NOT NULL,
        collection TEXT NOT NULL,
        question TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        payload TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS query_traces_age ON query_traces (created_at, n)",
    """CREATE TABLE IF NOT EXISTS conversations (
        n BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        key_id TEXT NOT NULL,
        collection TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        turns_json TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS conversations_age ON conversations (updated_at, n)",
    """CREATE TABLE IF NOT EXISTS feedback (
        n BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        trace_id TEXT NOT NULL,
        tenant TEXT NOT NULL,
        key_id TEXT NOT NULL,
        rating INTEGER NOT NULL,
        comment TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS feedback_tenant ON feedback (tenant, n)",
    "CREATE INDEX IF NOT EXISTS feedback_trace ON feedback (trace_id)",
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGSERIAL PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        tenant TEXT NOT NULL,
        key_id TEXT NOT NULL,
        action TEXT NOT NULL,
        collection TEXT NOT NULL,
        doc_ids_json TEXT NOT NULL,
        detail TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS audit_log_tenant ON audit_log (tenant, seq)",
    "CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log (action, seq)",
    # The database itself refuses changes, so no code path (ours or a stray script) can rewrite history.
    """CREATE OR REPLACE FUNCTION ragline_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           RAISE EXCEPTION 'audit log is append-only';
       END
       $$""",
    "DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log",
    """CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION ragline_audit_append_only()""",
    # Row triggers do not fire on TRUNCATE.
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
       FOR EACH STATEMENT EXECUTE FUNCTION ragline_audit_append_only()""",
    # One row per tenant, key and UTC day, added to by an upsert per request (usage report, quotas).
    """CREATE TABLE IF NOT EXISTS usage_daily (
        tenant TEXT NOT NULL,
        key_id TEXT NOT NULL,
        day TEXT NOT NULL,
        requests BIGINT NOT NULL,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (tenant, key_id, day)
    )""",
    "CREATE INDEX IF NOT EXISTS usage_daily_day ON usage_daily (day, tenant)",
)


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    except ValueError:
        return "<unparseable PostgreSQL URL>"


class PostgresState(SqlStateBase):
    """:class:`~ragline.service_state.base.StateStore` in a PostgreSQL database (psycopg 3). Connecting and
    waiting for a lock each give up after ``timeout_s``; a lost connection is replaced on the next call."""

    # Commit order equals seq order across processes, so ``after_seq`` paging never skips an event.
    _AUDIT_LOCK_SQL = "LOCK TABLE audit_log IN EXCLUSIVE MODE"
    # Another server process may update the same job; the row lock makes read-modify-write atomic.
    _FOR_UPDATE = " FOR UPDATE"
    _COLUMNS_SQL = (
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ?"
    )

    def __init__(
        self,
        url: str,
        *,
        trace_retention: int = 10_000,
        trace_retention_days: float = 30.0,
        timeout_s: float = 5.0,
        conversation_retention: int = 10_000,
        conversation_retention_days: float = 30.0,
    ) -> None:
        super().__init__(
            trace_retention=trace_retention,
            trace_retention_days=trace_retention_days,
            timeout_s=timeout_s,
            conversation_retention=conversation_retention,
            conversation_retention_days=conversation_retention_days,
        )
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None

    def __repr__(self) -> str:
        return f"PostgresState({redact_url(self.url)!r})"

    def _error(self, exc: Exception) -> StateError:
        import psycopg

        where = f"state database {redact_url(self.url)}"
        # Operational: the connection went, the server shuts down, a lock wait timed out,
        # a deadlock; Interface: the connection was already closed. A retry may succeed.
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return unavailable(where, exc)
        return StateError(f"{where}: {exc}".rstrip())

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not (self._conn.closed or self._conn.broken):
            return self._conn
        # A connection lost to a server restart is replaced on the next call instead of failing forever.
        self._disconnect()
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                f"server.state_url {redact_url(self.url)!r} needs the PostgreSQL driver: "
                "pip install 'ragline[postgres]'"
            ) from None
        # libpq takes whole seconds and treats less than 2 as 2.
        wait = max(2, math.ceil(self._timeout_s))
        extra: dict[str, Any] = {} if "connect_timeout" in self.url else {"connect_timeout": wait}
        try:
            conn = psycopg.connect(self.url, autocommit=True, **extra)
        except psycopg.Error as exc:
            raise unavailable(f"cannot connect to PostgreSQL at {redact_url(self.url)}", exc) from exc
        try:
            run = self._runner(conn)
            # A row or table lock held elsewhere fails the call after the timeout instead of hanging it.
            run("SELECT set_config('lock_timeout', ?, false)", [f"{math.ceil(self._timeout_s * 1000)}ms"])
            with conn.transaction():
                run("SELECT pg_advisory_xact_lock(?)", [_SCHEMA_LOCK_ID])
                exists = run("SELECT to_regclass('schema_version') IS NOT NULL")[0][0]
                self._ensure_schema(run, bool(exists), _DDL)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, psycopg.Error):  # the commit itself failed
                raise self._error(exc) from exc
            raise
        self._conn = conn
        return conn

    def _runner(self, conn: psycopg.Connection[Any]) -> Run:
        import psycopg

        def run(sql: str, params: Sequence[object] = ()) -> list[Row]:
            # The shared SQL is written with "?" placeholders (it contains no literal "?" or "%").
            query = sql.replace("?", "%s") if params else sql
            try:
                with conn.cursor() as cur:
                    cur.execute(query, tuple(params) if params else None)
                    return cur.fetchall() if cur.description is not None else []
            except psycopg.Error as exc:
                raise self._error(exc) from exc

        return run

    @contextmanager
    def _transaction(self) -> Iterator[Run]:
        import psycopg

        with self._locked():
            conn = self._connection()
            try:
                with conn.transaction():
                    yield self._runner(conn)
            except psycopg.Error as exc:
                raise self._error(exc) from exc

    def _execute(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        # Autocommit: one statement is its own transaction, without BEGIN/COMMIT round trips.
        with self._locked():
            return self._runner(self._connection())(sql, params)

    def _disconnect(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            if not conn.closed:
                conn.close()
