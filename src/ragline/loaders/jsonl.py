"""JSON and JSON Lines files (.json, .jsonl, .ndjson): one document per object."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.loaders._common import file_metadata, flatten_metadata, read_bytes, sanitize_key, source_of
from ragline.settings import LoaderSettings
from ragline.types import Document, Metadata, stable_id

_NESTED_METADATA = "metadata"


def _as_text(value: Any) -> str:
    """A text field's value as a string: lists are joined by lines, objects serialised."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_as_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _type_name(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


class JsonLoader:
    """Loads JSON objects as documents, reading text, title, id and metadata fields per settings.

    ``.json`` holds one object or an array of objects (a file of one object per line is read as
    JSON Lines); ``.jsonl``/``.ndjson`` hold one object per line, blank lines skipped. Ids come from
    ``json_id_field`` when present, else ``stable_id(source, "line:N")`` / ``"item:N"`` (1-based).
    """

    extensions: tuple[str, ...] = (".json", ".jsonl", ".ndjson")

    def __init__(self, settings: LoaderSettings) -> None:
        self._text_fields = settings.json_text_fields
        self._title_field = settings.json_title_field
        self._id_field = settings.json_id_field
        self._metadata_fields = settings.json_metadata_fields

    def load(self, path: Path) -> list[Document]:
        """Every object with non-empty text as a document; [] for an empty file."""
        source = source_of(path)
        base = file_metadata(path)
        docs: list[Document] = []
        entries = self._json_entries(path) if path.suffix.lower() == ".json" else self._jsonl_entries(path)
        for where, locator, obj in entries:
            doc = self._document(path, source, base, where, locator, obj)
            if doc is not None:
                docs.append(doc)
        return docs

    def _json_entries(self, path: Path) -> Iterator[tuple[str, str, Any]]:
        text = self._decode(path)
        if not text.strip():
            return
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if exc.msg == "Extra data":
                # Several top-level values: JSON Lines saved with a .json extension.
                yield from self._lines(path, text.split("\n"))
                return
            raise LoaderError(
                str(path), f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from exc
        if isinstance(data, dict):
            yield "the top-level object", "", data
        elif isinstance(data, list):
            for number, item in enumerate(data, start=1):
                yield f"item {number}", f"item:{number}", item
        else:
            raise LoaderError(
                str(path), f"expected a JSON object or an array of objects, got {_type_name(data)}"
            )

    def _jsonl_entries(self, path: Path) -> Iterator[tuple[str, str, Any]]:
        # Split on "\n" only: str.splitlines() would also split on U+2028 inside JSON strings.
        yield from self._lines(path, self._decode(path).split("\n"))

    def _lines(self, path: Path, lines: list[str]) -> Iterator[tuple[str, str, Any]]:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LoaderError(
                    str(path), f"line {number}: invalid JSON at column {exc.colno}: {exc.msg}"
                ) from exc
            yield f"line {number}", f"line:{number}", obj

    def _decode(self, path: Path) -> str:
        data = read_bytes(path)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise LoaderError(
                str(path), f"line {line}: not valid UTF-8 (byte offset {exc.start}); JSON files must be UTF-8"
            ) from exc

    def _document(
        self, path: Path, source: str, base: Metadata, where: str, locator: str, obj: Any
    ) -> Document | None:
        if not isinstance(obj, dict):
            raise LoaderError(str(path), f"{where}: expected a JSON object, got {_type_name(obj)}")
        text_field = next((name for name in self._text_fields if name in obj), None)
        if text_field is None:
            present = ", ".join(sorted(obj)[:20]) or "none"
            raise LoaderError(
                str(path),
                f"{where}: no text field; looked for {', '.join(self._text_fields)} "
                f"(set loaders.json_text_fields); fields present: {present}",
            )
        text = clean_text(_as_text(obj[text_field]))
        if not text:
            return None
        raw_id = obj.get(self._id_field) if self._id_field else None
        doc_id = str(raw_id) if raw_id is not None and not isinstance(raw_id, dict | list) else None
        raw_title = obj.get(self._title_field) if self._title_field else None
        title = raw_title if isinstance(raw_title, str) else "" if raw_title is None else _as_text(raw_title)
        metadata = self._metadata(obj, text_field)
        metadata.update(base)
        return Document(
            id=doc_id if doc_id is not None else stable_id(source, locator),
            source=source,
            text=text,
            metadata=metadata,
            title=" ".join(clean_text(title).split()) if title else "",
        )

    def _metadata(self, obj: dict[str, Any], text_field: str) -> Metadata:
        nested = obj.get(_NESTED_METADATA)
        nested = nested if isinstance(nested, dict) else None
        meta: Metadata = {}
        if self._metadata_fields is not None:
            for name in self._metadata_fields:
                if name in obj:
                    value = obj[name]
                elif nested is not None and name in nested:
                    value = nested[name]
                else:
                    continue
                if isinstance(value, dict):
                    flatten_metadata(value, name, meta)
                elif isinstance(value, str | int | float | bool):
                    meta[sanitize_key(name)] = value
            return meta
        skip = {text_field, self._title_field, self._id_field}
        for key, value in obj.items():
            if key in skip or (key == _NESTED_METADATA and nested is not None):
                continue
            if isinstance(value, str | int | float | bool):
                meta[sanitize_key(key)] = value
            elif isinstance(value, dict):
                flatten_metadata(value, key, meta)
        if nested:
            # Top-level fields win over same-named nested ones (flatten_metadata never overwrites).
            flatten_metadata(nested, "", meta)
        return meta
