"""Measurement helpers shared by every system: doc-level aggregation, percentiles, RSS, disk size.

Imports only the standard library and numpy; scoring imports ``ragline.eval.metrics`` (pure,
trec_eval semantics) and, when installed, ``pytrec_eval`` as a cross-check, both lazily.
"""

from __future__ import annotations

import math
import os
import resource
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Chunk hits asked for per query in the quality pass, and documents kept after aggregation.
DOC_DEPTH = 100


def doc_max_scores(hits: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Doc id -> the best score of any of its chunks (max aggregation over chunks).

    ``hits`` are (doc id, chunk score) pairs, higher is better. The returned dict keeps the order
    in which documents were first seen, which breaks ties in :func:`rank_docs`.
    """
    out: dict[str, float] = {}
    for doc, score in hits:
        s = float(score)
        if math.isnan(s):
            raise ValueError(f"chunk of document {doc!r} has score NaN")
        prev = out.get(doc)
        if prev is None or s > prev:
            out[doc] = s
    return out


def rank_docs(
    hits: Sequence[tuple[str, float]], depth: int = DOC_DEPTH, exclude: str | None = None
) -> list[str]:
    """Documents best first after max aggregation over their chunks, cut at ``depth``.

    Ties keep the system's own order (first appearance in ``hits``), so a system is judged on
    the order it returned, not on trec_eval's doc-id tie breaking. ``exclude`` drops one doc id
    (BEIR drops a document whose id equals the query id).
    """
    scores = doc_max_scores(h for h in hits if h[0] != exclude)
    order = {d: i for i, d in enumerate(scores)}
    ranked = sorted(scores, key=lambda d: (-scores[d], order[d]))
    return ranked[:depth]


def run_entry(ranked: Sequence[str]) -> dict[str, float]:
    """A trec run entry whose scores (1/rank) reproduce ``ranked`` exactly under trec_eval."""
    return {d: 1.0 / (i + 1) for i, d in enumerate(ranked)}


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95 and mean in milliseconds (linear interpolation, as numpy.percentile's default)."""
    if not seconds:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan"), "n": 0}
    xs = sorted(float(s) * 1000.0 for s in seconds)

    def pct(p: float) -> float:
        pos = (len(xs) - 1) * p / 100.0
        lo = math.floor(pos)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    return {
        "p50_ms": round(pct(50), 3),
        "p95_ms": round(pct(95), 3),
        "mean_ms": round(sum(xs) / len(xs), 3),
        "n": len(xs),
    }


def peak_rss_bytes() -> int:
    """This process's peak resident set size (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def rss_bytes() -> int:
    """This process's current resident set size (VmRSS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def dir_bytes(path: Path) -> int:
    """Bytes of all regular files under ``path`` (or of ``path`` itself when it is a file)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            p = Path(root) / f
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def evaluate(
    run: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, Any]:
    """nDCG@10 and Recall@100 with trec_eval semantics (``ragline.eval.metrics``), plus a
    ``pytrec_eval`` cross-check when that package is installed.

    Every judged query with a relevant document counts; a query missing from the run scores 0.
    """
    from ragline.eval.metrics import evaluate as rl_evaluate

    rep = rl_evaluate(run, qrels, k_values=(10, 100), ignore_identical_ids=False)
    out: dict[str, Any] = {
        "ndcg@10": rep.ndcg_at_10,
        "recall@100": rep.recall_at_100,
        "queries": rep.queries,
    }
    try:
        import pytrec_eval  # type: ignore[import-not-found]
    except ImportError:
        return out
    judged = {q: dict(r) for q, r in qrels.items() if any(v >= 1 for v in r.values())}
    full_run = {q: dict(run.get(q, {})) or {"__none__": 0.0} for q in judged}
    ev = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10", "recall.100"})
    per = ev.evaluate(full_run)
    n = len(per) or 1
    out["pytrec_eval_ndcg@10"] = sum(v["ndcg_cut_10"] for v in per.values()) / n
    out["pytrec_eval_recall@100"] = sum(v["recall_100"] for v in per.values()) / n
    return out
