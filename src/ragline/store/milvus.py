"""``MilvusStore``: a collection in Milvus (a server, or a Milvus Lite file) through pymilvus'
``MilvusClient``.

What it has: dense search (HNSW, cosine), keyword search (Milvus's built-in BM25 function over a
sparse field), vector fetch, stored token states, every filter operator and the access filter as
Milvus boolean expressions applied inside the search (a prefilter). What it lacks: sentence
vectors (the pipeline skips the sentence search stage, with one logged reason per store).

Layout: one Milvus collection of chunk rows and one auxiliary collection (``<name>_aux``) holding
parent sections, token states (packed int8, base64 in VARCHAR parts: Milvus has no byte field)
and the store's state. The names are made once, from the collection directory's
name and a random suffix, and recorded in its ``collection.json``: two tenants' (or two data
directories') same-named collections never share Milvus collections, and a renamed directory
(``reembed``'s swap) keeps its own.

Keyword analysis: the BM25 function's input is the chunk text after ragline's English analysis
(stemming, stop words; :func:`ragline.store.keyword.analyze`, the other backends' analysis), split
by Milvus's ``standard`` tokenizer; queries get the same analysis. Milvus Lite's analyzers have no
stemmer, and this keeps the terms equal across backends and Milvus deployments.

Visibility (a search sees a source's old chunks or its new ones, never a mix): Milvus gives the
entities of one insert or delete call one timestamp, and a ``Strong`` read sees every operation
before it (milvus.io/docs/timestamp.md, tune_consistency.md); nothing spans calls (its own upsert is an
insert then a delete), and an upsert of a source is several calls. Every
row carries the generation ``gen`` of the write that made it; the state (insert-only rows in the
aux collection, the highest version wins) records the last committed generation ``C`` and the
sources being retired. An upsert writes its rows at ``C + 1`` (invisible: readers filter
``gen <= C``), then one state row switches ``C`` and names the replaced sources (readers exclude
their older rows), then deletes those rows and clears the entry. A read takes the state, searches,
and searches again if the state changed meanwhile (a write's deletes could have run under it).
Searches and reads use ``Strong`` consistency so each sees every write made before it. One writer
per collection (the engine's lock); a writer that died mid-way is cleaned up by the next write.

Verified on Milvus Lite 3.2 (pure-Python engine) only; nothing here is Lite-specific (no
``in`` on JSON paths, no analyzer beyond ``standard``, BM25 scores taken as absolute values since
Lite reports them negated).

Example::

    store = MilvusStore(Path(".ragline/collections/docs"), dimension=384, model_id="minilm",
                        uri=".ragline/milvus.db")
    store.upsert([SourceBatch("/docs/a.md", "h", chunks, vectors)])
    chunks = store.fetch_chunks(store.dense_candidates(query_vector, 10))
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ragline.embedding.base import Vectors
from ragline.embedding.tokens import unpack_tokens
from ragline.errors import FilterError, StoreError
from ragline.store.base import Candidate, DocumentInfo, SourceBatch, StoreStats
from ragline.store.filters import (
    ACL_CLEARANCE,
    ACL_GROUPS,
    ACL_TENANT,
    And,
    ColumnKind,
    Compare,
    Exists,
    Filter,
    Not,
    Or,
    Scalar,
    Visible,
    to_sql,
)
from ragline.store.keyword import analyze, keyword_query
from ragline.store.meta import open_meta, read_meta, write_meta
from ragline.store.rows import (
    BUILTIN_FILTER_FIELDS,
    check_filter_fields,
    checked_batch,
    chunk_of,
    coerce,
    documents_of,
    new_fields,
    row_of,
)
from ragline.types import Chunk, Section

BACKEND = "milvus"
FORMAT_VERSION = 1
NAME_KEY = "milvus_collection"
# Milvus caps a search's limit (and a query's limit + offset) at 16,384 (maxQueryResultWindow).
MAX_TOP_K = 16_384
# VARCHAR fields hold at most 65,535 bytes.
MAX_TEXT_BYTES = 65_535
# Rows per insert call: well under gRPC's 64 MB message limit with 1024-d vectors and long texts.
INSERT_ROWS = 512
SCAN_BATCH = 1000
# Reads retried when a write's switch lands under them (then the write's deletes may have too).
READ_ATTEMPTS = 5
STRONG = "Strong"
# finalize() flushes once this many rows were written: Milvus Lite searched 5,000 unflushed rows 5x
# slower than flushed ones, but a flush costs it seconds (a server seals segments by itself too).
FLUSH_ROWS = 2_000
# The aux rows that belong to chunk rows' sources and generations (the rest is the state).
_AUX_ROWS = 'kind in ["section", "tokens"]'

_ROW_FIELDS = [
    "pk",
    "chunk_id",
    "gen",
    "doc_id",
    "source",
    "source_hash",
    "parent_id",
    "position",
    "start",
    "end",
    "section",
    "title",
    "text",
    "search_text",
    "metadata_json",
    ACL_TENANT,
    ACL_GROUPS,
    ACL_CLEARANCE,
]

T = TypeVar("T")


# -- filter expressions ------------------------------------------------------------------------


def literal(value: Scalar) -> str:
    """``value`` as a Milvus expression literal: strings double-quoted with backslash escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise FilterError(f"filter value {value!r} is not a finite number")
        return repr(value)
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20:
            raise FilterError(
                f"filter value {value!r} holds control character {ch!r}, which Milvus expressions "
                "cannot carry; remove it from the value"
            )
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_OPS = {"$eq": "==", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def _in(name: str, values: Sequence[Scalar]) -> str:
    return f"{name} in [{', '.join(literal(v) for v in values)}]"


def to_expr(f: Filter) -> str:
    """A filter (already checked against the collection's fields) as a Milvus boolean expression.

    Built-in fields are scalar columns; metadata fields are keys of the JSON field ``meta``, which
    holds only a row's non-null values. Every leaf is two-valued (a missing key is guarded with
    ``exists``), so ``not`` means what :func:`ragline.store.filters.matches` means by it.
    """
    if isinstance(f, And | Or):
        joiner = " and " if isinstance(f, And) else " or "
        return "(" + joiner.join(to_expr(p) for p in f.parts) + ")"
    if isinstance(f, Not):
        return f"(not {to_expr(f.part)})"
    if isinstance(f, Visible):
        return visible_expr(f.principal.tenant, f.principal.groups, f.principal.clearance)
    if f.field in BUILTIN_FILTER_FIELDS:  # always present
        if isinstance(f, Exists):
            return "true" if f.exists else "false"
        if isinstance(f, Compare):
            return f"({f.field} {_OPS[f.op]} {literal(f.value)})"
        return f"({'not ' if f.negate else ''}({_in(f.field, f.values)}))"
    path = f'meta["{f.field}"]'  # field names are [A-Za-z_][A-Za-z0-9_]* (filters.FIELD_RE)
    if isinstance(f, Exists):
        return f"({'' if f.exists else 'not '}exists {path})"
    if isinstance(f, Compare):
        if f.op == "$ne":
            return f"(not exists {path} or {path} != {literal(f.value)})"
        return f"(exists {path} and {path} {_OPS[f.op]} {literal(f.value)})"
    # `in` on a JSON path is not in every Milvus (Lite refuses it): a disjunction of equalities.
    anyof = " or ".join(f"{path} == {literal(v)}" for v in f.values)
    if f.negate:
        return f"(not exists {path} or not ({anyof}))"
    return f"(exists {path} and ({anyof}))"


def visible_expr(tenant: str, groups: Sequence[str], clearance: int) -> str:
    """The ACL predicate (see :func:`ragline.store.filters.visible_sql`) as a Milvus expression."""
    shared = (
        f" or array_contains_any({ACL_GROUPS}, [{', '.join(literal(g) for g in groups)}])" if groups else ""
    )
    return (
        f"({ACL_TENANT} == {literal(tenant)} and (array_length({ACL_GROUPS}) == 0{shared})"
        f" and {ACL_CLEARANCE} <= {int(clearance)})"
    )


# -- state -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Retiring:
    """Rows older than ``gen`` of these sources, documents, chunk ids (and section ids) that a
    committed write replaced; excluded by readers until deleted."""

    gen: int
    sources: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()

    def expr(self, id_field: str, ids: Sequence[str]) -> str | None:
        parts = [
            _in(name, values)
            for name, values in (("source", self.sources), ("doc_id", self.docs), (id_field, ids))
            if values
        ]
        return f"(gen < {self.gen} and ({' or '.join(parts)}))" if parts else None


@dataclass(frozen=True)
class _State:
    version: int = 0
    committed: int = 0
    retiring: tuple[_Retiring, ...] = ()
    # Sources whose hash a document delete cleared (their next ingest re-indexes them).
    cleared: frozenset[str] = frozenset()
    fields: dict[str, ColumnKind] = field(default_factory=dict)
    keyword_index: bool = False

    def rows_expr(self) -> str:
        """Chunk rows readers may see: committed, and not replaced by a committed write."""
        retired = [e for r in self.retiring if (e := r.expr("chunk_id", r.ids))]
        return " and ".join([f"gen <= {self.committed}", *(f"not {e}" for e in retired)])

    def tokens_expr(self) -> str:
        """Token-state rows readers may see (they follow their chunk rows' generations)."""
        retired = [e for r in self.retiring if (e := r.expr("sid", r.ids))]
        return " and ".join(['kind == "tokens"', f"gen <= {self.committed}", *(f"not {e}" for e in retired)])

    def sections_expr(self) -> str:
        retired = [e for r in self.retiring if (e := r.expr("sid", r.sections))]
        return " and ".join(['kind == "section"', f"gen <= {self.committed}", *(f"not {e}" for e in retired)])

    def to_json(self) -> str:
        return json.dumps(
            {
                "committed": self.committed,
                "retiring": [r.__dict__ for r in self.retiring],
                "cleared": sorted(self.cleared),
                "fields": self.fields,
                "keyword_index": self.keyword_index,
            }
        )

    @classmethod
    def from_json(cls, version: int, body: str) -> _State:
        d = json.loads(body)
        return cls(
            version=version,
            committed=d["committed"],
            retiring=tuple(
                _Retiring(r["gen"], *(tuple(r[k]) for k in ("sources", "docs", "ids", "sections")))
                for r in d["retiring"]
            ),
            cleared=frozenset(d["cleared"]),
            fields=d["fields"],
            keyword_index=d["keyword_index"],
        )


class _Client:
    """A ``MilvusClient`` whose failures raise StoreError, naming the call and the server."""

    def __init__(self, client: Any, uri: str) -> None:
        self._client = client
        self._uri = uri

    def __getattr__(self, method: str) -> Callable[..., Any]:
        call = getattr(self._client, method)

        def checked(*args: Any, **kwargs: Any) -> Any:
            from pymilvus.exceptions import MilvusException

            try:
                return call(*args, **kwargs)
            except MilvusException as exc:
                raise StoreError(f"Milvus at {self._uri!r} failed in {method}: {exc}") from exc

        return checked


def _collection_name(root: Path) -> str:
    """A new Milvus collection name for ``root``: readable, and unique (random suffix)."""
    stem = re.sub(r"[^A-Za-z0-9_]", "_", root.name)[:40] or "c"
    return f"ragline_{stem}_{secrets.token_hex(8)}"


def _check_size(what: str, value: str, chunk: Chunk | None = None) -> None:
    if len(value.encode("utf-8")) > MAX_TEXT_BYTES:
        where = f"chunk {chunk.id!r} of {chunk.source}" if chunk else "a section"
        raise StoreError(
            f"{where}: its {what} is {len(value.encode('utf-8'))} bytes, above Milvus's "
            f"{MAX_TEXT_BYTES}-byte VARCHAR limit; use a smaller chunking.chunk_size"
        )


class MilvusStore:
    """A :class:`~ragline.store.base.Store` in Milvus with dense search, BM25 keyword search,
    vector fetch and token states (no sentence vectors).

    Opens lazily: the constructor only checks and stores its arguments; the first use connects,
    and creates the Milvus collections of a new collection.
    """

    def __init__(
        self,
        root: Path,
        dimension: int,
        model_id: str,
        *,
        uri: str,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        ann_ef: int = 96,
        ann_ef_construction: int = 100,
    ) -> None:
        if dimension < 1:
            raise StoreError(f"dimension must be positive, got {dimension}")
        self.root = Path(root)
        self.dimension = dimension
        self.model_id = model_id
        self.uri = uri
        self.ann_ef = ann_ef
        self.ann_ef_construction = ann_ef_construction
        self._credentials = {"token": token, "user": user, "password": password}
        self._lock = threading.Lock()  # one writer in this process; the engine's file lock across
        self._opened: tuple[Any, str] | None = None
        self._unflushed = 0  # chunk rows this store wrote since it last flushed

    # -- connection --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The Milvus collection holding the chunk rows (``<name>_aux`` holds sections and state)."""
        return self._open()[1]

    def _open(self) -> tuple[Any, str]:
        opened = self._opened
        if opened is None:
            with self._lock:
                if self._opened is None:
                    self._opened = self._connect()
                opened = self._opened
        return opened

    def _connect(self) -> tuple[Any, str]:
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise StoreError(
                "store.backend = 'milvus' needs pymilvus (and milvus-lite for a .db file): "
                "pip install 'ragline[milvus]'"
            ) from exc
        open_meta(
            self.root,
            model_id=self.model_id,
            dimension=self.dimension,
            backend=BACKEND,
            format_version=FORMAT_VERSION,
        )
        meta = read_meta(self.root) or {}
        name = meta.get(NAME_KEY)
        if not isinstance(name, str):
            name = _collection_name(self.root)
            write_meta(self.root, {**meta, NAME_KEY: name})
        kwargs = {k: v for k, v in self._credentials.items() if v}
        try:
            client = _Client(MilvusClient(uri=self.uri, **kwargs), self.uri)
        except Exception as exc:  # pymilvus raises its own and grpc's errors here
            raise StoreError(
                f"cannot connect to Milvus at store.uri {self.uri!r}: {exc}; check that the server is "
                "up and the credentials (store.token or store.user/password)"
            ) from exc
        if not client.has_collection(name):
            self._create(client, name)
        if not client.has_collection(name + "_aux"):
            self._create_aux(client, name + "_aux")
        client.load_collection(name)
        client.load_collection(name + "_aux")
        return client, name

    def _create(self, client: Any, name: str) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=2048)
        s.add_field("chunk_id", DataType.VARCHAR, max_length=1024)
        s.add_field("gen", DataType.INT64)
        for text in ("doc_id", "source", "source_hash", "parent_id", "section", "title"):
            s.add_field(text, DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        for number in ("position", "start", "end", ACL_CLEARANCE):
            s.add_field(number, DataType.INT64)
        for text in ("text", "search_text", "metadata_json"):
            s.add_field(text, DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        s.add_field(
            "kw",
            DataType.VARCHAR,
            max_length=MAX_TEXT_BYTES,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard"},
        )
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_field("meta", DataType.JSON)
        s.add_field(ACL_TENANT, DataType.VARCHAR, max_length=1024)
        s.add_field(
            ACL_GROUPS, DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4096, max_length=1024
        )
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        s.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["kw"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index(
            "vector",
            index_type="HNSW",
            metric_type="COSINE",
            params={"M": 16, "efConstruction": self.ann_ef_construction},
        )
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={})
        # What every read filters on (generation, access) and every write looks up (ids, sources).
        for scalar in ("gen", "chunk_id", "doc_id", "source", ACL_TENANT):
            index.add_index(scalar, index_type="INVERTED")
        self._create_with(client, name, s, index)

    @staticmethod
    def _create_with(client: Any, name: str, schema: Any, index: Any) -> None:
        client.create_collection(name, schema=schema, consistency_level=STRONG)
        # sync=False: pymilvus otherwise polls every 0.5 s until the (empty) index is built.
        client.create_index(name, index, sync=False)

    def _create_aux(self, client: Any, name: str) -> None:
        from pymilvus import DataType, MilvusClient

        s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=2048)
        s.add_field("kind", DataType.VARCHAR, max_length=16)  # "state" | "section"
        s.add_field("version", DataType.INT64)
        s.add_field("gen", DataType.INT64)
        s.add_field("sid", DataType.VARCHAR, max_length=1024)
        s.add_field("doc_id", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        s.add_field("source", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        s.add_field("body", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        # Milvus collections need a vector field; this one is never searched.
        s.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
        index = client.prepare_index_params()
        index.add_index("unused", index_type="FLAT", metric_type="L2")
        self._create_with(client, name, s, index)

    # -- state -------------------------------------------------------------------------------------

    def _state(self) -> _State:
        client, name = self._open()
        rows = client.query(
            name + "_aux",
            filter='kind == "state"',
            output_fields=["version", "body"],
            consistency_level=STRONG,
        )
        if not rows:
            return _State()
        # Insert-only rows: the highest version is the state (a bigger one split in parts).
        top = max(int(r["version"]) for r in rows)
        parts = sorted((r["pk"], r["body"]) for r in rows if int(r["version"]) == top)
        return _State.from_json(top, "".join(body for _, body in parts))

    def _put_state(self, state: _State) -> _State:
        """Write ``state`` as the next version (one insert call: visible at once), drop older ones."""
        client, name = self._open()
        new = _State(
            state.version + 1,
            state.committed,
            state.retiring,
            state.cleared,
            state.fields,
            state.keyword_index,
        )
        body = new.to_json()
        step = 16_000  # characters: at most 4 UTF-8 bytes each, under the VARCHAR limit
        rows = [
            {
                "pk": f"state:{new.version:020d}:{i:06d}",
                "kind": "state",
                "version": new.version,
                "gen": 0,
                "sid": "",
                "doc_id": "",
                "source": "",
                "body": body[at : at + step],
                "unused": [0.0, 0.0],
            }
            for i, at in enumerate(range(0, max(len(body), 1), step))
        ]
        client.insert(name + "_aux", rows)
        client.delete(name + "_aux", filter=f'kind == "state" and version < {new.version}')
        return new

    def _read(self, fn: Callable[[_State], T]) -> T:
        """``fn`` run on the current state, again if a write switched the state under it."""
        state = self._state()
        for _ in range(READ_ATTEMPTS):
            out = fn(state)
            now = self._state()
            if now.version == state.version:
                return out
            state = now
        return out

    # -- filters -----------------------------------------------------------------------------------

    def _expr(self, state: _State, filters: Filter | None) -> str:
        """The rows a reader sees that pass ``filters``, after the checks the other backends make."""
        base = state.rows_expr()
        if filters is None:
            return base
        check_filter_fields(filters, state.fields)

        def column(name: str) -> tuple[str, ColumnKind]:
            return name, BUILTIN_FILTER_FIELDS.get(name) or state.fields[name]

        to_sql(filters, column)  # for its type checks: the same errors as LanceDB's
        return f"{base} and {to_expr(filters)}"

    # -- writing -----------------------------------------------------------------------------------

    def _recover(self, state: _State) -> _State:
        """Finish what a writer that died left: delete uncommitted rows and retired ones."""
        client, name = self._open()
        client.delete(name, filter=f"gen > {state.committed}")
        client.delete(name + "_aux", filter=f"{_AUX_ROWS} and gen > {state.committed}")
        if not state.retiring:
            return state
        for r in state.retiring:
            self._delete_retired(r)
        return self._put_state(
            _State(state.version, state.committed, (), state.cleared, state.fields, state.keyword_index)
        )

    def _delete_retired(self, r: _Retiring) -> None:
        client, name = self._open()
        if e := r.expr("chunk_id", r.ids):
            client.delete(name, filter=e)
        if e := r.expr("sid", r.sections):
            client.delete(name + "_aux", filter=f'kind == "section" and {e}')
        if e := r.expr("sid", r.ids):
            client.delete(name + "_aux", filter=f'kind == "tokens" and {e}')

    def upsert(self, batches: Sequence[SourceBatch]) -> None:
        """Replace everything held for the batches' sources (or listed documents): readers see the
        old rows until one state write switches them to the new ones."""
        if not batches:
            return
        client, name = self._open()
        with self._lock:
            state = self._recover(self._state())
            fields = {**state.fields, **new_fields(state.fields, batches)}
            gen = state.committed + 1
            rows: list[dict[str, Any]] = []
            tokens: list[dict[str, Any]] = []
            for b in batches:
                _, blobs = checked_batch(b, self.dimension)
                vectors = np.asarray(b.vectors, dtype=np.float32)
                for c, v, blob in zip(b.chunks, vectors, blobs, strict=True):
                    rows.append(self._row(c, b, v, gen, fields))
                    if blob is not None:
                        tokens.extend(_token_rows(c, b.source, blob, gen))
            # A section sent twice (two batches of one document) is written once, as the memory twin keeps it.
            sent = {s.id: (s, b.source) for b in batches[::-1] for s in b.sections}
            sections = [self._section_row(s, source, gen) for s, source in sent.values()]
            sources = tuple(sorted({b.source for b in batches if b.documents is None}))
            docs = tuple(sorted({d for b in batches if b.documents is not None for d in b.documents}))
            new_ids = sorted({r["chunk_id"] for r in rows})
            # Chunk ids the batches bring that other sources' documents hold: replaced too.
            elsewhere = self._scan(
                name, self._in_scope_not(state, "chunk_id", new_ids, sources, docs), ["chunk_id"]
            )
            ids = tuple(sorted({r["chunk_id"] for r in elsewhere}))
            self._unflushed += len(rows)
            for at in range(0, len(rows), INSERT_ROWS):
                client.insert(name, rows[at : at + INSERT_ROWS])
            for aux in (sections, tokens):
                for at in range(0, len(aux), INSERT_ROWS):
                    client.insert(name + "_aux", aux[at : at + INSERT_ROWS])
            retiring = _Retiring(gen, sources, docs, ids, tuple(sorted({s["sid"] for s in sections})))
            switched = self._put_state(
                _State(
                    state.version, gen, (retiring,), state.cleared - set(sources), fields, state.keyword_index
                )
            )
            self._delete_retired(retiring)
            self._put_state(
                _State(switched.version, gen, (), switched.cleared, fields, switched.keyword_index)
            )

    def _in_scope_not(
        self, state: _State, id_field: str, ids: Sequence[str], sources: Sequence[str], docs: Sequence[str]
    ) -> str:
        if not ids:
            return "false"
        out = f"{state.rows_expr()} and {_in(id_field, ids)}"
        if sources:
            out += f" and not ({_in('source', sources)})"
        if docs:
            out += f" and not ({_in('doc_id', docs)})"
        return out

    def _row(
        self, c: Chunk, b: SourceBatch, vector: Vectors, gen: int, fields: dict[str, ColumnKind]
    ) -> dict[str, Any]:
        row = row_of(c, b.source, b.source_hash)
        chunk_id = row.pop("id")
        for key in ("text", "search_text", "metadata_json", "title", "section", "source", "doc_id"):
            _check_size(key, row[key] or "", c)
        kw = " ".join(analyze(row["search_text"] or ""))
        _check_size("analyzed text", kw, c)
        return {
            **row,
            "pk": f"{gen}:{chunk_id}",
            "chunk_id": chunk_id,
            "gen": gen,
            "parent_id": row["parent_id"] or "",
            "kw": kw,
            "meta": {
                k: coerce(kind, c.metadata[k], k, b.source)
                for k, kind in fields.items()
                if c.metadata.get(k) is not None
            },
            "vector": vector.tolist(),
        }

    @staticmethod
    def _section_row(s: Section, source: str, gen: int) -> dict[str, Any]:
        body = json.dumps(
            {"text": s.text, "start": s.start, "end": s.end, "section_path": list(s.section_path)}
        )
        _check_size("text", body)
        return {
            "pk": f"section:{gen}:{s.id}",
            "kind": "section",
            "version": 0,
            "gen": gen,
            "sid": s.id,
            "doc_id": s.doc_id,
            "source": source,
            "body": body,
            "unused": [0.0, 0.0],
        }

    def _delete_rows(self, state: _State, rows: list[dict[str, Any]], *, partial: bool) -> int:
        """Delete chunk ``rows`` (with pk, source, doc_id) and the sections no remaining row of
        their documents uses; their sources lose their hash (the next ingest re-indexes them)."""
        if not rows:
            return 0
        client, name = self._open()
        pks = [r["pk"] for r in rows]
        for at in range(0, len(pks), SCAN_BATCH):
            client.delete(name, filter=_in("pk", pks[at : at + SCAN_BATCH]))
        docs = sorted({r["doc_id"] for r in rows})
        chunk_ids = sorted({r["chunk_id"] for r in rows})
        for at in range(0, len(chunk_ids), SCAN_BATCH):
            part = _in("sid", chunk_ids[at : at + SCAN_BATCH])
            client.delete(name + "_aux", filter=f"{state.tokens_expr()} and {_in('doc_id', docs)} and {part}")
        gone = f"{state.sections_expr()} and {_in('doc_id', docs)}"
        if partial:
            left = self._scan(name, f"{state.rows_expr()} and {_in('doc_id', docs)}", ["parent_id"])
            used = sorted({r["parent_id"] for r in left if r["parent_id"]})
            if used:
                gone += f" and not ({_in('sid', used)})"
        client.delete(name + "_aux", filter=gone)
        self._put_state(
            _State(
                state.version,
                state.committed,
                state.retiring,
                state.cleared | {r["source"] for r in rows},
                state.fields,
                state.keyword_index,
            )
        )
        return len(rows)

    def delete_documents(self, doc_ids: Sequence[str], filters: Filter | None = None) -> int:
        """Delete the chunks of ``doc_ids`` that match ``filters`` (all of them without one)."""
        if not doc_ids:
            return 0
        _, name = self._open()
        with self._lock:
            state = self._recover(self._state())
            expr = f"{self._expr(state, filters)} and {_in('doc_id', sorted(set(doc_ids)))}"
            rows = self._scan(name, expr, ["pk", "chunk_id", "source", "doc_id"])
            return self._delete_rows(state, rows, partial=filters is not None)

    def delete_sources(self, sources: Sequence[str]) -> int:
        if not sources:
            return 0
        client, name = self._open()
        with self._lock:
            state = self._recover(self._state())
            wanted = sorted(set(sources))
            n = len(self._scan(name, f"{state.rows_expr()} and {_in('source', wanted)}", ["pk"]))
            client.delete(name, filter=_in("source", wanted))
            client.delete(name + "_aux", filter=f"{_AUX_ROWS} and {_in('source', wanted)}")
            if state.cleared & set(wanted):
                self._put_state(
                    _State(
                        state.version,
                        state.committed,
                        state.retiring,
                        state.cleared - set(wanted),
                        state.fields,
                        state.keyword_index,
                    )
                )
            return n

    def retain_tenant(self, tenant: str) -> int:
        """Delete every row of other tenants; returns how many."""
        _, name = self._open()
        with self._lock:
            state = self._recover(self._state())
            expr = f"{state.rows_expr()} and {ACL_TENANT} != {literal(tenant)}"
            rows = self._scan(name, expr, ["pk", "chunk_id", "source", "doc_id"])
            return self._delete_rows(state, rows, partial=True)

    def finalize(self) -> None:
        """Seals what a round of upserts wrote (Milvus ``flush``: growing data becomes indexed
        segments) once it is :data:`FLUSH_ROWS` rows, and records that the keyword index exists,
        as LanceDB's stats report it after the first finalize."""
        client, name = self._open()
        with self._lock:
            if self._unflushed >= FLUSH_ROWS:
                client.flush(name)
                client.flush(name + "_aux")
                self._unflushed = 0
            state = self._recover(self._state())
            if not state.keyword_index and client.query(
                name, filter=state.rows_expr(), output_fields=["pk"], limit=1, consistency_level=STRONG
            ):
                self._put_state(
                    _State(state.version, state.committed, state.retiring, state.cleared, state.fields, True)
                )

    # -- searching ---------------------------------------------------------------------------------

    def _search(
        self, data: Any, field: str, n: int, filters: Filter | None, params: dict[str, Any]
    ) -> list[Candidate]:
        client, name = self._open()
        n = min(n, MAX_TOP_K)

        def run(state: _State) -> list[Candidate]:
            result = client.search(
                name,
                data=[data],
                anns_field=field,
                limit=n,
                filter=self._expr(state, filters),
                output_fields=["chunk_id", "gen"],
                search_params=params,
                consistency_level=STRONG,
            )
            # BM25 scores are positive in Milvus; Milvus Lite reports them negated.
            return [
                Candidate(
                    h["entity"]["chunk_id"],
                    abs(float(h["distance"])) if field == "sparse" else float(h["distance"]),
                    int(h["entity"]["gen"]),
                )
                for h in result[0]
            ]

        return self._read(run)

    def dense_candidates(self, vector: Vectors, n: int, filters: Filter | None = None) -> list[Candidate]:
        if n < 1:
            return []
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        params = {"metric_type": "COSINE", "params": {"ef": max(self.ann_ef, min(n, MAX_TOP_K))}}
        return self._search(q.tolist(), "vector", n, filters, params)

    def keyword_candidates(self, text: str, n: int, filters: Filter | None = None) -> list[Candidate]:
        terms = " ".join(analyze(keyword_query(text)))
        if n < 1 or not terms:
            return []
        return self._search(terms, "sparse", n, filters, {"metric_type": "BM25"})

    # -- reading -----------------------------------------------------------------------------------

    def _get(self, candidates: Sequence[Candidate], fields: list[str]) -> dict[str, dict[str, Any]]:
        """The rows behind ``candidates`` (the rows their search saw: ``ref`` is the generation)."""
        if not candidates:
            return {}
        client, name = self._open()
        pks = list(dict.fromkeys(f"{c.ref}:{c.chunk_id}" for c in candidates))
        rows = client.get(name, ids=pks, output_fields=fields)
        return {r["pk"]: r for r in rows}

    def fetch_chunks(self, candidates: Sequence[Candidate]) -> list[Chunk]:
        rows = self._get(candidates, _ROW_FIELDS)
        return [_chunk(rows[k]) for c in candidates if (k := f"{c.ref}:{c.chunk_id}") in rows]

    def fetch_texts(self, candidates: Sequence[Candidate]) -> list[str]:
        rows = self._get(candidates, ["pk", "search_text"])
        return [(rows.get(f"{c.ref}:{c.chunk_id}") or {}).get("search_text") or "" for c in candidates]

    def fetch_vectors(self, candidates: Sequence[Candidate]) -> Vectors:
        rows = self._get(candidates, ["pk", "vector"])
        found = [rows[k]["vector"] for c in candidates if (k := f"{c.ref}:{c.chunk_id}") in rows]
        return np.asarray(found, dtype=np.float32).reshape(-1, self.dimension)

    def _scan(self, collection: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row of ``collection`` matching ``expr`` (through an iterator: no result window)."""
        client, _ = self._open()
        return list(self._iterate(client, collection, expr, fields))

    @staticmethod
    def _iterate(client: Any, collection: str, expr: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        # One query serves a result that fits Milvus's window; beyond it, an iterator.
        first = client.query(
            collection, filter=expr, output_fields=fields, limit=MAX_TOP_K, consistency_level=STRONG
        )
        if len(first) < MAX_TOP_K:
            yield from first
            return
        it = client.query_iterator(
            collection, batch_size=SCAN_BATCH, filter=expr, output_fields=fields, consistency_level=STRONG
        )
        try:
            while batch := it.next():
                yield from batch
        finally:
            it.close()

    def _rows(self, filters: Filter | None, fields: list[str]) -> list[dict[str, Any]]:
        """The visible chunk rows passing ``filters``."""
        _, name = self._open()
        return self._read(lambda state: self._scan(name, self._expr(state, filters), fields))

    def fetch_token_states(
        self, chunk_ids: Sequence[str], embed_texts: Sequence[str] | None = None
    ) -> list[Vectors | None]:
        """Each chunk's stored token states, in order; None for one stored without them, gone, or
        (with ``embed_texts``) whose stored text differs from the one given."""
        if not chunk_ids:
            return []
        if embed_texts is not None and len(embed_texts) != len(chunk_ids):
            raise StoreError(f"got {len(embed_texts)} texts for {len(chunk_ids)} chunk ids; pass one each")
        _, name = self._open()
        wanted = sorted(set(chunk_ids))

        def run(state: _State) -> tuple[list[dict[str, Any]], dict[str, str]]:
            expr = f"{state.tokens_expr()} and {_in('sid', wanted)}"
            parts = self._scan(name + "_aux", expr, ["sid", "version", "body"])
            texts: dict[str, str] = {}
            if embed_texts is not None:
                rows = self._scan(
                    name, f"{state.rows_expr()} and {_in('chunk_id', wanted)}", ["chunk_id", "search_text"]
                )
                texts = {r["chunk_id"]: r["search_text"] or "" for r in rows}
            return parts, texts

        parts, texts = self._read(run)
        pieces: dict[str, list[tuple[int, str]]] = {}
        for p in parts:
            pieces.setdefault(p["sid"], []).append((int(p["version"]), p["body"]))
        out: list[Vectors | None] = []
        for i, cid in enumerate(chunk_ids):
            if cid not in pieces or (embed_texts is not None and texts.get(cid) != embed_texts[i]):
                out.append(None)
                continue
            blob = base64.b64decode("".join(body for _, body in sorted(pieces[cid])))
            out.append(unpack_tokens(blob, self.dimension))
        return out

    def chunks_at(self, keys: Sequence[tuple[str, int]], filters: Filter | None = None) -> list[Chunk]:
        if not keys:
            return []
        _, name = self._open()
        docs = sorted({d for d, _ in keys})
        positions = sorted({int(p) for _, p in keys})

        def run(state: _State) -> list[dict[str, Any]]:
            expr = f"{self._expr(state, filters)} and {_in('doc_id', docs)} and {_in('position', positions)}"
            return self._scan(name, expr, _ROW_FIELDS)

        found: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in sorted(self._read(run), key=lambda r: r["pk"]):
            found.setdefault((r["doc_id"], int(r["position"])), []).append(r)
        return [_chunk(r) for k in dict.fromkeys(keys) for r in found.get(k, [])]

    def get_sections(self, ids: Sequence[str]) -> list[Section]:
        if not ids:
            return []
        _, name = self._open()
        wanted = sorted(set(ids))
        rows = self._read(
            lambda state: self._scan(
                name + "_aux",
                f"{state.sections_expr()} and {_in('sid', wanted)}",
                ["sid", "doc_id", "body"],
            )
        )
        by_id = {}
        for r in rows:
            body = json.loads(r["body"])
            by_id[r["sid"]] = Section(
                r["sid"], r["doc_id"], body["text"], body["start"], body["end"], tuple(body["section_path"])
            )
        return [by_id[i] for i in ids if i in by_id]

    def source_hashes(self) -> dict[str, str]:
        _, name = self._open()

        def run(state: _State) -> dict[str, str]:
            rows = self._scan(name, state.rows_expr(), ["source", "source_hash"])
            return {r["source"]: "" if r["source"] in state.cleared else r["source_hash"] for r in rows}

        return self._read(run)

    def tenants(self) -> set[str]:
        return {r[ACL_TENANT] for r in self._rows(None, [ACL_TENANT])}

    def metadata_fields(self) -> dict[str, ColumnKind]:
        return dict(self._state().fields)

    def field_values(self, max_values: int = 50) -> dict[str, list[str]]:
        state = self._state()
        strings = [f for f, kind in state.fields.items() if kind == "string"]
        if not strings:
            return {}
        distinct: dict[str, set[str]] = {f: set() for f in strings}
        for r in self._rows(None, ["meta"]):
            for f in strings:
                if (v := r["meta"].get(f)) is not None:
                    distinct[f].add(v)
        return {f: sorted(v) for f, v in distinct.items() if 0 < len(v) <= max_values}

    def documents(
        self, filters: Filter | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[DocumentInfo]:
        if limit < 1:
            return []
        fields = ["pk", "doc_id", "source", "title", "metadata_json", ACL_TENANT, ACL_GROUPS, ACL_CLEARANCE]
        rows = sorted(self._rows(filters, fields), key=lambda r: r["pk"])
        return documents_of(rows, limit=limit, offset=offset)

    def find_chunks(self, filters: Filter, limit: int | None = None) -> list[Chunk]:
        chunks = sorted(
            (_chunk(r) for r in self._rows(filters, _ROW_FIELDS)), key=lambda c: (c.doc_id, c.position)
        )
        return chunks[:limit]

    def all_chunks(self) -> list[Chunk]:
        """Every chunk, ordered by (doc_id, position)."""
        return sorted(
            (_chunk(r) for r in self._rows(None, _ROW_FIELDS)), key=lambda c: (c.doc_id, c.position)
        )

    def stats(self, filters: Filter | None = None) -> StoreStats:
        _, name = self._open()

        def run(state: _State) -> tuple[_State, list[dict[str, Any]], int]:
            rows = self._scan(name, self._expr(state, filters), ["doc_id", "source", "parent_id"])
            sections = 0 if filters else len(self._scan(name + "_aux", state.sections_expr(), ["pk"]))
            return state, rows, sections

        state, rows, sections = self._read(run)
        if filters:
            sections = len({r["parent_id"] for r in rows if r["parent_id"]})
        disk = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) if self.root.exists() else 0
        return StoreStats(
            chunks=len(rows),
            documents=len({r["doc_id"] for r in rows}),
            sources=len({r["source"] for r in rows}),
            sections=sections,
            dimension=self.dimension,
            model_id=self.model_id,
            vector_index="HNSW",
            keyword_index=state.keyword_index,
            disk_bytes=disk,  # the collection directory only: the rows live in Milvus
            metadata_fields=dict(state.fields),
        )


def _token_rows(c: Chunk, source: str, blob: bytes, gen: int) -> list[dict[str, Any]]:
    """Aux rows holding one chunk's packed token states, base64 in VARCHAR parts (Milvus has no
    byte field; Milvus Lite no int8 vectors); ``version`` numbers the parts."""
    text = base64.b64encode(blob).decode("ascii")
    step = MAX_TEXT_BYTES - 3  # ASCII: one byte a character
    return [
        {
            "pk": f"tokens:{gen}:{c.id}:{i}",
            "kind": "tokens",
            "version": i,
            "gen": gen,
            "sid": c.id,
            "doc_id": c.doc_id,
            "source": source,
            "body": text[at : at + step],
            "unused": [0.0, 0.0],
        }
        for i, at in enumerate(range(0, max(len(text), 1), step))
    ]


def _chunk(row: dict[str, Any]) -> Chunk:
    """The chunk a Milvus row holds (the row as :func:`ragline.store.rows.row_of` wrote it)."""
    return chunk_of({**row, "id": row["chunk_id"], "parent_id": row["parent_id"] or None})
