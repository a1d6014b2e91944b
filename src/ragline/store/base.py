"""The store boundary: the core :class:`Store` protocol every backend implements, the search
capabilities a backend may have, and the records they exchange.

Backends: :class:`~ragline.store.lance.LanceStore` (the default, embedded LanceDB),
:class:`~ragline.store.memory.MemoryStore` (an exact, in-process twin) and
:class:`~ragline.store.milvus.MilvusStore` (Milvus; no sentence search), all
made by :func:`ragline.store.factory.make_store` and held to :mod:`ragline.testing.store_contract`.
Search is asked for by capability (:func:`dense_search`, :func:`keyword_search`,
:func:`sentence_search`, :func:`token_state_store`, :func:`vector_fetch`), so a backend without one
degrades the stage that needs it, with one logged reason, instead of failing. Data safety is two
more capabilities, asked for by :func:`portable_store` (export and import of everything a store
holds, :class:`PortableStore`) and :func:`versioned_store` (snapshots and restore,
:class:`VersionedStore`), which raise a :class:`~ragline.errors.StoreError` naming the backend
when it lacks them.
"""

from __future__ import annotations

import datetime
import logging
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

from ragline.embedding.base import Vectors
from ragline.embedding.tokens import PackedTokens
from ragline.errors import StoreError
from ragline.store.filters import ColumnKind, Filter
from ragline.types import Access, Chunk, Metadata, Section


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """Everything indexed from one source file: replaces whatever the store held for that source.

    With ``documents`` set, the batch replaces only those document ids (an upsert of individual
    documents through the Python API) and leaves the source's other documents alone.
    ``vectors[i]`` is the embedding of ``chunks[i].embed_text``. With ``sentence_vectors`` set,
    ``sentence_vectors[i]`` is a float32 ``(k_i, dim)`` array (``k_i >= 0``) of unit-length embeddings of
    ``chunks[i]``'s sentences, searched by :meth:`SentenceSearch.sentence_candidates`. With ``token_states``
    set, ``token_states[i]`` holds ``chunks[i]``'s unit-length contextual token embeddings: a float32
    ``(tokens, dim)`` array, or already packed (:class:`~ragline.embedding.tokens.PackedTokens`);
    served by :meth:`TokenStateStore.fetch_token_states` (packed as int8 unless given packed). A
    backend without the matching capability ignores them.
    """

    source: str
    source_hash: str
    chunks: list[Chunk]
    vectors: Vectors
    sections: list[Section] = field(default_factory=list)
    documents: tuple[str, ...] | None = None
    sentence_vectors: list[Vectors] | None = None
    token_states: Sequence[Vectors | PackedTokens] | None = None


class Candidate(NamedTuple):
    """A search candidate before fusion: chunk id, one retriever's score, and a backend row reference.

    ``ref`` is only meaningful to the store that produced it, for :meth:`Store.fetch_chunks`.
    """

    chunk_id: str
    score: float
    ref: int


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """One indexed document, summarised from its chunks (no text)."""

    doc_id: str
    source: str
    title: str
    chunks: int
    metadata: Metadata
    access: Access


@dataclass(frozen=True, slots=True)
class StoreStats:
    chunks: int
    documents: int
    sources: int
    sections: int
    dimension: int | None
    model_id: str | None
    vector_index: str | None
    keyword_index: bool
    disk_bytes: int
    metadata_fields: dict[str, str]


# -- the core protocol -----------------------------------------------------------------------------


@runtime_checkable
class Store(Protocol):
    """A collection of chunks with vectors, text and metadata: what ingest, context assembly and the
    engine need from every backend. Searching is not part of it: each kind of search is a
    capability protocol below, which a backend has or lacks.

    Contract (:mod:`ragline.testing.store_contract` holds every backend to it):
    - :meth:`upsert` is atomic: after it returns, reads see all of the batches' sources' new
      chunks and none of their old ones; if the process dies inside it, reads see the old state.
    - Searches return at most ``top_k``/``n`` hits, best first; no hits is an empty list.
    - Filters are applied inside the search (prefilter), so ``n`` matching hits come back
      whenever that many chunks match; an unknown field or a value of the wrong type is a
      :class:`~ragline.errors.FilterError`.
    """

    @property
    def root(self) -> Path:
        """The collection's directory: its ``collection.json``, and where the engine keeps its
        write lock and the summaries collection."""
        ...

    def upsert(self, batches: Sequence[SourceBatch]) -> None: ...

    def delete_documents(self, doc_ids: Sequence[str], filters: Filter | None = None) -> int:
        """Delete the chunks of ``doc_ids`` matching ``filters`` (a caller's scope); returns how many."""
        ...

    def delete_sources(self, sources: Sequence[str]) -> int: ...

    def fetch_chunks(self, candidates: Sequence[Candidate]) -> list[Chunk]:
        """The chunks behind ``candidates`` (from any search capability), in the same order
        (missing ones are skipped)."""
        ...

    def fetch_texts(self, candidates: Sequence[Candidate]) -> list[str]:
        """The indexed text (``Chunk.embed_text``) of each of ``candidates``, in order (``""`` for
        one that is gone): cheaper than :meth:`fetch_chunks` when only words are needed (RM3)."""
        ...

    def chunks_at(self, keys: Sequence[tuple[str, int]], filters: Filter | None = None) -> list[Chunk]:
        """Chunks by (doc id, position) matching ``filters``, in the order of ``keys``; missing keys
        are skipped, and a key several documents share gives each of them."""
        ...

    def get_sections(self, ids: Sequence[str]) -> list[Section]: ...

    def source_hashes(self) -> dict[str, str]:
        """Map of every indexed source to the content hash it was indexed at."""
        ...

    def metadata_fields(self) -> dict[str, ColumnKind]:
        """Filterable metadata fields and their kinds."""
        ...

    def field_values(self, max_values: int = 50) -> dict[str, list[str]]:
        """Distinct values of each string metadata field that has at most ``max_values`` of them
        (document types, languages, ...): what a question's words can be matched against."""
        ...

    def documents(
        self, filters: Filter | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[DocumentInfo]:
        """Documents with a chunk matching ``filters``, ordered by id, paged by ``limit``/``offset``."""
        ...

    def find_chunks(self, filters: Filter, limit: int | None = None) -> list[Chunk]:
        """Chunks matching ``filters``, ordered by (doc_id, position)."""
        ...

    def all_chunks(self) -> list[Chunk]:
        """Every chunk, ordered by (doc_id, position); for exports and maintenance, not hot paths."""
        ...

    def tenants(self) -> set[str]:
        """The tenants whose documents this collection holds."""
        ...

    def retain_tenant(self, tenant: str) -> int:
        """Delete every row of other tenants; returns how many (``ragline migrate-tenants``)."""
        ...

    def finalize(self) -> None:
        """Bring indexes up to date after a round of upserts."""
        ...

    def stats(self, filters: Filter | None = None) -> StoreStats:
        """Counts (of the rows matching ``filters`` when given) and index state."""
        ...


# -- search capabilities ---------------------------------------------------------------------------
# A backend has a capability when it has the protocol's method: these are runtime-checkable
# protocols, so ``isinstance(store, DenseSearch)`` asks (it checks the method's presence, not its
# signature; mypy checks the signature where a backend is typed). Callers go through the accessors
# below, which log once per store what is lost when a capability is missing.


@runtime_checkable
class DenseSearch(Protocol):
    """Nearest chunk vectors by cosine similarity."""

    def dense_candidates(self, vector: Vectors, n: int, filters: Filter | None = None) -> list[Candidate]:
        """The ``n`` chunks whose vectors are closest to ``vector`` (cosine, best first), ids and
        scores only; :meth:`Store.fetch_chunks` reads the chunks of those kept after fusion."""
        ...


@runtime_checkable
class KeywordSearch(Protocol):
    """BM25 over the chunks' indexed text (English stemming, stop words removed)."""

    def keyword_candidates(self, text: str, n: int, filters: Filter | None = None) -> list[Candidate]: ...


@runtime_checkable
class SentenceSearch(Protocol):
    """Chunks scored by their best sentence vector (``SourceBatch.sentence_vectors``): MaxSim."""

    def sentence_candidates(self, vector: Vectors, n: int, filters: Filter | None = None) -> list[Candidate]:
        """Chunks scored by their best sentence vector's cosine with ``vector``, best first, at
        most ``n``; chunks without sentence vectors are not returned; ``[]`` when none are stored."""
        ...


@runtime_checkable
class SentenceScores(Protocol):
    """MaxSim over the stored sentence vectors of given chunks, exactly: the sentence list of a
    collection searched through ANN indexes, taken from the chunks its other searches found."""

    def sentence_scores(self, vector: Vectors, candidates: Sequence[Candidate]) -> list[Candidate]:
        """Each of ``candidates`` (once per chunk id) that has sentence vectors, scored by its best
        sentence vector's cosine with ``vector``, best first (ties in the order given)."""
        ...


class StoredSentences(NamedTuple):
    """A chunk's text and its stored sentence vectors (``SourceBatch.sentence_vectors``): with
    ``chunking.sentence_vectors = "separate"``, row ``k`` embeds ``header + "\\n" + sentence k`` of
    :func:`ragline.text.sentences.row_spans` of ``text`` (``sentence_spans`` for sources indexed before
    a table's rows were sentences of their own; see ``ExtractiveAnswerer``'s stored vectors)."""

    text: str
    vectors: Vectors


@runtime_checkable
class SentenceVectorFetch(Protocol):
    """The stored sentence vectors of given chunks (the offline answerer reuses them instead of
    embedding its candidate sentences again at query time)."""

    def fetch_sentence_vectors(self, chunk_ids: Sequence[str]) -> list[StoredSentences | None]:
        """Each chunk's text and sentence vectors (float32 rows, unit length up to the storage's
        rounding), in order; None for a chunk gone or stored without sentence vectors."""
        ...


@runtime_checkable
class TokenStateStore(Protocol):
    """Stored contextual token embeddings (``SourceBatch.token_states``) for late interaction."""

    def fetch_token_states(
        self, chunk_ids: Sequence[str], embed_texts: Sequence[str] | None = None
    ) -> list[Vectors | None]:
        """Each chunk's stored token embeddings (float32 ``(tokens, dim)``, unit rows up to the
        storage's rounding), in order; None for a chunk stored without them or gone, and, with
        ``embed_texts``, for one whose stored ``embed_text`` differs from the one given."""
        ...


@runtime_checkable
class TokenStatesOf(Protocol):
    """Stored token states of search candidates, read by their row references: what the pipeline
    reads ahead for its rerank head. An optimisation: without it they are read by chunk id, which
    on LanceDB above the ANN threshold maps every chunk id to its row once per table version
    (~0.1 s and 12 MB at 100k chunks)."""

    def fetch_token_states_of(self, candidates: Sequence[Candidate]) -> list[Vectors | None]:
        """:meth:`TokenStateStore.fetch_token_states` of the candidates' chunks, in order."""
        ...


@runtime_checkable
class VectorFetch(Protocol):
    """The stored chunk vectors of search candidates (dense feedback, score smoothing)."""

    def fetch_vectors(self, candidates: Sequence[Candidate]) -> Vectors:
        """The stored embeddings of ``candidates``, one row each in order (missing ones skipped);
        shape ``(0, dim)`` for none."""
        ...


@runtime_checkable
class ReadVersion(Protocol):
    """Which version of the collection reads see: what query caches key on, so a result computed
    from one version is never served for another (not a search capability; a store without it is
    keyed on the engine's write token alone)."""

    @property
    def read_version(self) -> int:
        """Changes whenever what a read sees changes (every commit the store makes or follows)."""
        ...


def read_version(store: object) -> int | None:
    """``store``'s :attr:`ReadVersion.read_version`, or None when it has none."""
    # One attribute read, not isinstance(): on Python 3.11 that evaluates the property as well.
    version = getattr(store, "read_version", None)
    return version if isinstance(version, int) else None


@runtime_checkable
class WarmUp(Protocol):
    """Loads now what a store's first search would otherwise load (e.g. the columns LanceStore
    holds in memory above its ANN threshold), so a service is ready only once queries are fast."""

    def warm_up(self) -> None: ...


def warm_up(store: object) -> bool:
    """``store``'s :meth:`WarmUp.warm_up`, when it has one; whether it had."""
    if isinstance(store, WarmUp):
        store.warm_up()
        return True
    return False


@runtime_checkable
class InMemorySearch(Protocol):
    """Whether searches now scan vectors held in memory (exact, no ANN index) rather than ask an
    index: a scheduling hint for the pipeline (a memory-bound scan gains little from a second
    thread), not a search capability."""

    def searches_in_memory(self) -> bool: ...


def searches_in_memory(store: object) -> bool:
    """``store``'s :meth:`InMemorySearch.searches_in_memory`; False when it cannot tell."""
    return isinstance(store, InMemorySearch) and store.searches_in_memory()


@runtime_checkable
class DocIdFetch(Protocol):
    """The document ids of search candidates without their rows: what score smoothing needs of
    the deeper fused list, whose full rows the pipeline then reads for the head alone. An
    optimisation, not a search capability: without it the pipeline reads every row."""

    def fetch_doc_ids(self, candidates: Sequence[Candidate]) -> list[str | None]:
        """Each candidate's document id, in order; None for a chunk no longer stored."""
        ...


def doc_id_fetch(store: object) -> DocIdFetch | None:
    """``store`` as a :class:`DocIdFetch`, or None when it has none."""
    return store if isinstance(store, DocIdFetch) else None


# -- data safety capabilities ----------------------------------------------------------------------


@runtime_checkable
class PortableStore(Protocol):
    """Everything the store holds, read out and written back without embedding anything
    (``ragline export`` / ``ragline import``, docs/export-format.md).

    Contract: the batches :meth:`export_batches` yields, upserted into an empty store of the same
    dimension after :meth:`declare_fields` with the source's :meth:`Store.metadata_fields`, give a
    store that reads and searches the same (chunks, access, source hashes, sections, vectors,
    sentence vectors, token states, metadata field kinds).
    """

    def export_batches(self) -> Iterator[SourceBatch]:
        """Every stored chunk, one batch per source (several when only some of a source's chunks
        carry token states), in storage order: the source's hash, chunks, vectors, sections,
        sentence vectors (``(0, dim)`` for none) and token states as
        :class:`~ragline.embedding.tokens.PackedTokens` (``token_states`` None when none)."""
        ...

    def declare_fields(self, fields: Mapping[str, ColumnKind]) -> None:
        """Create the metadata ``fields`` with these kinds before any row brings them (a field's
        kind is otherwise that of the first value written, which an import's order could change);
        fields already there are left as they are."""
        ...


@dataclass(frozen=True, slots=True)
class StoreVersion:
    """One version of a collection a :class:`VersionedStore` can return to."""

    version: int
    timestamp: datetime.datetime
    chunks: int
    tags: tuple[str, ...] = ()


@runtime_checkable
class VersionedStore(Protocol):
    """The store's own versions: every write makes one; old ones are kept for the store's
    retention window (``store.retention_days``), tagged ones until their tag is removed."""

    def versions(self) -> list[StoreVersion]:
        """The versions still on disk, oldest first; the last is the current one."""
        ...

    def tag_version(self, tag: str) -> StoreVersion:
        """Tag the current version (``ragline snapshot``); a StoreError when ``tag`` is taken."""
        ...

    def delete_tag(self, tag: str) -> None:
        """Remove a snapshot tag, so its version is cleaned up once out of the retention window;
        a StoreError naming the tags there are when it is unknown."""
        ...

    def restore_version(self, version: int | str) -> StoreVersion:
        """Make the content of ``version`` (a number or a tag) current again, as a new version (the
        versions after it stay, so a restore can itself be undone); a StoreError naming the
        versions there are when it is unknown or cleaned up."""
        ...


_CAPABILITIES: dict[str, type] = {
    "dense search": DenseSearch,
    "keyword search": KeywordSearch,
    "sentence search": SentenceSearch,
    "sentence scores": SentenceScores,
    "token states": TokenStateStore,
    "sentence vector fetch": SentenceVectorFetch,
    "vector fetch": VectorFetch,
    "export": PortableStore,
    "versions": VersionedStore,
}
# Stores already reported missing a capability: one log line per store and capability, however
# many retrievers are built over it.
_reported: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()
_reported_lock = threading.Lock()


def capabilities(store: object) -> frozenset[str]:
    """The names of the capabilities ``store`` has (``"dense search"``, ..., ``"export"``, ``"versions"``)."""
    return frozenset(name for name, proto in _CAPABILITIES.items() if isinstance(store, proto))


def _lacks(store: object, capability: str, log: logging.Logger | None, lost: str) -> None:
    """Log, once per store and capability, that ``store`` lacks ``capability`` and what is lost."""
    if log is None:
        return
    with _reported_lock:
        try:
            seen = _reported.setdefault(store, set())
        except TypeError:  # not weak-referenceable: report every time rather than never
            seen = set()
        if capability in seen:
            return
        seen.add(capability)
    name = getattr(store, "root", None) or type(store).__name__
    log.warning("store %s has no %s (%s backend): %s", name, capability, type(store).__name__, lost)


def dense_search(store: object, log: logging.Logger | None = None, lost: str = "") -> DenseSearch | None:
    """``store`` as a :class:`DenseSearch`, or None (logging ``lost`` once) when it has none."""
    if isinstance(store, DenseSearch):
        return store
    _lacks(store, "dense search", log, lost)
    return None


def keyword_search(store: object, log: logging.Logger | None = None, lost: str = "") -> KeywordSearch | None:
    """``store`` as a :class:`KeywordSearch`, or None (logging ``lost`` once) when it has none."""
    if isinstance(store, KeywordSearch):
        return store
    _lacks(store, "keyword search", log, lost)
    return None


def sentence_search(
    store: object, log: logging.Logger | None = None, lost: str = ""
) -> SentenceSearch | None:
    """``store`` as a :class:`SentenceSearch`, or None (logging ``lost`` once) when it has none."""
    if isinstance(store, SentenceSearch):
        return store
    _lacks(store, "sentence search", log, lost)
    return None


def sentence_scores(store: object) -> SentenceScores | None:
    """``store`` as a :class:`SentenceScores`, or None (the sentence index is searched instead)."""
    return store if isinstance(store, SentenceScores) else None


def token_states_of(store: object) -> TokenStatesOf | None:
    """``store`` as a :class:`TokenStatesOf`, or None (states are then read by chunk id)."""
    return store if isinstance(store, TokenStatesOf) else None


def token_state_store(
    store: object, log: logging.Logger | None = None, lost: str = ""
) -> TokenStateStore | None:
    """``store`` as a :class:`TokenStateStore`, or None (logging ``lost`` once) when it has none."""
    if isinstance(store, TokenStateStore):
        return store
    _lacks(store, "token states", log, lost)
    return None


def vector_fetch(store: object, log: logging.Logger | None = None, lost: str = "") -> VectorFetch | None:
    """``store`` as a :class:`VectorFetch`, or None (logging ``lost`` once) when it has none."""
    if isinstance(store, VectorFetch):
        return store
    _lacks(store, "vector fetch", log, lost)
    return None


def portable_store(store: object) -> PortableStore:
    """``store`` as a :class:`PortableStore`, or a StoreError naming its backend."""
    if isinstance(store, PortableStore):
        return store
    raise StoreError(
        f"the {type(store).__name__} store backend cannot export or import collections; "
        "use store.backend = 'lance' or 'memory'"
    )


def versioned_store(store: object) -> VersionedStore:
    """``store`` as a :class:`VersionedStore`, or a StoreError naming its backend."""
    if isinstance(store, VersionedStore):
        return store
    raise StoreError(
        f"the {type(store).__name__} store backend keeps no versions, so it has no snapshots to "
        "restore; use store.backend = 'lance' (or `ragline export` for a copy)"
    )
