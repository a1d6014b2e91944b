"""What every source shares: the :class:`Source` protocol, one scan's result, loading fetched bytes.

A source lists its upstream items, each with a version (an HTTP body hash, a row version or row
hash, a git blob id, an S3 ETag), and fetches an item only when the collection does not hold that
version. Per-item versions are kept by the collection itself (each source's ``source_hash``), so
they commit together with the content; what a source remembers beyond them (the commit it synced,
HTTP validators) is its cursor, a small JSON object stored with its definition.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from ragline.errors import LoaderError
from ragline.ingest.pipeline import SourceItem
from ragline.loaders.registry import SUPPORTED_EXTENSIONS, load_file
from ragline.settings import LoaderSettings
from ragline.types import Document, MetadataValue, stable_id

#: A source's cursor: JSON, read only by the source that wrote it.
Cursor = dict[str, Any]


class SourceConfig(BaseModel):
    """Base of every source type's options: unknown keys are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def claims(self, name: str) -> tuple[str, ...]:
        """Prefixes of the source keys a source of these options (called ``name``) writes, as far
        as its options tell: two sources of one collection must not overlap, or each would delete
        what the other brings in."""
        raise NotImplementedError


def _no_cursor(_failed: set[str]) -> Cursor:
    return {}


@dataclass(slots=True)
class Scan:
    """One pass over a source.

    ``items`` may be lazy (a crawl finds pages while it fetches). ``complete`` says the items are
    everything upstream holds, so an item of this source the collection holds and the scan did not
    list is gone; ``gone`` names deletions the source saw itself (a commit diff's). ``fetched``
    counts the items whose content was downloaded; ``skipped`` lists (key, reason) of upstream
    items no loader reads. After the items, ``cursor(failed)`` is what to remember for the next
    scan, given the keys whose load failed.
    """

    items: Iterator[SourceItem]
    complete: bool
    gone: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    fetched: int = 0
    cursor: Callable[[set[str]], Cursor] = _no_cursor


class Source(Protocol):
    """An upstream a collection syncs from (web pages, SQL rows, a git repository, a bucket).

    Constructors only keep their settings; connections are opened by :meth:`scan`.
    """

    def scan(self, cursor: Mapping[str, Any]) -> Scan:
        """List the items upstream (their versions), starting from the last scan's cursor."""
        ...

    def owns(self, key: str, cursor: Mapping[str, Any]) -> bool:
        """Whether a collection source key is one of this source's items (written by a sync)."""
        ...

    def close(self) -> None:
        """Release connections and clients (a scan's generator may still be closed after)."""
        ...


def body_version(data: bytes) -> str:
    """The version of an item known only by its content: SHA-256 of its bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_size(key: str, size: int, settings: LoaderSettings) -> None:
    """Refuse an item above ``loaders.max_file_mb`` before downloading it, as ingest refuses files."""
    limit = settings.max_file_mb * 1024 * 1024
    if size > limit:
        raise LoaderError(
            key,
            f"item is {size / (1024 * 1024):.1f} MB, above the limit of {settings.max_file_mb:g} MB; "
            "raise loaders.max_file_mb to load it",
        )


def loadable(name: str) -> str | None:
    """Why an item called ``name`` cannot be loaded (no loader for its extension), or None."""
    ext = PurePosixPath(name).suffix.lower()
    if ext in SUPPORTED_EXTENSIONS:
        return None
    return f"unsupported file type '{ext}'" if ext else "no file extension"


def load_bytes(
    key: str, name: str, data: bytes, settings: LoaderSettings, metadata: Mapping[str, MetadataValue]
) -> list[Document]:
    """Documents from an item's fetched bytes, read by the loader of ``name``'s extension.

    The loaders read files, so the bytes go to a private temporary file under the item's base
    name; the documents then carry ``key`` as their source, ids derived from it (their order in
    the item), and ``metadata`` on top of the loader's own.

    Example::

        docs = load_bytes("s3://b/guide.md", "guide.md", body, settings.loaders, {"bucket": "b"})
    """
    check_size(key, len(data), settings)
    base = PurePosixPath(name).name or "item"
    with tempfile.TemporaryDirectory(prefix="ragline-source-") as tmp:
        path = Path(tmp) / base
        path.write_bytes(data)
        try:
            docs = load_file(path, settings)
        except LoaderError as exc:
            # The temporary path means nothing to the user: name the item instead.
            raise LoaderError(key, exc.reason) from exc
    return [
        replace(d, id=stable_id(key, str(i)), source=key, metadata={**d.metadata, **metadata})
        for i, d in enumerate(docs)
    ]
