"""``MemoryStore``: an exact, in-process twin of :class:`~ragline.store.lance.LanceStore`.

Every search is exact, over numpy arrays (:mod:`ragline.store.exact`): cosine top-n, MaxSim over
sentence vectors, and BM25 with LanceDB's English analysis (:mod:`ragline.store.keyword`; scores
equal LanceDB's to float32 precision). Filters, the access-control filter included, run through
the reference evaluator (:func:`ragline.store.filters.matches`) over the same typed metadata values
LanceDB's columns hold, and refuse the same unknown fields and type mismatches. It has every
search capability and is held to the whole contract suite and to congruence tests against
LanceDB (tests/store/test_memory_store.py).

Persisted: the collection lives in memory and, unless ``persist=False``, is written after each
write to ``<root>/memory-store.npz`` (arrays, and the rows as JSON; no pickle) beside its
``collection.json``, so an engine (``store.backend = "memory"``) reopens it, renames it
(``reembed``) and finds its summaries like LanceDB's. Each write rewrites the file: for tests and
small collections, not for millions of chunks. One process; no ``read_consistency_s``.

Example::

    store = MemoryStore(Path("/tmp/c"), dimension=384, model_id="minilm", persist=False)
    store.upsert([SourceBatch("/docs/a.md", "h", chunks, vectors)])
    chunks = store.fetch_chunks(store.dense_candidates(query_vector, 10))
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragline.embedding.base import Vectors
from ragline.embedding.tokens import unpack_tokens
from ragline.errors import StoreError
from ragline.store.base import Candidate, DocumentInfo, SourceBatch, StoredSentences, StoreStats
from ragline.store.exact import Mask, cosine_scores, filter_mask, maxsim_scores, top_n, unit_rows
from ragline.store.filters import ACL_TENANT, ColumnKind, Filter, Scalar, to_sql
from ragline.store.keyword import KeywordIndex, analyze, keyword_query
from ragline.store.meta import open_meta
from ragline.store.rows import (
    BUILTIN_FILTER_FIELDS,
    access_of,
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
from ragline.types import Access, Chunk, Section

BACKEND = "memory"
# The on-disk format of memory-store.npz, recorded in collection.json.
FORMAT_VERSION = 1
DATA_FILE = "memory-store.npz"


def _new_version() -> int:
    return secrets.randbits(62) + 1


@dataclass(frozen=True)
class _State:
    """One version of the collection. Writes build a new one; reads use the one they started on."""

    rows: tuple[dict[str, Any], ...]
    vectors: Vectors
    units: tuple[Vectors, ...]
    tokens: tuple[bytes | None, ...]
    fields: dict[str, ColumnKind]
    sections: dict[str, tuple[Section, str]]
    keyword_index: bool = False

    @cached_property
    def at(self) -> dict[str, int]:
        return {r["id"]: i for i, r in enumerate(self.rows)}

    @cached_property
    def unit(self) -> Vectors:
        return unit_rows(self.vectors)

    @cached_property
    def filter_rows(self) -> list[tuple[dict[str, Scalar | None], Access]]:
        """What a filter sees of each row: typed metadata, built-in fields, access."""
        return [
            ({**r["m"], "doc_id": r["doc_id"], "source": r["source"], "section": r["section"]}, access_of(r))
            for r in self.rows
        ]

    @cached_property
    def keyword(self) -> KeywordIndex:
        return KeywordIndex([analyze(r["search_text"] or "") for r in self.rows])

    @cached_property
    def sentences(self) -> tuple[npt.NDArray[np.intp], Vectors, npt.NDArray[np.intp]]:
        """Rows with sentence vectors, all their vectors (unit length), each row's first one."""
        counts = np.asarray([len(u) for u in self.units], dtype=np.intp)
        has = np.flatnonzero(counts)
        stacked = np.concatenate([u for u in self.units if len(u)]) if len(has) else self.vectors[:0]
        starts = np.concatenate([[0], np.cumsum(counts[has])[:-1]]).astype(np.intp)
        return has.astype(np.intp), unit_rows(np.asarray(stacked, dtype=np.float32)), starts


def _empty(dimension: int) -> _State:
    return _State((), np.zeros((0, dimension), np.float32), (), (), {}, {})


class MemoryStore:
    """A :class:`~ragline.store.base.Store` in memory, with every search capability.

    Opens lazily: the constructor only checks and stores its arguments.
    """

    def __init__(self, root: Path, dimension: int, model_id: str, *, persist: bool = True) -> None:
        if dimension < 1:
            raise StoreError(f"dimension must be positive, got {dimension}")
        self.root = Path(root)
        self.dimension = dimension
        self.model_id = model_id
        self.persist = persist
        self._lock = threading.Lock()
        self._loaded: _State | None = None
        # A fresh random number for each state this store holds (loaded or committed): what query
        # caches key on (``ReadVersion``). Random, so two processes' states never share a version.
        self._version = 0

    # -- state -------------------------------------------------------------------------------------

    @property
    def _state(self) -> _State:
        state = self._loaded
        if state is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load()
                state = self._loaded
        return state

    def _load(self) -> _State:
        self._version = _new_version()
        if not self.persist:
            return _empty(self.dimension)
        open_meta(
            self.root,
            model_id=self.model_id,
            dimension=self.dimension,
            backend=BACKEND,
            format_version=FORMAT_VERSION,
        )
        path = self.root / DATA_FILE
        if not path.is_file():
            return _empty(self.dimension)
        with np.load(path, allow_pickle=False) as data:
            rows = json.loads(bytes(data["rows"]).decode("utf-8"))
            extra = json.loads(bytes(data["meta"]).decode("utf-8"))
            vectors = np.asarray(data["vectors"], dtype=np.float32).reshape(-1, self.dimension)
            unit_counts = data["unit_counts"]
            flat_units = np.asarray(data["units"], dtype=np.float32).reshape(-1, self.dimension)
            token_sizes = data["token_sizes"]
            token_bytes = bytes(data["tokens"])
        bounds = np.concatenate([[0], np.cumsum(unit_counts)]).astype(np.intp)
        units = tuple(flat_units[bounds[i] : bounds[i + 1]] for i in range(len(rows)))
        tokens: list[bytes | None] = []
        offset = 0
        for size in token_sizes.tolist():
            tokens.append(None if size < 0 else token_bytes[offset : offset + size])
            offset += max(size, 0)
        sections = {
            s["id"]: (
                Section(s["id"], s["doc_id"], s["text"], s["start"], s["end"], tuple(s["section_path"])),
                s["source"],
            )
            for s in extra["sections"]
        }
        return _State(
            tuple(rows), vectors, units, tuple(tokens), extra["fields"], sections, extra["keyword_index"]
        )

    def _save(self, state: _State) -> None:
        if not self.persist:
            return
        sizes = [-1 if t is None else len(t) for t in state.tokens]
        sections = [
            {
                "id": s.id,
                "doc_id": s.doc_id,
                "text": s.text,
                "start": s.start,
                "end": s.end,
                "section_path": list(s.section_path),
                "source": source,
            }
            for s, source in state.sections.values()
        ]
        extra = {"fields": state.fields, "sections": sections, "keyword_index": state.keyword_index}
        units = [u for u in state.units if len(u)]
        path = self.root / DATA_FILE
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            np.savez(
                f,
                rows=np.frombuffer(json.dumps(list(state.rows)).encode("utf-8"), dtype=np.uint8),
                meta=np.frombuffer(json.dumps(extra).encode("utf-8"), dtype=np.uint8),
                vectors=state.vectors,
                unit_counts=np.asarray([len(u) for u in state.units], dtype=np.int64),
                units=np.concatenate(units) if units else np.zeros((0, self.dimension), np.float32),
                token_sizes=np.asarray(sizes, dtype=np.int64),
                tokens=np.frombuffer(b"".join(t for t in state.tokens if t is not None), dtype=np.uint8),
            )
        os.replace(tmp, path)

    def _commit(self, state: _State) -> None:
        """Make ``state`` the collection's (call with the lock held)."""
        self._save(state)
        self._loaded = state
        self._version = _new_version()

    def _keep(self, state: _State, keep: Sequence[int], **changes: Any) -> _State:
        """``state`` with only the rows ``keep`` (in order), and other fields replaced."""
        return _State(
            rows=changes.pop("rows", tuple(state.rows[i] for i in keep)),
            vectors=state.vectors[np.asarray(keep, dtype=np.intp)].reshape(-1, self.dimension),
            units=tuple(state.units[i] for i in keep),
            tokens=tuple(state.tokens[i] for i in keep),
            fields=changes.pop("fields", state.fields),
            sections=changes.pop("sections", state.sections),
            keyword_index=changes.pop("keyword_index", state.keyword_index),
        )

    # -- filters -----------------------------------------------------------------------------------

    def _mask(self, state: _State, filters: Filter | None) -> Mask | None:
        """Rows passing ``filters`` (None: all), after the checks LanceDB's SQL translation makes."""
        if filters is None:
            return None
        check_filter_fields(filters, state.fields)

        def column(name: str) -> tuple[str, ColumnKind]:
            kind = BUILTIN_FILTER_FIELDS.get(name) or state.fields[name]
            return name, kind

        to_sql(filters, column)  # for its type checks: the same errors as LanceDB's
        return filter_mask(filters, state.filter_rows)

    # -- writing -----------------------------------------------------------------------------------

    def upsert(self, batches: Sequence[SourceBatch]) -> None:
        """Atomically replace everything held for the batches' sources (or listed documents)."""
        if not batches:
            return
        with self._lock:
            state = self._state_locked()
            fields = {**state.fields, **new_fields(state.fields, batches)}
            rows: list[dict[str, Any]] = []
            units: list[Vectors] = []
            tokens: list[bytes | None] = []
            for b in batches:
                b_units, b_tokens = checked_batch(b, self.dimension)
                units.extend(b_units)
                tokens.extend(b_tokens)
                for c in b.chunks:
                    row = row_of(c, b.source, b.source_hash)
                    row["m"] = {
                        k: coerce(kind, c.metadata[k], k, b.source)
                        for k, kind in fields.items()
                        if c.metadata.get(k) is not None
                    }
                    rows.append(row)
            sources = {b.source for b in batches if b.documents is None}
            docs = {d for b in batches if b.documents is not None for d in b.documents}
            ids = {r["id"] for r in rows}
            keep = [
                i
                for i, r in enumerate(state.rows)
                if r["source"] not in sources and r["doc_id"] not in docs and r["id"] not in ids
            ]
            # Sections are insert-only, as in LanceDB; the batches' scope loses those not re-sent.
            sections = dict(state.sections)
            for b in batches:
                for s in b.sections:
                    sections.setdefault(s.id, (s, b.source))
            sent = {s.id for b in batches for s in b.sections}
            sections = {
                sid: (s, src)
                for sid, (s, src) in sections.items()
                if sid in sent or (src not in sources and s.doc_id not in docs)
            }
            kept = self._keep(state, keep)
            vectors = [kept.vectors, *(np.asarray(b.vectors, dtype=np.float32) for b in batches)]
            self._commit(
                _State(
                    rows=kept.rows + tuple(rows),
                    vectors=np.concatenate(vectors).reshape(-1, self.dimension),
                    units=kept.units + tuple(units),
                    tokens=kept.tokens + tuple(tokens),
                    fields=fields,
                    sections=sections,
                    keyword_index=state.keyword_index,
                )
            )

    def _delete(self, state: _State, gone: Mask, *, partial: bool) -> int:
        """Delete the rows ``gone`` marks and the sections no remaining row uses; the sources they
        came from lose their hash (the next ingest of those files re-indexes them). ``partial``:
        rows sharing a document id with deleted ones may stay (their sections stay)."""
        n = int(gone.sum())
        if not n:
            return 0
        affected = [r for r, g in zip(state.rows, gone, strict=True) if g]
        sources = {r["source"] for r in affected}
        docs = {r["doc_id"] for r in affected}
        keep = np.flatnonzero(~gone).tolist()
        rows = tuple(
            {**r, "source_hash": ""} if r["source"] in sources else r for r in (state.rows[i] for i in keep)
        )
        used = {r["parent_id"] for r in rows if r["doc_id"] in docs} if partial else set()
        sections = {
            sid: (s, src) for sid, (s, src) in state.sections.items() if s.doc_id not in docs or sid in used
        }
        self._commit(self._keep(state, keep, rows=rows, sections=sections))
        return n

    def delete_documents(self, doc_ids: Sequence[str], filters: Filter | None = None) -> int:
        """Delete the chunks of ``doc_ids`` that match ``filters`` (all of them without one)."""
        if not doc_ids:
            return 0
        with self._lock:
            state = self._state_locked()
            if not state.rows:
                return 0
            wanted = set(doc_ids)
            gone = np.fromiter((r["doc_id"] in wanted for r in state.rows), np.bool_, len(state.rows))
            mask = self._mask(state, filters)
            return self._delete(state, gone if mask is None else gone & mask, partial=filters is not None)

    def delete_sources(self, sources: Sequence[str]) -> int:
        if not sources:
            return 0
        with self._lock:
            state = self._state_locked()
            wanted = set(sources)
            keep = [i for i, r in enumerate(state.rows) if r["source"] not in wanted]
            sections = {sid: v for sid, v in state.sections.items() if v[1] not in wanted}
            self._commit(self._keep(state, keep, sections=sections))
            return len(state.rows) - len(keep)

    def retain_tenant(self, tenant: str) -> int:
        """Delete every row of other tenants; returns how many."""
        with self._lock:
            state = self._state_locked()
            gone = np.fromiter((r[ACL_TENANT] != tenant for r in state.rows), np.bool_, len(state.rows))
            return self._delete(state, gone, partial=True)

    @property
    def read_version(self) -> int:
        """Changes with every state this store loads or commits."""
        _ = self._state  # loads it (and sets its version) on first use
        return self._version

    def _state_locked(self) -> _State:
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def finalize(self) -> None:
        """Nothing to build (every search is exact); records that the keyword index exists, as
        LanceDB's stats report it once the first finalize of a non-empty collection built it."""
        with self._lock:
            state = self._state_locked()
            if state.rows and not state.keyword_index:
                self._commit(self._keep(state, range(len(state.rows)), keyword_index=True))

    # -- export ------------------------------------------------------------------------------------

    def declare_fields(self, fields: Mapping[str, ColumnKind]) -> None:
        with self._lock:
            state = self._state_locked()
            new = declared_fields(state.fields, fields)
            if new:
                self._commit(self._keep(state, range(len(state.rows)), fields={**state.fields, **new}))

    def export_batches(self) -> Iterator[SourceBatch]:
        """Every chunk with its arrays, from the version current when called."""
        state = self._state
        sections: dict[str, list[Section]] = {}
        for s, source in state.sections.values():
            sections.setdefault(source, []).append(s)
        yield from export_batches_of(
            state.rows, state.vectors, state.units, state.tokens, sections, self.dimension
        )

    # -- searching ---------------------------------------------------------------------------------

    def dense_candidates(self, vector: Vectors, n: int, filters: Filter | None = None) -> list[Candidate]:
        state = self._state
        if not state.rows or n < 1:
            return []
        sims = cosine_scores(state.unit, vector)
        top = top_n(sims, n, self._mask(state, filters))
        return [Candidate(state.rows[i]["id"], float(sims[i]), int(i)) for i in top]

    def keyword_candidates(self, text: str, n: int, filters: Filter | None = None) -> list[Candidate]:
        query = keyword_query(text)
        state = self._state
        if not state.rows or n < 1 or not query:
            return []
        scores, matched = state.keyword.scores(analyze(query))
        # Ranked and reported in float32, as LanceDB scores, so near-ties order alike.
        scores32 = scores.astype(np.float32)
        mask = self._mask(state, filters)
        top = top_n(scores32, n, matched if mask is None else matched & mask)
        return [Candidate(state.rows[i]["id"], float(scores32[i]), int(i)) for i in top]

    def sentence_candidates(self, vector: Vectors, n: int, filters: Filter | None = None) -> list[Candidate]:
        """Chunks scored by their best sentence vector's cosine with ``vector`` (MaxSim)."""
        state = self._state
        if not state.rows or n < 1:
            return []
        rows, unit, starts = state.sentences
        if not len(rows):
            return []
        sims = maxsim_scores(unit, starts, vector)
        mask = self._mask(state, filters)
        top = top_n(sims, n, None if mask is None else mask[rows])
        return [Candidate(state.rows[rows[i]]["id"], float(sims[i]), int(rows[i])) for i in top]

    # -- reading -----------------------------------------------------------------------------------

    def fetch_chunks(self, candidates: Sequence[Candidate]) -> list[Chunk]:
        state = self._state
        return [chunk_of(state.rows[state.at[c.chunk_id]]) for c in candidates if c.chunk_id in state.at]

    def fetch_texts(self, candidates: Sequence[Candidate]) -> list[str]:
        state = self._state
        return [
            (state.rows[state.at[c.chunk_id]]["search_text"] or "") if c.chunk_id in state.at else ""
            for c in candidates
        ]

    def fetch_doc_ids(self, candidates: Sequence[Candidate]) -> list[str | None]:
        state = self._state
        return [
            state.rows[state.at[c.chunk_id]]["doc_id"] if c.chunk_id in state.at else None for c in candidates
        ]

    def fetch_vectors(self, candidates: Sequence[Candidate]) -> Vectors:
        state = self._state
        rows = [state.at[c.chunk_id] for c in candidates if c.chunk_id in state.at]
        out: Vectors = state.vectors[np.asarray(rows, dtype=np.intp)].reshape(-1, self.dimension)
        return out

    def searches_in_memory(self) -> bool:
        """Always: every search here is an exact scan."""
        return True

    def fetch_sentence_vectors(self, chunk_ids: Sequence[str]) -> list[StoredSentences | None]:
        state = self._state
        out: list[StoredSentences | None] = []
        for cid in chunk_ids:
            row = state.at.get(cid)
            if row is None or not len(state.units[row]):
                out.append(None)
            else:
                out.append(StoredSentences(state.rows[row]["text"], state.units[row]))
        return out

    def fetch_token_states(
        self, chunk_ids: Sequence[str], embed_texts: Sequence[str] | None = None
    ) -> list[Vectors | None]:
        if not chunk_ids:
            return []
        if embed_texts is not None and len(embed_texts) != len(chunk_ids):
            raise StoreError(f"got {len(embed_texts)} texts for {len(chunk_ids)} chunk ids; pass one each")
        state = self._state
        out: list[Vectors | None] = []
        for i, cid in enumerate(chunk_ids):
            row = state.at.get(cid)
            blob = None if row is None else state.tokens[row]
            # States belong to the text that was embedded: another text under the same id gets None.
            if (
                row is not None
                and embed_texts is not None
                and state.rows[row]["search_text"] != embed_texts[i]
            ):
                blob = None
            out.append(None if blob is None else unpack_tokens(blob, self.dimension))
        return out

    def chunks_at(self, keys: Sequence[tuple[str, int]], filters: Filter | None = None) -> list[Chunk]:
        state = self._state
        if not keys or not state.rows:
            return []
        mask = self._mask(state, filters)
        wanted = set(keys)
        found: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for i, r in enumerate(state.rows):
            key = (r["doc_id"], int(r["position"]))
            if key in wanted and (mask is None or mask[i]):
                found.setdefault(key, []).append(r)
        return [chunk_of(r) for k in dict.fromkeys(keys) for r in found.get(k, [])]

    def get_sections(self, ids: Sequence[str]) -> list[Section]:
        sections = self._state.sections
        return [sections[i][0] for i in ids if i in sections]

    def source_hashes(self) -> dict[str, str]:
        return {r["source"]: r["source_hash"] for r in self._state.rows}

    def document_ids(self) -> set[str]:
        return {r["doc_id"] for r in self._state.rows}

    def documents_by_source(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for r in self._state.rows:
            out.setdefault(r["source"], set()).add(r["doc_id"])
        return out

    def tenants(self) -> set[str]:
        return {r[ACL_TENANT] for r in self._state.rows}

    def metadata_fields(self) -> dict[str, ColumnKind]:
        return dict(self._state.fields)

    def field_values(self, max_values: int = 50) -> dict[str, list[str]]:
        state = self._state
        out: dict[str, list[str]] = {}
        for f, kind in state.fields.items():
            if kind == "string":
                distinct = {r["m"][f] for r in state.rows if r["m"].get(f) is not None}
                if 0 < len(distinct) <= max_values:
                    out[f] = sorted(distinct)
        return out

    def _matching(self, state: _State, filters: Filter | None) -> list[dict[str, Any]]:
        mask = self._mask(state, filters)
        return list(state.rows) if mask is None else [r for r, ok in zip(state.rows, mask, strict=True) if ok]

    def documents(
        self, filters: Filter | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[DocumentInfo]:
        state = self._state
        if not state.rows or limit < 1:
            return []
        return documents_of(self._matching(state, filters), limit=limit, offset=offset)

    def find_chunks(self, filters: Filter, limit: int | None = None) -> list[Chunk]:
        state = self._state
        if not state.rows:
            return []
        rows = self._matching(state, filters)[:limit]
        return sorted((chunk_of(r) for r in rows), key=lambda c: (c.doc_id, c.position))

    def all_chunks(self) -> list[Chunk]:
        """Every chunk, ordered by (doc_id, position)."""
        return sorted((chunk_of(r) for r in self._state.rows), key=lambda c: (c.doc_id, c.position))

    def stats(self, filters: Filter | None = None) -> StoreStats:
        state = self._state
        disk = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) if self.root.exists() else 0
        rows = self._matching(state, filters) if state.rows else []
        sections = len({r["parent_id"] for r in rows if r["parent_id"]}) if filters else len(state.sections)
        return StoreStats(
            chunks=len(rows),
            documents=len({r["doc_id"] for r in rows}),
            sources=len({r["source"] for r in rows}),
            sections=sections,
            dimension=self.dimension,
            model_id=self.model_id,
            vector_index=None,
            keyword_index=state.keyword_index,
            disk_bytes=disk,
            metadata_fields=dict(state.fields),
        )
