"""The embedded default store: one LanceDB database directory per collection.

Layout of ``<root>/``: table ``chunks`` (ids, spans, text, the text that is searched, the vector,
the per-sentence ``unit_vectors``, metadata as typed ``m_<field>`` columns), table ``sections``
(parent sections for parent-child chunking), and ``collection.json`` (embedding model id and
dimension, mixing models is refused; ``format_version``, older collections are migrated on open
by the named steps of :data:`MIGRATIONS`).

Search is exact until the collection holds ``ann_threshold`` chunks, done in memory on a copy of
the vectors by :mod:`ragline.store.exact` (LanceDB's flat scan costs ~24 ms at 12k chunks here,
numpy 0.6 ms; filters still run as SQL, on the table, to pick the allowed rows);
:meth:`LanceStore.finalize` then builds an
IVF_HNSW_SQ index (searched with ``ef``; recall@10 is measured in ``bench/``). The
keyword side is LanceDB's native BM25 full-text index with English stemming and stop words; below
the threshold the same BM25 runs over the texts held in memory (:mod:`ragline.store.keyword`,
~1 ms instead of 3-4 ms a search). Filters become a SQL prefilter inside both searches. With
``ann_engine = "faiss"`` (opt-in) ``finalize`` also builds an in-memory HNSW graph of the dense
vectors (:mod:`ragline.store.hnsw`) that answers unfiltered dense searches of the version it
indexes (2.2 ms instead of 8.6 ms at 100k chunks on the loaded 2-core machine, with higher recall);
filtered searches, and every search once the table has changed, keep LanceDB's index.
Unit (sentence) search scores a chunk by its
best sentence (MaxSim): exact in memory below the threshold, LanceDB's multivector search above;
:meth:`LanceStore.sentence_scores` scores given candidates' sentences exactly (the default
pipeline's sentence list), from the unit vectors held in memory below the threshold.

Example::

    store = LanceStore(Path(".ragline/collections/default"), dimension=384, model_id="minilm")
    found = store.dense_candidates(vec, 10, filters=parse_filter({"year": {"$gte": 2020}}))
    chunks = store.fetch_chunks(found)
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ragline.embedding.base import Vectors
from ragline.embedding.tokens import unpack_many
from ragline.errors import StoreError
from ragline.store.base import Candidate, DocumentInfo, SourceBatch, StoredSentences, StoreStats, StoreVersion
from ragline.store.exact import cosine_scores, maxsim_scores, top_n, unit_rows
from ragline.store.filters import (
    ACL_CLEARANCE,
    ACL_GROUPS,
    ACL_TENANT,
    ColumnKind,
    Filter,
    sql_literal,
    to_sql,
)
from ragline.store.fragments import HeldColumn, gather, gather_blobs, held_elsewhere
from ragline.store.hnsw import DenseGraph, build_graph, current_stamp, graph_version, load_graph
from ragline.store.keyword import KeywordIndex, analyze, keyword_query
from ragline.store.meta import Migration, open_meta, read_meta, write_meta
from ragline.store.rows import (
    BUILTIN_FILTER_FIELDS,
    MAX_METADATA_FIELDS,
    check_filter_fields,
    checked_batch,
    chunk_of,
    coerce,
    declared_fields,
    documents_of,
    export_batches_of,
    new_fields,
    row_of,
)
from ragline.types import Chunk, Section

log = logging.getLogger(__name__)
# Opt in to lance's future default now; it also silences a warning on every index statistics call.
os.environ.setdefault("LANCE_INCLUDE_VECTOR_CENTROIDS", "false")

CHUNKS = "chunks"
SECTIONS = "sections"
UNITS = "unit_vectors"
# Chunk token embeddings for late interaction, packed by ragline.embedding.tokens (int8 + scales).
TOKENS = "token_states"
# Stored uncompressed: int8 values barely compress (the file grows 8 %), and reading 30 rows at
# query time takes 1.8 ms instead of 3.7 ms (SciFact, 12k chunks; see docs/benchmarks.md).
_TOKENS_FIELD = pa.field(TOKENS, pa.large_binary(), metadata={"lance-encoding:compression": "none"})
_META_PREFIX = "m_"
# Sentence vectors' value type (store.sentence_vector_dtype), fixed when the table is made.
_UNIT_TYPES = {"float32": pa.float32(), "float16": pa.float16()}
__all__ = [
    "BUILTIN_FILTER_FIELDS",
    "FORMAT_VERSION",
    "MAX_METADATA_FIELDS",
    "MIGRATIONS",
    "LanceStore",
    "keyword_query",
]
_RESULT_COLUMNS = [
    "id",
    "doc_id",
    "source",
    "parent_id",
    "position",
    "start",
    "end",
    "section",
    "title",
    "text",
    "metadata_json",
    ACL_TENANT,
    ACL_GROUPS,
    ACL_CLEARANCE,
]
# Collections written before access control get these columns, everything readable by the
# default tenant (which is what they were).
_ACL_COLUMNS = {
    ACL_TENANT: "'default'",
    ACL_GROUPS: "arrow_cast(make_array(), 'List(Utf8)')",
    ACL_CLEARANCE: "CAST(0 AS INT)",
}


def _chunk_schema(dimension: int, units: pa.DataType) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("source_hash", pa.string(), nullable=False),
            pa.field("parent_id", pa.string()),
            pa.field("position", pa.int32()),
            pa.field("start", pa.int64()),
            pa.field("end", pa.int64()),
            pa.field("section", pa.string()),
            pa.field("title", pa.string()),
            pa.field("text", pa.string()),
            pa.field("search_text", pa.string()),
            pa.field("metadata_json", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dimension)),
            pa.field(UNITS, pa.list_(pa.list_(units, dimension))),
            pa.field(ACL_TENANT, pa.string(), nullable=False),
            pa.field(ACL_CLEARANCE, pa.int32(), nullable=False),
            pa.field(ACL_GROUPS, pa.list_(pa.string()), nullable=False),
        ]
    )


_SECTION_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("start", pa.int64()),
        pa.field("end", pa.int64()),
        pa.field("section", pa.string()),
        pa.field("text", pa.string()),
    ]
)


_ARROW_TYPE: dict[ColumnKind, pa.DataType] = {
    "bool": pa.bool_(),
    "number": pa.float64(),
    "string": pa.string(),
}


def _add_access_columns(tbl: Any) -> bool:
    """Collections written before access control: every row readable by the default tenant's
    callers (which is what they were)."""
    missing = {k: v for k, v in _ACL_COLUMNS.items() if k not in tbl.schema.names}
    if missing:
        tbl.add_columns(missing)
    return bool(missing)


def _add_sentence_vectors(tbl: Any) -> bool:
    """Collections written before sentence vectors: the column, empty. Their chunks get vectors
    as their sources are re-indexed (the pipeline version changed, so the next ingest re-indexes
    every file); until then only the dense and keyword lists find them."""
    if UNITS in tbl.schema.names:
        return False
    dimension = tbl.schema.field("vector").type.list_size
    tbl.add_columns(pa.field(UNITS, pa.list_(pa.list_(pa.float32(), dimension))))
    log.info("collection %s: added sentence vectors; re-ingest to fill them for older chunks", tbl.name)
    return True


# The on-disk format's history (collection.json "format_version"): each step, run in order on a
# collection written before it, when the collection is opened.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "access-control columns", _add_access_columns),
    Migration(2, "sentence vector column", _add_sentence_vectors),
)
FORMAT_VERSION = MIGRATIONS[-1].version


def _kind_of_arrow(t: pa.DataType) -> ColumnKind:
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_floating(t) or pa.types.is_integer(t):
        return "number"
    return "string"


def _section_of(r: Mapping[str, Any]) -> Section:
    return Section(
        id=r["id"],
        doc_id=r["doc_id"],
        text=r["text"],
        start=int(r["start"]),
        end=int(r["end"]),
        section_path=tuple(r["section"].split(" > ")) if r["section"] else (),
    )


def _describe(versions: Sequence[StoreVersion]) -> str:
    """Versions for an error message: their numbers (a range when many) and tags."""
    if not versions:
        return "none"
    numbers = [v.version for v in versions]
    listed = ", ".join(map(str, numbers)) if len(numbers) <= 8 else f"{numbers[0]}..{numbers[-1]}"
    tags = [f"{t}={v.version}" for v in versions for t in v.tags]
    return listed + (f" (tags: {', '.join(tags)})" if tags else "")


def _in_list(column: str, values: Sequence[str]) -> Iterator[str]:
    # Long IN lists are split so no single predicate grows without bound.
    for i in range(0, len(values), 500):
        yield f"{column} IN ({', '.join(sql_literal(v) for v in values[i : i + 500])})"


@dataclass(frozen=True, slots=True)
class _FlatVectors:
    """Unit-length copies of every stored vector, with the ids and row ids they belong to."""

    ids: list[str]
    rowids: npt.NDArray[np.uint64]
    unit: npt.NDArray[np.float32]
    raw: npt.NDArray[np.float32]
    at: dict[str, int]
    doc_ids: list[str]


@dataclass(frozen=True, slots=True)
class _FlatUnits:
    """Unit-length copies of every stored unit vector, grouped by owning chunk.

    ``unit[starts[j]:starts[j + 1]]`` are the units of the chunk ``ids[j]`` (row id ``rowids[j]``);
    chunks without units are left out.
    """

    ids: list[str]
    rowids: npt.NDArray[np.uint64]
    unit: npt.NDArray[np.float32]
    starts: npt.NDArray[np.intp]
    at: dict[str, int]


@dataclass(frozen=True, slots=True)
class _FlatKeywords:
    """BM25 over every row's ``search_text``, held in memory (:mod:`ragline.store.keyword`: the
    analysis and scoring of LanceDB's index), with the ids and row ids of its rows."""

    ids: list[str]
    rowids: npt.NDArray[np.uint64]
    index: KeywordIndex


def _maxsim_of(units: _FlatUnits, candidates: Sequence[Candidate], vector: Vectors) -> list[Candidate]:
    """``candidates`` scored by MaxSim over their unit vectors held in ``units`` (what
    :meth:`LanceStore.sentence_scores` reads from the rows otherwise), best first; chunks without
    units, or not in this version, are left out."""
    found = [(c, units.at[c.chunk_id]) for c in candidates if c.chunk_id in units.at]
    if not found:
        return []
    ends = np.append(units.starts[1:], len(units.unit))
    at = np.asarray([j for _, j in found], dtype=np.intp)
    lengths = ends[at] - units.starts[at]
    offsets = np.cumsum(lengths) - lengths  # where each candidate's units start in the gathered rows
    rows = np.repeat(units.starts[at] - offsets, lengths) + np.arange(int(lengths.sum()))
    sims = maxsim_scores(units.unit[rows], offsets.astype(np.intp), vector)
    scored = [Candidate(c.chunk_id, s, c.ref) for (c, _), s in zip(found, sims.tolist(), strict=True)]
    return sorted(scored, key=lambda c: -c.score)


# A candidate's ref is ``version << 64 | row address``: an address (fragment << 32 | offset) names a
# row only in the table version that produced it. A write moves rows and a compaction removes
# fragments (lance panicked reading such addresses: 5.4 % of searches failed under concurrent
# ingests), so fetches read the version the search read; finalize keeps old versions for
# ``retention_days`` (a fetch from a version cleaned up since falls back to a scan by id).
_VERSION_SHIFT = 64
_ADDRESS = (1 << _VERSION_SHIFT) - 1


def _of_view(view: _View, candidates: Sequence[Candidate]) -> bool:
    """Whether every candidate names ``view``'s version (the version asked once: a pylance call)."""
    version = view.version
    return all(c.ref >> _VERSION_SHIFT == version for c in candidates)


@dataclass(frozen=True, slots=True)
class _Aligned:
    """Rows read for candidates: ``table``'s row j belongs to candidate ``present[j]`` (every
    candidate, in order, unless some are no longer stored)."""

    table: pa.Table
    present: Sequence[int]


@dataclass(frozen=True, slots=True)
class _Small:
    """A view's :data:`_SMALL_COLUMNS` in memory (one chunk per column) and where each row is:
    ``table`` row ``at[j]`` is the row with the j-th smallest row id, ``rowids[j]``."""

    table: pa.Table
    rowids: npt.NDArray[np.uint64]
    at: npt.NDArray[np.intp]

    def rows_of(self, rowids: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp] | None:
        """The table rows of ``rowids``, or None when one is not there."""
        j = np.searchsorted(self.rowids, rowids)
        if len(j) and (j.max() >= len(self.rowids) or np.any(self.rowids[j] != rowids)):
            return None
        return self.at[j]


# LanceDB's optimize also prunes versions older than its window (7 days by default) and fails
# outright when a tagged version falls inside it, so it runs with a window no version reaches, and
# pylance's cleanup, which skips tagged versions, prunes after it with the store's own window.
_NO_CLEANUP = timedelta(days=36_500)
_TAG_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
# Rows read per query when exporting: sources are grouped up to about this many chunks.
_EXPORT_ROWS = 4096
# Token states are held in memory beside the vectors of an exact-search view up to this many bytes
# (SciFact's 12,003 chunks of pq states take 44 MB; int8 states, ~12x larger, keep being read by
# row): late interaction's per-query read of its head's states then costs no row take (~3 ms).
_TOKENS_IN_MEMORY = 128 << 20
# Likewise the columns a search result reads (text, metadata, access; SciFact's take 12 MB): the
# fused head's rows are then an in-memory take (~0.3 ms) instead of a row read (~1.6 ms).
_ROWS_IN_MEMORY = 128 << 20
# Rows read (and added to the dense graph) at a time when finalize builds it.
_GRAPH_BATCH = 65_536
# Rows whose sizes estimate the whole columns' before they are read into memory.
_HELD_SAMPLE = 64
# A search result's columns but the id (candidates carry it) and the long texts: held in memory for
# a view whose whole result columns are not (above ann_threshold), up to this many bytes (the 100k
# synthetic collection's take 7.6 MB + 1.6 MB of row-id index, read in 15-74 ms once per table
# version; 1M chunks ~92 MB).
# Smoothing's document ids are then no read, and the head's rows read two columns, not 13 (each
# column of a row take costs ~0.1 ms whatever its size).
_SMALL_COLUMNS = [c for c in _RESULT_COLUMNS if c not in ("id", "text", "metadata_json")]
_SMALL_IN_MEMORY = 128 << 20


@dataclass(slots=True)
class _View:
    """One version of the chunks table and what is cached from it; each read uses one view."""

    ds: Any
    # A LanceDB handle checked out at ``ds.version``, for its query builder (made on first use).
    table: Any = None
    indexes: dict[str, str] | None = None
    flat: _FlatVectors | None = None
    units: _FlatUnits | None = None
    rows: dict[str, int] | None = None
    # (doc id, position) -> row ids, for neighbour reads (chunks_at) without a scan.
    positions: dict[tuple[str, int], list[int]] | None = None
    # Chunk id -> stored token-state blob, when held in memory (:meth:`LanceStore._token_blobs`);
    # ``tokens_held`` False: decided not to (too large, or searches use an index).
    tokens: dict[str, bytes] | None = None
    tokens_held: bool | None = None
    # The result columns of every row (one chunk per column) and each chunk id's position in
    # them, when held in memory (:meth:`LanceStore._result_rows`); ``results_held`` as above.
    results: pa.Table | None = None
    results_at: dict[str, int] | None = None
    results_held: bool | None = None
    # _SMALL_COLUMNS of every row, when held (:meth:`LanceStore._small_rows`); ``small_held`` as above.
    small: _Small | None = None
    small_held: bool | None = None
    keywords: _FlatKeywords | None = None
    # Above the threshold: each held column's fragments for this version (chunk ids, text and
    # metadata, sentence vectors, vectors, token states; :meth:`LanceStore._held_maps`; None: not
    # held), decided once ``held_checked``.
    held_units: dict[int, Any] | None = None
    held_vectors: dict[int, Any] | None = None
    held_tokens: dict[int, Any] | None = None
    held_texts: tuple[dict[int, Any], dict[int, Any]] | None = None
    held_ids: dict[int, Any] | None = None
    held_checked: bool = False

    @property
    def version(self) -> int:
        return int(self.ds.version)

    def ref(self, address: int) -> int:
        return self.version << _VERSION_SHIFT | address


class LanceStore:
    """A :class:`~ragline.store.base.Store` on LanceDB.

    Opens lazily; the constructor only checks and stores its arguments.
    """

    def __init__(
        self,
        root: Path,
        dimension: int,
        model_id: str,
        ann_threshold: int = 20_000,
        ann_ef: int = 96,
        ann_partitions: int | None = None,
        ann_refine_factor: int = 2,
        ann_refine_max_rows: int = 100,
        ann_ef_construction: int = 100,
        read_consistency_s: float | None = None,
        retention_days: float = 7.0,
        sentence_vector_dtype: Literal["float32", "float16"] = "float16",
        sentence_index: bool = False,
        ann_engine: Literal["lance", "faiss"] = "lance",
        held_columns_mb: int = 1024,
    ) -> None:
        if dimension < 1:
            raise StoreError(f"dimension must be positive, got {dimension}")
        if retention_days < 0:
            raise StoreError(f"retention_days must be >= 0, got {retention_days}")
        self.root = Path(root)
        self.dimension = dimension
        self.model_id = model_id
        self.ann_threshold = ann_threshold
        self.ann_ef = ann_ef
        self.ann_partitions = ann_partitions
        self.ann_refine_factor = ann_refine_factor
        self.ann_refine_max_rows = ann_refine_max_rows
        self.ann_ef_construction = ann_ef_construction
        self.read_consistency_s = read_consistency_s
        self.retention_days = retention_days
        self.sentence_vector_dtype = sentence_vector_dtype
        self.sentence_index = sentence_index
        if ann_engine not in ("lance", "faiss"):
            raise StoreError(f"ann_engine must be 'lance' or 'faiss', got {ann_engine!r}")
        self.ann_engine = ann_engine
        if held_columns_mb < 0:
            raise StoreError(f"held_columns_mb must be >= 0, got {held_columns_mb}; 0 holds none")
        self.held_columns_mb = held_columns_mb
        # Above ann_threshold: chunk ids, texts, sentence vectors, vectors, token states held per
        # fragment (_held_maps), in that order while the budget lasts.
        self._held_ids = HeldColumn("id", dimension, blobs=True)
        self._held_text = HeldColumn("text", dimension, blobs=True)
        self._held_meta = HeldColumn("metadata_json", dimension, blobs=True)
        self._held_units = HeldColumn(UNITS, dimension)
        self._held_vectors = HeldColumn("vector", dimension)
        self._held_tokens = HeldColumn(TOKENS, dimension, blobs=True)
        # The dense graph in use, and the (table version, current.json stamp) known to have no
        # usable one, so a stale or missing graph costs one stat a query, not a load.
        self._graph: DenseGraph | None = None
        self._no_graph: tuple[int, int | None] | None = None
        self._graph_reasons: set[str] = set()
        self._graph_lock = threading.Lock()
        self._seen_version: int | None = None
        self._chunks: Any = None
        self._sections: Any = None
        self._view_now: _View | None = None
        # Writes bump the generation; a view built across a write is used but not kept.
        self._generation = 0
        self._view_lock = threading.Lock()
        self._fields: dict[str, ColumnKind] | None = None
        self._values: tuple[int, dict[str, list[str]]] | None = None
        # Each distinct search text's terms from the last in-memory BM25 build, for the next
        # version's: its unchanged rows are not analysed again (analysis is most of a build).
        self._keyword_terms: dict[str, list[str]] = {}

    # -- opening ---------------------------------------------------------------------------------

    @cached_property
    def _db(self) -> Any:
        import lancedb

        fresh = read_meta(self.root) is None
        meta = open_meta(
            self.root,
            model_id=self.model_id,
            dimension=self.dimension,
            backend="lance",
            format_version=FORMAT_VERSION,
        )
        if self.read_consistency_s is None:
            db = lancedb.connect(str(self.root))
        else:
            interval = timedelta(seconds=self.read_consistency_s)
            db = lancedb.connect(str(self.root), read_consistency_interval=interval)
        # A collection.json written now, beside tables an older ragline wrote without one: version 0.
        version = 0 if fresh else meta.get("format_version", 0)
        if version < FORMAT_VERSION:
            self._migrate(db, meta, version)
        return db

    def _migrate(self, db: Any, meta: dict[str, Any], version: int) -> None:
        """Run the named steps from ``version`` on, in order; then record the current version."""
        try:
            tbl = db.open_table(CHUNKS)
        except (FileNotFoundError, ValueError):
            tbl = None
        for step in MIGRATIONS:
            if step.version > version and tbl is not None and step.apply(tbl):
                log.info("collection %s: migrated to format %d (%s)", self.root, step.version, step.name)
        write_meta(self.root, {**meta, "format_version": FORMAT_VERSION})

    def _follow_other_writers(self) -> None:
        # Another replica committed: cached schema, index list and dataset handle are stale.
        if self.read_consistency_s is None or self.chunks_table is None:
            return
        version = self.chunks_table.version
        if version != self._seen_version:
            self._changed()
            self._seen_version = version

    @property
    def read_version(self) -> int:
        """The chunks table version reads see now (0 before the first write): it changes with every
        commit this store makes and, with ``read_consistency_s``, every commit it follows."""
        self._follow_other_writers()
        view = self._view()
        return 0 if view is None else view.version

    def _table(self, name: str, create_schema: pa.Schema | None) -> Any:
        db = self._db
        try:
            return db.open_table(name)
        except (FileNotFoundError, ValueError):
            if create_schema is None:
                return None
            return db.create_table(name, schema=create_schema, exist_ok=True)

    @property
    def chunks_table(self) -> Any:
        if self._chunks is None:
            self._chunks = self._table(CHUNKS, None)
        return self._chunks

    def _ensure_tables(self) -> tuple[Any, Any]:
        if self._chunks is None:
            self._chunks = self._table(
                CHUNKS, _chunk_schema(self.dimension, _UNIT_TYPES[self.sentence_vector_dtype])
            )
        if self._sections is None:
            self._sections = self._table(SECTIONS, _SECTION_SCHEMA)
        return self._chunks, self._sections

    @property
    def sections_table(self) -> Any:
        if self._sections is None:
            self._sections = self._table(SECTIONS, None)
        return self._sections

    def metadata_fields(self) -> dict[str, ColumnKind]:
        """Filterable metadata fields and their kinds, from the table schema."""
        if self._fields is None:
            tbl = self.chunks_table
            if tbl is None:
                return {}
            self._fields = {
                f.name[len(_META_PREFIX) :]: _kind_of_arrow(f.type)
                for f in tbl.schema
                if f.name.startswith(_META_PREFIX)
            }
        return dict(self._fields)

    # -- writing ---------------------------------------------------------------------------------

    def _evolve_schema(self, tbl: Any, batches: Sequence[SourceBatch]) -> dict[str, ColumnKind]:
        known = self.metadata_fields()
        new = new_fields(known, batches)
        if new:
            tbl.add_columns(
                [pa.field(_META_PREFIX + k, _ARROW_TYPE[kind]) for k, kind in sorted(new.items())]
            )
            known.update(new)
        # Not a format migration: added on first use, so collections that never store token states
        # pay nothing.
        if TOKENS not in tbl.schema.names and any(b.token_states is not None for b in batches):
            # Older chunks hold none until re-indexed, and the reranker encodes those itself.
            tbl.add_columns(_TOKENS_FIELD)
        return known

    def _chunk_rows(
        self, batches: Sequence[SourceBatch], fields: dict[str, ColumnKind], schema: pa.Schema
    ) -> pa.Table:
        cols: dict[str, list[Any]] = {
            name: [] for name in schema.names if name not in ("vector", UNITS, TOKENS)
        }
        vectors: list[Vectors] = []
        units: list[Vectors] = []
        tokens: list[bytes | None] = []
        for b in batches:
            b_units, b_tokens = checked_batch(b, self.dimension)
            units.extend(b_units)
            tokens.extend(b_tokens)
            for c in b.chunks:
                for name, value in row_of(c, b.source, b.source_hash).items():
                    cols[name].append(value)
                for k, kind in fields.items():
                    v = c.metadata.get(k)
                    cols[_META_PREFIX + k].append(None if v is None else coerce(kind, v, k, b.source))
            vectors.append(b.vectors)
        flat = (
            np.concatenate(vectors).astype(np.float32)
            if vectors
            else np.zeros((0, self.dimension), np.float32)
        )
        arrays = {name: pa.array(values, type=schema.field(name).type) for name, values in cols.items()}
        arrays["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), self.dimension)
        if UNITS in schema.names:
            offsets = np.concatenate([[0], np.cumsum([len(u) for u in units])]).astype(np.int32)
            values = (
                np.concatenate(units).astype(np.float32)
                if units
                else np.zeros((0, self.dimension), np.float32)
            )
            # The column's value type (float16 or float32: store.sentence_vector_dtype at creation).
            value_type = schema.field(UNITS).type.value_type.value_type
            values = values.astype(value_type.to_pandas_dtype(), copy=False)
            inner = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), self.dimension)
            arrays[UNITS] = pa.ListArray.from_arrays(pa.array(offsets), inner, type=schema.field(UNITS).type)
        if TOKENS in schema.names:
            arrays[TOKENS] = pa.array(tokens, type=_TOKENS_FIELD.type)
        return pa.table([arrays[n] for n in schema.names], schema=schema)

    def upsert(self, batches: Sequence[SourceBatch]) -> None:
        """Atomically replace everything held for the batches' sources (see the Store contract)."""
        if not batches:
            return
        chunks_tbl, sections_tbl = self._ensure_tables()
        self._changed()
        fields = self._evolve_schema(chunks_tbl, batches)
        self._changed()
        rows = self._chunk_rows(batches, fields, chunks_tbl.schema)
        sources = sorted({b.source for b in batches})
        # Parents go in first, insert-only: old chunks still point at old sections until the chunk
        # commit below swaps them, and orphaned sections are removed afterwards.
        section_rows = [
            {
                "id": s.id,
                "doc_id": s.doc_id,
                "source": b.source,
                "start": s.start,
                "end": s.end,
                "section": " > ".join(s.section_path),
                "text": s.text,
            }
            for b in batches
            for s in b.sections
        ]
        if section_rows:
            (
                sections_tbl.merge_insert("id")
                .when_not_matched_insert_all()
                .execute(pa.Table.from_pylist(section_rows, schema=_SECTION_SCHEMA))
            )
        scope = self._replace_scope(batches)
        # A count over the indexed source column, not a scan of every source: this runs per commit.
        known = chunks_tbl.count_rows(" OR ".join(_in_list("source", sources))) > 0
        if not known and all(b.documents is None for b in batches):
            if rows.num_rows:
                chunks_tbl.add(rows)
        else:
            # One merge commit inserts the new rows and deletes the replaced ones together.
            delete_pred = scope
            (
                chunks_tbl.merge_insert("id")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .when_not_matched_by_source_delete(delete_pred)
                .execute(rows)
            )
        # Again after the commit: a reader may have cached the old version since the first call.
        self._changed()
        # Also clears sections a killed earlier run inserted without committing their chunks.
        keep = [s.id for b in batches for s in b.sections]
        stale = scope
        if keep:
            stale = f"({stale}) AND NOT ({' OR '.join(_in_list('id', keep))})"
        sections_tbl.delete(stale)

    @staticmethod
    def _replace_scope(batches: Sequence[SourceBatch]) -> str:
        """SQL predicate over the rows the batches replace: whole sources, or listed documents."""
        sources = sorted({b.source for b in batches if b.documents is None})
        docs = sorted({d for b in batches if b.documents is not None for d in b.documents})
        parts = [*_in_list("source", sources), *_in_list("doc_id", docs)]
        return " OR ".join(f"({p})" for p in parts)

    def delete_documents(self, doc_ids: Sequence[str], filters: Filter | None = None) -> int:
        """Delete the chunks of ``doc_ids`` that match ``filters`` (all of them without one);
        returns how many. Rows outside ``filters`` that share an id stay, with their sections."""
        tbl = self.chunks_table
        if tbl is None or not doc_ids:
            return 0
        by_id = " OR ".join(_in_list("doc_id", list(doc_ids)))
        where = self._where(filters)
        return self._delete_rows(tbl, f"({by_id}) AND ({where})" if where else by_id, partial=bool(where))

    def _delete_rows(self, tbl: Any, pred: str, *, partial: bool) -> int:
        """Delete the chunk rows matching ``pred`` and the sections no remaining row uses.
        ``partial``: rows sharing a document id with deleted ones may stay (keep their sections)."""
        affected = tbl.search().where(pred).select(["source", "doc_id"]).limit(None).to_arrow()
        n = affected.num_rows
        if n:
            self._changed()
            tbl.delete(pred)
            # The source no longer matches its file, so the next ingest of that file re-indexes it.
            srcs: list[str] = sorted({str(s) for s in affected.column("source").to_pylist()})
            tbl.update(where=" OR ".join(_in_list("source", srcs)), values={"source_hash": ""})
            self._changed()
            if self.sections_table is not None:
                docs = sorted({str(d) for d in affected.column("doc_id").to_pylist()})
                gone = " OR ".join(_in_list("doc_id", docs))
                if partial:
                    # Sections still referenced by chunks that stayed (same id, outside the filter).
                    rest = tbl.search().where(gone).select(["parent_id"]).limit(None).to_arrow()
                    keep = sorted({str(p) for p in rest.column("parent_id").drop_null().to_pylist()})
                    if keep:
                        gone = f"({gone}) AND NOT ({' OR '.join(_in_list('id', keep))})"
                self.sections_table.delete(gone)
        return int(n)

    def tenants(self) -> set[str]:
        """The tenants whose documents this collection holds (one, since tenants are namespaces;
        several in a data directory from before them)."""
        tbl = self.chunks_table
        if tbl is None:
            return set()
        return set(tbl.search().select([ACL_TENANT]).limit(None).to_arrow().column(ACL_TENANT).to_pylist())

    def retain_tenant(self, tenant: str) -> int:
        """Delete every row of other tenants; returns how many (``ragline migrate-tenants``)."""
        tbl = self.chunks_table
        if tbl is None:
            return 0
        return self._delete_rows(tbl, f"`{ACL_TENANT}` != {sql_literal(tenant)}", partial=True)

    def delete_sources(self, sources: Sequence[str]) -> int:
        tbl = self.chunks_table
        if tbl is None or not sources:
            return 0
        pred = " OR ".join(_in_list("source", list(sources)))
        n = int(tbl.count_rows(pred))
        self._changed()
        tbl.delete(pred)
        self._changed()
        if self.sections_table is not None:
            self.sections_table.delete(pred)
        return n

    # -- indexes ---------------------------------------------------------------------------------

    def _index_types(self, view: _View | None = None) -> dict[str, str]:
        # Listing indexes costs a manifest read; the answer only changes with the version.
        view = view or self._view()
        if view is None:
            return {}
        if view.indexes is None:
            view.indexes = {ix.columns[0]: ix.index_type for ix in self._view_table(view).list_indices()}
        return view.indexes

    def _view(self) -> _View | None:
        """The chunks table at the version this store last wrote (or, with ``read_consistency_s``,
        last saw); None before the table exists."""
        view = self._view_now
        if view is None:
            tbl = self.chunks_table
            if tbl is None:
                return None
            generation = self._generation
            view = _View(tbl.to_lance())
            with self._view_lock:
                # A write committed while this view was made: it may be the old version.
                if generation == self._generation:
                    self._view_now = view
        return view

    def _view_table(self, view: _View) -> Any:
        if view.table is None:
            tbl = self._db.open_table(CHUNKS)
            tbl.checkout(view.version)
            view.table = tbl
        return view.table

    def _dataset_at(self, view: _View, version: int) -> Any:
        """The dataset at ``version`` (candidates' refs name it), or None when it is gone from disk."""
        if version == view.version:
            return view.ds
        try:
            return view.ds.checkout_version(version)
        except OSError:  # removed by a cleanup of old versions (or not a ref this store made)
            return None

    def _rows(self, view: _View, candidates: Sequence[Candidate], columns: list[str]) -> _Aligned:
        """``columns`` of the rows behind ``candidates``, each read from the version its search read
        (pylance's row take: ~2 ms faster per query than lancedb's query-builder take), in candidate
        order. The take returns rows in the order asked, so no ``id`` column is read to match them
        (240 candidates' ids cost ~1.1 ms at 100k chunks). When one of those versions is gone from
        disk, or a take comes back short, the rows still there are looked up by chunk id in
        ``view`` (a scan)."""
        by_version: dict[int, list[int]] = {}
        for i, c in enumerate(candidates):
            by_version.setdefault(c.ref >> _VERSION_SHIFT, []).append(i)
        parts: list[pa.Table] = []
        for version, idx in by_version.items():
            ds = self._dataset_at(view, version)
            t = (
                None
                if ds is None
                else ds._take_rows([candidates[i].ref & _ADDRESS for i in idx], columns=columns)
            )
            if t is None or t.num_rows != len(idx):
                return self._rows_by_id(view, candidates, columns)
            parts.append(t)
        if len(parts) == 1:
            return _Aligned(parts[0], range(len(candidates)))
        # Several versions: back to candidate order.
        order = np.argsort([i for idx in by_version.values() for i in idx], kind="stable")
        return _Aligned(pa.concat_tables(parts).take(order), range(len(candidates)))

    def _rows_by_id(self, view: _View, candidates: Sequence[Candidate], columns: list[str]) -> _Aligned:
        """:meth:`_rows` by chunk id in ``view`` (a scan): the candidates still stored, in order."""
        ids = list(dict.fromkeys(c.chunk_id for c in candidates))
        t = view.ds.to_table(
            columns=list(dict.fromkeys(["id", *columns])), filter=" OR ".join(_in_list("id", ids))
        )
        at = {cid: i for i, cid in enumerate(t.column("id").to_pylist())}
        present = [i for i, c in enumerate(candidates) if c.chunk_id in at]
        rows = t.select(columns).take(
            np.asarray([at[candidates[i].chunk_id] for i in present], dtype=np.int64)
        )
        return _Aligned(rows, present)

    def _changed(self) -> None:
        with self._view_lock:
            self._generation += 1
            self._view_now = None
        self._values = None
        self._fields = None
        self.__dict__.pop("_nprobes", None)

    def finalize(self) -> None:
        tbl = self.chunks_table
        if tbl is None:
            return
        from lancedb.index import FTS, Bitmap, BTree, IvfHnswSq, LabelList

        self._changed()
        n = tbl.count_rows()
        indexes = self._index_types()
        if "search_text" not in indexes and n:
            tbl.create_index(
                "search_text",
                config=FTS(with_position=False, stem=True, language="English", remove_stop_words=True),
                replace=True,
            )
        if "vector" not in indexes and n >= self.ann_threshold:
            partitions = self._partitions(n)
            log.info("building ANN index over %d chunks (%d partitions)", n, partitions)
            tbl.create_index(
                "vector",
                config=IvfHnswSq(
                    distance_type="cosine",
                    num_partitions=partitions,
                    ef_construction=self.ann_ef_construction,
                ),
                replace=True,
            )
        # The sentence vectors' own index only when asked for (store.sentence_index): the default
        # pipeline scores the candidates' sentences instead (sentence_scores), and the index took
        # 227 MB at 100k chunks. Without it, sentence_candidates scans the column (exact).
        if (
            self.sentence_index
            and UNITS in tbl.schema.names
            and UNITS not in indexes
            and n >= self.ann_threshold
            # Rows with sentence vectors: none with chunking.sentence_vectors = "off", and LanceDB
            # cannot train an index on empty lists (its KMeans needs a vector per partition).
            and tbl.count_rows(f"array_length({UNITS}) > 0") >= self._partitions(n)
        ):
            # Sentence vectors get the same kind of index; LanceDB searches it as MaxSim per row.
            tbl.create_index(
                UNITS,
                config=IvfHnswSq(
                    distance_type="cosine",
                    num_partitions=self._partitions(n),
                    ef_construction=self.ann_ef_construction,
                ),
                replace=True,
            )
        # Scalar indexes let filters prune rows before the vector and keyword searches (filtered
        # hybrid search at 100k chunks: 25 -> 19 ms p50, see docs/benchmarks.md).
        if n:
            for name, kind in [*BUILTIN_FILTER_FIELDS.items(), *self.metadata_fields().items()]:
                column = name if name in BUILTIN_FILTER_FIELDS else _META_PREFIX + name
                if column not in indexes:
                    tbl.create_index(column, config=Bitmap() if kind == "bool" else BTree(), replace=True)
            # Few distinct tenants and groups: bitmap and label-list indexes prune the ACL filter.
            acl = {ACL_TENANT: Bitmap(), ACL_GROUPS: LabelList(), ACL_CLEARANCE: BTree()}
            for column, config in acl.items():
                if column not in indexes:
                    tbl.create_index(column, config=config, replace=True)
        # Compacts small fragments and folds new rows into existing indexes, then drops versions
        # older than the retention window (an upsert can be rolled back until then).
        for table in (tbl, self.sections_table):
            if table is not None:
                table.optimize(cleanup_older_than=_NO_CLEANUP)
                table.to_lance().cleanup_old_versions(
                    older_than=timedelta(days=self.retention_days), error_if_tagged_old_versions=False
                )
        self._changed()
        if self.ann_engine == "faiss":
            self._build_graph()

    def _build_graph(self) -> None:
        """The dense graph of the table's current version (after optimize, whose compaction moves
        rows), beside LanceDB's vector index, which filtered searches and a changed table still
        need. Nothing is written when the current graph already indexes this version."""
        view = self._view()
        if view is None or self._fits_in_memory(view) or graph_version(self.root) == view.version:
            return
        log.info("building the dense graph of table version %d", view.version)

        total = view.ds.count_rows()

        def batches() -> Iterator[tuple[pa.Array, npt.NDArray[np.uint64], npt.NDArray[np.float32]]]:
            done = 0
            for b in view.ds.to_batches(columns=["id", "vector"], with_row_id=True, batch_size=_GRAPH_BATCH):
                # Progress: at 1M chunks the build takes ~27 min on 2 cores.
                log.info("dense graph: adding rows %d-%d of %d", done + 1, done + b.num_rows, total)
                done += b.num_rows
                vectors = b.column("vector").flatten().to_numpy(zero_copy_only=False)
                yield (
                    b.column("id"),
                    np.asarray(b.column("_rowid").to_numpy(), dtype=np.uint64),
                    np.asarray(vectors, dtype=np.float32).reshape(b.num_rows, self.dimension),
                )

        build_graph(
            self.root,
            version=view.version,
            dimension=self.dimension,
            batches=batches(),
            ef_construction=self.ann_ef_construction,
        )
        with self._graph_lock:
            self._graph, self._no_graph = None, None

    def _dense_graph(self, view: _View) -> DenseGraph | None:
        """The dense graph of ``view``'s version, loaded once; None (the reason logged once) when
        there is none or it indexes another version (the table changed since the last finalize)."""
        graph = self._graph
        if graph is not None and graph.table_version == view.version:
            return graph
        with self._graph_lock:
            graph = self._graph
            if graph is not None and graph.table_version == view.version:
                return graph
            key = (view.version, current_stamp(self.root))
            if key == self._no_graph:
                return None
            graph, reason = load_graph(self.root, version=view.version, dimension=self.dimension)
            if graph is None:
                self._no_graph = key
                if reason not in self._graph_reasons:
                    self._graph_reasons.add(reason)
                    log.info("collection %s: dense search uses LanceDB's index: %s", self.root, reason)
                return None
            self._graph = graph
            return graph

    # -- versions ----------------------------------------------------------------------------------

    def versions(self) -> list[StoreVersion]:
        """The chunks table's versions still on disk, oldest first, with their tags."""
        tbl = self.chunks_table
        if tbl is None:
            return []
        tags: dict[int, list[str]] = {}
        for name, tag in tbl.tags.list().items():
            tags.setdefault(int(tag["version"]), []).append(name)
        return [
            StoreVersion(
                version=int(v["version"]),
                timestamp=v["timestamp"],
                chunks=int(v["metadata"].get("total_rows", 0)),
                tags=tuple(sorted(tags.get(int(v["version"]), []))),
            )
            for v in sorted(tbl.list_versions(), key=lambda v: int(v["version"]))
        ]

    def tag_version(self, tag: str) -> StoreVersion:
        """Tag the current version of both tables (kept by cleanups until the tag is deleted)."""
        if not _TAG_RE.match(tag):
            raise StoreError(
                f"snapshot tag {tag[:80]!r} is invalid; start with a letter, then letters, digits, "
                "'.', '_' or '-' (max 64)"
            )
        tbl = self.chunks_table
        if tbl is None:
            raise StoreError(f"collection {self.root} is empty: there is no version to tag yet")
        if tag in tbl.tags.list():
            raise StoreError(
                f"snapshot tag {tag!r} already names version {tbl.tags.get_version(tag)}; pick another"
            )
        tbl.tags.create(tag, tbl.version)
        if self.sections_table is not None and tag not in self.sections_table.tags.list():
            self.sections_table.tags.create(tag, self.sections_table.version)
        return self.versions()[-1]

    def delete_tag(self, tag: str) -> None:
        tbl = self.chunks_table
        tags = tbl.tags.list() if tbl is not None else {}
        if tag not in tags:
            raise StoreError(f"no snapshot tag {tag!r}; there are: {', '.join(sorted(tags)) or 'none'}")
        tbl.tags.delete(tag)
        if self.sections_table is not None and tag in self.sections_table.tags.list():
            self.sections_table.tags.delete(tag)

    def restore_version(self, version: int | str) -> StoreVersion:
        """Write the content of ``version`` (a number or a tag) as a new version; the sections
        table goes back to the same tag, or to its last version written by then."""
        tbl = self.chunks_table
        if tbl is None:
            raise StoreError(f"collection {self.root} is empty: it has no versions to restore")
        kept = self.versions()
        number = self._version_number(tbl, version, kept)
        at = next((v for v in kept if v.version == number), None)
        if at is None:
            raise StoreError(
                f"version {version!r} of collection {self.root} is not on disk; kept: "
                f"{_describe(kept)}. Versions older than store.retention_days are removed by the "
                "next ingest's optimize unless `ragline snapshot` tagged them"
            )
        self._changed()
        tbl.restore(number)
        sections = self.sections_table
        if sections is not None:
            if isinstance(version, str) and version in sections.tags.list():
                sections.restore(version)
            else:
                older = [
                    int(v["version"]) for v in sections.list_versions() if v["timestamp"] <= at.timestamp
                ]
                if older and max(older) != sections.version:
                    sections.restore(max(older))
        # A version from before a format migration lacks its columns: the steps are idempotent.
        for step in MIGRATIONS:
            step.apply(tbl)
        self._changed()
        return self.versions()[-1]

    @staticmethod
    def _version_number(tbl: Any, version: int | str, kept: list[StoreVersion]) -> int:
        if isinstance(version, int):
            return version
        tags = tbl.tags.list()
        if version in tags:
            return int(tags[version]["version"])
        if version.isdigit():
            return int(version)
        raise StoreError(f"no version or snapshot tag {version!r}; there are: {_describe(kept)}")

    # -- export ------------------------------------------------------------------------------------

    def declare_fields(self, fields: Mapping[str, ColumnKind]) -> None:
        tbl, _ = self._ensure_tables()
        new = declared_fields(self.metadata_fields(), fields)
        if new:
            self._changed()
            tbl.add_columns(
                [pa.field(_META_PREFIX + k, _ARROW_TYPE[kind]) for k, kind in sorted(new.items())]
            )
            self._changed()

    def export_batches(self) -> Iterator[SourceBatch]:
        """Every chunk with its arrays, a few thousand rows per read, all from one version."""
        view = self._view()
        if view is None:
            return
        ds = view.ds
        sources = ds.to_table(columns=["source"]).column("source").to_pylist()
        counts: dict[str, int] = {}
        for src in sources:
            counts[src] = counts.get(src, 0) + 1
        group: list[str] = []
        size = 0
        for src, n in counts.items():
            group.append(src)
            size += n
            if size >= _EXPORT_ROWS:
                yield from self._export_group(ds, group)
                group, size = [], 0
        if group:
            yield from self._export_group(ds, group)

    def _export_group(self, ds: Any, sources: list[str]) -> list[SourceBatch]:
        names = ds.schema.names
        columns = [*_RESULT_COLUMNS, "source_hash", "search_text", "vector"]
        columns += [c for c in (UNITS, TOKENS) if c in names]
        where = " OR ".join(_in_list("source", sources))
        t = ds.to_table(columns=columns, filter=where)
        vectors = np.asarray(t.column("vector").combine_chunks().flatten().to_numpy(), dtype=np.float32)
        vectors = vectors.reshape(t.num_rows, self.dimension)
        units: list[Vectors] = [np.zeros((0, self.dimension), np.float32)] * t.num_rows
        if UNITS in names:
            col = t.column(UNITS).combine_chunks()
            counts = np.asarray(pc.list_value_length(col).fill_null(0).to_numpy(), dtype=np.intp)
            flat = np.asarray(col.flatten().flatten().to_numpy(), dtype=np.float32).reshape(
                -1, self.dimension
            )
            bounds = np.concatenate([[0], np.cumsum(counts)])
            units = [flat[bounds[i] : bounds[i + 1]] for i in range(t.num_rows)]
        tokens: list[bytes | None] = t.column(TOKENS).to_pylist() if TOKENS in names else [None] * t.num_rows
        sections: dict[str, list[Section]] = {}
        if self.sections_table is not None:
            rows = self.sections_table.search().where(where).limit(None).to_list()
            for r in rows:
                sections.setdefault(r["source"], []).append(_section_of(r))
        rows = t.drop_columns(["vector", *(c for c in (UNITS, TOKENS) if c in names)]).to_pylist()
        return export_batches_of(rows, vectors, units, tokens, sections, self.dimension)

    # -- reading ---------------------------------------------------------------------------------

    def _where(self, filters: Filter | None) -> str | None:
        if filters is None:
            return None
        known = self.metadata_fields()
        check_filter_fields(filters, known)

        def column(name: str) -> tuple[str, ColumnKind] | None:
            if name in BUILTIN_FILTER_FIELDS:
                return f"`{name}`", BUILTIN_FILTER_FIELDS[name]
            return f"`{_META_PREFIX}{name}`", known[name]

        return to_sql(filters, column)

    def _nearest(
        self,
        view: _View,
        column: str,
        vector: Vectors,
        n: int,
        filters: Filter | None,
        ef: int,
        refine: int,
        *,
        without_ids: bool = False,
    ) -> pa.Table:
        """``id``, ``_distance`` and ``_rowid`` of the ``n`` rows nearest ``vector`` in ``column``
        (cosine; MaxSim over the row's vectors for a multivector column), through pylance's scanner
        directly: the same index, parameters and results as lancedb's query builder (identical on
        100 queries at 100k chunks), without its event-loop round trip (dense 12 -> 8 ms and
        sentences 59 -> 48 ms p50 at 100k chunks on the loaded 2-core machine)."""
        nearest: dict[str, Any] = {
            "column": column,
            "q": np.asarray(vector, dtype=np.float32).reshape(-1),
            "k": n,
            "metric": "cosine",
        }
        if column in self._index_types(view):
            # refine 0: the index's quantised distances, no re-read of full vectors.
            nearest |= {"ef": ef, "nprobes": self._nprobes, "refine_factor": refine or None}
        where = self._where(filters)
        return view.ds.to_table(
            columns=["_distance"] if without_ids else ["id", "_distance"],
            nearest=nearest,
            with_row_id=True,
            **({"filter": where, "prefilter": True} if where else {}),
        )

    def _keyword_query(self, view: _View, query: str, n: int, filters: Filter | None) -> Any:
        q = self._view_table(view).search(query, query_type="fts", fts_columns="search_text")
        where = self._where(filters)
        return (q.where(where, prefilter=True) if where else q).limit(n)

    # Candidates carry only ids and scores: hybrid search fetches text and metadata for the fused
    # top-k alone, which is most of its cost saved at 4x over-fetching.

    def _fits_in_memory(self, view: _View) -> bool:
        """Exact in-memory search applies: no ANN index yet and at most ``ann_threshold`` chunks
        (past the threshold but not finalized yet, LanceDB scans rather than copy it all)."""
        return "vector" not in self._index_types(view) and view.ds.count_rows() <= self.ann_threshold

    def searches_in_memory(self) -> bool:
        """Dense and sentence searches scan vectors held in memory (see :meth:`_fits_in_memory`)."""
        view = self._view()
        return view is not None and (view.flat is not None or self._fits_in_memory(view))

    def _exact_vectors(self, view: _View) -> _FlatVectors | None:
        """The view's vectors in memory while it has no ANN index and is small enough."""
        if view.flat is None:
            if not self._fits_in_memory(view):
                return None
            t = view.ds.to_table(columns=["id", "doc_id", "vector"], with_row_id=True)
            matrix = np.asarray(t.column("vector").combine_chunks().flatten().to_numpy(), dtype=np.float32)
            matrix = matrix.reshape(t.num_rows, self.dimension)
            ids = t.column("id").to_pylist()
            view.flat = _FlatVectors(
                ids=ids,
                rowids=np.asarray(t.column("_rowid").to_numpy(), dtype=np.uint64),
                unit=unit_rows(matrix),
                raw=matrix,
                at={cid: i for i, cid in enumerate(ids)},
                doc_ids=t.column("doc_id").to_pylist(),
            )
        return view.flat

    def _exact_candidates(
        self, view: _View, flat: _FlatVectors, vector: Vectors, n: int, filters: Filter | None
    ) -> list[Candidate]:
        return self._top(view, flat.ids, flat.rowids, cosine_scores(flat.unit, vector), n, filters)

    def _top(
        self,
        view: _View,
        ids: list[str],
        rowids: npt.NDArray[np.uint64],
        sims: npt.NDArray[np.floating[Any]],
        n: int,
        filters: Filter | None,
        among: npt.NDArray[np.bool_] | None = None,
    ) -> list[Candidate]:
        """The ``n`` best of ``sims`` (one score per row) among the rows ``filters`` allow (their
        row ids found by SQL on the view) and, when given, ``among`` marks."""
        where = self._where(filters)
        keep = among
        if where:
            allowed = view.ds.to_table(columns=[], filter=where, with_row_id=True)
            keep = np.isin(rowids, np.asarray(allowed.column("_rowid").to_numpy(), dtype=np.uint64))
            if among is not None:
                keep &= among
        top = top_n(sims, n, keep)
        base = view.ref(0)  # the version asked once, not per candidate (a call into pylance)
        return [Candidate(ids[i], float(sims[i]), base | int(rowids[i])) for i in top]

    def _exact_units(self, view: _View) -> _FlatUnits | None:
        """The view's unit vectors in memory, under the same conditions as :meth:`_exact_vectors`."""
        if view.units is None:
            if not self._fits_in_memory(view):
                return None
            t = view.ds.to_table(columns=["id", UNITS], with_row_id=True)
            col = t.column(UNITS).combine_chunks()
            # Null lists (none are written, but a column added later would hold them) count as empty.
            counts = np.asarray(pc.list_value_length(col).fill_null(0).to_numpy(), dtype=np.intp)
            matrix = np.asarray(col.flatten().flatten().to_numpy(), dtype=np.float32)
            matrix = matrix.reshape(-1, self.dimension)
            has = np.flatnonzero(counts)
            ids = t.column("id").to_pylist()
            kept = [ids[i] for i in has]
            view.units = _FlatUnits(
                ids=kept,
                rowids=np.asarray(t.column("_rowid").to_numpy(), dtype=np.uint64)[has],
                unit=unit_rows(matrix),
                starts=np.concatenate([[0], np.cumsum(counts)])[has].astype(np.intp),
                at={cid: j for j, cid in enumerate(kept)},
            )
        return view.units

    def _exact_keywords(self, view: _View) -> _FlatKeywords | None:
        """The view's BM25 in memory, under the same conditions as :meth:`_exact_vectors`: a
        search then costs ~1 ms instead of ~3-4 through the index (SciFact, NFCorpus), with the
        index's scores to float32 precision (docs/benchmarks.md). Built on the first keyword search
        of each version, re-using the previous version's analysed texts."""
        if view.keywords is None:
            if not self._fits_in_memory(view):
                self._keyword_terms = {}  # past the threshold for good: free the analysed texts
                return None
            t = view.ds.to_table(columns=["id", "search_text"], with_row_id=True)
            before = self._keyword_terms
            terms: dict[str, list[str]] = {}
            docs = []
            for text in t.column("search_text").to_pylist():
                text = text or ""
                found = terms.get(text)
                if found is None:
                    found = terms[text] = before[text] if text in before else analyze(text)
                docs.append(found)
            view.keywords = _FlatKeywords(
                ids=t.column("id").to_pylist(),
                rowids=np.asarray(t.column("_rowid").to_numpy(), dtype=np.uint64),
                index=KeywordIndex(docs),
            )
            self._keyword_terms = terms
        return view.keywords

    def sentence_candidates(self, vector: Vectors, n: int, filters: Filter | None = None) -> list[Candidate]:
        """Chunks scored by their best unit vector's cosine with ``vector`` (MaxSim), best first."""
        self._follow_other_writers()
        view = self._view()
        if view is None or n < 1 or UNITS not in view.ds.schema.names:
            return []
        units = self._exact_units(view)
        if units is not None:
            if not units.ids:
                return []
            sims = maxsim_scores(units.unit, units.starts, vector)
            return self._top(view, units.ids, units.rowids, sims, n, filters)
        # LanceDB's multivector search is MaxSim over the row's vectors (cosine only); rows with an
        # empty list never match, which the contract wants. It asks the HNSW graph for about 10
        # rows per wanted chunk (it refuses a smaller ef); re-scoring with the full vectors gives
        # exact cosines.
        ef = max(self.ann_ef, 10 * n * self.ann_refine_factor)
        t = self._nearest(view, UNITS, vector, n, filters, ef, max(1, self.ann_refine_factor))
        return self._candidates(view, t, 1.0 - np.asarray(t.column("_distance").to_numpy(), dtype=np.float64))

    def sentence_scores(self, vector: Vectors, candidates: Sequence[Candidate]) -> list[Candidate]:
        """``candidates`` (once per chunk id) scored by their best stored sentence vector's cosine
        with ``vector`` (MaxSim, exact), best first; chunks without sentence vectors are left out.
        Their rows are read as their search read them (a few hundred rows: ~2 ms at 100k chunks,
        where the sentence index's HNSW walk for 120 chunks took 18 ms)."""
        view = self._view()
        if view is None or not candidates or UNITS not in view.ds.schema.names:
            return []
        unique = list({c.chunk_id: c for c in reversed(candidates)}.values())[::-1]
        held = self._exact_units(view)
        if held is not None:
            return _maxsim_of(held, unique, vector)
        got = self._held_rows(view, unique, UNITS)
        present: Sequence[int]
        if got is not None:
            stored, counts, norms = got
            present = range(len(unique))
        else:
            rows = self._rows(view, unique, [UNITS])
            col = rows.table.column(UNITS).combine_chunks()
            counts = np.asarray(pc.list_value_length(col).fill_null(0).to_numpy(), dtype=np.int64)
            stored, norms = col.flatten().flatten().to_numpy(), None
            present = rows.present
        has = np.flatnonzero(counts)
        if not len(has):
            return []
        matrix = np.asarray(stored, dtype=np.float32).reshape(-1, self.dimension)
        # Held, the rows' lengths were computed when read, as unit_rows computes them: the same
        # unit rows either way, hence the same scores to the last bit.
        unit = unit_rows(matrix) if norms is None else np.divide(matrix, np.maximum(norms, 1e-12)[:, None])
        starts = np.concatenate([[0], np.cumsum(counts)])[has].astype(np.intp)
        sims = maxsim_scores(unit, starts, vector)
        # Candidate(...) rather than _replace: a third of the cost for a few hundred rows.
        picked = [unique[present[i]] for i in has.tolist()]
        found = [Candidate(c.chunk_id, s, c.ref) for c, s in zip(picked, sims.tolist(), strict=True)]
        return sorted(found, key=lambda c: -c.score)

    @staticmethod
    def _with_ids(view: _View, t: pa.Table) -> pa.Table | None:
        """``t`` (a search result with ``_rowid``) with an ``id`` column from the held chunk ids,
        or None when a row's id is not held."""
        ids = None if view.held_ids is None else gather_blobs(view.held_ids, t.column("_rowid").to_pylist())
        return None if ids is None else t.append_column("id", pa.array(ids, pa.string()))

    @staticmethod
    def _candidates(view: _View, t: pa.Table, scores: Iterable[float]) -> list[Candidate]:
        """Candidates from a search result with ``id`` and ``_rowid`` columns, read from ``view``."""
        base = view.ref(0)
        return [
            Candidate(cid, float(s), base | int(r))
            for cid, s, r in zip(
                t.column("id").to_pylist(), scores, t.column("_rowid").to_pylist(), strict=True
            )
        ]

    def dense_candidates(self, vector: Vectors, n: int, filters: Filter | None = None) -> list[Candidate]:
        self._follow_other_writers()
        view = self._view()
        if view is None or n < 1:
            return []
        flat = self._exact_vectors(view)
        if flat is not None:
            return self._exact_candidates(view, flat, vector, n, filters)
        # Re-scoring candidates with the full vectors undoes the scalar quantisation's error: for
        # short result lists (a dense search's top k), whose order is the answer. Longer candidate
        # lists keep the quantised scores (see StoreSettings.ann_refine_max_rows).
        quantised = self._index_types(view).get("vector") == "IvfHnswSq"
        if not quantised:  # another index type (a collection from elsewhere): its scores unknown
            refine = max(1, self.ann_refine_factor)
        else:
            refine = self.ann_refine_factor if n <= self.ann_refine_max_rows else 0
        # HNSW needs ef >= the rows it hands to the refine step (n * refine factor); the walk stays
        # at least 2n wide with a smaller factor (100k chunks, n = 120: ef = n keeps 73 % of the
        # 120 that ef = 2n finds, and refine 1 at ef = 2n 97 %, with the same top 10).
        ef = max(self.ann_ef, 2 * n, n * refine)
        # Unfiltered searches of a version the graph indexes: the in-memory graph, exact cosines.
        # Any filter (metadata, access) keeps LanceDB's prefiltered search.
        graph = self._dense_graph(view) if filters is None and self.ann_engine == "faiss" else None
        if graph is not None:
            # A wider walk than LanceDB's, which probes several IVF partitions: at ef = 2n the graph
            # kept less than LanceDB (NFCorpus dev, recall@120 0.976 vs 0.985; top 10 at ef 96
            # 0.972 vs 0.977); 4 x max(ann_ef, n) keeps more (0.995; 0.993 at 10) for ~0.5 ms.
            labels, sims = graph.search(vector, n, 4 * max(self.ann_ef, n))
            base = view.ref(0)
            ids = graph.ids.take(pa.array(labels)).to_pylist()
            return [
                Candidate(cid, float(s), base | int(r))
                for cid, s, r in zip(ids, sims, graph.rowids[labels], strict=True)
            ]
        self._held_maps(view)
        ids_held = view.held_ids is not None
        found = self._nearest(view, "vector", vector, n, filters, ef, refine, without_ids=ids_held)
        t = self._with_ids(view, found) if ids_held else found
        if t is None:  # a row not held (a restored version's): the search again, with its ids
            t = self._nearest(view, "vector", vector, n, filters, ef, refine)
        distance = np.asarray(t.column("_distance").to_numpy(), dtype=np.float64)
        # Unrefined, the SQ index's distance is the squared L2 of the unit vectors, 2 - 2 cos; the
        # refine step's is the cosine distance, 1 - cos. Either way the score is the cosine.
        return self._candidates(view, t, 1.0 - (distance / 2 if quantised and not refine else distance))

    def keyword_candidates(self, text: str, n: int, filters: Filter | None = None) -> list[Candidate]:
        query = keyword_query(text)
        self._follow_other_writers()
        view = self._view()
        if view is None or n < 1 or not query:
            return []
        held = self._exact_keywords(view)
        if held is not None:
            scores, hit = held.index.scores(analyze(query))
            return self._top(view, held.ids, held.rowids, scores, n, filters, among=hit)
        if "search_text" in self._index_types(view):
            # The same index and BM25 through pylance directly: identical ids and scores on 200
            # SciFact queries, ~5 ms less per search than lancedb's query builder.
            where = self._where(filters)
            self._held_maps(view)

            def search(columns: list[str]) -> pa.Table:
                return view.ds.to_table(
                    columns=columns,
                    full_text_query={"query": query, "columns": ["search_text"]},
                    limit=n,
                    with_row_id=True,
                    **({"filter": where, "prefilter": True} if where else {}),
                )

            found = self._with_ids(view, search(["_score"])) if view.held_ids is not None else None
            t = found if found is not None else search(["id", "_score"])
        else:
            t = (
                self._keyword_query(view, query, n, filters)
                .select(["id", "_score"])
                .with_row_id(True)
                .to_arrow()
            )
        return self._candidates(view, t, t.column("_score").to_pylist())

    def fetch_chunks(self, candidates: Sequence[Candidate]) -> list[Chunk]:
        view = self._view()
        if view is None or not candidates:
            return []
        held = self._result_rows(view)
        if held is not None and _of_view(view, candidates):
            table, at = held
            picked = [at[c.chunk_id] for c in candidates if c.chunk_id in at]
            return [chunk_of(r) for r in table.take(np.asarray(picked, dtype=np.int64)).to_pylist()]
        small = self._held_small(view, candidates)
        if small is not None:
            held_texts = self._held_text_rows(view, candidates)
            if held_texts is not None:
                return [
                    chunk_of({"id": c.chunk_id, **a, "text": t, "metadata_json": m})
                    for c, a, t, m in zip(candidates, small.to_pylist(), *held_texts, strict=True)
                ]
            # The rest by ref: two columns of the head's rows instead of 13.
            texts = self._rows(view, candidates, ["text", "metadata_json"])
            if len(texts.present) == len(candidates):  # always, for refs of the view's version
                return [
                    chunk_of({"id": c.chunk_id, **a, **b})
                    for c, a, b in zip(candidates, small.to_pylist(), texts.table.to_pylist(), strict=True)
                ]
        rows = self._rows(view, candidates, _RESULT_COLUMNS[1:])
        return [
            chunk_of({"id": candidates[i].chunk_id, **r})
            for i, r in zip(rows.present, rows.table.to_pylist(), strict=True)
        ]

    def _held_maps(self, view: _View) -> None:
        """Above the threshold, hold the view's chunk ids, texts, sentence vectors, vectors and
        token states in memory per fragment (:mod:`ragline.store.fragments`), in that order while, estimated,
        they fit what ``held_columns_mb`` leaves after the process's other stores; decided once
        per view, and only the fragments not held before are read; the view's ``held_*`` fields
        name what is held (None: not held). Below the threshold the exact search holds them
        already (as float32 unit rows)."""
        if not view.held_checked:
            if self._fits_in_memory(view):
                view.held_units = view.held_vectors = None
            else:
                # One budget for the process: other collections' held columns count against it.
                mine = (
                    self._held_ids,
                    self._held_text,
                    self._held_meta,
                    self._held_units,
                    self._held_vectors,
                    self._held_tokens,
                )
                left = (self.held_columns_mb << 20) - held_elsewhere(mine)
                # Chunk ids before all: a search then returns row ids and scores alone (reading the
                # id column was ~1.9 of a 4.3 ms dense search at 100k chunks), for ~40 bytes a chunk.
                view.held_ids = self._held_ids.update(view.ds, left)
                left -= self._held_ids.nbytes if view.held_ids is not None else 0
                # Then the head's texts: a small column (~0.7 KB a chunk) and a row read on the
                # critical path (~2-3 ms at 100k chunks).
                text = self._held_text.update(view.ds, left - self._held_meta.estimate(view.ds))
                meta = self._held_meta.update(view.ds, left - self._held_text.nbytes) if text else None
                if text is not None and meta is not None:
                    view.held_texts = (text, meta)
                    left -= self._held_text.nbytes + self._held_meta.nbytes
                else:
                    self._held_text.clear()
                    self._held_meta.clear()
                view.held_units = self._held_units.update(view.ds, left)
                left -= self._held_units.nbytes if view.held_units is not None else 0
                view.held_vectors = self._held_vectors.update(view.ds, left)
                left -= self._held_vectors.nbytes if view.held_vectors is not None else 0
                view.held_tokens = self._held_tokens.update(view.ds, left)
            view.held_checked = True

    def _held_rows(
        self, view: _View, candidates: Sequence[Candidate], column: str
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.float32]] | None:
        """``column`` (:data:`UNITS` or ``"vector"``) of ``candidates``' rows from memory: their
        stored values one after another, how many each row has and their lengths; None when they
        are not held or a candidate names another version (its rows are read from that one)."""
        if not _of_view(view, candidates):
            return None
        self._held_maps(view)
        held = view.held_units if column == UNITS else view.held_vectors
        return None if held is None else gather(held, [c.ref & _ADDRESS for c in candidates])

    def warm_up(self) -> None:
        """Hold now what the first search of the current version would (:meth:`_held_maps`:
        above the threshold, up to ~4 s at 100k chunks); below it, nothing to do."""
        view = self._view()
        if view is not None:
            self._held_maps(view)

    def _held_text_rows(
        self, view: _View, candidates: Sequence[Candidate]
    ) -> tuple[list[Any], list[Any]] | None:
        """The ``text`` and ``metadata_json`` of ``candidates``' rows (all of ``view``'s version)
        from memory, or None when they are not held."""
        self._held_maps(view)
        if view.held_texts is None:
            return None
        addresses = [c.ref & _ADDRESS for c in candidates]
        texts = gather_blobs(view.held_texts[0], addresses)
        meta = gather_blobs(view.held_texts[1], addresses)
        return None if texts is None or meta is None else (texts, meta)

    def _fits_held(self, view: _View, columns: list[str], cap: int) -> bool:
        """Whether ``columns`` of every row may be held in memory: the view searches in memory
        and, estimated from the first rows, they take at most ``cap`` bytes (Arrow's size)."""
        if not self._fits_in_memory(view):
            return False
        rows = list(self._row_ids(view).values())
        if not rows:
            return False
        sample = view.ds._take_rows(rows[:_HELD_SAMPLE], columns=columns)
        return bool(sample.num_rows > 0 and sample.nbytes / sample.num_rows * len(rows) <= cap)

    def _result_rows(self, view: _View) -> tuple[pa.Table, dict[str, int]] | None:
        """The view's result columns in memory and each chunk id's row in them, read once per view
        while :meth:`_fits_held`; None otherwise (rows are then read per call)."""
        if view.results_held is None:
            held = self._fits_held(view, _RESULT_COLUMNS, _ROWS_IN_MEMORY)
            if held:
                # One chunk per column: a take across many chunks costs several times more.
                table = view.ds.to_table(columns=_RESULT_COLUMNS).combine_chunks()
                view.results_at = {cid: i for i, cid in enumerate(table.column("id").to_pylist())}
                view.results = table
            view.results_held = held
        if not view.results_held or view.results is None or view.results_at is None:
            return None
        return view.results, view.results_at

    def _small_rows(self, view: _View) -> _Small | None:
        """The view's :data:`_SMALL_COLUMNS` in memory, read once per view while they take at most
        ``_SMALL_IN_MEMORY`` bytes (estimated from the first rows); None otherwise."""
        if view.small_held is None:
            sample = view.ds.head(_HELD_SAMPLE, columns=_SMALL_COLUMNS)
            per_row = sample.nbytes / max(sample.num_rows, 1)
            held = bool(sample.num_rows and per_row * view.ds.count_rows() <= _SMALL_IN_MEMORY)
            if held:
                t = view.ds.to_table(columns=_SMALL_COLUMNS, with_row_id=True)
                rowids = np.asarray(t.column("_rowid").to_numpy(), dtype=np.uint64)
                order = np.argsort(rowids, kind="stable").astype(np.intp)
                # One chunk per column: a take across many chunks costs several times more.
                view.small = _Small(t.drop_columns(["_rowid"]).combine_chunks(), rowids[order], order)
            view.small_held = held
        return view.small

    def _held_small(self, view: _View, candidates: Sequence[Candidate]) -> pa.Table | None:
        """:data:`_SMALL_COLUMNS` of ``candidates``' rows from memory, in order; None when they
        are not held or a candidate names another version (its rows are read from that one)."""
        if not _of_view(view, candidates):
            return None
        small = self._small_rows(view)
        if small is None:
            return None
        rowids = np.fromiter((c.ref & _ADDRESS for c in candidates), dtype=np.uint64, count=len(candidates))
        at = small.rows_of(rowids)
        return None if at is None else small.table.take(at)

    def fetch_texts(self, candidates: Sequence[Candidate]) -> list[str]:
        view = self._view()
        if view is None or not candidates:
            return []
        rows = self._rows(view, candidates, ["search_text"])
        texts = [""] * len(candidates)
        for i, text in zip(rows.present, rows.table.column("search_text").to_pylist(), strict=True):
            texts[i] = text or ""
        return texts

    def fetch_doc_ids(self, candidates: Sequence[Candidate]) -> list[str | None]:
        view = self._view()
        if view is None or not candidates:
            return [None] * len(candidates)
        flat = self._exact_vectors(view)
        if flat is not None and _of_view(view, candidates):
            at = flat.at
            return [flat.doc_ids[at[c.chunk_id]] if c.chunk_id in at else None for c in candidates]
        small = self._held_small(view, candidates)
        if small is not None:
            held: list[str | None] = small.column("doc_id").to_pylist()
            return held
        rows = self._rows(view, candidates, ["doc_id"])
        doc_ids: list[str | None] = [None] * len(candidates)
        for i, doc_id in zip(rows.present, rows.table.column("doc_id").to_pylist(), strict=True):
            doc_ids[i] = doc_id
        return doc_ids

    def fetch_vectors(self, candidates: Sequence[Candidate]) -> Vectors:
        view = self._view()
        if view is None or not candidates:
            return np.zeros((0, self.dimension), dtype=np.float32)
        flat = self._exact_vectors(view)
        if flat is not None and _of_view(view, candidates):
            return flat.raw[[flat.at[c.chunk_id] for c in candidates if c.chunk_id in flat.at]]
        got = self._held_rows(view, candidates, "vector")
        if got is not None and bool(np.all(got[1] == 1)):
            return np.asarray(got[0], dtype=np.float32)
        t = self._rows(view, candidates, ["vector"]).table
        vectors = np.asarray(t.column("vector").combine_chunks().flatten().to_numpy(), dtype=np.float32)
        return vectors.reshape(t.num_rows, self.dimension)

    def fetch_token_states(
        self, chunk_ids: Sequence[str], embed_texts: Sequence[str] | None = None
    ) -> list[Vectors | None]:
        view = self._view()
        # The dataset's schema is local; the table's is a call through LanceDB's event loop.
        if view is None or not chunk_ids or TOKENS not in view.ds.schema.names:
            return [None] * len(chunk_ids)
        if embed_texts is not None and len(embed_texts) != len(chunk_ids):
            raise StoreError(f"got {len(embed_texts)} texts for {len(chunk_ids)} chunk ids; pass one each")
        held = self._token_blobs(view) if embed_texts is None else None
        if held is not None:
            return unpack_many([held.get(c) for c in chunk_ids], self.dimension)
        columns = [TOKENS, "search_text"] if embed_texts is not None else [TOKENS]
        t, ids = self._rows_of_ids(view, chunk_ids, columns)
        blobs = dict(zip(ids, t.column(TOKENS).to_pylist(), strict=True))
        if embed_texts is not None:
            # States belong to the text that was embedded: a chunk whose header (title, section)
            # changed under the same id gets None, and new states.
            stored = dict(zip(ids, t.column("search_text").to_pylist(), strict=True))
            wanted = dict(zip(chunk_ids, embed_texts, strict=True))
            blobs = {cid: b for cid, b in blobs.items() if stored[cid] == wanted[cid]}
        return unpack_many([blobs.get(cid) for cid in chunk_ids], self.dimension)

    def fetch_token_states_of(self, candidates: Sequence[Candidate]) -> list[Vectors | None]:
        """:meth:`fetch_token_states` of the candidates' chunks by their refs: no chunk-id map
        (above the threshold a scan of every id once per version: ~0.1 s at 100k chunks)."""
        view = self._view()
        if view is None or not candidates or TOKENS not in view.ds.schema.names:
            return [None] * len(candidates)
        held = self._token_blobs(view)
        if held is not None:
            return unpack_many([held.get(c.chunk_id) for c in candidates], self.dimension)
        if _of_view(view, candidates):
            self._held_maps(view)
            if view.held_tokens is not None:
                got = gather_blobs(view.held_tokens, [c.ref & _ADDRESS for c in candidates])
                if got is not None:
                    return unpack_many(got, self.dimension)
        rows = self._rows(view, candidates, [TOKENS])
        blobs: list[bytes | None] = [None] * len(candidates)
        for i, blob in zip(rows.present, rows.table.column(TOKENS).to_pylist(), strict=True):
            blobs[i] = blob
        return unpack_many(blobs, self.dimension)

    def _rows_of_ids(
        self, view: _View, chunk_ids: Sequence[str], columns: list[str]
    ) -> tuple[pa.Table, list[str]]:
        """``columns`` of the stored rows among ``chunk_ids`` (once each) and their ids, in order,
        by row id: a few rows in about a millisecond, where a filter on ``id`` scans the column."""
        rows = self._row_ids(view)
        # Ids the map does not know are not stored (ingest asks about every new chunk): no query.
        present = [c for c in dict.fromkeys(chunk_ids) if c in rows]
        if not present:
            return pa.table({c: pa.array([], view.ds.schema.field(c).type) for c in columns}), []
        # The map and the take read one version, so every row is where the map says, in the order
        # asked: the ids need not be read back (a short take, which that rules out, reads them).
        t = view.ds._take_rows([rows[c] for c in present], columns=columns)
        if t.num_rows != len(present):
            t = view.ds._take_rows([rows[c] for c in present], columns=["id", *columns])
            return t.select(columns), t.column("id").to_pylist()
        return t, present

    def _token_blobs(self, view: _View) -> dict[str, bytes] | None:
        """Every chunk's token-state blob by chunk id, read once per view while :meth:`_fits_held`
        (at most ``_TOKENS_IN_MEMORY`` bytes); None otherwise (rows are then read per call)."""
        if view.tokens_held is None:
            held = self._fits_held(view, [TOKENS], _TOKENS_IN_MEMORY)
            if held:
                t = view.ds.to_table(columns=["id", TOKENS])
                view.tokens = {
                    cid: blob
                    for cid, blob in zip(
                        t.column("id").to_pylist(), t.column(TOKENS).to_pylist(), strict=True
                    )
                    if blob is not None
                }
            view.tokens_held = held
        return view.tokens if view.tokens_held else None

    def fetch_sentence_vectors(self, chunk_ids: Sequence[str]) -> list[StoredSentences | None]:
        view = self._view()
        if view is None or not chunk_ids or UNITS not in view.ds.schema.names:
            return [None] * len(chunk_ids)
        t, ids = self._rows_of_ids(view, chunk_ids, ["text", UNITS])
        if not ids:
            return [None] * len(chunk_ids)
        col = t.column(UNITS).combine_chunks()
        counts = np.asarray(pc.list_value_length(col).fill_null(0).to_numpy(), dtype=np.intp)
        flat = np.asarray(col.flatten().flatten().to_numpy(), dtype=np.float32).reshape(-1, self.dimension)
        starts = np.concatenate([[0], np.cumsum(counts)])
        found: dict[str, StoredSentences] = {}
        texts = t.column("text").to_pylist()
        for i, cid in enumerate(ids):
            if counts[i]:
                found[cid] = StoredSentences(texts[i] or "", flat[starts[i] : starts[i + 1]])
        return [found.get(c) for c in chunk_ids]

    def _positions(self, view: _View) -> dict[tuple[str, int], list[int]]:
        """(doc id, position) -> row ids in ``view`` (two documents may share a doc id), built on
        first use like :meth:`_row_ids`."""
        if view.positions is None:
            t = view.ds.to_table(columns=["doc_id", "position"], with_row_id=True)
            at: dict[tuple[str, int], list[int]] = {}
            for d, p, r in zip(
                t.column("doc_id").to_pylist(),
                t.column("position").to_pylist(),
                t.column("_rowid").to_pylist(),
                strict=True,
            ):
                at.setdefault((d, int(p)), []).append(int(r))
            view.positions = at
        return view.positions

    def _row_ids(self, view: _View) -> dict[str, int]:
        """Chunk id -> row id in ``view``, built on first use: reading a few rows by row id takes
        milliseconds where a filter on ``id`` scans the column (36 ms at 12k chunks)."""
        if view.rows is None:
            flat = self._exact_vectors(view)
            if flat is not None:
                view.rows = {cid: int(flat.rowids[i]) for cid, i in flat.at.items()}
            else:
                t = view.ds.to_table(columns=["id"], with_row_id=True)
                ids = t.column("id").to_pylist()
                view.rows = dict(zip(ids, t.column("_rowid").to_pylist(), strict=True))
        return view.rows

    def _partitions(self, n: int) -> int:
        # One HNSW graph beats many small ones until the graph gets large: at 100k chunks,
        # 1 partition answers in 5.0 ms vs 8.9 ms for 16 (recall 0.999 vs 1.000, refine included;
        # all partitions are always probed, since probing fewer cost real-data recall).
        return self.ann_partitions or max(1, n // 500_000)

    @cached_property
    def _nprobes(self) -> int:
        n = self.chunks_table.count_rows() if self.chunks_table is not None else 0
        return self._partitions(n)

    def source_hashes(self) -> dict[str, str]:
        tbl = self.chunks_table
        if tbl is None:
            return {}
        t = tbl.search().select(["source", "source_hash"]).limit(None).to_arrow()
        return dict(zip(t.column("source").to_pylist(), t.column("source_hash").to_pylist(), strict=True))

    def document_ids(self) -> set[str]:
        tbl = self.chunks_table
        if tbl is None:
            return set()
        return set(tbl.search().select(["doc_id"]).limit(None).to_arrow().column("doc_id").to_pylist())

    def documents(
        self, filters: Filter | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[DocumentInfo]:
        tbl = self.chunks_table
        if tbl is None or limit < 1:
            return []
        q = tbl.search()
        where = self._where(filters)
        if where:
            q = q.where(where)
        columns = ["doc_id", "source", "title", "metadata_json", ACL_TENANT, ACL_GROUPS, ACL_CLEARANCE]
        rows = q.select(columns).limit(None).to_list()
        return documents_of(rows, limit=limit, offset=offset)

    def find_chunks(self, filters: Filter, limit: int | None = None) -> list[Chunk]:
        tbl = self.chunks_table
        if tbl is None:
            return []
        rows = tbl.search().where(self._where(filters)).select(_RESULT_COLUMNS).limit(limit).to_list()
        return sorted((chunk_of(r) for r in rows), key=lambda c: (c.doc_id, c.position))

    def field_values(self, max_values: int = 50) -> dict[str, list[str]]:
        if self._values is not None and self._values[0] == max_values:
            return dict(self._values[1])
        tbl = self.chunks_table
        strings = [f for f, kind in self.metadata_fields().items() if kind == "string"]
        out: dict[str, list[str]] = {}
        if tbl is not None and strings:
            t = tbl.search().select([_META_PREFIX + f for f in strings]).limit(None).to_arrow()
            for f in strings:
                distinct = set(t.column(_META_PREFIX + f).drop_null().unique().to_pylist())
                if 0 < len(distinct) <= max_values:
                    out[f] = sorted(distinct)
        # Recomputed after this store writes (_changed resets it): a scan per question is too slow.
        self._values = (max_values, out)
        return dict(out)

    def documents_by_source(self) -> dict[str, set[str]]:
        tbl = self.chunks_table
        if tbl is None:
            return {}
        t = tbl.search().select(["source", "doc_id"]).limit(None).to_arrow()
        out: dict[str, set[str]] = {}
        for s, d in zip(t.column("source").to_pylist(), t.column("doc_id").to_pylist(), strict=True):
            out.setdefault(s, set()).add(d)
        return out

    def all_chunks(self) -> list[Chunk]:
        """Every chunk, ordered by (doc_id, position). For tests and exports, not for hot paths."""
        tbl = self.chunks_table
        if tbl is None:
            return []
        rows = tbl.search().select(_RESULT_COLUMNS).limit(None).to_list()
        return sorted((chunk_of(r) for r in rows), key=lambda c: (c.doc_id, c.position))

    def chunks_at(self, keys: Sequence[tuple[str, int]], filters: Filter | None = None) -> list[Chunk]:
        """Chunks by (doc id, position), e.g. the neighbours of a hit, that match ``filters``;
        missing keys are skipped, and a key two documents share gives both."""
        self._follow_other_writers()
        view = self._view()
        if view is None or not keys:
            return []
        wanted = set(keys)
        by_doc: dict[str, set[int]] = {}
        for doc_id, pos in wanted:
            by_doc.setdefault(doc_id, set()).add(pos)
        where = self._where(filters)
        if where:
            pred = " OR ".join(
                f"(doc_id = {sql_literal(d)} AND position IN ({', '.join(str(p) for p in sorted(ps))}))"
                for d, ps in by_doc.items()
            )
            # pylance's scan of the view directly: the same rows as lancedb's query builder
            # without its event-loop round trip.
            rows = view.ds.to_table(columns=_RESULT_COLUMNS, filter=f"({pred}) AND ({where})").to_pylist()
        else:
            # No filter: the rows by row id, in storage order as a scan gives them (5.6 -> 0.6 ms
            # CPU per call at 2.5k chunks, and no scan of the doc_id column at 100k).
            at = self._positions(view)
            ids = sorted({r for k in wanted for r in at.get(k, ())})
            rows = view.ds._take_rows(ids, columns=_RESULT_COLUMNS).to_pylist() if ids else []
        found: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in rows:
            found.setdefault((r["doc_id"], int(r["position"])), []).append(r)
        return [chunk_of(r) for k in dict.fromkeys(keys) for r in found.get(k, [])]

    def get_sections(self, ids: Sequence[str]) -> list[Section]:
        tbl = self.sections_table
        if tbl is None or not ids:
            return []
        pred = " OR ".join(_in_list("id", list(ids)))
        rows = tbl.search().where(pred).limit(None).to_list()
        by_id = {r["id"]: _section_of(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def stats(self, filters: Filter | None = None) -> StoreStats:
        """Counts and index state; with ``filters`` (a caller's access scope) the chunk, document
        and source counts are of the matching rows only."""
        tbl = self.chunks_table
        disk = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) if self.root.exists() else 0
        if tbl is None:
            return StoreStats(0, 0, 0, 0, self.dimension, self.model_id, None, False, disk, {})
        q = tbl.search()
        where = self._where(filters)
        if where:
            q = q.where(where)
        t = q.select(["doc_id", "source", "parent_id"]).limit(None).to_arrow()
        indexes = self._index_types()
        if where:
            sections = len(set(t.column("parent_id").drop_null().to_pylist()))
        else:
            sections = self.sections_table.count_rows() if self.sections_table is not None else 0
        return StoreStats(
            chunks=t.num_rows,
            documents=len(set(t.column("doc_id").to_pylist())),
            sources=len(set(t.column("source").to_pylist())),
            sections=sections,
            dimension=self.dimension,
            model_id=self.model_id,
            vector_index=indexes.get("vector"),
            keyword_index="search_text" in indexes,
            disk_bytes=disk,
            metadata_fields=dict(self.metadata_fields()),
        )
