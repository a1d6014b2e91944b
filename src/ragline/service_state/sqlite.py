"""The SQLite state backend: one file, the default (``<data_dir>/state.sqlite``).

Example::

    from pathlib import Path
    from ragline.service_state.sqlite import SqliteState
    state = SqliteState(Path("/tmp/rl/state.sqlite"))
    key, secret = state.create_key(name="ci", tenant="acme", groups=["eng"], role="reader")
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ragline.service_state.base import Row, Run, SqlStateBase, StateError, unavailable

# Result codes a later retry may cure: another process holds the lock, the file cannot be opened
# (a missing mount, permissions) or read right now.
_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_PROTOCOL,
    }
)

_DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS api_keys (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        tenant TEXT NOT NULL,
        groups_json TEXT NOT NULL,
        role TEXT NOT NULL,
        clearance INTEGER NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys (tenant, n)",
    """CREATE TABLE IF NOT EXISTS jobs (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        collection TEXT NOT NULL,
        status TEXT NOT NULL,
        total INTEGER NOT NULL,
        done INTEGER NOT NULL,
        chunks INTEGER NOT NULL,
        errors_json TEXT NOT NULL,
        message TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        key_id TEXT NOT NULL,
        owner TEXT NOT NULL DEFAULT '',
        lease_until REAL NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS jobs_tenant ON jobs (tenant, n)",
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status)",
    """CREATE TABLE IF NOT EXISTS query_traces (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        key_id TEXT NOT NULL,
        collection TEXT NOT NULL,
        question TEXT NOT NULL,
        created_at REAL NOT NULL,
        payload TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS query_traces_age ON query_traces (created_at, n)",
    """CREATE TABLE IF NOT EXISTS conversations (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        key_id TEXT NOT NULL,
        collection TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        turns_json TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS conversations_age ON conversations (updated_at, n)",
    """CREATE TABLE IF NOT EXISTS feedback (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        trace_id TEXT NOT NULL,
        tenant TEXT NOT NULL,
        key_id TEXT NOT NULL,
        rating INTEGER NOT NULL,
        comment TEXT NOT NULL,
        created_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS feedback_tenant ON feedback (tenant, n)",
    "CREATE INDEX IF NOT EXISTS feedback_trace ON feedback (trace_id)",
    # AUTOINCREMENT so a seq is never reused, even after the newest row were somehow removed.
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
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
    """CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
    # One row per tenant, key and UTC day, added to by an upsert per request (usage report, quotas).
    """CREATE TABLE IF NOT EXISTS usage_daily (
        tenant TEXT NOT NULL,
        key_id TEXT NOT NULL,
        day TEXT NOT NULL,
        requests BIGINT NOT NULL,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        cost_usd REAL NOT NULL,
        PRIMARY KEY (tenant, key_id, day)
    )""",
    "CREATE INDEX IF NOT EXISTS usage_daily_day ON usage_daily (day, tenant)",
)


class SqliteState(SqlStateBase):
    """:class:`~ragline.service_state.base.StateStore` in one SQLite file (WAL mode, so the CLI can add keys
    while the server runs). A write waits up to ``timeout_s`` for another process's write lock."""

    _COLUMNS_SQL = "SELECT name FROM pragma_table_info(?)"

    def __init__(
        self,
        path: Path,
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
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SqliteState({str(self.path)!r})"

    def _error(self, exc: sqlite3.Error) -> StateError:
        # The primary result code is the low byte of the extended one.
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if isinstance(exc, sqlite3.OperationalError) and code in _UNAVAILABLE_CODES:
            waited = f" (waited {self._timeout_s:g} s)" if code == sqlite3.SQLITE_BUSY else ""
            return unavailable(f"state database {self.path}", f"{exc}{waited}")
        return StateError(f"state database {self.path}: {exc}")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise unavailable(
                f"cannot create the folder for the state database {self.path}", f"{exc}; check permissions"
            ) from exc
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves. The lock makes sharing the
            # connection across the server's threads safe; timeout waits out other processes' short
            # writes, and no longer: a file held locked fails the call (503), it does not hang it.
            conn = sqlite3.connect(
                self.path, timeout=self._timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # Safe with WAL: a power loss may lose the last commits but never corrupts the file.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            exists = bool(
                conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
                ).fetchall()
            )
            self._ensure_schema(self._runner(conn), exists, _DDL)
            conn.execute("COMMIT")
        except BaseException as exc:
            self._rollback(conn)
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from exc
            raise
        self._conn = conn
        return conn

    def _runner(self, conn: sqlite3.Connection) -> Run:
        def run(sql: str, params: Sequence[object] = ()) -> list[Row]:
            try:
                return conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

        return run

    @contextmanager
    def _transaction(self) -> Iterator[Run]:
        with self._locked():
            conn = self._connection()
            try:
                # IMMEDIATE takes the write lock up front, so a read-then-write transaction cannot
                # fail half-way with SQLITE_BUSY when another process writes too.
                conn.execute("BEGIN IMMEDIATE")
                yield self._runner(conn)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback(conn)
                raise self._error(exc) from exc
            except BaseException:
                self._rollback(conn)
                raise

    def _execute(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        # One statement is atomic on its own in autocommit mode, and reads then need no write lock.
        with self._locked():
            return self._runner(self._connection())(sql, params)

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
