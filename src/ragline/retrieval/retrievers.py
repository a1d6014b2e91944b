"""Dense, keyword and hybrid retrievers over a :class:`~ragline.store.base.Store`.

Each asks the store for the search capabilities it uses; a side the store cannot search finds
nothing, and the store's lack is logged once.

Example::

    retriever = HybridRetriever(store, embedder, fusion="rrf", rrf_k=60)
    hits = retriever.run("install on linux", top_k=5)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from ragline.embedding.base import Embedder, Vectors
from ragline.errors import ConfigError
from ragline.retrieval.fusion import reciprocal_rank_fusion, weighted_fusion_many, zscore_fusion_many
from ragline.store.base import Candidate, DenseSearch, KeywordSearch, Store, dense_search, keyword_search
from ragline.store.filters import Filter
from ragline.types import Hit, RetrieverName, RetrieverScore

log = logging.getLogger(__name__)
NO_DENSE = "its dense side finds nothing"
NO_KEYWORD = "its keyword side finds nothing"

# LanceDB releases the GIL inside its searches and ONNX Runtime inside inference, so the keyword
# search runs on this pool while the calling thread embeds the query and searches vectors.
SEARCH_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ragline-retrieve")


@runtime_checkable
class Retriever(Protocol):
    """Finds the chunks most relevant to a query. No hits is an empty list."""

    def run(self, query: str, top_k: int, filters: Filter | None = None) -> list[Hit]: ...


def _check_top_k(top_k: int) -> None:
    if top_k < 1:
        raise ConfigError(f"top_k must be at least 1, got {top_k}")


def _as_hits(name: RetrieverName, store: Store, candidates: Sequence[Candidate]) -> list[Hit]:
    """One retriever's candidates as hits, in order (chunks gone since the search are skipped)."""
    score = {c.chunk_id: c.score for c in candidates}
    return [
        Hit(chunk=c, score=score[c.id], retrievers={name: RetrieverScore(rank=i + 1, score=score[c.id])})
        for i, c in enumerate(store.fetch_chunks(candidates))
    ]


class DenseRetriever:
    """Nearest neighbours of the query embedding (cosine similarity)."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self.dense = dense_search(store, log, "dense retrieval finds nothing")

    def run(self, query: str, top_k: int, filters: Filter | None = None) -> list[Hit]:
        _check_top_k(top_k)
        if self.dense is None:
            return []
        found = self.dense.dense_candidates(self.embedder.embed_query(query), top_k, filters)
        return _as_hits("dense", self.store, found)


class KeywordRetriever:
    """BM25 over the store's full-text index (English stemming, stop words removed)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.keyword = keyword_search(store, log, "keyword retrieval finds nothing")

    def run(self, query: str, top_k: int, filters: Filter | None = None) -> list[Hit]:
        _check_top_k(top_k)
        if self.keyword is None:
            return []
        return _as_hits("keyword", self.store, self.keyword.keyword_candidates(query, top_k, filters))


class HybridRetriever:
    """Dense and keyword candidates fused by reciprocal rank fusion or weighted normalised scores.

    Each side fetches ``candidate_multiplier * top_k`` candidates before fusion.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        fusion: Literal["rrf", "weighted", "zscore"] = "rrf",
        rrf_k: int = 60,
        alpha: float = 0.5,
        candidate_multiplier: int = 4,
    ) -> None:
        if fusion not in ("rrf", "weighted", "zscore"):
            raise ConfigError(f"fusion={fusion!r} is not supported; use 'rrf', 'weighted' or 'zscore'")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha={alpha} must lie in [0, 1]")
        if rrf_k < 1 or candidate_multiplier < 1:
            raise ConfigError("rrf_k and candidate_multiplier must be at least 1")
        self.store = store
        self.embedder = embedder
        self.dense = dense_search(store, log, NO_DENSE)
        self.keyword = keyword_search(store, log, NO_KEYWORD)
        self.fusion = fusion
        self.rrf_k = rrf_k
        self.alpha = alpha
        self.candidate_multiplier = candidate_multiplier

    def candidates(
        self, query: str, n: int, filters: Filter | None = None
    ) -> tuple[list[Candidate], list[Candidate]]:
        """Dense and keyword candidates (ids and scores), searched concurrently."""
        keyword = SEARCH_POOL.submit(keyword_candidates, self.keyword, query, n, filters)
        try:
            dense = dense_candidates(self.dense, self.embedder.embed_query(query), n, filters)
        finally:
            kw = keyword.result()
        return dense, kw

    def run(self, query: str, top_k: int, filters: Filter | None = None) -> list[Hit]:
        _check_top_k(top_k)
        dense, keyword = self.candidates(query, top_k * self.candidate_multiplier, filters)
        fused = fuse(dense, keyword, top_k, self.fusion, self.rrf_k, self.alpha)
        chunks = {c.id: c for c in self.store.fetch_chunks([f.candidate for f in fused])}
        return [
            Hit(chunk=chunks[f.candidate.chunk_id], score=f.score, retrievers=f.retrievers)
            for f in fused
            if f.candidate.chunk_id in chunks
        ]


def dense_candidates(
    dense: DenseSearch | None, vector: Vectors, n: int, filters: Filter | None
) -> list[Candidate]:
    """``dense``'s candidates for ``vector``; none when the store has no dense search."""
    return [] if dense is None else dense.dense_candidates(vector, n, filters)


def keyword_candidates(
    keyword: KeywordSearch | None, query: str, n: int, filters: Filter | None
) -> list[Candidate]:
    """``keyword``'s candidates for ``query``; none when the store has no keyword search."""
    return [] if keyword is None else keyword.keyword_candidates(query, n, filters)


class Fused(NamedTuple):
    """A fused candidate: its fused score and each retriever's rank and raw score."""

    candidate: Candidate
    score: float
    retrievers: dict[RetrieverName, RetrieverScore]


def fuse(
    dense: Sequence[Candidate],
    keyword: Sequence[Candidate],
    top_k: int,
    fusion: Literal["rrf", "weighted", "zscore"] = "rrf",
    rrf_k: int = 60,
    alpha: float = 0.5,
) -> list[Fused]:
    """Fuse two candidate lists into at most ``top_k`` results, best first.

    ``alpha`` weighs the dense side in the score-based fusions; RRF counts both lists equally.
    """
    w = 0.5 if fusion == "rrf" else alpha
    return fuse_lists([("dense", dense, w), ("keyword", keyword, 1.0 - w)], top_k, fusion, rrf_k)


def fuse_lists(
    sides: Sequence[tuple[RetrieverName, Sequence[Candidate], float]],
    top_k: int,
    fusion: Literal["rrf", "weighted", "zscore"] = "rrf",
    rrf_k: int = 60,
) -> list[Fused]:
    """Fuse any number of named, weighted candidate lists into at most ``top_k`` results.

    Weights scale each list's normalised scores (``weighted``, ``zscore``); RRF ignores them when
    all are equal, as in its paper, and otherwise uses them relative to their mean.
    """
    first: dict[str, Candidate] = {}
    # (rank, score) per retriever; RetrieverScore objects are made for the returned top_k alone
    # (a frozen dataclass costs ~1 us to build: 480 a query at SciFact's depth, most dropped).
    per: dict[str, dict[RetrieverName, tuple[int, float]]] = {}
    for name, cands, _ in sides:
        for rank, c in enumerate(cands, start=1):
            cid = c.chunk_id
            seen = per.get(cid)
            if seen is None:
                first[cid] = c
                per[cid] = seen = {}
            seen[name] = (rank, c.score)
    weights = [w for _, _, w in sides]
    if fusion == "rrf":
        mean = sum(weights) / len(weights) if weights else 1.0
        # Plain RRF weighs every list 1; alpha-style weights keep that scale (0.5/0.5 -> 1/1).
        rel = [w / mean for w in weights] if mean > 0 else [1.0] * len(weights)
        fused = reciprocal_rank_fusion([[c.chunk_id for c in cands] for _, cands, _ in sides], rrf_k, rel)
    else:
        combine = weighted_fusion_many if fusion == "weighted" else zscore_fusion_many
        fused = combine([{c.chunk_id: c.score for c in cands} for _, cands, _ in sides], weights)
    return [
        Fused(first[cid], score, {name: RetrieverScore(r, v) for name, (r, v) in per[cid].items()})
        for cid, score in fused[:top_k]
    ]
