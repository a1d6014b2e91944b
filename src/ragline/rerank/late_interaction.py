"""Late-interaction reranking: ColBERT's MaxSim over the token embeddings of the packaged model.

Every query token is matched to its most similar passage token, so a passage that contains the
query's exact terms (or close paraphrases) scores high even when its pooled embedding is diluted by
other content. It runs the same ONNX session and tokenizer as the default embedder; passage token
matrices are kept in a bounded LRU keyed by chunk id, so a passage that is a candidate again costs
only a matrix product.

Example::

    reranker = LateInteractionReranker(embedder)   # embedder: the engine's OnnxEmbedder
    hits = reranker.run("rotate api keys", hits, top_k=5)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ragline.embedding.onnx import OnnxEmbedder
from ragline.errors import ConfigError
from ragline.rerank.base import check_top_k, rescore
from ragline.types import Hit

TokenMatrix = npt.NDArray[np.float32]


class CacheInfo(NamedTuple):
    """The passage token cache: entries held, capacity, and lookups that hit or missed since start."""

    entries: int
    capacity: int
    hits: int
    misses: int


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
    stacked = np.concatenate([docs[i] for i in present])
    starts = np.cumsum([0] + [docs[i].shape[0] for i in present[:-1]])
    best = np.maximum.reduceat(q_tokens @ stacked.T, starts, axis=1)  # (query tokens, documents)
    for i, score in zip(present, best.mean(axis=0), strict=True):
        scores[i] = float(score)
    return scores


def _normalize_rows(x: TokenMatrix) -> TokenMatrix:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: TokenMatrix = (x / norms).astype(np.float32, copy=False)
    return result


class LateInteractionReranker:
    """MaxSim (mean over query tokens of the best cosine to any passage token) over the packaged
    model's contextual token embeddings; [CLS], [SEP] and padding are left out.

    ``embedder`` is the engine's :class:`~ragline.embedding.onnx.OnnxEmbedder`, whose ONNX session
    and tokenizer are reused (no second copy of the model); None builds one for the packaged model.
    Passages are read up to the embedder's ``max_tokens``. ``cache_size`` bounds the passage token
    matrices kept (float32, ``tokens * 1536`` bytes each for a 384-d model: 256 passages of 200
    tokens take 79 MB). Encoding a passage costs a full model pass (about 60 ms for 200 tokens on
    two cores), so the cache is what makes repeated candidates cheap.

    Example::

        reranker = LateInteractionReranker(OnnxEmbedder(), cache_size=1024)
        reranker.run("open port 8443", hits, top_k=5)
    """

    def __init__(
        self, embedder: OnnxEmbedder | None = None, cache_size: int = 256, batch_size: int = 16
    ) -> None:
        if cache_size < 0:
            raise ConfigError(f"cache_size must be >= 0 (0 disables the cache), got {cache_size}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.embedder = embedder if embedder is not None else OnnxEmbedder()
        self.cache_size = cache_size
        self.batch_size = batch_size
        # float32, not float16: converting 50 cached passages back for the product costs more
        # (about 10 ms) than the whole MaxSim over them.
        self._cache: OrderedDict[str, TokenMatrix] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def warm_up(self) -> None:
        """Load the tokenizer and the ONNX session now rather than on the first call."""
        self.embedder.warm_up()

    def _token_matrices(self, texts: Sequence[str]) -> list[TokenMatrix]:
        """Unit-length contextual embeddings of each text's non-special tokens."""
        # The embedder's session and tokenizer are private to it, but sharing them is the point:
        # one model in memory, exported once, with the same truncation as the embeddings.
        tokenizer: Any = self.embedder._tokenizer
        session: Any = self.embedder._session
        encodings = tokenizer.encode_batch(list(texts))
        out: list[TokenMatrix] = [np.zeros((0, 0), dtype=np.float32)] * len(texts)
        # Batching texts of similar length wastes less compute on padding.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : len(encodings[i].ids)] = encodings[i].ids
                mask[row, : len(encodings[i].ids)] = 1
            hidden = session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            for row, i in enumerate(idx):
                special = np.asarray(encodings[i].special_tokens_mask, dtype=bool)
                tokens = hidden[row, : len(special)][~special]
                matrix = _normalize_rows(np.asarray(tokens, dtype=np.float32))
                matrix.setflags(write=False)  # shared with the cache: nobody may edit it in place
                out[i] = matrix
        return out

    def query_tokens(self, query: str) -> TokenMatrix:
        """The query's unit-length token embeddings (special tokens left out)."""
        return self._token_matrices([query])[0]

    def document_tokens(self, hits: Sequence[Hit]) -> list[TokenMatrix]:
        """Each hit's passage token embeddings, from the cache where present."""
        found: dict[int, TokenMatrix] = {}
        with self._lock:
            for i, h in enumerate(hits):
                cached = self._cache.get(h.chunk.id)
                if cached is not None:
                    self._cache.move_to_end(h.chunk.id)
                    found[i] = cached
            missing = [i for i in range(len(hits)) if i not in found]
            self._hits += len(found)
            self._misses += len(missing)
        if missing:
            computed = self._token_matrices([hits[i].chunk.embed_text for i in missing])
            with self._lock:
                for i, matrix in zip(missing, computed, strict=True):
                    found[i] = matrix
                    if self.cache_size:
                        self._cache[hits[i].chunk.id] = matrix
                        self._cache.move_to_end(hits[i].chunk.id)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return [found[i] for i in range(len(hits))]

    def cache_info(self) -> CacheInfo:
        """How full the passage token cache is and how often it was hit."""
        with self._lock:
            return CacheInfo(len(self._cache), self.cache_size, self._hits, self._misses)

    def cached_ids(self) -> list[str]:
        """Chunk ids whose token matrices are cached, least recently used first."""
        with self._lock:
            return list(self._cache)

    def scores(self, query: str, hits: Sequence[Hit]) -> list[float]:
        """The MaxSim score of each hit's passage for ``query``."""
        if not hits:
            return []
        return maxsim_batch(self.query_tokens(query), self.document_tokens(hits))

    def run(self, query: str, hits: Sequence[Hit], top_k: int) -> list[Hit]:
        check_top_k(top_k)
        if not hits:
            return []
        return rescore(hits, self.scores(query, hits), top_k)
