"""Late-interaction reranking: ColBERT's MaxSim over the token embeddings of the packaged model.

Every query token is matched to its most similar passage token, so a passage that contains the
query's exact terms (or close paraphrases) scores high even when its pooled embedding is diluted by
other content. It runs the same ONNX session and tokenizer as the default embedder. A passage's token matrix
comes from the collection when it was stored at ingest (``chunking.token_states``: a read instead
of a model pass), else it is computed and kept in a bounded LRU keyed by chunk id.

With ``weight`` below 1 the MaxSim scores are interpolated with the first-stage scores, each
standardised over the candidates: ``(1 - weight) * z(first stage) + weight * z(MaxSim)``
(score interpolation as in Lin et al., "Pretrained Transformers for Text Ranking", 2021, sec. 3.2).

Example::

    reranker = LateInteractionReranker(embedder, weight=0.5, states=store)
    hits = reranker.run("rotate api keys", hits, top_k=5)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from ragline.embedding.onnx import OnnxEmbedder
from ragline.embedding.tokens import TokenMatrix, TokenModel
from ragline.errors import ConfigError
from ragline.rerank.base import check_top_k, rescore
from ragline.types import Hit


class TokenStates(Protocol):
    """Where stored passage token matrices are read (a collection's store)."""

    def fetch_token_states(self, chunk_ids: Sequence[str]) -> list[TokenMatrix | None]:
        """Each chunk's stored token matrix, in order; None where none is stored."""
        ...


class ReadAhead:
    """Token states read on ``pool`` now for the chunks expected among the reranked hits, served
    later in place of ``states``; a chunk that was not expected is read from ``states`` then.

    The read overlaps the work between the first-stage fusion and the rerank (row fetch,
    smoothing); the states served are the ones ``states`` gives, so scores do not change. A read
    the pool has not started by then is cancelled and done by the caller. ``read``, when given,
    reads the expected chunks' states instead (one per distinct id of ``chunk_ids``, in order):
    the same states by another way, e.g. by the store's row references.

    Example::

        ahead = ReadAhead(store, [c.chunk_id for c in fused[:30]], SEARCH_POOL)
        reranker.with_states(ahead).run(query, hits, 10)
    """

    def __init__(
        self,
        states: TokenStates,
        chunk_ids: Sequence[str],
        pool: Executor,
        read: Callable[[], Sequence[TokenMatrix | None]] | None = None,
    ) -> None:
        self.states = states
        self.ids = list(dict.fromkeys(chunk_ids))
        self._read = read
        self._job = pool.submit(read or partial(states.fetch_token_states, self.ids))

    def fetch_token_states(self, chunk_ids: Sequence[str]) -> list[TokenMatrix | None]:
        if self._job.cancel():
            # The pool has not started the read (a busy machine): waiting for it to would cost a
            # scheduling delay on top, so this thread reads what it needs itself.
            if self._read is None:
                return self.states.fetch_token_states(chunk_ids)
            got = dict(zip(self.ids, self._read(), strict=True))
        else:
            got = dict(zip(self.ids, self._job.result(), strict=True))
        missing = [c for c in dict.fromkeys(chunk_ids) if c not in got]
        if missing:
            got.update(zip(missing, self.states.fetch_token_states(missing), strict=True))
        return [got[c] for c in chunk_ids]


class CacheInfo(NamedTuple):
    """The passage token cache: entries held, capacity, lookups that hit or missed since start,
    and passages read from stored token states instead."""

    entries: int
    capacity: int
    hits: int
    misses: int
    stored: int = 0


def maxsim(q_tokens: TokenMatrix, d_tokens: TokenMatrix) -> float:
    """ColBERT's late-interaction relevance (Khattab & Zaharia, SIGIR 2020, "ColBERT: Efficient and
    Effective Passage Search via Contextualized Late Interaction over BERT"), averaged.

    score = (1 / |q|) * sum over query tokens i of max over document tokens j of q_i . d_j

    Rows are token embeddings; with unit-length rows (as this module stores them) the dot product is
    the cosine, so the score lies in [-1, 1]. The paper sums over query tokens; the mean makes
    scores comparable across queries of different lengths and ranks a query's passages identically.
    An empty query or document scores 0.0.
    """
    if q_tokens.shape[0] == 0 or d_tokens.shape[0] == 0:
        return 0.0
    sim = q_tokens @ d_tokens.T
    return float(sim.max(axis=1).mean())


def maxsim_batch(q_tokens: TokenMatrix, docs: Sequence[TokenMatrix]) -> list[float]:
    """:func:`maxsim` of ``q_tokens`` against each document, with one matrix product for all of them.

    One large product instead of one per document: many tiny BLAS calls are dominated by thread
    start-up, which on a busy machine costs more than the arithmetic.
    """
    scores = [0.0] * len(docs)
    present = [i for i, d in enumerate(docs) if d.shape[0]]
    if q_tokens.shape[0] == 0 or not present:
        return scores
    stacked = _stacked([docs[i] for i in present])
    starts = np.cumsum([0] + [docs[i].shape[0] for i in present[:-1]])
    # (tokens, query tokens) rather than its transpose: the same dot products (BLAS gives the
    # same bits either way round here) ~30 % faster for a 3,500-token head; the max is exact and
    # the mean runs over the same contiguous (query tokens, documents) layout as before.
    best = np.maximum.reduceat(stacked @ q_tokens.T, starts, axis=0)  # (documents, query tokens)
    for i, score in zip(present, np.ascontiguousarray(best.T).mean(axis=0), strict=True):
        scores[i] = float(score)
    return scores


def _stacked(docs: Sequence[TokenMatrix]) -> TokenMatrix:
    """``docs`` one after another as one matrix: the rows of the array they are consecutive
    slices of when they are (a store decodes a head's states into one array, in order), saving
    the copy; else a concatenation. Either way the same values, so the same products."""
    base = docs[0].base
    width = docs[0].shape[1] if docs[0].ndim == 2 else 0
    if (
        isinstance(base, np.ndarray)
        and width
        and base.dtype == docs[0].dtype
        and base.flags.c_contiguous
        and base.size % width == 0
        and all(d.base is base and d.flags.c_contiguous for d in docs)
    ):
        # The owner may have another shape (a pq decode's (tokens, groups, sub) gather, viewed as
        # (tokens, dim)): as (rows, width) it is the same memory, no copy.
        base = base.reshape(-1, width)
        row = base.strides[0]
        origin = base.__array_interface__["data"][0]
        offset = docs[0].__array_interface__["data"][0] - origin
        first, at = divmod(offset, row)
        end = first
        for d in docs:
            if at or d.__array_interface__["data"][0] != origin + end * row:
                break
            end += d.shape[0]
        else:
            out: TokenMatrix = base[first:end]
            return out
    return np.concatenate(docs)


def standardize(scores: Sequence[float]) -> npt.NDArray[np.float64]:
    """``scores`` as z-scores (mean 0, standard deviation 1); all equal gives all zeros."""
    a = np.asarray(scores, dtype=np.float64)
    sd = float(a.std())
    return (a - a.mean()) / sd if sd > 0 else np.zeros_like(a)


@dataclass
class _Cache:
    """Computed passage matrices (LRU by chunk id) and lookup counts, shared by a reranker's
    per-collection twins (:meth:`LateInteractionReranker.with_states`)."""

    # float32, not float16: converting 50 cached passages back for the product costs more
    # (about 10 ms) than the whole MaxSim over them.
    matrices: OrderedDict[str, TokenMatrix] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hits: int = 0
    misses: int = 0
    stored: int = 0


class LateInteractionReranker:
    """MaxSim (mean over query tokens of the best cosine to any passage token) over the packaged
    model's contextual token embeddings; [CLS], [SEP] and padding are left out.

    ``embedder`` is a :class:`~ragline.embedding.tokens.TokenModel` (the engine's
    :class:`~ragline.embedding.onnx.OnnxEmbedder`), whose ONNX session
    and tokenizer are reused (no second copy of the model); None builds one for the packaged model.
    ``weight`` is MaxSim's share when interpolating with the first-stage scores (1: MaxSim alone).
    ``states`` serves token matrices stored at ingest by the same model; passages without one are
    encoded here (up to the embedder's ``max_tokens``, about 60 ms for 200 tokens on two cores)
    and kept in an LRU of ``cache_size`` matrices (float32, ``tokens * 1536`` bytes each for a
    384-d model: 256 passages of 200 tokens take 79 MB).

    Example::

        reranker = LateInteractionReranker(OnnxEmbedder(), cache_size=1024, weight=0.5)
        reranker.run("open port 8443", hits, top_k=5)
    """

    def __init__(
        self,
        embedder: TokenModel | None = None,
        cache_size: int = 256,
        batch_size: int = 16,
        *,
        weight: float = 1.0,
        states: TokenStates | None = None,
    ) -> None:
        if cache_size < 0:
            raise ConfigError(f"cache_size must be >= 0 (0 disables the cache), got {cache_size}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if not 0.0 <= weight <= 1.0:
            raise ConfigError(f"late-interaction weight must be in [0, 1] (1: MaxSim alone), got {weight}")
        self.embedder = embedder if embedder is not None else OnnxEmbedder()
        self.cache_size = cache_size
        self.batch_size = batch_size
        self.weight = weight
        self.states = states
        self._shared = _Cache()

    def with_states(self, states: TokenStates | None) -> LateInteractionReranker:
        """The same reranker (model, weight and cache shared) reading ``states`` (one collection)."""
        twin = LateInteractionReranker(
            self.embedder, self.cache_size, self.batch_size, weight=self.weight, states=states
        )
        twin._shared = self._shared
        return twin

    def warm_up(self) -> None:
        """Load the tokenizer and the ONNX session now rather than on the first call."""
        self.embedder.warm_up()

    def _token_matrices(self, texts: Sequence[str]) -> list[TokenMatrix]:
        """Unit-length contextual embeddings of each text's non-special tokens."""
        matrices = self.embedder.embed_with_tokens(texts)[1]
        for m in matrices:
            m.setflags(write=False)  # shared with the cache: nobody may edit it in place
        return matrices

    def query_tokens(self, query: str) -> TokenMatrix:
        """The query's unit-length token embeddings (special tokens left out); from the query's
        own embedding run when the search just embedded it."""
        return self.embedder.query_tokens(query)

    def document_tokens(self, hits: Sequence[Hit]) -> list[TokenMatrix]:
        """Each hit's passage token embeddings: stored, cached, or computed now."""
        found: dict[int, TokenMatrix] = {}
        if self.states is not None:
            stored = self.states.fetch_token_states([h.chunk.id for h in hits])
            found = {i: m for i, m in enumerate(stored) if m is not None}
        c = self._shared
        with c.lock:
            c.stored += len(found)
            for i, h in enumerate(hits):
                if i in found:
                    continue
                cached = c.matrices.get(h.chunk.id)
                if cached is not None:
                    c.matrices.move_to_end(h.chunk.id)
                    found[i] = cached
                    c.hits += 1
            missing = [i for i in range(len(hits)) if i not in found]
            c.misses += len(missing)
        if missing:
            computed = self._token_matrices([hits[i].chunk.embed_text for i in missing])
            with c.lock:
                for i, matrix in zip(missing, computed, strict=True):
                    found[i] = matrix
                    if self.cache_size:
                        c.matrices[hits[i].chunk.id] = matrix
                        c.matrices.move_to_end(hits[i].chunk.id)
                while len(c.matrices) > self.cache_size:
                    c.matrices.popitem(last=False)
        return [found[i] for i in range(len(hits))]

    def cache_info(self) -> CacheInfo:
        """How full the passage token cache is and how often it was hit."""
        c = self._shared
        with c.lock:
            return CacheInfo(len(c.matrices), self.cache_size, c.hits, c.misses, c.stored)

    def cached_ids(self) -> list[str]:
        """Chunk ids whose token matrices are cached, least recently used first."""
        with self._shared.lock:
            return list(self._shared.matrices)

    def scores(self, query: str, hits: Sequence[Hit]) -> list[float]:
        """The MaxSim score of each hit's passage for ``query``."""
        if not hits:
            return []
        return maxsim_batch(self.query_tokens(query), self.document_tokens(hits))

    def run(self, query: str, hits: Sequence[Hit], top_k: int) -> list[Hit]:
        check_top_k(top_k)
        if not hits:
            return []
        late = self.scores(query, hits)
        if self.weight >= 1.0:
            return rescore(hits, late, top_k)
        first = standardize([h.score for h in hits])
        mixed = (1.0 - self.weight) * first + self.weight * standardize(late)
        return rescore(hits, [float(x) for x in mixed], top_k)
