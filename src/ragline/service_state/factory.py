"""Pick the state backend from ``server.state_url``."""

from __future__ import annotations

from pathlib import Path

from ragline.errors import ConfigError
from ragline.service_state.base import StateStore

_ACCEPTED = (
    "'' (SQLite in <data_dir>/state.sqlite), 'sqlite:///abs/path.sqlite' or 'postgresql://user:pass@host/db'"
)


def open_state(
    url: str,
    data_dir: Path,
    *,
    trace_retention: int = 10_000,
    trace_retention_days: float = 30.0,
    timeout_s: float = 5.0,
    conversation_retention: int = 10_000,
    conversation_retention_days: float = 30.0,
) -> StateStore:
    """Open (lazily: nothing connects until first use) the state store that ``url`` names.

    ``timeout_s`` bounds how long a call waits for a locked database or a connection before it
    raises :class:`~ragline.service_state.StateUnavailable`.

    Example::

        from pathlib import Path
        from ragline.service_state import open_state
        state = open_state("", Path(".ragline"))  # .ragline/state.sqlite
        key, secret = state.create_key(name="me", tenant="default", groups=[], role="admin")
        assert state.authenticate(secret) == key
    """
    if url == "":
        from ragline.service_state.sqlite import SqliteState

        return SqliteState(
            Path(data_dir) / "state.sqlite",
            trace_retention=trace_retention,
            trace_retention_days=trace_retention_days,
            timeout_s=timeout_s,
            conversation_retention=conversation_retention,
            conversation_retention_days=conversation_retention_days,
        )
    if url.startswith("sqlite:///"):
        # The path is always absolute; "sqlite:////abs" (SQLAlchemy's spelling) means the same file.
        path = "/" + url.removeprefix("sqlite://").lstrip("/")
        if path == "/":
            raise ConfigError(f"server.state_url {url!r} names no file; use {_ACCEPTED}")
        from ragline.service_state.sqlite import SqliteState

        return SqliteState(
            Path(path),
            trace_retention=trace_retention,
            trace_retention_days=trace_retention_days,
            timeout_s=timeout_s,
            conversation_retention=conversation_retention,
            conversation_retention_days=conversation_retention_days,
        )
    if url.startswith(("postgresql://", "postgres://")):
        from ragline.service_state.postgres import PostgresState

        return PostgresState(
            url,
            trace_retention=trace_retention,
            trace_retention_days=trace_retention_days,
            timeout_s=timeout_s,
            conversation_retention=conversation_retention,
            conversation_retention_days=conversation_retention_days,
        )
    shown = url
    if "://" in url and "@" in url:
        from ragline.service_state.postgres import redact_url

        shown = redact_url(url)
    raise ConfigError(f"server.state_url {shown!r} is not supported; use {_ACCEPTED}")
