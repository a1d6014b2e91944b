"""The Reranker protocol, the helpers every reranker shares, and :class:`ChainReranker`.

A reranker re-scores the hits of a first-stage retriever. It returns at most ``top_k`` hits, best
first, each with ``score`` replaced by the reranker's own score; ``hit.retrievers`` keeps what each
retriever said, so the first-stage evidence stays available. No hits is an empty list.

Example::

    reranker = ChainReranker([CrossEncoderReranker(Path("/models/ms-marco-MiniLM-L6")),
                              FreshnessReranker("date", rate=0.001)])
    hits = reranker.run("install on linux", retriever.run("install on linux", top_k=50), top_k=5)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ragline.errors import ConfigError
from ragline.types import Hit


@runtime_checkable
class Reranker(Protocol):
    """Re-scores first-stage hits: at most ``top_k`` of them, best first, ``score`` replaced."""

    def run(self, query: str, hits: Sequence[Hit], top_k: int) -> list[Hit]: ...


def check_top_k(top_k: int) -> None:
    """Reject a ``top_k`` below 1 with the same message the retrievers use."""
    if top_k < 1:
        raise ConfigError(f"top_k must be at least 1, got {top_k}")


def rescore(hits: Sequence[Hit], scores: Sequence[float], top_k: int) -> list[Hit]:
    """The ``top_k`` best hits by ``scores`` (one per hit), each carrying its new score.

    Ties keep the input order (the first-stage order), so equal scores never shuffle results.
    NaN scores sort last: a model that produced one has no opinion worth ranking on.
    """
    if len(scores) != len(hits):
        raise ValueError(f"got {len(scores)} scores for {len(hits)} hits")

    def key(i: int) -> float:
        s = scores[i]
        return math.inf if math.isnan(s) else -s

    order = sorted(range(len(hits)), key=key)
    return [dataclasses.replace(hits[i], score=float(scores[i])) for i in order[:top_k]]


def reorder(hits: Sequence[Hit], order: Sequence[int], top_k: int) -> list[Hit]:
    """Hits in ``order`` (indices into ``hits``), scored ``1 / rank`` (reciprocal rank).

    For rerankers that produce an order rather than scores (listwise LLM ranking): the scores
    decrease with rank and stay positive, so a later stage that multiplies them (freshness) works.
    """
    return [dataclasses.replace(hits[i], score=1.0 / rank) for rank, i in enumerate(order[:top_k], start=1)]


class ChainReranker:
    """Runs rerankers one after another; each re-scores every hit the previous one returned.

    Only the last stage cuts the list to ``top_k``, so an early stage cannot drop a hit that a
    later one would have promoted. The final score is the last stage's.

    Example::

        chain = ChainReranker([MMRReranker(embedder, lambda_=0.7), FreshnessReranker("date", 0.001)])
        chain.run("backup schedule", hits, top_k=5)
    """

    def __init__(self, rerankers: Sequence[Reranker]) -> None:
        if not rerankers:
            raise ConfigError("ChainReranker needs at least one reranker")
        self.rerankers = tuple(rerankers)

    def run(self, query: str, hits: Sequence[Hit], top_k: int) -> list[Hit]:
        check_top_k(top_k)
        current = list(hits)
        last = len(self.rerankers) - 1
        for i, reranker in enumerate(self.rerankers):
            if not current:
                return []
            current = reranker.run(query, current, top_k if i == last else len(current))
        return current
