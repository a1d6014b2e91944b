"""A collection's ``collection.json``: which embedding model and dimension it was built with, which
backend wrote it, and the version of that backend's on-disk format.

``format_version`` counts a backend's format changes; a backend migrates an older collection when
it opens it (:data:`ragline.store.lance.MIGRATIONS`) and refuses a newer one. A file without the
key is version 0 (written before versions were recorded); one without ``backend`` was written by
LanceDB, the only backend there was. Other keys (``model_path``, written by ``ragline tune``) are
kept as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragline.embedding.base import parse_model_id
from ragline.errors import StoreError

META_FILE = "collection.json"
DEFAULT_BACKEND = "lance"


@dataclass(frozen=True, slots=True)
class Migration:
    """One named step of a backend's format: brings a collection from ``version - 1`` to
    ``version``. ``apply`` changes the backend's storage (given as the backend opened it) and
    returns whether it had anything to do; it must be safe to run on a collection already there."""

    version: int
    name: str
    apply: Callable[[Any], bool]


def read_meta(root: Path) -> dict[str, Any] | None:
    """The collection's metadata, or None when it has none yet."""
    path = root / META_FILE
    if not path.is_file():
        return None
    meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return meta


def write_meta(root: Path, meta: dict[str, Any]) -> None:
    """Replace the collection's metadata atomically (a reader sees the old file or the new one)."""
    path = root / META_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta), encoding="utf-8")
    tmp.replace(path)


def open_meta(
    root: Path, *, model_id: str, dimension: int, backend: str, format_version: int
) -> dict[str, Any]:
    """The metadata of the collection at ``root``, created for a new collection (at
    ``format_version``); a StoreError when it was built with another model, by another backend or
    by a newer ragline."""
    root.mkdir(parents=True, exist_ok=True)
    meta = read_meta(root)
    if meta is None:
        meta = {"model_id": model_id, "dimension": dimension, "format_version": format_version}
        if backend != DEFAULT_BACKEND:
            meta["backend"] = backend
        write_meta(root, meta)
        return meta
    written_by = meta.get("backend", DEFAULT_BACKEND)
    if written_by != backend:
        raise StoreError(
            f"collection {root} was written by the {written_by!r} store backend but store.backend is "
            f"{backend!r}; set store.backend = {written_by!r} or use another collection"
        )
    if meta.get("model_id") != model_id or meta.get("dimension") != dimension:
        built = str(meta.get("model_id"))
        hint = _precision_hint(built, model_id)
        raise StoreError(
            f"collection {root} was built with embedding model {built} "
            f"({meta.get('dimension')}-d) but the current model is {model_id} "
            f"({dimension}-d); {hint or f'use another collection or delete {root} and re-ingest'}"
        )
    found = meta.get("format_version", 0)
    if not isinstance(found, int) or found > format_version:
        raise StoreError(
            f"collection {root} has format version {found!r}, newer than the {format_version} this "
            "ragline reads; upgrade ragline to open it"
        )
    return meta


def _precision_hint(built: str, current: str) -> str | None:
    """How to open a collection built with the same weights at another ``embedding.precision``
    (model ids ``name@fp`` and ``name-int8@fp``), None when the models differ otherwise."""
    b, c = parse_model_id(built), parse_model_id(current)
    if b is None or c is None or (b[0], b[2]) != (c[0], c[2]) or b[1] == c[1]:
        return None
    return f"set embedding.precision = {b[1]!r} to open it, or re-ingest it into a new collection"
