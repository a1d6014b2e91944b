"""A collection exported to a portable directory and imported back, embedding nothing
(``ragline export`` / ``ragline import``). The format is specified in docs/export-format.md:
``manifest.json`` (format, version, model and dimension, settings fingerprint, counts, metadata
field kinds, checksums), ``chunks.jsonl`` (one chunk a line: ids, text, metadata, access, spans,
source hash, and its vector, sentence vectors and token states as base64 little-endian arrays),
``sections.jsonl`` (parent sections), and ``summaries/`` (the same layout, when the collection
has a summaries index).

Everything goes through the store boundary (:class:`~ragline.store.base.PortableStore`), so any
backend with that capability exports and imports, and an export from one backend imports into
another of the same embedding model.

Example::

    report = export_collection(engine.collection("docs"), Path("/backups/docs"), settings)
    report = import_collection(Path("/backups/docs"), engine.collection("copy"), open_store, settings)
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from ragline.collection import Collection
from ragline.embedding.base import Embedder, Vectors
from ragline.embedding.tokens import PackedTokens, unpack_tokens
from ragline.errors import ConfigError, EmbeddingError
from ragline.settings import Settings
from ragline.store.base import SourceBatch, Store, portable_store
from ragline.store.filters import ColumnKind
from ragline.types import Access, Chunk, Section

FORMAT = "ragline-collection"
# Bumped when a reader of the previous version would misread a file; readers refuse newer ones.
VERSION = 1
MANIFEST = "manifest.json"
CHUNKS_FILE = "chunks.jsonl"
SECTIONS_FILE = "sections.jsonl"
SUMMARIES = "summaries"
_F32 = np.dtype("<f4")
_KINDS = ("string", "number", "bool")


@dataclass(frozen=True, slots=True)
class Counts:
    """What an export holds (or an import wrote): chunks, documents, sources, parent sections,
    chunks carrying sentence vectors and chunks carrying token states."""

    chunks: int = 0
    documents: int = 0
    sources: int = 0
    sections: int = 0
    sentence_vectors: int = 0
    token_states: int = 0


@dataclass(frozen=True, slots=True)
class TransferReport:
    """One export or import: where, which collection, its counts (and its summaries')."""

    path: str
    collection: str
    tenant: str
    counts: Counts
    summaries: Counts | None = None
    # Import only: whether the export was made with this data directory's chunking and loader
    # settings (if not, the next ingest of the same files re-indexes them).
    settings_match: bool = True
    notes: list[str] = field(default_factory=list)


def settings_fingerprint(settings: Settings) -> str:
    """The chunking and loader settings an index was built with, hashed (what decides whether
    the next ingest of the same files finds them unchanged)."""
    cfg = settings.chunking.model_dump_json() + settings.loaders.model_dump_json()
    return hashlib.sha256(cfg.encode()).hexdigest()[:16]


# -- export ------------------------------------------------------------------------------------------


def export_collection(
    coll: Collection, path: Path, settings: Settings, summaries: Store | None = None
) -> TransferReport:
    """Write ``coll`` (and its ``summaries`` index, when given) to the directory ``path``, which
    must not exist or be empty. Written beside it and renamed, so ``path`` is whole or absent. The
    caller holds the collection's write lock (an export is one consistent state)."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConfigError(f"export path {path} already exists and is not empty; choose a new directory")
    tmp = path.with_name(f".{path.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        counts = _write_store(coll.store, tmp, coll, settings)
        written = None if summaries is None else _write_store(summaries, tmp / SUMMARIES, coll, settings)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        path.rmdir()
    tmp.rename(path)
    return TransferReport(str(path), coll.name, coll.tenant, counts, written)


def _write_store(store: Store, out: Path, coll: Collection, settings: Settings) -> Counts:
    out.mkdir(parents=True)
    digests = {CHUNKS_FILE: hashlib.sha256(), SECTIONS_FILE: hashlib.sha256()}
    docs: set[str] = set()
    sources: set[str] = set()
    n = units = tokens = sections = 0
    with (out / CHUNKS_FILE).open("wb") as cf, (out / SECTIONS_FILE).open("wb") as sf:
        for b in portable_store(store).export_batches():
            sources.add(b.source)
            for i, c in enumerate(b.chunks):
                rec = _chunk_record(b, i)
                _write_line(cf, rec, digests[CHUNKS_FILE])
                docs.add(c.doc_id)
                n += 1
                units += bool(rec["sentence_vectors"])
                tokens += rec["token_states"] is not None
            for s in b.sections:
                _write_line(sf, _section_record(s, b.source), digests[SECTIONS_FILE])
                sections += 1
    counts = Counts(n, len(docs), len(sources), sections, units, tokens)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "collection": coll.name,
        "tenant": coll.tenant,
        "model": {"id": coll.embedder.model_id, "dimension": coll.embedder.dimension},
        "settings_fingerprint": settings_fingerprint(settings),
        "metadata_fields": store.metadata_fields(),
        "counts": asdict(counts),
        "files": {name: {"sha256": d.hexdigest()} for name, d in digests.items()},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return counts


def _write_line(f: IO[bytes], rec: Mapping[str, Any], digest: Any) -> None:
    line = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
    f.write(line)
    digest.update(line)


def _b64(a: Vectors) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=_F32).tobytes()).decode("ascii")


def _chunk_record(b: SourceBatch, i: int) -> dict[str, Any]:
    c = b.chunks[i]
    units = b.sentence_vectors[i] if b.sentence_vectors is not None else None
    packed = b.token_states[i] if b.token_states is not None else None
    if packed is not None and not isinstance(packed, PackedTokens):
        packed = PackedTokens.of(packed)
    return {
        "id": c.id,
        "doc_id": c.doc_id,
        "source": b.source,
        "source_hash": b.source_hash,
        "position": c.position,
        "start": c.start,
        "end": c.end,
        "parent_id": c.parent_id,
        "title": c.title,
        "section_path": list(c.section_path),
        "text": c.text,
        "metadata": c.metadata,
        "access": {
            "tenant": c.access.tenant,
            "groups": list(c.access.groups),
            "clearance": c.access.clearance,
        },
        "vector": _b64(b.vectors[i]),
        "sentence_vectors": _b64(units) if units is not None and len(units) else "",
        "token_states": None if packed is None else base64.b64encode(packed.blob).decode("ascii"),
    }


def _section_record(s: Section, source: str) -> dict[str, Any]:
    return {
        "id": s.id,
        "doc_id": s.doc_id,
        "source": source,
        "start": s.start,
        "end": s.end,
        "section_path": list(s.section_path),
        "text": s.text,
    }


# -- import ------------------------------------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the export at ``path``, checked for format and version."""
    file = Path(path) / MANIFEST
    if not file.is_file():
        raise ConfigError(
            f"{path} is not a ragline export: it has no {MANIFEST} (make one with ragline export)"
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{file} is not valid JSON ({exc}); the export is damaged") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConfigError(f"{file} is not a ragline collection export (format must be {FORMAT!r})")
    version = manifest.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise ConfigError(
            f"{path} is export format version {version!r}; this ragline reads versions 1 to {VERSION}: "
            "upgrade ragline to import it"
        )
    for key in ("collection", "tenant"):
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise ConfigError(f"{file} has no {key!r} name; the export is damaged")
    return manifest


def import_collection(
    path: Path,
    coll: Collection,
    open_store: Callable[[Path, Embedder], Store],
    settings: Settings,
) -> TransferReport:
    """Write the export at ``path`` into ``coll``, which must be empty, every chunk given to
    ``coll``'s tenant; nothing is embedded. Refuses an export of another embedding model or
    dimension, and one whose files do not match their checksums. Built beside the collection and
    renamed into place, so readers see no collection or the whole import, and a failed import
    leaves nothing behind. The caller holds the collection's write lock and drops its cached
    handle on ``coll`` afterwards (the directory was replaced)."""
    path = Path(path)
    manifest = read_manifest(path)
    _check_model(path, manifest, coll.embedder)
    summaries_dir = path / SUMMARIES
    has_summaries = (summaries_dir / MANIFEST).is_file()
    _verify(path, manifest)
    if has_summaries:
        _verify(summaries_dir, read_manifest(summaries_dir))
    if coll.exists:
        held = coll.store.stats().chunks
        if held:
            raise ConfigError(
                f"collection {coll.name!r} already holds {held} chunks; import into a new collection "
                "(ragline import PATH --collection NEW) or delete this one first"
            )
    tmp = coll.path.with_name(f".{coll.path.name}.importing")
    if tmp.exists():
        shutil.rmtree(tmp)
    commit = settings.store.commit_chunks
    try:
        counts = _read_store(path, manifest, open_store(tmp, coll.embedder), coll.tenant, commit)
        summaries = None
        if has_summaries:
            target = open_store(tmp / SUMMARIES, coll.embedder)
            summaries = _read_store(summaries_dir, read_manifest(summaries_dir), target, coll.tenant, commit)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # What is there is an empty collection at most (checked above).
    if coll.path.exists():
        shutil.rmtree(coll.path)
    tmp.rename(coll.path)
    match = manifest.get("settings_fingerprint") == settings_fingerprint(settings)
    notes = (
        []
        if match
        else [
            "exported with other chunking or loader settings: the next ingest of the same files "
            "re-indexes them"
        ]
    )
    return TransferReport(str(path), coll.name, coll.tenant, counts, summaries, match, notes)


def _check_model(path: Path, manifest: Mapping[str, Any], embedder: Embedder) -> None:
    model = manifest.get("model") or {}
    dim, model_id = model.get("dimension"), model.get("id")
    if dim != embedder.dimension:
        raise ConfigError(
            f"{path} holds {dim}-dimensional vectors of embedding model {model_id!r}, but this data "
            f"directory embeds with {embedder.model_id!r} ({embedder.dimension} dimensions); configure "
            f"embedding.model_path (or embedding.model) for {model_id!r} to import it, or re-ingest the "
            "documents instead"
        )
    if model_id != embedder.model_id:
        raise ConfigError(
            f"{path} was embedded by model {model_id!r}, but this data directory embeds with "
            f"{embedder.model_id!r} (same dimension, different vectors: searches would be meaningless); "
            f"configure the embedding model {model_id!r} to import it"
        )


def _verify(path: Path, manifest: Mapping[str, Any]) -> None:
    """Every listed file present and matching its checksum, before anything is written."""
    files = manifest.get("files") or {}
    for name in (CHUNKS_FILE, SECTIONS_FILE):
        file = path / name
        want = (files.get(name) or {}).get("sha256")
        if not file.is_file() or want is None:
            raise ConfigError(
                f"{file} is missing from the export (or from its manifest); the export is incomplete"
            )
        digest = hashlib.sha256()
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != want:
            raise ConfigError(
                f"{file} does not match the checksum in {path / MANIFEST}: the export was changed or "
                "damaged after it was written; export the collection again"
            )


def _records(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with file.open("r", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{file} line {n} is not valid JSON ({exc})") from exc


def _fields(manifest: Mapping[str, Any], path: Path) -> dict[str, ColumnKind]:
    fields = manifest.get("metadata_fields") or {}
    bad = {k: v for k, v in fields.items() if v not in _KINDS}
    if bad:
        raise ConfigError(f"{path / MANIFEST}: metadata field kinds {bad} are not one of {', '.join(_KINDS)}")
    return dict(fields)


def _read_store(
    path: Path, manifest: Mapping[str, Any], store: Store, tenant: str, commit_chunks: int
) -> Counts:
    """Upsert the export's chunks into ``store``: each source whole in one upsert (an upsert
    replaces its sources), sources gathered up to ``commit_chunks`` chunks per upsert."""
    dimension = int(manifest["model"]["dimension"])
    portable = portable_store(store)
    portable.declare_fields(_fields(manifest, path))
    sections: dict[str, list[Section]] = {}
    n_sections = 0
    for n, rec in _records(path / SECTIONS_FILE):
        try:
            s = Section(
                rec["id"],
                rec["doc_id"],
                rec["text"],
                int(rec["start"]),
                int(rec["end"]),
                tuple(rec["section_path"]),
            )
            sections.setdefault(rec["source"], []).append(s)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path / SECTIONS_FILE} line {n}: bad section record ({exc!r})") from exc
        n_sections += 1
    pending: list[SourceBatch] = []
    pending_chunks = 0
    done: set[str] = set()
    group: list[tuple[int, dict[str, Any]]] = []
    docs: set[str] = set()
    n = units = tokens = 0

    def flush_group() -> None:
        nonlocal pending_chunks
        if not group:
            return
        source = group[0][1]["source"]
        pending.extend(_batches(path, group, sections.pop(source, []), tenant, dimension))
        pending_chunks += len(group)
        done.add(source)
        group.clear()

    for line, rec in _records(path / CHUNKS_FILE):
        source = rec.get("source")
        if group and source != group[0][1]["source"]:
            flush_group()
            if pending_chunks >= commit_chunks:
                store.upsert(pending)
                pending, pending_chunks = [], 0
        if source in done:
            raise ConfigError(
                f"{path / CHUNKS_FILE} line {line}: the chunks of source {source!r} are not on "
                "consecutive lines (an import writes each source whole); keep them together"
            )
        group.append((line, rec))
        n += 1
        docs.add(str(rec.get("doc_id")))
        units += bool(rec.get("sentence_vectors"))
        tokens += rec.get("token_states") is not None
    flush_group()
    if pending:
        store.upsert(pending)
    store.finalize()
    return Counts(n, len(docs), len(done), n_sections, units, tokens)


def _batches(
    path: Path, group: list[tuple[int, dict[str, Any]]], sections: list[Section], tenant: str, dimension: int
) -> list[SourceBatch]:
    """One source's records as the batches that write them: one per (hash, token states or not),
    in the export's order, the source's sections with the first."""
    parts: dict[tuple[str, bool], list[tuple[Chunk, Vectors, Vectors, PackedTokens | None]]] = {}
    for line, rec in group:
        try:
            chunk, vector, units, packed = _decode(rec, tenant, dimension)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ConfigError(f"{path / CHUNKS_FILE} line {line}: bad chunk record ({exc})") from exc
        parts.setdefault((str(rec["source_hash"]), packed is not None), []).append(
            (chunk, vector, units, packed)
        )
    out: list[SourceBatch] = []
    source = group[0][1]["source"]
    for (source_hash, has_tokens), rows in parts.items():
        out.append(
            SourceBatch(
                source,
                source_hash,
                [r[0] for r in rows],
                np.stack([r[1] for r in rows]),
                sections if not out else [],
                sentence_vectors=[r[2] for r in rows],
                token_states=[r[3] for r in rows if r[3] is not None] if has_tokens else None,
            )
        )
    return out


def _floats(text: str, dimension: int, what: str) -> Vectors:
    raw = base64.b64decode(text, validate=True)
    if len(raw) % (_F32.itemsize * dimension):
        raise ValueError(f"{what} holds {len(raw)} bytes, not whole {dimension}-d float32 rows")
    return np.frombuffer(raw, dtype=_F32).astype(np.float32).reshape(-1, dimension)


def _decode(
    rec: Mapping[str, Any], tenant: str, dimension: int
) -> tuple[Chunk, Vectors, Vectors, PackedTokens | None]:
    access = rec["access"]
    chunk = Chunk(
        id=str(rec["id"]),
        doc_id=str(rec["doc_id"]),
        text=str(rec["text"]),
        position=int(rec["position"]),
        start=int(rec["start"]),
        end=int(rec["end"]),
        section_path=tuple(rec["section_path"]),
        parent_id=rec["parent_id"],
        metadata=dict(rec["metadata"]),
        source=str(rec["source"]),
        title=str(rec["title"]),
        access=Access(tenant, tuple(access["groups"]), int(access["clearance"])),
    )
    vector = _floats(rec["vector"], dimension, "vector")
    if vector.shape[0] != 1:
        raise ValueError(f"vector holds {vector.shape[0]} rows of {dimension}; expected one")
    units = _floats(rec["sentence_vectors"], dimension, "sentence_vectors")
    blob = rec["token_states"]
    packed = None
    if blob is not None:
        raw = base64.b64decode(blob, validate=True)
        # Either stored form (int8 rows or product-quantised codes, see embedding/tokens.py) is
        # accepted; decoding once checks the blob holds whole tokens of this dimension.
        try:
            unpack_tokens(raw, dimension)
        except EmbeddingError as exc:
            raise ValueError(f"token_states: {exc}") from exc
        packed = PackedTokens(raw, dimension)
    return chunk, vector[0], units, packed
