"""Source definitions and cursors, one JSON file per source under ``<data_dir>/sources/<tenant>/``.

Kept in the data directory rather than the service's state store: a cursor describes what one
data directory's collections hold (the per-item versions live in the collections themselves), so
it must travel and be backed up with them. One file per source means two syncs of different
sources never rewrite each other's file; a sync holds its collection's write lock while it updates
its own. Files are written whole (temporary file, then rename) and readable by the owner only:
an SQL URL may carry a password.

Example::

    registry = SourceRegistry(Path(".ragline"))
    registry.add(SourceDefinition(name="docs", collection="docs", config=WebConfig(urls=("https://x.org/",))))
    print([d.name for d in registry.list()])
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ragline.errors import ConfigError
from ragline.settings import Settings
from ragline.sources.base import Cursor, Source
from ragline.sources.git import GitConfig, GitSource
from ragline.sources.s3 import S3Config, S3Source
from ragline.sources.sql import SqlConfig, SqlSource
from ragline.sources.web import WebConfig, WebSource
from ragline.types import DEFAULT_TENANT, Access, parse_groups

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_NAME_RE = re.compile(_NAME)
FORMAT_VERSION = 1

AnyConfig = Annotated[WebConfig | SqlConfig | GitConfig | S3Config, Field(discriminator="type")]


class SourceDefinition(BaseModel):
    """A named source of one tenant: where its items come from, which collection they go to, and
    the access they get there (tenant, groups, clearance; as ``ragline ingest --tenant ...``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    collection: str = Field(pattern=_NAME)
    tenant: str = Field(default=DEFAULT_TENANT, pattern=_NAME)
    groups: tuple[str, ...] = ()
    clearance: int = Field(default=0, ge=0, le=100)
    # PII redaction and near-duplicate removal for this source's items (None: the collection's
    # cleaning settings), as ``ragline ingest --pii`` / ``--near-duplicates`` for one call.
    pii: bool | None = None
    near_duplicates: bool | None = None
    config: AnyConfig

    @field_validator("groups")
    @classmethod
    def _groups(cls, groups: tuple[str, ...]) -> tuple[str, ...]:
        return parse_groups(",".join(groups))

    @property
    def access(self) -> Access:
        return Access(self.tenant, self.groups, self.clearance)

    @property
    def kind(self) -> str:
        return self.config.type


@dataclass(slots=True)
class SourceState:
    """A definition with what its syncs left: the cursor and the last sync's report."""

    definition: SourceDefinition
    cursor: Cursor = field(default_factory=dict)
    last_sync: dict[str, Any] | None = None


def _check_name(what: str, value: str) -> str:
    if not _NAME_RE.match(value):
        raise ConfigError(f"{what} {value[:80]!r} is invalid; use letters, digits, '.', '_' or '-' (max 64)")
    return value


class SourceRegistry:
    """The sources of a data directory, per tenant."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "sources"

    def path(self, name: str, tenant: str = DEFAULT_TENANT) -> Path:
        return self.root / _check_name("tenant name", tenant) / f"{_check_name('source name', name)}.json"

    def add(self, definition: SourceDefinition) -> None:
        """Save a new source; a :class:`ConfigError` if the tenant already has one of that name."""
        self._check_overlap(definition)
        path = self.path(definition.name, definition.tenant)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Exclusive create: two concurrent adds of one name cannot both succeed.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigError(
                f"source {definition.name!r} already exists for tenant {definition.tenant!r}; "
                "remove it first (ragline sources remove) or choose another name"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self._dump(SourceState(definition)))

    def _check_overlap(self, new: SourceDefinition) -> None:
        """Refuse a source whose items could be another's of the same collection: each sync
        deletes the items of its own it did not list, so two overlapping sources would delete
        each other's items by turns."""
        mine = new.config.claims(new.name)
        for other in self.list(new.tenant):
            if other.collection != new.collection or other.name == new.name:
                continue
            for a in mine:
                for b in other.config.claims(other.name):
                    if a.startswith(b) or b.startswith(a):
                        raise ConfigError(
                            f"source {new.name!r} would share items ({a!r} and {b!r}) with source "
                            f"{other.name!r} in collection {new.collection!r}: each sync would delete "
                            "what the other brought in. Narrow one of them, widen the existing one "
                            "(more --url / --include), or use another collection"
                        )

    def get(self, name: str, tenant: str = DEFAULT_TENANT) -> SourceState:
        path = self.path(name, tenant)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            known = ", ".join(d.name for d in self.list(tenant)) or "(none)"
            raise ConfigError(
                f"no source {name!r} for tenant {tenant!r}; existing: {known}. "
                "Add it with ragline sources add"
            ) from None
        return self._load(raw, path)

    def list(self, tenant: str | None = None) -> list[SourceDefinition]:
        """The definitions of one tenant, or of every tenant, ordered by tenant and name."""
        tenants = [_check_name("tenant name", tenant)] if tenant is not None else None
        if tenants is None:
            tenants = sorted(p.name for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []
        out: list[SourceDefinition] = []
        for t in tenants:
            folder = self.root / t
            if folder.is_dir():
                out += [
                    self._load(p.read_text(encoding="utf-8"), p).definition
                    for p in sorted(folder.glob("*.json"))
                ]
        return out

    def save(self, state: SourceState) -> None:
        """Replace a source's file with ``state`` (after a sync), whole or not at all."""
        d = state.definition
        path = self.path(d.name, d.tenant)
        if not path.exists():
            return  # removed while it synced: its cursor goes with it, not back into a new file
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self._dump(state))
        os.replace(tmp, path)

    def remove(self, name: str, tenant: str = DEFAULT_TENANT) -> SourceState:
        """Forget a source; returns what it was (its documents are the caller's business)."""
        state = self.get(name, tenant)
        self.path(name, tenant).unlink()
        shutil.rmtree(self.work_dir(name, tenant), ignore_errors=True)
        return state

    def work_dir(self, name: str, tenant: str = DEFAULT_TENANT) -> Path:
        """Where a source keeps local copies (a git mirror)."""
        return self.root / tenant / f".{_check_name('source name', name)}.work"

    @staticmethod
    def _dump(state: SourceState) -> str:
        return json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "definition": state.definition.model_dump(mode="json"),
                "cursor": state.cursor,
                "last_sync": state.last_sync,
            },
            indent=1,
        )

    @staticmethod
    def _load(raw: str, path: Path) -> SourceState:
        try:
            data = json.loads(raw)
            if data.get("format_version") != FORMAT_VERSION:
                raise ConfigError(
                    f"{path} has format {data.get('format_version')!r}; this ragline reads {FORMAT_VERSION}"
                )
            return SourceState(
                SourceDefinition.model_validate(data["definition"]),
                dict(data.get("cursor") or {}),
                data.get("last_sync"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"source file {path} is unreadable ({exc}); remove and add the source again"
            ) from exc


def definition_from(**fields: Any) -> SourceDefinition:
    """A :class:`SourceDefinition` from plain values, a :class:`ConfigError` naming each bad one."""
    try:
        return SourceDefinition.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid source: {problems}") from None


def open_source(definition: SourceDefinition, settings: Settings, work_dir: Path) -> Source:
    """The :class:`Source` a definition describes (nothing is contacted until it scans)."""
    cfg = definition.config
    if isinstance(cfg, WebConfig):
        return WebSource(cfg, settings)
    if isinstance(cfg, SqlConfig):
        return SqlSource(cfg, settings, definition.name)
    if isinstance(cfg, GitConfig):
        return GitSource(cfg, settings, work_dir / "mirror.git")
    return S3Source(cfg, settings)
