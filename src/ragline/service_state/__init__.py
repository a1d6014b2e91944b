"""Persistent state of the HTTP service: API keys, ingest jobs, query traces, conversations, feedback,
audit log.

Two backends keep the same contract (:class:`StateStore`): SQLite (default, one file in the data
folder) and PostgreSQL (``server.state_url = "postgresql://..."``). :func:`open_state` picks one.

This package may import only :mod:`ragline.errors`, :mod:`ragline.settings`, the standard library and
(lazily, in :mod:`ragline.service_state.postgres`) psycopg, so the CLI and the server can use it without
loading the engine.

Example::

    from pathlib import Path
    from ragline.service_state import open_state
    state = open_state("", Path(".ragline"))
    key, secret = state.create_key(name="ci", tenant="acme", groups=["eng"], role="reader")
"""

from __future__ import annotations

from ragline.service_state.base import (
    ApiKey,
    AuditEvent,
    Conversation,
    ConversationTurn,
    Feedback,
    Job,
    JobError,
    JobStatus,
    QueryTrace,
    RatedTrace,
    Role,
    StateError,
    StateNotFound,
    StateStore,
    StateUnavailable,
    Usage,
    in_experiment,
)
from ragline.service_state.factory import open_state

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Conversation",
    "ConversationTurn",
    "Feedback",
    "Job",
    "JobError",
    "JobStatus",
    "QueryTrace",
    "RatedTrace",
    "Role",
    "StateError",
    "StateNotFound",
    "StateStore",
    "StateUnavailable",
    "Usage",
    "in_experiment",
    "open_state",
]
