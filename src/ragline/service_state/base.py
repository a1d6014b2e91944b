"""The service's state records, the :class:`StateStore` protocol, and the SQL shared by both backends.

Records are frozen dataclasses; nothing crosses the API as a string-keyed dict. Both backends
(:mod:`ragline.service_state.sqlite`, :mod:`ragline.service_state.postgres`) subclass
:class:`SqlStateBase`, which holds every query and all validation; a backend only supplies its
connection, its transactions and its schema DDL.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Protocol, get_args, runtime_checkable

from ragline.errors import ConfigError, RaglineError


class StateError(RaglineError):
    """The service's state store failed."""


class StateUnavailable(StateError):
    """The state store cannot be reached, or is locked, right now; the same call may succeed later."""


class StateNotFound(StateError):
    """A record named by id does not exist."""


def unavailable(where: str, detail: object) -> StateUnavailable:
    """The one message every backend gives when its database cannot be used right now."""
    return StateUnavailable(
        f"the state store is unavailable: {where}: {detail}".rstrip()
        + "; retry later (operator: check server.state_url, and that the database is running "
        "and not held locked by another process)"
    )


Role = Literal["admin", "reader"]
JobStatus = Literal["queued", "running", "done", "failed"]

ROLES: tuple[str, ...] = get_args(Role)
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
# 2: jobs.owner and jobs.lease_until (job leases); older files and databases gain them in place.
# 3: the conversations table (created in place on an older database).
# 4: usage_daily (requests, tokens and cost per tenant, key and UTC day), likewise.
# 5: query_traces.variant (A/B experiments) and an index of feedback by trace.
SCHEMA_VERSION = 5
# Columns added after version 1, created on an older database if missing. DOUBLE PRECISION is a
# float64 in PostgreSQL (REAL would be a float32: whole minutes lost on an epoch timestamp) and has
# REAL affinity in SQLite.
_ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("jobs", "owner", "TEXT NOT NULL DEFAULT ''"),
    ("jobs", "lease_until", "DOUBLE PRECISION NOT NULL DEFAULT 0"),
    ("query_traces", "variant", "TEXT NOT NULL DEFAULT ''"),
)
# A new job is held this long for the replica that created it to claim it; unclaimed by then
# (that replica died in between), any replica's sweep marks it failed.
NEW_JOB_GRACE_S = 60.0
_UNFINISHED = "('queued', 'running')"

# Tenants and groups end up in URLs, filters and log lines, so they are kept to a safe alphabet.
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,63}")
_SECRET_RE = re.compile(r"rl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_MAX_KEY_NAME = 200
_MAX_COMMENT = 4000
_MAX_LIMIT = 10_000
# Pruning scans the trace table, so it runs every this many puts rather than on every put.
PRUNE_EVERY = 100
# A conversation keeps its newest turns only: the condenser reads the last few, the UI shows them.
MAX_CONVERSATION_TURNS = 100
_MAX_TURN_CHARS = 100_000
# Compared against when the key id is unknown, so a miss costs about as much as a hit.
_DUMMY_HASH = hashlib.sha256(b"ragline-no-such-key").hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored: everything except the secret, of which only a hash is kept."""

    id: str
    name: str
    tenant: str
    groups: tuple[str, ...]
    role: Role
    clearance: int
    created_at: float
    revoked_at: float | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class JobError:
    """One file an ingest job could not index."""

    file: str
    error: str


@dataclass(frozen=True, slots=True)
class Job:
    """A background ingest job and its progress."""

    id: str
    tenant: str
    collection: str
    status: JobStatus
    total: int
    done: int
    chunks: int
    errors: tuple[JobError, ...]
    message: str
    created_at: float
    updated_at: float
    key_id: str
    # The replica running the job ("" until one claims it) and when its lease lapses (epoch
    # seconds): past that, the job's worker is taken for dead and any replica may fail the job.
    owner: str = ""
    lease_until: float = 0.0


@dataclass(frozen=True, slots=True)
class QueryTrace:
    """One answered query. ``payload`` is the caller's JSON document; the store never parses it."""

    id: str
    tenant: str
    key_id: str
    collection: str
    question: str
    created_at: float
    payload: str
    # The experiment variants the query ran under, "name=variant" pairs joined by "," in name
    # order ("" outside experiments); see ragline.insights.experiments.
    variant: str = ""


@dataclass(frozen=True, slots=True)
class RatedTrace:
    """A trace with the count of thumbs-up and thumbs-down ratings it received."""

    trace: QueryTrace
    up: int
    down: int


@dataclass(frozen=True, slots=True)
class ConversationTurn:
    """One message of a stored conversation; an assistant turn names the trace of its answer."""

    role: Literal["user", "assistant"]
    content: str
    trace_id: str = ""
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation of one key (its owner) on one collection, with its newest turns, oldest first."""

    id: str
    tenant: str
    key_id: str
    collection: str
    created_at: float
    updated_at: float
    turns: tuple[ConversationTurn, ...] = ()


@dataclass(frozen=True, slots=True)
class Feedback:
    """A user's rating (+1 or -1) of one traced answer."""

    id: str
    trace_id: str
    tenant: str
    key_id: str
    rating: int
    comment: str
    created_at: float


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One entry of the append-only audit log; ``seq`` and ``at`` are assigned by the store."""

    seq: int
    at: float
    tenant: str
    key_id: str
    action: str
    collection: str
    doc_ids: tuple[str, ...]
    detail: str


@dataclass(frozen=True, slots=True)
class Usage:
    """What one key of one tenant used on one UTC day (``day`` is ``YYYY-MM-DD``)."""

    tenant: str
    key_id: str
    day: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def total_usage(rows: Sequence[Usage]) -> Usage:
    """The sum of ``rows`` (tenant, key and day are ``*``)."""
    return Usage(
        "*",
        "*",
        "*",
        sum(r.requests for r in rows),
        sum(r.prompt_tokens for r in rows),
        sum(r.completion_tokens for r in rows),
        sum(r.cost_usd for r in rows),
    )


def utc_day(at: float) -> str:
    """The UTC day of an epoch time, as usage is kept: ``YYYY-MM-DD``."""
    return time.strftime("%Y-%m-%d", time.gmtime(at))


@runtime_checkable
class StateStore(Protocol):
    """Keys, jobs, traces, feedback and audit log of ``ragline serve``. Every method is thread-safe."""

    def create_key(
        self, *, name: str, tenant: str, groups: Sequence[str], role: Role, clearance: int = 0
    ) -> tuple[ApiKey, str]: ...
    def list_keys(self, tenant: str | None = None) -> list[ApiKey]: ...
    def get_key(self, key_id: str) -> ApiKey | None: ...
    def revoke_key(self, key_id: str, *, tenant: str | None = None) -> bool: ...
    def authenticate(self, secret: str) -> ApiKey | None: ...
    def count_keys(self) -> int: ...

    def create_job(self, *, tenant: str, collection: str, key_id: str, total: int = 0) -> Job: ...
    def update_job(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        total: int | None = None,
        done: int | None = None,
        chunks: int | None = None,
        add_errors: Sequence[JobError] = (),
        message: str | None = None,
    ) -> Job: ...
    def get_job(self, job_id: str) -> Job | None: ...
    def list_jobs(self, *, tenant: str, limit: int = 50) -> list[Job]: ...
    def claim_job(self, job_id: str, *, owner: str, lease_s: float) -> Job | None: ...
    def renew_job_leases(self, owner: str, job_ids: Sequence[str], *, lease_s: float) -> list[str]: ...
    def fail_expired_jobs(self, message: str, *, now: float | None = None) -> list[str]: ...

    def put_trace(self, trace: QueryTrace) -> None: ...
    def get_trace(self, trace_id: str) -> QueryTrace | None: ...
    def rated_traces(
        self,
        *,
        tenant: str | None,
        collection: str | None = None,
        experiment: str | None = None,
        since: float = 0.0,
        limit: int = 10_000,
    ) -> list[RatedTrace]: ...
    def prune_traces(self) -> int: ...

    def create_conversation(
        self, *, tenant: str, key_id: str, collection: str, now: float | None = None
    ) -> Conversation: ...
    def get_conversation(self, conversation_id: str, *, tenant: str, key_id: str) -> Conversation | None: ...
    def append_turns(
        self,
        conversation_id: str,
        turns: Sequence[ConversationTurn],
        *,
        tenant: str,
        key_id: str,
        now: float | None = None,
    ) -> Conversation: ...
    def delete_conversation(self, conversation_id: str, *, tenant: str, key_id: str) -> bool: ...
    def prune_conversations(self) -> int: ...

    def add_feedback(
        self, *, trace_id: str, tenant: str, key_id: str, rating: int, comment: str = ""
    ) -> Feedback: ...
    def list_feedback(self, *, tenant: str, limit: int = 100) -> list[Feedback]: ...

    def append_audit(
        self,
        *,
        tenant: str,
        key_id: str,
        action: str,
        collection: str = "",
        doc_ids: Sequence[str] = (),
        detail: str = "",
    ) -> AuditEvent: ...
    def list_audit(
        self,
        *,
        tenant: str | None = None,
        action: str | None = None,
        limit: int = 100,
        after_seq: int = 0,
    ) -> list[AuditEvent]: ...

    def record_usage(
        self,
        *,
        tenant: str,
        key_id: str,
        requests: int = 1,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost_usd: float = 0.0,
        at: float | None = None,
    ) -> None: ...
    def list_usage(
        self, *, tenant: str | None = None, key_id: str | None = None, since_day: str = ""
    ) -> list[Usage]: ...

    def ping(self) -> None: ...
    def close(self) -> None: ...


Row = tuple[Any, ...]


class Run(Protocol):
    """Executes one statement (``?`` placeholders) inside a transaction and returns its rows."""

    def __call__(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _check_name(what: str, value: object) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise ConfigError(
            f"{what} {value!r} is not allowed: use 1-64 letters, digits, '.' or '-', "
            "starting with a letter or digit"
        )
    return value


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT:
        raise ConfigError(f"limit {limit!r} is out of range: use 1 to {_MAX_LIMIT}")
    return limit


def _check_lease(lease_s: float) -> float:
    if isinstance(lease_s, bool) or not isinstance(lease_s, int | float) or not 0 < lease_s < math.inf:
        raise ConfigError(f"job lease {lease_s!r} is invalid: use a number of seconds > 0")
    return float(lease_s)


# Sequence numbers are 64-bit signed in SQLite and PostgreSQL (BIGINT); a larger cursor would
# overflow the driver instead of matching nothing.
MAX_SEQ = 2**63 - 1


def _check_seq(after_seq: int) -> int:
    if isinstance(after_seq, bool) or not isinstance(after_seq, int) or not 0 <= after_seq <= MAX_SEQ:
        raise ConfigError(f"after_seq {after_seq!r} is out of range: use 0 to {MAX_SEQ} (2**63 - 1)")
    return after_seq


def _check_count(what: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"job {what} {value!r} is invalid: use a whole number >= 0")
    return value


def _key(row: Row) -> ApiKey:
    id_, name, tenant, groups, role, clearance, created_at, revoked_at = row
    return ApiKey(
        id=id_,
        name=name,
        tenant=tenant,
        groups=tuple(json.loads(groups)),
        role=role,
        clearance=int(clearance),
        created_at=float(created_at),
        revoked_at=None if revoked_at is None else float(revoked_at),
    )


def _job(row: Row) -> Job:
    id_, tenant, collection, status, total, done, chunks, errors, message, created, updated, key_id = row[:12]
    owner, lease_until = row[12:]
    return Job(
        id=id_,
        tenant=tenant,
        collection=collection,
        status=status,
        total=int(total),
        done=int(done),
        chunks=int(chunks),
        errors=tuple(JobError(file=e[0], error=e[1]) for e in json.loads(errors)),
        message=message,
        created_at=float(created),
        updated_at=float(updated),
        key_id=key_id,
        owner=owner,
        lease_until=float(lease_until),
    )


def _trace(row: Row) -> QueryTrace:
    id_, tenant, key_id, collection, question, created_at, payload, variant = row
    return QueryTrace(
        id=id_,
        tenant=tenant,
        key_id=key_id,
        collection=collection,
        question=question,
        created_at=float(created_at),
        payload=payload,
        variant=variant,
    )


def in_experiment(variant: str, experiment: str) -> str | None:
    """The variant of ``experiment`` recorded in a trace's ``variant`` field, or None."""
    for pair in variant.split(","):
        name, _, arm = pair.partition("=")
        if name == experiment and arm:
            return arm
    return None


def _conversation(row: Row) -> Conversation:
    id_, tenant, key_id, collection, created_at, updated_at, turns = row
    return Conversation(
        id=id_,
        tenant=tenant,
        key_id=key_id,
        collection=collection,
        created_at=float(created_at),
        updated_at=float(updated_at),
        turns=tuple(ConversationTurn(t[0], t[1], t[2], float(t[3])) for t in json.loads(turns)),
    )


def _check_turn(turn: object) -> ConversationTurn:
    if not isinstance(turn, ConversationTurn):
        raise ConfigError(f"conversation turn {turn!r} is not a ConversationTurn record")
    if turn.role not in ("user", "assistant"):
        raise ConfigError(f"conversation turn role {turn.role!r} is not allowed: use 'user' or 'assistant'")
    if not isinstance(turn.content, str) or len(turn.content) > _MAX_TURN_CHARS:
        raise ConfigError(
            f"a conversation turn holds {len(turn.content):,} characters; the limit is {_MAX_TURN_CHARS:,}"
        )
    return turn


def _feedback(row: Row) -> Feedback:
    id_, trace_id, tenant, key_id, rating, comment, created_at = row
    return Feedback(
        id=id_,
        trace_id=trace_id,
        tenant=tenant,
        key_id=key_id,
        rating=int(rating),
        comment=comment,
        created_at=float(created_at),
    )


def _audit(row: Row) -> AuditEvent:
    seq, at, tenant, key_id, action, collection, doc_ids, detail = row
    return AuditEvent(
        seq=int(seq),
        at=float(at),
        tenant=tenant,
        key_id=key_id,
        action=action,
        collection=collection,
        doc_ids=tuple(json.loads(doc_ids)),
        detail=detail,
    )


_KEY_COLS = "id, name, tenant, groups_json, role, clearance, created_at, revoked_at"
_JOB_COLS = (
    "id, tenant, collection, status, total, done, chunks, errors_json, message, "
    "created_at, updated_at, key_id, owner, lease_until"
)
_TRACE_COLS = "id, tenant, key_id, collection, question, created_at, payload, variant"
_CONVERSATION_COLS = "id, tenant, key_id, collection, created_at, updated_at, turns_json"
_FEEDBACK_COLS = "id, trace_id, tenant, key_id, rating, comment, created_at"
# Ratings of one trace by its own tenant; {op} is > (thumbs up) or < (down).
_RATED = (
    "(SELECT COUNT(*) FROM feedback f WHERE f.trace_id = t.id AND f.tenant = t.tenant AND f.rating {op} 0)"
)
_AUDIT_COLS = "seq, at, tenant, key_id, action, collection, doc_ids_json, detail"


class SqlStateBase(abc.ABC):
    """Every query and check of :class:`StateStore`, over a backend's connection and transactions.

    Subclasses implement :meth:`_transaction` (hold :meth:`_locked`, connect lazily, begin, yield a
    :class:`Run`, commit or roll back, turn driver errors into :class:`StateError`, or
    :class:`StateUnavailable` for the ones a retry may cure) and :meth:`_disconnect`. No call waits
    much longer than ``timeout_s`` for a lock or a connection. SQL here uses ``?`` placeholders and
    only syntax both SQLite (3.35+) and PostgreSQL accept.
    """

    # Appends take this table lock so that, across processes, seq order is also commit order and
    # a reader paging with ``after_seq`` can never skip an event committed late. "" = not needed.
    _AUDIT_LOCK_SQL = ""
    # Appended to the SELECT that reads a job before changing it.
    _FOR_UPDATE = ""
    # Lists the columns of the table named by the one parameter (for adding missing ones).
    _COLUMNS_SQL = ""

    def __init__(
        self,
        *,
        trace_retention: int = 10_000,
        trace_retention_days: float = 30.0,
        timeout_s: float = 5.0,
        conversation_retention: int = 10_000,
        conversation_retention_days: float = 30.0,
    ) -> None:
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not 0 < timeout_s < 1e6:
            raise ConfigError(f"state timeout {timeout_s!r} is invalid: use a number of seconds, 0 < t < 1e6")
        if isinstance(trace_retention, bool) or not isinstance(trace_retention, int) or trace_retention < 0:
            raise ConfigError(f"trace_retention {trace_retention!r} is invalid: use a whole number >= 0")
        if not trace_retention_days > 0:
            raise ConfigError(f"trace_retention_days {trace_retention_days!r} is invalid: use a number > 0")
        if (
            isinstance(conversation_retention, bool)
            or not isinstance(conversation_retention, int)
            or conversation_retention < 0
        ):
            raise ConfigError(
                f"conversation_retention {conversation_retention!r} is invalid: use a whole number >= 0"
            )
        if not conversation_retention_days > 0:
            raise ConfigError(
                f"conversation_retention_days {conversation_retention_days!r} is invalid: use a number > 0"
            )
        self._retention = trace_retention
        self._retention_days = float(trace_retention_days)
        self._conversation_retention = conversation_retention
        self._conversation_days = float(conversation_retention_days)
        self._creates_since_prune = 0
        self._timeout_s = float(timeout_s)
        self._lock = threading.Lock()
        # Row count of the trace table as this process last saw it; None until first counted.
        self._trace_count: int | None = None
        self._puts_since_prune = 0

    # -- backend hooks ---------------------------------------------------------------------------

    @abc.abstractmethod
    def _transaction(self) -> AbstractContextManager[Run]:
        """Hold the lock, run one transaction, commit it on success and roll it back on any error."""

    @abc.abstractmethod
    def _disconnect(self) -> None:
        """Close the connection, if open (called with the lock held)."""

    def _execute(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Run one statement in its own transaction through the backend's connection."""
        with self._transaction() as run:
            return run(sql, params)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the connection's lock. Bounded: while the database is locked or unreachable, every
        call holds the lock for up to the timeout, and requests queued behind it must not add up."""
        if not self._lock.acquire(timeout=self._timeout_s):
            raise unavailable(
                repr(self), f"other requests have held its connection for over {self._timeout_s:g} s"
            )
        try:
            yield
        finally:
            self._lock.release()

    def _ensure_schema(self, run: Run, table_exists: bool, ddl: Sequence[str]) -> None:
        """Create or upgrade the schema to :data:`SCHEMA_VERSION` (run inside a transaction)."""
        if table_exists:
            found = run("SELECT MAX(version) FROM schema_version")[0][0]
            if found is not None and int(found) == SCHEMA_VERSION:
                return
            if found is not None and int(found) > SCHEMA_VERSION:
                raise StateError(
                    f"the state database has schema version {found}, newer than this ragline "
                    f"understands ({SCHEMA_VERSION}); upgrade ragline"
                )
        for statement in ddl:
            run(statement)
        # CREATE TABLE IF NOT EXISTS leaves an older table as it was: add what it lacks, in place.
        for table, column, definition in _ADDED_COLUMNS:
            if column not in {r[0] for r in run(self._COLUMNS_SQL, [table])}:
                run(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        run("DELETE FROM schema_version")
        run("INSERT INTO schema_version (version) VALUES (?)", [SCHEMA_VERSION])

    # -- keys ------------------------------------------------------------------------------------

    def create_key(
        self, *, name: str, tenant: str, groups: Sequence[str], role: Role, clearance: int = 0
    ) -> tuple[ApiKey, str]:
        """Create a key; returns it and its secret, which is never stored and cannot be shown again."""
        if not isinstance(name, str) or len(name) > _MAX_KEY_NAME:
            raise ConfigError(f"key name {name!r} is invalid: use text of at most {_MAX_KEY_NAME} characters")
        _check_name("tenant", tenant)
        if isinstance(groups, str):
            # A bare string would silently become one group per character.
            raise ConfigError(f"groups {groups!r} must be a list of group names, not a string")
        clean_groups: list[str] = []
        for g in groups:
            if _check_name("group", g) not in clean_groups:
                clean_groups.append(g)
        if role not in ROLES:
            raise ConfigError(f"role {role!r} is not allowed: use one of {', '.join(ROLES)}")
        if isinstance(clearance, bool) or not isinstance(clearance, int) or not 0 <= clearance <= 100:
            raise ConfigError(f"clearance {clearance!r} is out of range: use a whole number from 0 to 100")
        key = ApiKey(
            id=secrets.token_hex(6),
            name=name,
            tenant=tenant,
            groups=tuple(clean_groups),
            role=role,
            clearance=clearance,
            created_at=time.time(),
            revoked_at=None,
        )
        secret = f"rl_{key.id}_{secrets.token_urlsafe(32)}"
        self._execute(
            "INSERT INTO api_keys (id, name, tenant, groups_json, role, clearance, secret_hash, "
            "created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [
                key.id,
                key.name,
                key.tenant,
                json.dumps(list(key.groups)),
                key.role,
                key.clearance,
                hash_secret(secret),
                key.created_at,
            ],
        )
        return key, secret

    def list_keys(self, tenant: str | None = None) -> list[ApiKey]:
        """All keys (revoked ones too), oldest first, optionally of one tenant."""
        if tenant is None:
            rows = self._execute(f"SELECT {_KEY_COLS} FROM api_keys ORDER BY n")
        else:
            rows = self._execute(f"SELECT {_KEY_COLS} FROM api_keys WHERE tenant = ? ORDER BY n", [tenant])
        return [_key(r) for r in rows]

    def get_key(self, key_id: str) -> ApiKey | None:
        rows = self._execute(f"SELECT {_KEY_COLS} FROM api_keys WHERE id = ?", [key_id])
        return _key(rows[0]) if rows else None

    def revoke_key(self, key_id: str, *, tenant: str | None = None) -> bool:
        """Revoke a key; False when it is unknown, already revoked, or not in ``tenant``."""
        sql = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        params: list[object] = [time.time(), key_id]
        if tenant is not None:
            sql += " AND tenant = ?"
            params.append(tenant)
        return bool(self._execute(sql + " RETURNING id", params))

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key this secret belongs to, or None (unknown, malformed or revoked)."""
        m = _SECRET_RE.fullmatch(secret) if isinstance(secret, str) else None
        if m is None:
            return None
        rows = self._execute(f"SELECT {_KEY_COLS}, secret_hash FROM api_keys WHERE id = ?", [m.group(1)])
        stored = rows[0][-1] if rows else _DUMMY_HASH
        if not hmac.compare_digest(hash_secret(secret), stored) or not rows:
            return None
        key = _key(rows[0][:-1])
        return None if key.revoked else key

    def count_keys(self) -> int:
        """Number of active (not revoked) keys."""
        return int(self._execute("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")[0][0])

    # -- jobs ------------------------------------------------------------------------------------

    def create_job(self, *, tenant: str, collection: str, key_id: str, total: int = 0) -> Job:
        """A queued job, held :data:`NEW_JOB_GRACE_S` for its creator to :meth:`claim_job`."""
        now = time.time()
        job = Job(
            id=uuid.uuid4().hex,
            tenant=tenant,
            collection=collection,
            status="queued",
            total=_check_count("total", total),
            done=0,
            chunks=0,
            errors=(),
            message="",
            created_at=now,
            updated_at=now,
            key_id=key_id,
            lease_until=now + NEW_JOB_GRACE_S,
        )
        self._execute(
            f"INSERT INTO jobs ({_JOB_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                job.id,
                job.tenant,
                job.collection,
                job.status,
                job.total,
                job.done,
                job.chunks,
                "[]",
                job.message,
                job.created_at,
                job.updated_at,
                job.key_id,
                job.owner,
                job.lease_until,
            ],
        )
        return job

    def update_job(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        total: int | None = None,
        done: int | None = None,
        chunks: int | None = None,
        add_errors: Sequence[JobError] = (),
        message: str | None = None,
    ) -> Job:
        """Change a job's fields (``add_errors`` appends); raises :class:`StateError` for an unknown id."""
        if status is not None and status not in JOB_STATUSES:
            raise ConfigError(f"job status {status!r} is not allowed: use one of {', '.join(JOB_STATUSES)}")
        for what, value in (("total", total), ("done", done), ("chunks", chunks)):
            if value is not None:
                _check_count(what, value)
        with self._transaction() as run:
            old = self._job_for_update(run, job_id)
            errors = old.errors + tuple(add_errors)
            new = dataclasses.replace(
                old,
                status=old.status if status is None else status,
                total=old.total if total is None else total,
                done=old.done if done is None else done,
                chunks=old.chunks if chunks is None else chunks,
                errors=errors,
                message=old.message if message is None else message,
                updated_at=time.time(),
            )
            run(
                "UPDATE jobs SET status = ?, total = ?, done = ?, chunks = ?, errors_json = ?, message = ?, "
                "updated_at = ? WHERE id = ?",
                [
                    new.status,
                    new.total,
                    new.done,
                    new.chunks,
                    json.dumps([[e.file, e.error] for e in errors]),
                    new.message,
                    new.updated_at,
                    job_id,
                ],
            )
        return new

    def get_job(self, job_id: str) -> Job | None:
        rows = self._execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", [job_id])
        return _job(rows[0]) if rows else None

    def list_jobs(self, *, tenant: str, limit: int = 50) -> list[Job]:
        """A tenant's jobs, newest first."""
        rows = self._execute(
            f"SELECT {_JOB_COLS} FROM jobs WHERE tenant = ? ORDER BY n DESC LIMIT ?",
            [tenant, _check_limit(limit)],
        )
        return [_job(r) for r in rows]

    def _job_for_update(self, run: Run, job_id: str) -> Job:
        rows = run(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?{self._FOR_UPDATE}", [job_id])
        if not rows:
            raise StateNotFound(f"no ingest job with id {job_id!r}; list jobs to see valid ids")
        return _job(rows[0])

    # -- job leases ------------------------------------------------------------------------------
    # A replica claims each job it runs and renews the leases of all of them well before they
    # lapse; a job whose lease lapsed has a dead (or cut-off) worker, and only such a job may be
    # claimed by another replica or failed by a sweep. Times are this host's clock: replicas'
    # clocks must agree to well within a lease.

    def claim_job(self, job_id: str, *, owner: str, lease_s: float) -> Job | None:
        """Take an unfinished job for ``owner`` for ``lease_s`` seconds; None when another replica
        holds a live lease on it or it has finished. Raises :class:`StateNotFound` for an unknown id."""
        lease_s = _check_lease(lease_s)
        if not isinstance(owner, str) or not owner:
            raise ConfigError(f"job owner {owner!r} is invalid: name the replica claiming the job")
        with self._transaction() as run:
            old = self._job_for_update(run, job_id)
            now = time.time()
            if old.status not in ("queued", "running"):
                return None
            if old.owner not in ("", owner) and old.lease_until >= now:
                return None
            new = dataclasses.replace(old, owner=owner, lease_until=now + lease_s)
            run("UPDATE jobs SET owner = ?, lease_until = ? WHERE id = ?", [owner, new.lease_until, job_id])
        return new

    def renew_job_leases(self, owner: str, job_ids: Sequence[str], *, lease_s: float) -> list[str]:
        """Extend ``owner``'s leases on these jobs to ``lease_s`` from now; returns the ids it still
        holds (a job missing from the answer finished, or was failed or taken after its lease lapsed)."""
        lease_s = _check_lease(lease_s)
        ids = list(job_ids)
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        rows = self._execute(
            f"UPDATE jobs SET lease_until = ? WHERE owner = ? AND status IN {_UNFINISHED} "
            f"AND id IN ({marks}) RETURNING id",
            [time.time() + lease_s, owner, *ids],
        )
        return [r[0] for r in rows]

    def fail_expired_jobs(self, message: str, *, now: float | None = None) -> list[str]:
        """Mark failed every queued or running job whose lease lapsed before ``now`` (default: the
        current time), i.e. whose worker died; returns their ids. Jobs with live leases are left alone."""
        at = time.time() if now is None else now
        rows = self._execute(
            f"UPDATE jobs SET status = 'failed', message = ?, updated_at = ? "
            f"WHERE status IN {_UNFINISHED} AND lease_until < ? RETURNING id",
            [message, time.time(), at],
        )
        return [r[0] for r in rows]

    # -- traces ----------------------------------------------------------------------------------

    def put_trace(self, trace: QueryTrace) -> None:
        """Store a trace, then keep the table within the retention limits."""
        if not trace.id:
            raise ConfigError("trace id is empty; give each trace a unique id")
        prune_due = False
        with self._transaction() as run:
            try:
                run(
                    f"INSERT INTO query_traces ({_TRACE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        trace.id,
                        trace.tenant,
                        trace.key_id,
                        trace.collection,
                        trace.question,
                        trace.created_at,
                        trace.payload,
                        trace.variant,
                    ],
                )
            except StateError as exc:
                raise StateError(
                    f"could not store trace {trace.id!r} (is the id already used?): {exc}"
                ) from exc
            if self._trace_count is None:
                count = int(run("SELECT COUNT(*) FROM query_traces")[0][0])
            else:
                count = self._trace_count + 1
            # Over the count limit: drop just the surplus oldest rows, an index range scan.
            if count > self._retention:
                count -= len(self._trim_traces(run, count - self._retention))
            self._trace_count = count
            self._puts_since_prune += 1
            prune_due = self._puts_since_prune >= PRUNE_EVERY
        if prune_due:
            self.prune_traces()

    def prune_traces(self) -> int:
        """Delete traces older than the age limit and all but the newest N; returns how many went."""
        cutoff = time.time() - self._retention_days * 86_400
        with self._transaction() as run:
            aged = len(run("DELETE FROM query_traces WHERE created_at < ? RETURNING n", [cutoff]))
            count = int(run("SELECT COUNT(*) FROM query_traces")[0][0])
            trimmed = len(self._trim_traces(run, count - self._retention)) if count > self._retention else 0
            self._trace_count = count - trimmed
            self._puts_since_prune = 0
        return aged + trimmed

    @staticmethod
    def _trim_traces(run: Run, surplus: int) -> list[Row]:
        return run(
            "DELETE FROM query_traces WHERE n IN "
            "(SELECT n FROM query_traces ORDER BY created_at, n LIMIT ?) RETURNING n",
            [surplus],
        )

    def get_trace(self, trace_id: str) -> QueryTrace | None:
        rows = self._execute(f"SELECT {_TRACE_COLS} FROM query_traces WHERE id = ?", [trace_id])
        return _trace(rows[0]) if rows else None

    def rated_traces(
        self,
        *,
        tenant: str | None,
        collection: str | None = None,
        experiment: str | None = None,
        since: float = 0.0,
        limit: int = 10_000,
    ) -> list[RatedTrace]:
        """Traces newest first with their thumbs-up and thumbs-down counts: of one tenant (None:
        every tenant, for operators), optionally one collection, one experiment, created at or
        after ``since`` (epoch seconds)."""
        where: list[str] = ["t.created_at >= ?"]
        params: list[object] = [float(since)]
        if tenant is not None:
            where.append("t.tenant = ?")
            params.append(_check_name("tenant", tenant))
        if collection is not None:
            where.append("t.collection = ?")
            params.append(collection)
        if experiment is not None:
            # A coarse SQL prefilter; in_experiment below decides exactly.
            where.append("t.variant LIKE ?")
            params.append(f"%{experiment}=%")
        cols = ", ".join(f"t.{c.strip()}" for c in _TRACE_COLS.split(","))
        rows = self._execute(
            f"SELECT {cols}, "
            f"{_RATED.format(op='>')}, {_RATED.format(op='<')} "
            f"FROM query_traces t WHERE {' AND '.join(where)} ORDER BY t.created_at DESC, t.n DESC LIMIT ?",
            [*params, _check_limit(limit)],
        )
        out = [RatedTrace(_trace(r[:-2]), int(r[-2]), int(r[-1])) for r in rows]
        if experiment is not None:
            out = [r for r in out if in_experiment(r.trace.variant, experiment) is not None]
        return out

    # -- conversations ---------------------------------------------------------------------------
    # A conversation belongs to the key that created it: every read and write names the tenant and
    # key, and a conversation of another key is as absent as one never made. One idle for longer
    # than the age limit is gone even before a prune deletes it.

    def create_conversation(
        self, *, tenant: str, key_id: str, collection: str, now: float | None = None
    ) -> Conversation:
        """A new, empty conversation of ``key_id`` (begun at ``now``, default: the current time);
        the least recently used ones beyond the count limit go."""
        _check_name("tenant", tenant)
        if not isinstance(collection, str) or not collection:
            raise ConfigError(f"conversation collection {collection!r} is invalid: name the collection")
        now = time.time() if now is None else now
        conv = Conversation(
            id=uuid.uuid4().hex,
            tenant=tenant,
            key_id=key_id,
            collection=collection,
            created_at=now,
            updated_at=now,
        )
        with self._transaction() as run:
            run(
                f"INSERT INTO conversations ({_CONVERSATION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [conv.id, conv.tenant, conv.key_id, conv.collection, now, now, "[]"],
            )
            count = int(run("SELECT COUNT(*) FROM conversations")[0][0])
            if count > self._conversation_retention:
                self._trim_conversations(run, count - self._conversation_retention)
            self._creates_since_prune += 1
            prune_due = self._creates_since_prune >= PRUNE_EVERY
        if prune_due:
            self.prune_conversations()
        return conv

    def _conversation_cutoff(self) -> float:
        return time.time() - self._conversation_days * 86_400

    def get_conversation(self, conversation_id: str, *, tenant: str, key_id: str) -> Conversation | None:
        """The conversation if ``key_id`` of ``tenant`` owns it and it has not expired, else None."""
        rows = self._execute(
            f"SELECT {_CONVERSATION_COLS} FROM conversations "
            "WHERE id = ? AND tenant = ? AND key_id = ? AND updated_at >= ?",
            [conversation_id, tenant, key_id, self._conversation_cutoff()],
        )
        return _conversation(rows[0]) if rows else None

    def append_turns(
        self,
        conversation_id: str,
        turns: Sequence[ConversationTurn],
        *,
        tenant: str,
        key_id: str,
        now: float | None = None,
    ) -> Conversation:
        """Add turns (stamped ``now`` when their ``at`` is 0) and keep the newest
        :data:`MAX_CONVERSATION_TURNS`; raises :class:`StateNotFound` unless the key owns a live
        conversation of that id."""
        now = time.time() if now is None else now
        new = [_check_turn(t) for t in turns]
        new = [t if t.at else dataclasses.replace(t, at=now) for t in new]
        with self._transaction() as run:
            rows = run(
                f"SELECT {_CONVERSATION_COLS} FROM conversations "
                f"WHERE id = ? AND tenant = ? AND key_id = ? AND updated_at >= ?{self._FOR_UPDATE}",
                [conversation_id, tenant, key_id, self._conversation_cutoff()],
            )
            if not rows:
                raise StateNotFound(
                    f"no conversation {conversation_id!r} of yours; start one with POST /v1/conversations "
                    "(conversations expire after retention)"
                )
            old = _conversation(rows[0])
            kept = (old.turns + tuple(new))[-MAX_CONVERSATION_TURNS:]
            conv = dataclasses.replace(old, turns=kept, updated_at=now)
            run(
                "UPDATE conversations SET turns_json = ?, updated_at = ? WHERE id = ?",
                [json.dumps([[t.role, t.content, t.trace_id, t.at] for t in kept]), now, conversation_id],
            )
        return conv

    def delete_conversation(self, conversation_id: str, *, tenant: str, key_id: str) -> bool:
        """Delete a conversation the key owns; False when there is none."""
        rows = self._execute(
            "DELETE FROM conversations WHERE id = ? AND tenant = ? AND key_id = ? RETURNING n",
            [conversation_id, tenant, key_id],
        )
        return bool(rows)

    def prune_conversations(self) -> int:
        """Delete conversations idle past the age limit and all but the newest N; returns how many."""
        with self._transaction() as run:
            aged = len(
                run(
                    "DELETE FROM conversations WHERE updated_at < ? RETURNING n",
                    [self._conversation_cutoff()],
                )
            )
            count = int(run("SELECT COUNT(*) FROM conversations")[0][0])
            surplus = count - self._conversation_retention
            trimmed = len(self._trim_conversations(run, surplus)) if surplus > 0 else 0
            self._creates_since_prune = 0
        return aged + trimmed

    @staticmethod
    def _trim_conversations(run: Run, surplus: int) -> list[Row]:
        return run(
            "DELETE FROM conversations WHERE n IN "
            "(SELECT n FROM conversations ORDER BY updated_at, n LIMIT ?) RETURNING n",
            [surplus],
        )

    # -- feedback --------------------------------------------------------------------------------

    def add_feedback(
        self, *, trace_id: str, tenant: str, key_id: str, rating: int, comment: str = ""
    ) -> Feedback:
        if isinstance(rating, bool) or rating not in (1, -1):
            raise ConfigError(f"rating {rating!r} is not allowed: use 1 (helpful) or -1 (not helpful)")
        if not isinstance(comment, str) or len(comment) > _MAX_COMMENT:
            raise ConfigError(
                f"feedback comment is too long ({len(comment)} characters): keep it to {_MAX_COMMENT}"
            )
        if not trace_id:
            raise ConfigError("feedback needs the trace_id of the answer it rates")
        fb = Feedback(
            id=uuid.uuid4().hex,
            trace_id=trace_id,
            tenant=tenant,
            key_id=key_id,
            rating=rating,
            comment=comment,
            created_at=time.time(),
        )
        self._execute(
            f"INSERT INTO feedback ({_FEEDBACK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [fb.id, fb.trace_id, fb.tenant, fb.key_id, fb.rating, fb.comment, fb.created_at],
        )
        return fb

    def list_feedback(self, *, tenant: str, limit: int = 100) -> list[Feedback]:
        """A tenant's feedback, newest first."""
        rows = self._execute(
            f"SELECT {_FEEDBACK_COLS} FROM feedback WHERE tenant = ? ORDER BY n DESC LIMIT ?",
            [tenant, _check_limit(limit)],
        )
        return [_feedback(r) for r in rows]

    # -- audit -----------------------------------------------------------------------------------

    def append_audit(
        self,
        *,
        tenant: str,
        key_id: str,
        action: str,
        collection: str = "",
        doc_ids: Sequence[str] = (),
        detail: str = "",
    ) -> AuditEvent:
        """Append one event; the store assigns ``seq`` (increasing) and ``at`` (now)."""
        if not isinstance(action, str) or not action:
            raise ConfigError(f"audit action {action!r} is invalid: name what was done, e.g. 'ingest'")
        if isinstance(doc_ids, str):
            raise ConfigError(f"doc_ids {doc_ids!r} must be a list of document ids, not a string")
        ids = tuple(doc_ids)
        at = time.time()
        with self._transaction() as run:
            if self._AUDIT_LOCK_SQL:
                run(self._AUDIT_LOCK_SQL)
            seq = run(
                "INSERT INTO audit_log (at, tenant, key_id, action, collection, doc_ids_json, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                [at, tenant, key_id, action, collection, json.dumps(list(ids)), detail],
            )[0][0]
        return AuditEvent(
            seq=int(seq),
            at=at,
            tenant=tenant,
            key_id=key_id,
            action=action,
            collection=collection,
            doc_ids=ids,
            detail=detail,
        )

    def list_audit(
        self,
        *,
        tenant: str | None = None,
        action: str | None = None,
        limit: int = 100,
        after_seq: int = 0,
    ) -> list[AuditEvent]:
        """Events with ``seq > after_seq``, oldest first, optionally of one tenant and/or action."""
        sql = f"SELECT {_AUDIT_COLS} FROM audit_log WHERE seq > ?"
        params: list[object] = [_check_seq(after_seq)]
        if tenant is not None:
            sql += " AND tenant = ?"
            params.append(tenant)
        if action is not None:
            sql += " AND action = ?"
            params.append(action)
        params.append(_check_limit(limit))
        return [_audit(r) for r in self._execute(sql + " ORDER BY seq LIMIT ?", params)]

    # -- usage -----------------------------------------------------------------------------------

    def record_usage(
        self,
        *,
        tenant: str,
        key_id: str,
        requests: int = 1,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost_usd: float = 0.0,
        at: float | None = None,
    ) -> None:
        """Add one request's use to its key's row for the UTC day of ``at`` (now by default); one
        atomic upsert, so concurrent requests (and replicas sharing PostgreSQL) never lose a count."""
        _check_name("tenant", tenant)
        if not isinstance(key_id, str) or not key_id:
            raise ConfigError(f"usage key_id {key_id!r} is invalid: name the key that made the request")
        counts = [requests, prompt_tokens, completion_tokens]
        for what, value in zip(("requests", "prompt_tokens", "completion_tokens"), counts, strict=True):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**62:
                raise ConfigError(f"usage {what} {value!r} is invalid: use a whole number >= 0")
        if isinstance(cost_usd, bool) or not isinstance(cost_usd, int | float) or not 0 <= cost_usd < 1e9:
            raise ConfigError(f"usage cost_usd {cost_usd!r} is invalid: use a number of dollars >= 0")
        day = utc_day(time.time() if at is None else at)
        self._execute(
            "INSERT INTO usage_daily (tenant, key_id, day, requests, prompt_tokens, completion_tokens, "
            "cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, key_id, day) DO UPDATE SET "
            "requests = usage_daily.requests + excluded.requests, "
            "prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens, "
            "completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens, "
            "cost_usd = usage_daily.cost_usd + excluded.cost_usd",
            [tenant, key_id, day, *counts, float(cost_usd)],
        )

    def list_usage(
        self, *, tenant: str | None = None, key_id: str | None = None, since_day: str = ""
    ) -> list[Usage]:
        """Usage rows from ``since_day`` (``YYYY-MM-DD``, inclusive) on, by day, tenant and key."""
        if since_day and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since_day):
            raise ConfigError(f"since_day {since_day!r} is invalid: use YYYY-MM-DD")
        sql = (
            "SELECT tenant, key_id, day, requests, prompt_tokens, completion_tokens, cost_usd "
            "FROM usage_daily WHERE day >= ?"
        )
        params: list[object] = [since_day]
        if tenant is not None:
            sql += " AND tenant = ?"
            params.append(tenant)
        if key_id is not None:
            sql += " AND key_id = ?"
            params.append(key_id)
        rows = self._execute(sql + " ORDER BY day, tenant, key_id", params)
        return [
            Usage(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), int(r[5]), float(r[6])) for r in rows
        ]

    # -- lifecycle -------------------------------------------------------------------------------

    def ping(self) -> None:
        """Check that the store can be reached and written now; raises :class:`StateUnavailable`."""
        # A write transaction: a SQLite file another process holds locked still serves reads.
        with self._transaction() as run:
            run("SELECT 1")

    def close(self) -> None:
        """Close the connection; a later call reconnects."""
        with self._lock:
            self._disconnect()
            self._trace_count = None

    def __enter__(self) -> SqlStateBase:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
