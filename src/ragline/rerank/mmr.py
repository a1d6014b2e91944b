"""Maximal Marginal Relevance: relevant hits first, near-duplicates of already chosen ones pushed down.

Example::

    reranker = MMRReranker(embedder, lambda_=0.7)
    hits = reranker.run("backup schedule", hits, top_k=5)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ragline.embedding.base import Embedder, Vectors, l2_normalize
from ragline.errors import ConfigError
from ragline.rerank.base import check_top_k
from ragline.types import Hit


class Selection(NamedTuple):
    """One MMR pick: the document's index and its marginal relevance when it was chosen."""

    doc: int
    score: float


def _check_lambda(lambda_: float) -> None:
    if not 0.0 <= lambda_ <= 1.0:
        raise ConfigError(f"MMR lambda_={lambda_} must lie in [0, 1] (1: relevance only, 0: diversity only)")


def mmr_select(query_vec: Vectors, doc_vecs: Vectors, lambda_: float, k: int) -> list[Selection]:
    """Maximal Marginal Relevance (Carbonell & Goldstein, SIGIR 1998, "The Use of MMR,
    Diversity-Based Reranking for Reordering Documents and Producing Summaries").

    Greedily picks ``min(k, n)`` documents; each pick maximises

        MMR(d) = lambda_ * cos(d, q) - (1 - lambda_) * max over chosen s of cos(d, s)

    with the max taken as 0 before anything is chosen. Vectors are L2-normalised here, so any
    scale works. The chosen scores never increase from one pick to the next (a document's MMR can
    only fall as more are chosen), so they can serve as ranking scores. Ties go to the lower index.
    """
    _check_lambda(lambda_)
    n = doc_vecs.shape[0]
    k = min(k, n)
    if k <= 0:
        return []
    docs = l2_normalize(np.asarray(doc_vecs, dtype=np.float32).reshape(n, -1))
    query = l2_normalize(np.asarray(query_vec, dtype=np.float32).reshape(1, -1))[0]
    relevance = docs @ query
    # Max similarity of each document to the chosen set, kept up to date pick by pick.
    redundancy = np.zeros(n, dtype=np.float32)
    available = np.ones(n, dtype=bool)
    picks: list[Selection] = []
    for _ in range(k):
        mmr = np.where(available, lambda_ * relevance - (1.0 - lambda_) * redundancy, -np.inf)
        best = int(np.argmax(mmr))  # argmax returns the first maximum: ties go to the lower index
        picks.append(Selection(best, float(mmr[best])))
        available[best] = False
        redundancy = np.maximum(redundancy, docs @ docs[best])
    return picks


def mmr_order(query_vec: Vectors, doc_vecs: Vectors, lambda_: float, k: int) -> list[int]:
    """Indices of the ``min(k, n)`` documents :func:`mmr_select` picks, in pick order."""
    return [s.doc for s in mmr_select(query_vec, doc_vecs, lambda_, k)]


class MMRReranker:
    """Reorders hits by Maximal Marginal Relevance over ``embedder`` vectors of ``chunk.embed_text``.

    Relevance is the cosine to the query embedding; redundancy the highest cosine to a hit already
    chosen. ``lambda_=1`` ranks by relevance alone, lower values trade relevance for diversity.
    Each hit's score becomes its MMR value when picked (non-increasing down the list).

    Example::

        reranker = MMRReranker(OnnxEmbedder(), lambda_=0.5)
        reranker.run("deploy to kubernetes", hits, top_k=5)
    """

    def __init__(self, embedder: Embedder, lambda_: float = 0.7) -> None:
        _check_lambda(lambda_)
        self.embedder = embedder
        self.lambda_ = lambda_

    def run(self, query: str, hits: Sequence[Hit], top_k: int) -> list[Hit]:
        check_top_k(top_k)
        if not hits:
            return []
        docs = self.embedder.embed_documents([h.chunk.embed_text for h in hits])
        picks = mmr_select(self.embedder.embed_query(query), docs, self.lambda_, top_k)
        return [dataclasses.replace(hits[p.doc], score=p.score) for p in picks]
