"""The PostgreSQL state backend (psycopg 3), for several servers sharing one state.

psycopg is imported on first connect, so ragline imports without it; install it with
``pip install 'ragline[postgres]'``.

Example::

    from ragline.state.postgres import PostgresState
    state = PostgresState("postgresql://ragline:secret@db.internal/ragline")
    state.append_audit(tenant="acme", key_id="k1", action="ingest", collection="kb")
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ragline.errors import ConfigError
from ragline.state.base import Row, Run, SqlStateBase, StateError

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
        key_id TEXT NOT NULL
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
    """:class:`~ragline.state.base.StateStore` in a PostgreSQL database (psycopg 3)."""

    # Commit order equals seq order across processes, so ``after_seq`` paging never skips an event.
    _AUDIT_LOCK_SQL = "LOCK TABLE audit_log IN EXCLUSIVE MODE"
    # Another server process may update the same job; the row lock makes read-modify-write atomic.
    _FOR_UPDATE = " FOR UPDATE"

    def __init__(
        self, url: str, *, trace_retention: int = 10_000, trace_retention_days: float = 30.0
    ) -> None:
        super().__init__(trace_retention=trace_retention, trace_retention_days=trace_retention_days)
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None

    def __repr__(self) -> str:
        return f"PostgresState({redact_url(self.url)!r})"

    def _error(self, exc: Exception) -> StateError:
        return StateError(f"state database {redact_url(self.url)}: {exc}".rstrip())

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
        extra: dict[str, Any] = {} if "connect_timeout" in self.url else {"connect_timeout": 10}
        try:
            conn = psycopg.connect(self.url, autocommit=True, **extra)
        except psycopg.Error as exc:
            raise StateError(
                f"cannot connect to PostgreSQL at {redact_url(self.url)}: {exc}".rstrip()
                + "; check server.state_url and that the database server is running"
            ) from exc
        try:
            with conn.transaction():
                run = self._runner(conn)
                run("SELECT pg_advisory_xact_lock(?)", [_SCHEMA_LOCK_ID])
                exists = run("SELECT to_regclass('schema_version') IS NOT NULL")[0][0]
                self._ensure_schema(run, bool(exists), _DDL)
        except BaseException:
            conn.close()
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

        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    yield self._runner(conn)
            except psycopg.Error as exc:
                raise self._error(exc) from exc

    def _execute(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        # Autocommit: one statement is its own transaction, without BEGIN/COMMIT round trips.
        with self._lock:
            return self._runner(self._connection())(sql, params)

    def _disconnect(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            if not conn.closed:
                conn.close()
