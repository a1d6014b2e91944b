"""What every backend does with a chunk row, whatever it stores it in: checking a batch's arrays,
typing and limiting metadata fields, the row's scalar columns and reading a chunk back, and
checking a filter's fields against the collection's.

Shared so that the backends refuse the same bad input with the same message and return the same
:class:`~ragline.types.Chunk` for the same row (metadata round-trips through JSON, a section path
through ``" > "``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragline.embedding.base import Vectors
from ragline.embedding.tokens import PackedTokens, pack_tokens
from ragline.errors import FilterError, StoreError
from ragline.store.base import DocumentInfo, SourceBatch
from ragline.store.filters import ACL_CLEARANCE, ACL_GROUPS, ACL_TENANT, ColumnKind, Filter, fields_of
from ragline.types import Access, Chunk, Metadata, MetadataValue, Section

# Distinct metadata fields one collection may hold: each is a column of every chunk row (3,000 of
# them cost 4.3 GB of memory at ingest, 1.1 GB on disk and made searches 2x slower; issue 21).
MAX_METADATA_FIELDS = 512
# Columns users may filter on besides their own metadata.
BUILTIN_FILTER_FIELDS: dict[str, ColumnKind] = {"doc_id": "string", "source": "string", "section": "string"}


def kind_of(value: MetadataValue) -> ColumnKind:
    """The column kind a metadata value starts a new field as."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


def coerce(kind: ColumnKind, value: MetadataValue, field: str, source: str) -> MetadataValue:
    """``value`` as stored in a ``kind`` column (what filters compare), or a StoreError naming it."""
    if kind == "string":
        return value if isinstance(value, str) else json.dumps(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise StoreError(
        f"{source}: metadata field {field!r} is {kind} in this collection but this document has "
        f"{value!r}; make the field's type consistent across documents"
    )


def new_fields(known: Mapping[str, ColumnKind], batches: Sequence[SourceBatch]) -> dict[str, ColumnKind]:
    """The metadata fields ``batches`` bring that ``known`` lacks, with their kinds; a StoreError
    when the collection would pass :data:`MAX_METADATA_FIELDS`."""
    new: dict[str, ColumnKind] = {}
    for b in batches:
        for c in b.chunks:
            for k, v in c.metadata.items():
                if k not in known and k not in new:
                    new[k] = kind_of(v)
    if len(known) + len(new) > MAX_METADATA_FIELDS:
        raise StoreError(
            f"these documents bring {len(new)} new metadata fields to a collection holding "
            f"{len(known)}, above the limit of {MAX_METADATA_FIELDS} fields per collection (each is a "
            "column of every chunk): use fewer distinct field names (loaders.json_metadata_fields "
            "picks them for JSON), or put these documents in a collection of their own"
        )
    return new


def declared_fields(
    known: Mapping[str, ColumnKind], fields: Mapping[str, ColumnKind]
) -> dict[str, ColumnKind]:
    """The ``fields`` ``known`` lacks (:meth:`~ragline.store.base.PortableStore.declare_fields`);
    a StoreError when the collection would pass :data:`MAX_METADATA_FIELDS`."""
    new = {k: kind for k, kind in fields.items() if k not in known}
    if len(known) + len(new) > MAX_METADATA_FIELDS:
        raise StoreError(
            f"declaring {len(new)} metadata fields in a collection holding {len(known)} passes the "
            f"limit of {MAX_METADATA_FIELDS} fields per collection"
        )
    return new


def export_batches_of(
    rows: Sequence[Mapping[str, Any]],
    vectors: Vectors,
    units: Sequence[Vectors],
    tokens: Sequence[bytes | None],
    sections: Mapping[str, list[Section]],
    dimension: int,
) -> list[SourceBatch]:
    """Chunk rows (as :func:`row_of` writes them, with ``source_hash``) and what is stored beside
    each, as the batches that write them back: one per source, split where only some of its
    chunks carry token states (a batch carries them for all its chunks or for none), each
    source's ``sections`` with its first batch. Row order is kept within a batch."""
    groups: dict[tuple[str, str, bool], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r["source"], r["source_hash"], tokens[i] is not None), []).append(i)
    out: list[SourceBatch] = []
    given: set[str] = set()
    for (source, source_hash, has_tokens), at in groups.items():
        blobs = [tokens[i] for i in at]
        out.append(
            SourceBatch(
                source,
                source_hash,
                [chunk_of(rows[i]) for i in at],
                np.asarray(vectors[np.asarray(at, dtype=np.intp)], dtype=np.float32),
                [] if source in given else list(sections.get(source, [])),
                sentence_vectors=[units[i] for i in at],
                token_states=[PackedTokens(b, dimension) for b in blobs if b is not None]
                if has_tokens
                else None,
            )
        )
        given.add(source)
    return out


def check_vectors(b: SourceBatch, dimension: int) -> None:
    if b.vectors.shape != (len(b.chunks), dimension):
        raise StoreError(
            f"{b.source}: {len(b.chunks)} chunks but vectors of shape {b.vectors.shape}; "
            f"expected ({len(b.chunks)}, {dimension})"
        )


def checked_batch(b: SourceBatch, dimension: int) -> tuple[list[Vectors], list[bytes | None]]:
    """``b`` checked against ``dimension``: its chunks' sentence vectors and packed token states
    (what every backend stores per chunk besides the chunk vector)."""
    check_vectors(b, dimension)
    return checked_units(b, dimension), packed_tokens(b, dimension)


def checked_units(b: SourceBatch, dimension: int) -> list[Vectors]:
    """One ``(k, dim)`` float32 array per chunk of ``b`` (empty when it has none)."""
    if b.sentence_vectors is None:
        return [np.zeros((0, dimension), np.float32)] * len(b.chunks)
    _check_count(b, b.sentence_vectors, "unit vector arrays", "k", dimension)
    pairs = zip(b.chunks, b.sentence_vectors, strict=True)
    return [_matrix(b, c, u, "unit vectors", "k", dimension) for c, u in pairs]


def packed_tokens(b: SourceBatch, dimension: int) -> list[bytes | None]:
    """Each chunk's token states of ``b``, packed; None for all when ``b`` carries none."""
    if b.token_states is None:
        return [None] * len(b.chunks)
    _check_count(b, b.token_states, "token-state arrays", "tokens", dimension)
    out: list[bytes | None] = []
    for c, t in zip(b.chunks, b.token_states, strict=True):
        if not isinstance(t, PackedTokens):
            out.append(pack_tokens(_matrix(b, c, t, "token states", "tokens", dimension)))
        elif t.dimension == dimension:
            out.append(t.blob)
        else:
            raise StoreError(
                f"{b.source}: token states of chunk {c.id!r} are {t.dimension}-d; "
                f"expected (tokens, {dimension})"
            )
    return out


def _check_count(b: SourceBatch, arrays: Sequence[object], what: str, rows: str, dimension: int) -> None:
    if len(arrays) != len(b.chunks):
        raise StoreError(
            f"{b.source}: {len(b.chunks)} chunks but {len(arrays)} {what}; "
            f"expected one ({rows}, {dimension}) array per chunk"
        )


def _matrix(b: SourceBatch, c: Chunk, value: Vectors, what: str, rows: str, dimension: int) -> Vectors:
    """``value`` as a float32 ``(rows, dim)`` array, or a StoreError naming the chunk."""
    arr = np.asarray(value, dtype=np.float32)
    if arr.size == 0:
        arr = arr.reshape(0, dimension)
    if arr.ndim != 2 or arr.shape[1] != dimension:
        raise StoreError(
            f"{b.source}: {what} of chunk {c.id!r} have shape {arr.shape}; expected ({rows}, {dimension})"
        )
    return arr


def row_of(c: Chunk, source: str, source_hash: str) -> dict[str, Any]:
    """The scalar columns of ``c``'s row (no vectors, no typed metadata columns)."""
    return {
        "id": c.id,
        "doc_id": c.doc_id,
        "source": source,
        "source_hash": source_hash,
        "parent_id": c.parent_id,
        "position": c.position,
        "start": c.start,
        "end": c.end,
        "section": c.section,
        "title": c.title,
        "text": c.text,
        "search_text": c.embed_text,
        "metadata_json": json.dumps(c.metadata, sort_keys=True),
        ACL_TENANT: c.access.tenant,
        ACL_GROUPS: list(c.access.groups),
        ACL_CLEARANCE: c.access.clearance,
    }


def chunk_of(row: Mapping[str, Any]) -> Chunk:
    """The chunk a row (as :func:`row_of` writes it) holds."""
    meta = json.loads(row["metadata_json"]) if row["metadata_json"] else {}
    section = row["section"] or ""
    return Chunk(
        id=row["id"],
        doc_id=row["doc_id"],
        text=row["text"],
        position=int(row["position"]),
        start=int(row["start"]),
        end=int(row["end"]),
        section_path=tuple(section.split(" > ")) if section else (),
        parent_id=row["parent_id"],
        metadata=meta,
        source=row["source"],
        title=row["title"] or "",
        access=access_of(row),
    )


def access_of(row: Mapping[str, Any]) -> Access:
    return Access(tenant=row[ACL_TENANT], groups=tuple(row[ACL_GROUPS]), clearance=int(row[ACL_CLEARANCE]))


def documents_of(rows: Iterable[Mapping[str, Any]], *, limit: int, offset: int) -> list[DocumentInfo]:
    """One :class:`DocumentInfo` per document of ``rows`` (chunk rows with ``doc_id``, ``source``,
    ``title``, ``metadata_json`` and the access columns), ordered by id, a page of them."""
    counts: dict[str, int] = {}
    first: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        counts[r["doc_id"]] = counts.get(r["doc_id"], 0) + 1
        first.setdefault(r["doc_id"], r)
    out: list[DocumentInfo] = []
    for doc_id in sorted(first)[offset : offset + limit]:
        r = first[doc_id]
        meta: Metadata = json.loads(r["metadata_json"]) if r["metadata_json"] else {}
        # Page numbers belong to chunks, not to the document.
        meta = {k: v for k, v in meta.items() if k not in ("page", "page_end")}
        out.append(DocumentInfo(doc_id, r["source"], r["title"] or "", counts[doc_id], meta, access_of(r)))
    return out


def check_filter_fields(filters: Filter, known: Mapping[str, ColumnKind]) -> None:
    """A FilterError naming the fields ``filters`` uses that the collection does not have."""
    unknown = sorted(f for f in fields_of(filters) if f not in known and f not in BUILTIN_FILTER_FIELDS)
    if unknown:
        raise FilterError(
            f"unknown filter field(s) {', '.join(map(repr, unknown))}; this collection's metadata "
            f"fields are: {', '.join(sorted(known)) or '(none)'} "
            f"(plus {', '.join(BUILTIN_FILTER_FIELDS)})"
        )


@dataclass(frozen=True, slots=True)
class DocumentView:
    """A document as the store holds it: summary, text rebuilt from its chunks, the chunks."""

    info: DocumentInfo
    text: str
    chunks: list[Chunk]


def text_from_chunks(chunks: Sequence[Chunk]) -> str:
    """A document's text rebuilt from its chunks."""
    # Chunks carry exact offsets into the document, so citations' start/end index this text;
    # gaps a chunker skipped (whitespace between sections) come back as spaces.
    end = max((c.end for c in chunks), default=0)
    buf = [" "] * end
    for c in chunks:
        buf[c.start : c.end] = c.text
    return "".join(buf)
