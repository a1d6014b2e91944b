"""IR metrics as small pure functions, matching ``trec_eval`` (and so ``pytrec_eval``) exactly.

A run maps query id -> doc id -> score; qrels map query id -> doc id -> graded relevance.
Per-query functions take a ranked list of doc ids (best first) and that query's judgements.

Conventions, all as in ``trec_eval`` 9.x with its default options:

* A document is *relevant* when its judged relevance is at least :data:`RELEVANCE_LEVEL` (1).
  Unjudged documents count as non-relevant.
* Ranking a run orders by score descending, ties by doc id descending (see :func:`rank_run`).
* A query with no relevant document scores 0 on every measure; :func:`evaluate` leaves such
  queries out of its averages, since nothing can be retrieved for them.

This module imports nothing from ragline except :mod:`ragline.errors`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ragline.errors import ConfigError, DatasetError

Run = Mapping[str, Mapping[str, float]]
"""query id -> doc id -> retrieval score (higher is better)."""

Qrels = Mapping[str, Mapping[str, int]]
"""query id -> doc id -> graded relevance judgement (0 = judged non-relevant)."""

# trec_eval's default ``-l`` (relevance level): judgements >= 1 are relevant for the binary
# measures (recall, MAP, reciprocal rank). nDCG uses the graded value itself as the gain.
RELEVANCE_LEVEL = 1

# The cutoffs behind EvalReport's named fields; always computed whatever ``k_values`` says.
_REPORT_KS = (10, 100)
# BEIR's EvaluateRetrieval default cutoffs (minus 1000, rarely meaningful for top-100 runs).
DEFAULT_K_VALUES: tuple[int, ...] = (1, 3, 5, 10, 100)


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"cutoff k={k!r} is invalid: pass an integer >= 1 (e.g. k=10)")


def _check_unique(ranked: Sequence[str], k: int) -> None:
    seen: set[str] = set()
    for doc in ranked[:k]:
        if doc in seen:
            raise ConfigError(
                f"ranked list holds doc id {doc!r} more than once: each document may appear only "
                "once (deduplicate the ranking, keeping its best position)"
            )
        seen.add(doc)


def _num_relevant(rels: Mapping[str, int]) -> int:
    return sum(1 for r in rels.values() if r >= RELEVANCE_LEVEL)


def ndcg_at_k(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """nDCG@k as trec_eval's ``ndcg_cut.k`` (Järvelin & Kekäläinen, ACM TOIS 2002).

    DCG@k = sum over ranks i = 1..k of gain_i / log2(i + 1), gain = judged relevance (negative
    and unjudged -> 0). The ideal DCG sorts every judged document with relevance > 0 by gain and
    cuts it at k. Returns 0.0 when the query has no document with positive relevance.
    """
    _check_k(k)
    _check_unique(ranked, k)
    dcg = 0.0
    for i, doc in enumerate(ranked[:k]):
        gain = rels.get(doc, 0)
        if gain > 0:
            dcg += gain / math.log2(i + 2)
    ideal_gains = sorted((g for g in rels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal_gains))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Recall@k as trec_eval's ``recall.k``: relevant docs in the top k / all relevant docs.

    Returns 0.0 when the query has no relevant document.
    """
    _check_k(k)
    _check_unique(ranked, k)
    num_rel = _num_relevant(rels)
    if num_rel == 0:
        return 0.0
    hits = sum(1 for doc in ranked[:k] if rels.get(doc, 0) >= RELEVANCE_LEVEL)
    return hits / num_rel


def mrr_at_k(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank cut at k: 1 / rank of the first relevant doc within the top k, else 0.

    trec_eval's ``recip_rank`` (Voorhees, TREC-8 QA track, 1999) evaluated on the run truncated
    to its top k, which is how BEIR computes MRR@k.
    """
    _check_k(k)
    _check_unique(ranked, k)
    for i, doc in enumerate(ranked[:k]):
        if rels.get(doc, 0) >= RELEVANCE_LEVEL:
            return 1.0 / (i + 1)
    return 0.0


def average_precision_at_k(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Average precision cut at k as trec_eval's ``map_cut.k``.

    Sum of precision@i over the ranks i <= k holding a relevant doc, divided by the number of
    relevant docs for the query (all of them, not just those within k). 0.0 with none relevant.
    """
    _check_k(k)
    _check_unique(ranked, k)
    num_rel = _num_relevant(rels)
    if num_rel == 0:
        return 0.0
    hits = 0
    total = 0.0
    for i, doc in enumerate(ranked[:k]):
        if rels.get(doc, 0) >= RELEVANCE_LEVEL:
            hits += 1
            total += hits / (i + 1)
    return total / num_rel


def rank_run(scores: Mapping[str, float]) -> list[str]:
    """Doc ids ordered exactly as trec_eval ranks one query's results.

    trec_eval (``form_res_rels.c``) ignores any rank given in the run and sorts by score
    descending, breaking ties by doc id *descending* (byte order of the UTF-8 ids, which equals
    Python's code-point order). Verified against ``pytrec_eval``: tied docs ``a, B, aa, ab``
    rank ``ab, aa, a, B``.
    """
    for doc, score in scores.items():
        if math.isnan(score):
            raise ConfigError(f"doc {doc!r} has score NaN: every score must be a number to rank a run")
    return sorted(scores, key=lambda doc: (scores[doc], doc), reverse=True)


_FUNCS = {
    "ndcg": ndcg_at_k,
    "recall": recall_at_k,
    "mrr": mrr_at_k,
    "map": average_precision_at_k,
}


@dataclass(frozen=True)
class EvalReport:
    """Mean scores over the evaluated queries, and each query's own scores.

    ``metrics`` holds every ``<name>@<k>`` average (names ``ndcg``, ``recall``, ``mrr``, ``map``)
    for each requested cutoff plus 10 and 100; ``per_query`` maps query id to the same keys.
    """

    ndcg_at_10: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float
    map_at_100: float
    queries: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    per_query: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        """The headline numbers, keyed as BEIR reports them."""
        return {
            "ndcg@10": self.ndcg_at_10,
            "recall@10": self.recall_at_10,
            "recall@100": self.recall_at_100,
            "mrr@10": self.mrr_at_10,
            "map@100": self.map_at_100,
        }


def score_query(ranked: Sequence[str], rels: Mapping[str, int], k_values: Sequence[int]) -> dict[str, float]:
    """Every metric at every cutoff in ``k_values`` for one query, keyed ``<name>@<k>``."""
    return {f"{name}@{k}": fn(ranked, rels, k) for k in k_values for name, fn in _FUNCS.items()}


def evaluate(
    run: Run,
    qrels: Qrels,
    *,
    k_values: Sequence[int] = DEFAULT_K_VALUES,
    ignore_identical_ids: bool = True,
) -> EvalReport:
    """Score ``run`` against ``qrels`` with trec_eval semantics and average over queries.

    Averages over every query in ``qrels`` with at least one relevant document. A query missing
    from ``run`` (or whose results are all dropped) scores 0 on every measure, so a retriever
    cannot look better by answering fewer queries. Note: BEIR's ``EvaluateRetrieval`` (via
    pytrec_eval) averages only over queries present in the run, so on runs that skip queries
    its numbers are higher than ours. Run queries absent from ``qrels`` are ignored.

    With ``ignore_identical_ids`` a result whose doc id equals its query id is dropped before
    ranking, as BEIR's ``EvaluateRetrieval`` does (some datasets index queries as documents).
    """
    ks = sorted(set(k_values) | set(_REPORT_KS))
    for k in ks:
        _check_k(k)
    per_query: dict[str, dict[str, float]] = {}
    for qid, rels in qrels.items():
        if _num_relevant(rels) == 0:
            continue
        scores = run.get(qid, {})
        if ignore_identical_ids and qid in scores:
            scores = {doc: s for doc, s in scores.items() if doc != qid}
        per_query[qid] = score_query(rank_run(scores), rels, ks)
    if not per_query:
        raise DatasetError(
            f"qrels hold no query with a relevant document (relevance >= {RELEVANCE_LEVEL}) among "
            f"{len(qrels)} queries: pass qrels with positive judgements"
        )
    n = len(per_query)
    keys = [f"{name}@{k}" for k in ks for name in _FUNCS]
    means = {key: math.fsum(q[key] for q in per_query.values()) / n for key in keys}
    return EvalReport(
        ndcg_at_10=means["ndcg@10"],
        recall_at_10=means["recall@10"],
        recall_at_100=means["recall@100"],
        mrr_at_10=means["mrr@10"],
        map_at_100=means["map@100"],
        queries=n,
        metrics=means,
        per_query=per_query,
    )
