"""Score regularization over the fused list: a document's score moves towards its neighbours'.

The cluster hypothesis (van Rijsbergen 1979): documents that are alike tend to be relevant to the
same queries. Diaz (CIKM 2005, "Regularizing ad hoc retrieval scores") smooths each retrieved
document's score with the scores of its nearest retrieved documents. One smoothing step, over the
top documents of the fused list, is what runs here; it may import only numpy, ``ragline.types``
and ``ragline.errors``.

Example::

    new = regularize(np.array([2.0, 1.5, 0.2]), unit_vectors, neighbours=3, weight=0.2)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ragline.errors import ConfigError
from ragline.types import Hit


def regularize(scores: np.ndarray, vectors: np.ndarray, neighbours: int, weight: float) -> np.ndarray:
    """One step of score regularization (Diaz 2005), over ``n`` documents.

        s'(d) = (1 - weight) * s(d) + weight * sum_j a(d, j) s(j) / sum_j a(d, j)

    where j runs over the ``neighbours`` other documents most similar to d (cosine of the rows of
    ``vectors``, which must be unit length) and a(d, j) = max(cos(d, j), 0). A document with no
    positively similar neighbour keeps its score. ``weight = 0`` returns the scores unchanged.
    """
    n = len(scores)
    if vectors.shape[0] != n:
        raise ConfigError(f"got {vectors.shape[0]} vectors for {n} scores: pass one vector per document")
    if neighbours < 1:
        raise ConfigError(f"neighbours={neighbours}: smoothing needs at least one neighbour")
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"smoothing weight={weight} must lie in [0, 1] (0: no smoothing)")
    scores = np.asarray(scores, dtype=np.float64)
    if n < 2 or weight == 0.0:
        return scores.copy()
    k = min(neighbours, n - 1)
    sims = np.asarray(vectors, dtype=np.float64) @ np.asarray(vectors, dtype=np.float64).T
    np.fill_diagonal(sims, -np.inf)
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    a = np.clip(np.take_along_axis(sims, nearest, axis=1), 0.0, None)
    total = a.sum(axis=1)
    pulled = np.where(total > 0, (a * scores[nearest]).sum(axis=1) / np.maximum(total, 1e-12), scores)
    return (1.0 - weight) * scores + weight * pulled


def best_per_document(hits: Sequence[Hit], docs: int) -> list[int]:
    """Indices of the first (best) hit of each of the first ``docs`` documents in ``hits``."""
    return first_per_document([h.chunk.doc_id for h in hits], docs)


def first_per_document(doc_ids: Sequence[str], docs: int) -> list[int]:
    """Indices of the first occurrence of each of the first ``docs`` distinct ids in ``doc_ids``."""
    seen: set[str] = set()
    firsts: list[int] = []
    for i, d in enumerate(doc_ids):
        if d not in seen:
            seen.add(d)
            firsts.append(i)
            if len(firsts) == docs:
                break
    return firsts


def smooth_scores(
    doc_ids: Sequence[str],
    scores: Sequence[float],
    firsts: Sequence[int],
    vectors: np.ndarray,
    neighbours: int,
    weight: float,
) -> list[tuple[int, float]]:
    """:func:`smooth_hits` on a ranked list given by its hits' document ids and scores: the
    input positions in their new order, each with its new score. The pipeline smooths the fused
    list this way before it reads any row but the head's.

    Example::

        order = smooth_scores(["d1", "d2", "d1"], [2.0, 1.5, 1.0], [0, 1], vecs, 3, 0.2)
    """
    if len(firsts) < 2:
        return list(enumerate(scores))
    old = np.asarray([scores[i] for i in firsts], dtype=np.float64)
    shift = {
        doc_ids[i]: float(d)
        for i, d in zip(firsts, regularize(old, vectors, neighbours, weight) - old, strict=True)
    }
    moved = [s + shift.get(d, 0.0) for d, s in zip(doc_ids, scores, strict=True)]
    order = sorted(range(len(moved)), key=lambda i: -moved[i])
    return [(i, moved[i]) for i in order]


def smooth_hits(
    hits: Sequence[Hit], firsts: Sequence[int], vectors: np.ndarray, neighbours: int, weight: float
) -> list[Hit]:
    """Regularize the scores of the documents whose best hits are ``firsts`` (vectors: theirs).

    A document's score is its best hit's; every hit of a smoothed document shifts by the same
    amount, so its chunks keep their order. Hits of other documents keep their scores. The list
    is re-sorted by the new scores, ties keeping the input order.
    """
    if len(firsts) < 2:
        return list(hits)
    order = smooth_scores(
        [h.chunk.doc_id for h in hits], [h.score for h in hits], firsts, vectors, neighbours, weight
    )
    return [dataclasses.replace(hits[i], score=score) for i, score in order]
