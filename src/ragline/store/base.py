"""The Store protocol every backend implements, and the records it exchanges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

from ragline.embedding.base import Vectors
from ragline.embedding.tokens import PackedTokens
from ragline.store.filters import ColumnKind, Filter
from ragline.types import Access, Chunk, Metadata, Section


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """Everything indexed from one source file: replaces whatever the store held for that source.

    With ``documents`` set, the batch replaces only those document ids (an upsert of individual
    documents through the Python API) and leaves the source's other documents alone.
    ``vectors[i]`` is the embedding of ``chunks[i].embed_text``. With ``unit_vectors`` set,
    ``unit_vectors[i]`` is a float32 ``(k_i, dim)`` array (``k_i >= 0``) of unit-length embeddings of
    ``chunks[i]``'s sentences, searched by :meth:`Store.unit_candidates`. With ``token_states``
    set, ``token_states[i]`` holds ``chunks[i]``'s unit-length contextual token embeddings: a float32
    ``(tokens, dim)`` array, or already packed (:class:`~ragline.embedding.tokens.PackedTokens`);
    served by :meth:`Store.fetch_token_states` (stored as int8).
    """

    source: str
    source_hash: str
    chunks: list[Chunk]
    vectors: Vectors
    sections: list[Section] = field(default_factory=list)
    documents: tuple[str, ...] | None = None
    unit_vectors: list[Vectors] | None = None
    token_states: Sequence[Vectors | PackedTokens] | None = None


class Candidate(NamedTuple):
    """A search candidate before fusion: chunk id, one retriever's score, and a backend row reference.

    ``ref`` is only meaningful to the store that produced it, for :meth:`Store.fetch_chunks`.
    """

    chunk_id: str
    score: float
    ref: int


class ScoredChunk(NamedTuple):
    """A chunk and one retriever's raw score (higher is better)."""

    chunk: Chunk
    score: float


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


@runtime_checkable
class Store(Protocol):
    """A collection of chunks with vectors, text and metadata.

    Contract (tests/store/contract.py holds every backend to it):
    - :meth:`upsert` is atomic: after it returns, searches see all of the batches' sources' new
      chunks and none of their old ones; if the process dies inside it, searches see the old state.
    - Searches return at most ``top_k`` hits, best first; no hits is an empty list.
    - Filters are applied inside the search (prefilter), so ``top_k`` matching hits come back
      whenever that many chunks match.
    """

    def upsert(self, batches: Sequence[SourceBatch]) -> None: ...

    def delete_documents(self, doc_ids: Sequence[str], filters: Filter | None = None) -> int:
        """Delete the chunks of ``doc_ids`` matching ``filters`` (a caller's scope); returns how many."""
        ...

    def delete_sources(self, sources: Sequence[str]) -> int: ...

    def search_dense(
        self, vector: Vectors, top_k: int, filters: Filter | None = None
    ) -> list[ScoredChunk]: ...

    def search_keyword(self, text: str, top_k: int, filters: Filter | None = None) -> list[ScoredChunk]: ...

    def dense_candidates(self, vector: Vectors, n: int, filters: Filter | None = None) -> list[Candidate]:
        """Like :meth:`search_dense` but ids and scores only (cheap over-fetching for fusion)."""
        ...

    def keyword_candidates(self, text: str, n: int, filters: Filter | None = None) -> list[Candidate]: ...

    def unit_candidates(self, vector: Vectors, n: int, filters: Filter | None = None) -> list[Candidate]:
        """Chunks scored by their best unit (sentence) vector's cosine with ``vector``, best first, at
        most ``n``; chunks without unit vectors are not returned; ``[]`` when the collection stores none."""
        ...

    def fetch_chunks(self, candidates: Sequence[Candidate]) -> list[Chunk]:
        """The chunks behind ``candidates``, in the same order (missing ones are skipped)."""
        ...

    def fetch_texts(self, candidates: Sequence[Candidate]) -> list[str]:
        """The indexed text (``Chunk.embed_text``) of each of ``candidates``, in order (``""`` for
        one that is gone): cheaper than :meth:`fetch_chunks` when only words are needed (RM3)."""
        ...

    def fetch_vectors(self, candidates: Sequence[Candidate]) -> Vectors:
        """The stored embeddings of ``candidates``, one row each in order (missing ones skipped);
        shape ``(0, dim)`` for none. Dense pseudo-relevance feedback reads these."""
        ...

    def fetch_token_states(
        self, chunk_ids: Sequence[str], embed_texts: Sequence[str] | None = None
    ) -> list[Vectors | None]:
        """Each chunk's stored token embeddings (float32 ``(tokens, dim)``, unit rows up to the
        storage's rounding), in order; None for a chunk stored without them or gone, and, with
        ``embed_texts``, for one whose stored ``embed_text`` differs from the one given."""
        ...

    def source_hashes(self) -> dict[str, str]:
        """Map of every indexed source to the content hash it was indexed at."""
        ...

    def get_sections(self, ids: Sequence[str]) -> list[Section]: ...

    def chunks_at(self, keys: Sequence[tuple[str, int]], filters: Filter | None = None) -> list[Chunk]:
        """Chunks by (doc id, position) matching ``filters``, in the order of ``keys``; missing keys
        are skipped, and a key several documents share gives each of them."""
        ...

    def document_ids(self) -> set[str]: ...

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
        """Every chunk, ordered by (doc_id, position); for exports and tests, not hot paths."""
        ...

    def finalize(self) -> None:
        """Bring indexes up to date after a round of upserts (ANN above threshold, keyword index)."""
        ...

    def stats(self, filters: Filter | None = None) -> StoreStats:
        """Counts (of the rows matching ``filters`` when given) and index state."""
        ...
