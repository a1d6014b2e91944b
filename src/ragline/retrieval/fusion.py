"""Fusing the rankings of several retrievers into one, as pure functions over doc ids.

Three methods:

* :func:`reciprocal_rank_fusion` uses ranks only, so it needs no score calibration.
* :func:`weighted_fusion` min-max normalises each retriever's scores and takes a convex
  combination of them.
* :func:`zscore_fusion` standardises each retriever's scores (z-scores) and takes a convex
  combination; the default, measured best on the BEIR train/dev splits (docs/benchmarks.md).

Both return ``(id, fused score)`` pairs, best first. Ties keep first-appearance order, so the
output is deterministic for a given input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ragline.errors import ConfigError

# Cormack, Clarke & Büttcher (SIGIR 2009) found k = 60 near-optimal across TREC collections: it
# damps the weight of the very top ranks enough that one retriever's rank-1 cannot outvote
# consistent mid-list agreement among the others, while still favouring the top of each list.
DEFAULT_RRF_K = 60


def _check_finite(scores: Mapping[str, float], name: str) -> None:
    for doc, score in scores.items():
        if not math.isfinite(score):
            raise ConfigError(f"{name} score for {doc!r} is {score!r}: fusion needs finite scores")


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]],
    k: int = DEFAULT_RRF_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[str, float]]:
    """Reciprocal Rank Fusion (Cormack, Clarke & Büttcher, SIGIR 2009).

    score(d) = sum over rankings r containing d of w_r / (k + rank_r(d)), ranks 1-based, all
    weights 1 by default. An id repeated within one ranking counts once, at its best rank.
    Sorted by score descending; ties keep the order in which ids first appear scanning the
    rankings in order, each from its top. No rankings, or only empty ones, give ``[]``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"RRF constant k={k!r} is invalid: pass an integer >= 1 (the paper uses 60)")
    if weights is None:
        weights = [1.0] * len(rankings)
    elif len(weights) != len(rankings):
        raise ConfigError(
            f"got {len(weights)} RRF weights for {len(rankings)} rankings: pass one weight per ranking"
        )
    for i, w in enumerate(weights):
        if not math.isfinite(w) or w < 0:
            raise ConfigError(f"RRF weight {i} is {w!r}: weights must be finite and >= 0")
    fused: dict[str, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        seen: set[str] = set()
        for rank, doc in enumerate(ranking, start=1):
            if doc in seen:
                continue
            seen.add(doc)
            fused[doc] = fused.get(doc, 0.0) + w / (k + rank)
    # sorted() is stable and ``fused`` keeps first-insertion order: that is the tie-break.
    return sorted(fused.items(), key=lambda item: -item[1])


def min_max_normalize(scores: Mapping[str, float]) -> dict[str, float]:
    """Min-max normalisation to [0, 1]: (s - min) / (max - min).

    When every score is equal (including a single score) each maps to 1.0: all candidates are
    equally the best this retriever found. Empty input gives ``{}``.
    """
    _check_finite(scores, "input")
    if not scores:
        return {}
    lo = min(scores.values())
    hi = max(scores.values())
    if hi == lo:
        return dict.fromkeys(scores, 1.0)
    span = hi - lo
    return {doc: (s - lo) / span for doc, s in scores.items()}


def weighted_fusion(
    dense: Mapping[str, float],
    keyword: Mapping[str, float],
    alpha: float,
) -> list[tuple[str, float]]:
    """Convex combination of min-max normalised scores.

    score(d) = alpha * mm(dense)(d) + (1 - alpha) * mm(keyword)(d), where a retriever that did
    not return d contributes 0 (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid
    Retrieval", ACM TOIS 2023). Sorted by score descending; ties keep first-appearance order:
    ``dense``'s iteration order, then ids found only by ``keyword``.
    """
    if not (isinstance(alpha, int | float) and 0.0 <= alpha <= 1.0):
        raise ConfigError(f"alpha={alpha!r} is invalid: pass a number in [0, 1] (weight of the dense side)")
    return weighted_fusion_many([dense, keyword], [alpha, 1.0 - alpha])


def weighted_fusion_many(
    lists: Sequence[Mapping[str, float]],
    weights: Sequence[float],
) -> list[tuple[str, float]]:
    """Weighted sum of min-max normalised scores over any number of lists; a list that did not
    return d contributes 0, its minimum (:func:`weighted_fusion` is the two-list case)."""
    _check_weights(lists, weights)
    return _combine([min_max_normalize(scores) for scores in lists], weights, [0.0] * len(lists))


def z_normalize(scores: Mapping[str, float]) -> dict[str, float]:
    """Standard scores: (s - mean) / std over the candidates. Equal scores all map to 0."""
    _check_finite(scores, "input")
    if not scores:
        return {}
    n = len(scores)
    mean = sum(scores.values()) / n
    std = math.sqrt(sum((s - mean) ** 2 for s in scores.values()) / n)
    if std == 0.0:
        return dict.fromkeys(scores, 0.0)
    return {doc: (s - mean) / std for doc, s in scores.items()}


def zscore_fusion(
    dense: Mapping[str, float],
    keyword: Mapping[str, float],
    alpha: float,
) -> list[tuple[str, float]]:
    """Convex combination of z-normalised scores (Bruch, Gai & Ingber, ACM TOIS 2023, §4).

    score(d) = alpha * z(dense)(d) + (1 - alpha) * z(keyword)(d). A retriever that did not return
    d contributes its lowest z-score: d ranked below everything it did return, not at its mean
    (which would reward documents for being missed). Unlike min-max, one outlying top score does
    not squash the rest of a list, and unlike RRF the size of a score gap counts. Sorted by score
    descending; ties keep first-appearance order (``dense`` first).
    """
    if not (isinstance(alpha, int | float) and 0.0 <= alpha <= 1.0):
        raise ConfigError(f"alpha={alpha!r} is invalid: pass a number in [0, 1] (weight of the dense side)")
    return zscore_fusion_many([dense, keyword], [alpha, 1.0 - alpha])


def zscore_fusion_many(
    lists: Sequence[Mapping[str, float]],
    weights: Sequence[float],
) -> list[tuple[str, float]]:
    """Weighted sum of z-normalised scores over any number of result lists.

    score(d) = sum_i w_i * z(list_i)(d), where a list that did not return d contributes its
    lowest z-score (as in :func:`zscore_fusion`, its two-list case). Used to fuse the first-pass
    lists with their pseudo-relevance-feedback counterparts (CombSUM over standardised scores, Fox
    & Shaw, TREC-2 1994; z-scores as in Bruch et al. 2023). Ties keep first-appearance order,
    scanning the lists in order.

    Example::

        zscore_fusion_many([{"a": 0.9, "b": 0.1}, {"b": 7.0, "c": 1.0}], [0.5, 0.5])
    """
    _check_weights(lists, weights)
    zs = [z_normalize(scores) for scores in lists]
    return _combine(zs, weights, [min(z.values(), default=0.0) for z in zs])


def _check_weights(lists: Sequence[Mapping[str, float]], weights: Sequence[float]) -> None:
    if len(weights) != len(lists):
        raise ConfigError(
            f"got {len(weights)} fusion weights for {len(lists)} lists: pass one weight per list"
        )
    for i, w in enumerate(weights):
        if not (isinstance(w, int | float) and math.isfinite(w) and w >= 0):
            raise ConfigError(f"fusion weight {i} is {w!r}: weights must be finite and >= 0")


def _combine(
    normalized: Sequence[Mapping[str, float]], weights: Sequence[float], floors: Sequence[float]
) -> list[tuple[str, float]]:
    ids = list(dict.fromkeys(doc for scores in normalized for doc in scores))
    at = {doc: i for i, doc in enumerate(ids)}
    # One row per list: w * its score of each document, w * its floor where it has none. Summing
    # the rows (axis 0 adds them one after another) adds each document's terms in list order, as
    # a sum() per document would, so the scores are the same to the last bit; ~3x faster than
    # the dict loop at the interactive depth (5 lists of 120 candidates).
    terms = np.empty((len(normalized), len(ids)), dtype=np.float64)
    for row, (scores, w, f) in enumerate(zip(normalized, weights, floors, strict=True)):
        terms[row] = w * f
        where = np.fromiter((at[doc] for doc in scores), dtype=np.intp, count=len(scores))
        terms[row, where] = w * np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
    fused = terms.sum(axis=0) if len(normalized) else np.zeros(len(ids))
    # A stable sort keeps first appearance (the order of ``ids``, scanning the lists in order).
    order = np.argsort(-fused, kind="stable")
    return [(ids[i], float(fused[i])) for i in order.tolist()]
