"""Helpers shared by the loaders: reading, decoding, metadata sanitising, document building."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.types import Document, Metadata, MetadataValue, stable_id

_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_]")
_BINARY_SNIFF_BYTES = 8192


def source_of(path: Path) -> str:
    """The ``Document.source`` of a file: its absolute, symlink-free path."""
    return str(path.resolve())


def file_metadata(path: Path) -> Metadata:
    """Metadata every document gets: ``file_name`` and ``file_type`` (extension without dot)."""
    return {"file_name": path.name, "file_type": path.suffix.lower().lstrip(".")}


def read_bytes(path: Path) -> bytes:
    """The file's bytes, with OS errors turned into :class:`LoaderError`."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoaderError(str(path), f"cannot read file: {exc.strerror or exc}") from exc


def decode_text(data: bytes, path: Path) -> str:
    """Decode a text file: BOM-marked UTF-16, else UTF-8, else cp1252, else latin-1.

    Raises :class:`LoaderError` for data that looks binary (NUL bytes in the first 8 KB).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 text is full of NUL bytes, so it must be recognised before the binary check.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoaderError(
                str(path), f"has a UTF-16 byte-order mark but is not valid UTF-16: {exc}"
            ) from exc
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise LoaderError(str(path), "looks like a binary file (NUL bytes found); expected text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # latin-1 maps every byte, so this cannot fail.
        return data.decode("latin-1")


@lru_cache(maxsize=4096)
def sanitize_key(key: str) -> str:
    """A metadata key matching ``^[A-Za-z_][A-Za-z0-9_]*$``: bad characters become ``_``."""
    key = _BAD_KEY_CHARS.sub("_", key)
    if not key or key[0].isdigit():
        key = "_" + key
    return key


def flatten_metadata(
    values: Mapping[str, object], prefix: str = "", into: Metadata | None = None
) -> Metadata:
    """Scalar values of ``values`` under sanitised keys; nested mappings flattened with ``_``.

    Lists, None and other non-scalar values are dropped: the store filters on scalar columns only.
    Existing keys in ``into`` are not overwritten, so callers add higher-priority values first.
    """
    out: Metadata = {} if into is None else into
    for raw_key, value in values.items():
        key = sanitize_key(f"{prefix}_{raw_key}" if prefix else str(raw_key))
        if isinstance(value, Mapping):
            flatten_metadata(value, key, out)
        elif isinstance(value, str | int | float | bool) and key not in out:
            scalar: MetadataValue = value
            out[key] = scalar
    return out


def make_document(
    path: Path,
    source: str,
    text: str,
    *,
    locator: str = "",
    doc_id: str | None = None,
    title: str = "",
    metadata: Metadata | None = None,
    page_starts: tuple[int, ...] = (),
    cleaned: bool = False,
) -> Document:
    """Build a :class:`Document` with cleaned text, a stable id and the per-file metadata.

    ``doc_id`` (an id the source supplies) wins; otherwise the id is ``stable_id(source, locator)``.
    ``file_name``/``file_type`` override same-named keys in ``metadata``.
    """
    meta: Metadata = dict(metadata) if metadata else {}
    meta.update(file_metadata(path))
    return Document(
        id=doc_id if doc_id is not None else stable_id(source, locator),
        source=source,
        text=text if cleaned else clean_text(text),
        metadata=meta,
        # Titles are one line: the chunker and citations print them inline.
        title=" ".join(clean_text(title).split()),
        page_starts=page_starts,
    )
