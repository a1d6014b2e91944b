"""Helpers shared by the loaders: reading, decoding, metadata sanitising, document building."""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.types import Document, Metadata, MetadataValue, stable_id

_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_]")
_BINARY_SNIFF_BYTES = 8192
# Longest BOM first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Characters per window that the text checks read (three windows: a large file costs the same).
_SNIFF_CHARS = 16_384
# C0 and C1 control characters other than tab, line breaks, form feed and ESC (terminal colour
# codes in logs). Text has almost none; binary data read as text is full of them.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_MAX_CONTROL_SHARE = 0.05
# charset-normalizer mess ratios: real text in its right encoding scores ~0-0.1 (its own
# detection threshold is 0.2); random bytes read as cp1252 or latin-1 score 2-4.
_CLEAN_MESS = 0.2
_NOT_TEXT_MESS = 1.0


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


def _sample(text: str) -> str:
    """Up to three windows (start, middle, end) of ``text``: what the text checks look at."""
    if len(text) <= 3 * _SNIFF_CHARS:
        return text
    mid = len(text) // 2
    return "\n".join((text[:_SNIFF_CHARS], text[mid : mid + _SNIFF_CHARS], text[-_SNIFF_CHARS:]))


def _not_text(path: Path, why: str) -> LoaderError:
    return LoaderError(
        str(path),
        f"does not look like text ({why}); expected a text file: convert it to UTF-8, or leave it "
        "out with --exclude",
    )


def _checked(text: str, path: Path) -> str:
    """``text``, unless control characters make up too much of it (binary data read as text)."""
    sample = _sample(text)
    controls = len(_CONTROL_CHARS.findall(sample))
    if sample and controls / len(sample) > _MAX_CONTROL_SHARE:
        raise _not_text(path, f"{controls / len(sample):.0%} of its characters are control characters")
    return text


def _decode_legacy(data: bytes, path: Path) -> str:
    """Decode non-UTF-8 bytes: cp1252 when it reads cleanly, else the encoding that reads best.

    Candidates are cp1252 (the common legacy Western encoding), charset-normalizer's guess
    (Shift-JIS, GBK, cp1251, ...) and latin-1; each is scored by charset-normalizer's "mess"
    measure (odd symbol runs, mixed scripts, accents in unlikely places). cp1252 is preferred while
    it reads cleanly, because short Western texts also decode cleanly, but wrongly, in cp1250 or
    cp1257, which the detector sometimes ranks first.
    """
    guess = from_bytes(data[: 4 * _SNIFF_CHARS]).best()
    candidates = ["cp1252"]
    if guess is not None and not guess.encoding.startswith(("utf", "ascii")):
        # utf_16/utf_32 without a BOM: the detector's guess for short Western texts, never right
        # for data with no NUL bytes.
        candidates.append(guess.encoding)
    candidates.append("latin-1")
    best: tuple[float, str] | None = None
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        mess = mess_ratio(_sample(text), maximum_threshold=_NOT_TEXT_MESS)
        if encoding == "cp1252" and mess <= _CLEAN_MESS:
            return text
        if best is None or mess < best[0]:
            best = (mess, text)
    if best is None or best[0] >= _NOT_TEXT_MESS:
        # latin-1 decodes anything, so best is None only in theory.
        raise _not_text(path, "no text encoding reads it as words: binary data?")
    return best[1]


def decode_text(data: bytes, path: Path) -> str:
    """Decode a text file: by its byte-order mark, else as UTF-8, else by detection (see
    :func:`_decode_legacy`).

    Raises :class:`LoaderError` for data that is not text: NUL bytes in the first 8 KB, no encoding
    that reads it as text, or a high share of control characters.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            # UTF-16/32 text is full of NUL bytes, so it must be recognised before the binary check.
            try:
                return _checked(data.decode(encoding), path)
            except UnicodeDecodeError as exc:
                raise LoaderError(
                    str(path), f"has a {encoding} byte-order mark but is not valid {encoding}: {exc}"
                ) from exc
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise LoaderError(str(path), "looks like a binary file (NUL bytes found); expected text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy(data, path)
    return _checked(text, path)


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


PAGE_SEPARATOR = "\n\n"


def join_pages(pages: Sequence[str]) -> tuple[str, tuple[int, ...]]:
    """Clean page texts (PDF pages, slides) joined by a blank line, and each page's start offset.

    The joined text is clean when each page is, so it needs no re-cleaning that would move the
    offsets. An empty page starts where the next text will, so ``page_at`` never points into it.
    """
    parts: list[str] = []
    starts: list[int] = []
    length = 0
    for text in pages:
        separator = len(PAGE_SEPARATOR) if parts else 0
        starts.append(length + separator)
        if text:
            parts.append(text)
            length += separator + len(text)
    return PAGE_SEPARATOR.join(parts), tuple(starts)


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
