"""A collection as one object: its store, the embedding model it was built with, and its settings
with the per-collection overrides applied. The engine builds each once (``Engine.collection``),
caches it, and builds it again only when its ``collection.json`` changes (created by a first
ingest, or switched to a tuned model by ``ragline tune embeddings``, perhaps in another process).

Example::

    coll = engine.collection("handbook")
    coll.store.stats().chunks, coll.retrieval.top_k, coll.answer.top_k, coll.cleaning.pii.enabled
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ragline.embedding.base import CachingEmbedder, Embedder, parse_model_id
from ragline.errors import ConfigError
from ragline.settings import AnswerSettings, CleaningSettings, EmbeddingSettings, RetrievalSettings, Settings
from ragline.store.base import Store
from ragline.types import DEFAULT_TENANT

META_FILE = "collection.json"
# A random token rewritten after every write to the collection (the engine's writer lock, any
# process): query caches key on it, so no cached result outlives a write made anywhere.
WRITE_TOKEN_FILE = "write-token"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def namespace_dir(data_dir: Path, tenant: str = DEFAULT_TENANT) -> Path:
    """Where a tenant's collections live. Tenants are physical namespaces: each has its own
    tables, so ids, keyword statistics, metadata schemas and counts never mix across tenants.
    The default tenant keeps ``<data_dir>/collections`` (data directories from before tenants)."""
    if tenant == DEFAULT_TENANT:
        return data_dir / "collections"
    if not NAME_RE.match(tenant):
        raise ConfigError(f"tenant name {tenant!r} is invalid; use letters, digits, '.', '_' or '-' (max 64)")
    return data_dir / "tenants" / tenant / "collections"


def collection_path(data_dir: Path, name: str, tenant: str = DEFAULT_TENANT) -> Path:
    """A tenant's collection's directory; the name is checked (it becomes a path)."""
    if not NAME_RE.match(name):
        raise ConfigError(
            f"collection name {name[:80]!r} is invalid; use letters, digits, '.', '_' or '-' (max 64)"
        )
    return namespace_dir(data_dir, tenant) / name


def list_collections(data_dir: Path, tenant: str = DEFAULT_TENANT) -> list[str]:
    """The collections of one tenant, by name."""
    root = namespace_dir(data_dir, tenant)
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def list_tenants(data_dir: Path) -> list[str]:
    """Every tenant with a namespace in ``data_dir``: the default tenant first, then the others by
    name (directories under ``<data_dir>/tenants`` whose names are valid tenant names)."""
    root = data_dir / "tenants"
    others = (
        sorted(p.name for p in root.iterdir() if p.is_dir() and NAME_RE.match(p.name))
        if root.is_dir()
        else []
    )
    return [DEFAULT_TENANT, *(t for t in others if t != DEFAULT_TENANT)]


def meta_stamp(path: Path) -> int:
    """What identifies one version of a collection's ``collection.json`` (0: none yet)."""
    try:
        st = (path / META_FILE).stat()
    except FileNotFoundError:
        return 0
    return st.st_mtime_ns ^ st.st_ino


def write_token(path: Path) -> str:
    """The collection's current write token ("" before the first write through the engine)."""
    try:
        return (path / WRITE_TOKEN_FILE).read_text(encoding="ascii")
    except (FileNotFoundError, NotADirectoryError):
        return ""


def bump_write_token(path: Path) -> None:
    """Record that the collection changed: a new random token (random, not a counter, so a
    collection deleted and made again never repeats an old token). Nothing when it has no
    directory (nothing was written)."""
    if not path.is_dir():
        return
    tmp = path / f".{WRITE_TOKEN_FILE}.{uuid.uuid4().hex}"
    tmp.write_text(uuid.uuid4().hex, encoding="ascii")
    os.replace(tmp, path / WRITE_TOKEN_FILE)


def read_meta(path: Path) -> dict[str, object]:
    """A collection's ``collection.json`` (empty before its first write)."""
    meta = path / META_FILE
    if not meta.is_file():
        return {}
    loaded = json.loads(meta.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else {}


@dataclass
class Collection:
    """One tenant's collection, resolved: what every search, answer and write of it uses."""

    name: str
    tenant: str
    path: Path
    store: Store
    embedder: CachingEmbedder
    retrieval: RetrievalSettings
    answer: AnswerSettings
    stamp: int
    # Redaction and near-duplicate settings with the collection's [collections.<name>.cleaning].
    cleaning: CleaningSettings
    # Opened on first use (``ragline summarize`` builds it; None until then).
    summaries: Store | None = None

    @property
    def exists(self) -> bool:
        return (self.path / META_FILE).is_file()


def model_settings(embedding: EmbeddingSettings, meta: dict[str, object]) -> EmbeddingSettings:
    """The embedding settings a collection's vectors were made with, from its ``collection.json``
    (``meta``): a tuned model's path (``ragline tune embeddings``) and, under precision "auto"
    with the onnx backend, the precision its model id records. Collections built before int8
    became the default hold fp32 vectors and keep opening with the fp32 graph::

        model_settings(EmbeddingSettings(), {"model_id": "all-MiniLM-L6-v2@dbc58fdc8d65"}).precision  # "fp32"
    """
    update: dict[str, object] = {}
    if meta.get("model_path"):
        update["model_path"] = Path(str(meta["model_path"]))
    recorded = meta.get("model_id")
    parsed = parse_model_id(recorded) if isinstance(recorded, str) else None
    if embedding.precision == "auto" and embedding.backend == "onnx" and parsed and parsed[1] == "fp32":
        # Only fp32 is set: "auto" is int8 already, and the same settings keep the same embedder.
        update["precision"] = "fp32"
    return embedding.model_copy(update=update) if update else embedding


def build_collection(
    settings: Settings,
    name: str,
    tenant: str,
    path: Path,
    embedder_for: Callable[[EmbeddingSettings], CachingEmbedder],
    make_store: Callable[[Path, Embedder], Store],
    previous: Collection | None = None,
) -> Collection:
    """The one way a :class:`Collection` is made (``embedder_for`` maps the collection's
    :func:`model_settings` to its embedder; ``make_store`` opens the store with the configured
    settings). The
    ``previous`` resolution's store is kept while the model is the same: a first ingest writing
    ``collection.json`` must not cost a second store (and its caches)."""
    stamp = meta_stamp(path)
    embedder = embedder_for(model_settings(settings.embedding, read_meta(path)))
    overrides = settings.collections.get(name)
    retrieval, answer = (
        overrides.resolve(settings.retrieval, settings.answer)
        if overrides is not None
        else (settings.retrieval, settings.answer)
    )
    return Collection(
        name=name,
        tenant=tenant,
        path=path,
        store=previous.store
        if previous is not None and previous.embedder is embedder
        else make_store(path, embedder),
        embedder=embedder,
        retrieval=retrieval,
        answer=answer,
        stamp=stamp,
        cleaning=overrides.resolve_cleaning(settings.cleaning)
        if overrides is not None
        else settings.cleaning,
    )
