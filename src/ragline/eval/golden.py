"""Run a golden set (``ragline golden export``) through an engine: search every question in its
collection with the configured settings and score the documents against the cited ones.

Reports nDCG@10, recall@10, MRR@10 and hit@k (the share of questions with a relevant document
in the first k). Searches run as the operator (no access filter), in each question's tenant.

Example::

    result = run_golden(ragline.open(), Path("golden.jsonl"))
    print(result.metrics["hit@10"])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragline.eval.metrics import evaluate
from ragline.eval.runner import CHUNK_DEPTH, collapse_to_documents
from ragline.insights.golden import GoldenQuestion, load_golden
from ragline.settings import RetrievalSettings

if TYPE_CHECKING:
    from ragline.engine import Engine

HIT_KS = (1, 3, 10)


def hit_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """1.0 when one of the first ``k`` ranked documents is relevant, else 0.0."""
    return 1.0 if any(d in relevant for d in ranked[:k]) else 0.0


@dataclass(frozen=True, slots=True)
class GoldenResult:
    name: str
    queries: int
    metrics: dict[str, float]
    run: dict[str, dict[str, float]]

    def as_json(self) -> dict[str, Any]:
        return {**self.metrics, "dataset": self.name, "queries": self.queries}


def run_golden(
    engine: Engine,
    golden: Path | Sequence[GoldenQuestion],
    *,
    collection: str | None = None,
    retrieval: RetrievalSettings | None = None,
) -> GoldenResult:
    """Search every golden question (in ``collection`` when given, else its own) and score it."""
    questions = load_golden(golden) if isinstance(golden, Path) else list(golden)
    name = golden.name.removesuffix(".jsonl") if isinstance(golden, Path) else "golden"
    run: dict[str, dict[str, float]] = {}
    hits = {k: 0.0 for k in HIT_KS}
    retrievers: dict[tuple[str, str], Any] = {}
    for q in questions:
        where = (q.tenant, collection or q.collection)
        if where not in retrievers:
            retrievers[where] = engine.retriever(None, where[1], retrieval, tenant=where[0])
        ranked = list(
            collapse_to_documents([h.chunk.doc_id for h in retrievers[where].run(q.question, CHUNK_DEPTH)])
        )
        run[q.id] = {d: 1.0 / (i + 1) for i, d in enumerate(ranked)}
        relevant = {d for d, grade in q.relevant.items() if grade > 0}
        for k in HIT_KS:
            hits[k] += hit_at_k(ranked, relevant, k)
    report = evaluate(run, {q.id: q.relevant for q in questions}, ignore_identical_ids=False)
    metrics = {**report.as_dict(), **{f"hit@{k}": hits[k] / len(questions) for k in HIT_KS}}
    return GoldenResult(name, len(questions), metrics, run)


def replay(
    engine: Engine, experiment_name: str, golden: Path | Sequence[GoldenQuestion]
) -> dict[str, GoldenResult]:
    """Offline replay of a golden set through every variant of an experiment: variant -> result.

    Example::

        for variant, r in replay(engine, "rerank", Path("golden.jsonl")).items():
            print(variant, r.metrics["ndcg@10"])
    """
    from ragline.insights.experiments import experiment, variant_override

    exp = experiment(engine.settings, experiment_name)
    questions = load_golden(golden) if isinstance(golden, Path) else list(golden)
    out = {}
    for arm in exp.variants:
        override = variant_override(engine.settings, [(experiment_name, arm)])
        variant_engine = engine.with_settings(**override) if override else engine
        out[arm] = run_golden(variant_engine, questions)
    return out
