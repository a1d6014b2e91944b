"""Answer evaluation on SQuAD v1.1: context recall, EM/F1, abstention and its threshold sweep.

Two collections are built from the dataset and reused while the corpus and the chunking settings
stay the same (the ingester skips unchanged files, as for ``eval beir``):

* ``eval-squad-full`` indexes every paragraph. A seeded sample of the split's questions, spread
  over its articles, is retrieved once (top 32) and assembled at 256/512/1024/2048 tokens
  (``context_recall@B``: the gold answer occurs in the context), then asked: ``em`` and ``f1``
  (an abstention is an empty prediction, citation markers are stripped; the prediction is the
  short answer when the answer has one, else its text), ``f1_answered``, ``answer_recall`` (the
  gold answer occurs in the answer text), ``short_rate`` (answers with a short answer),
  ``abstain_rate`` and latencies; ``citation_precision`` and ``citation_recall`` as ALCE (Gao et
  al. 2023; :mod:`ragline.eval.answer_metrics`), averaged over the answered questions, each answer
  sentence judged against its cited passage by the offline support score; ``hit@k``,
  ``precision@k`` (k = 1, 3, 5) and ``context_precision`` of the answer's retrieved hits against
  the question's own paragraph.
* ``eval-squad-partial`` indexes only the even-index articles. Half the abstention questions come
  from the split's even articles (answerable), half from its odd ones (not indexed, so
  unanswerable). ``abstain_precision`` = abstained and unanswerable / abstained, ``abstain_recall``
  = abstained and unanswerable / unanswerable; either is 0.0 when its denominator is 0. Each
  question's confidence also feeds ``threshold_sweep``: what precision, recall and F1 would be if
  the engine abstained iff confidence < t, for t = 0.00, 0.02, ..., 1.00. ``best_threshold`` (max
  F1, ties to the lower t) on the calibration split is how ``answer.abstain_threshold`` is set.

Example::

    result = run_qa(ragline.open(), Path("../shared/datasets/squad-v1.1-dev"), limit=500)
    print(result.f1, result.context_recall[1024], result.best_threshold)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragline.errors import ConfigError, DatasetError
from ragline.eval import answer_metrics
from ragline.eval.squad import (
    Split,
    SquadDataset,
    SquadQuestion,
    check_split,
    contains_answer,
    exact_match,
    f1,
    in_partial_index,
    load_squad,
    sample_questions,
    strip_citations,
)
from ragline.generation.support import cited_sources, is_claim, split_claims
from ragline.ingest.pipeline import IngestProgress, IngestReport
from ragline.loaders._common import source_of

if TYPE_CHECKING:
    from ragline.engine import Engine

FULL_COLLECTION = "eval-squad-full"
PARTIAL_COLLECTION = "eval-squad-partial"
BUDGETS: tuple[int, ...] = (256, 512, 1024, 2048)
# Hits retrieved per question for the context-recall curve: enough to fill the largest budget.
RETRIEVE_TOP_K = 32
SWEEP_STEP = 0.02
HIT_KS: tuple[int, ...] = (1, 3, 5)
SEED = 2016

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    """One question asked on the full index; ``prediction`` is "" when the engine abstained."""

    question_id: str
    prediction: str
    abstained: bool
    confidence: float
    em: float
    f1: float
    contains_gold: bool
    timings_ms: dict[str, float]
    # ALCE citation measures of the answer (None when it abstained or stated nothing to check).
    citation_precision: float | None = None
    citation_recall: float | None = None
    # Whether each retrieved hit (best first, one per document) is the question's paragraph.
    gold_hits: tuple[bool, ...] = ()
    # Whether EM/F1 were computed on the answer's short answer (else on its text).
    short: bool = False


@dataclass(frozen=True, slots=True)
class AbstentionCase:
    """One question asked on the partial index: was it answerable there, did the engine abstain."""

    question_id: str
    answerable: bool
    abstained: bool
    confidence: float


@dataclass(frozen=True, slots=True)
class AbstentionScore:
    """Abstention as detection of unanswerable questions; each value is 0.0 when undefined (0/0)."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """The abstention score if the engine abstained iff confidence < ``threshold``."""

    threshold: float
    score: AbstentionScore


def abstention_score(decisions: Sequence[tuple[bool, bool]]) -> AbstentionScore:
    """Precision, recall and F1 of abstaining on unanswerable questions from (abstained, answerable) pairs.

    0/0 is defined as 0.0: no abstention gives precision 0, no unanswerable question gives recall 0.
    """
    abstained = sum(1 for a, _ in decisions if a)
    unanswerable = sum(1 for _, ok in decisions if not ok)
    caught = sum(1 for a, ok in decisions if a and not ok)
    precision = caught / abstained if abstained else 0.0
    recall = caught / unanswerable if unanswerable else 0.0
    both = precision + recall
    return AbstentionScore(precision, recall, 2 * precision * recall / both if both else 0.0)


def threshold_sweep(cases: Sequence[AbstentionCase], step: float = SWEEP_STEP) -> list[SweepPoint]:
    """The abstention score at thresholds 0, step, 2*step, ..., 1 (abstain iff confidence < t)."""
    if not 0 < step <= 1:
        raise ConfigError(f"sweep step must lie in (0, 1], got {step}")
    thresholds = [round(i * step, 6) for i in range(round(1 / step) + 1)]
    return [
        SweepPoint(t, abstention_score([(c.confidence < t, c.answerable) for c in cases])) for t in thresholds
    ]


def best_threshold(points: Sequence[SweepPoint]) -> float:
    """The threshold with the highest F1; ties go to the lower threshold (abstain less)."""
    if not points:
        raise ConfigError("best_threshold needs at least one sweep point")
    return max(points, key=lambda p: (p.score.f1, -p.threshold)).threshold


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


@dataclass(frozen=True, slots=True)
class QaResult:
    """Everything one ``run_qa`` measured; :meth:`as_json` is the ``--json`` object."""

    dataset: str
    split: Split
    questions: int
    context_recall: dict[int, float]
    em: float
    f1: float
    f1_answered: float
    answer_recall: float
    abstain_rate: float
    citation_precision: float
    citation_recall: float
    retrieval_at_k: dict[str, float]
    ask_p50_ms: float
    ask_p95_ms: float
    stage_p50_ms: dict[str, float]
    abstention_questions: int
    abstention: AbstentionScore
    threshold: float
    sweep: list[SweepPoint]
    best_threshold: float
    ingest_full: IngestReport
    ingest_partial: IngestReport
    # Per-question records, for error analysis.
    outcomes: list[AnswerOutcome]
    cases: list[AbstentionCase]
    # Share of questions answered with a short answer (EM/F1 computed on it).
    short_rate: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The documented ``--json`` object."""
        return {
            "dataset": self.dataset,
            "split": self.split,
            "questions": self.questions,
            **{f"context_recall@{b}": v for b, v in self.context_recall.items()},
            "em": self.em,
            "f1": self.f1,
            "f1_answered": self.f1_answered,
            "answer_recall": self.answer_recall,
            "abstain_rate": self.abstain_rate,
            "citation_precision": self.citation_precision,
            "citation_recall": self.citation_recall,
            **self.retrieval_at_k,
            "short_rate": self.short_rate,
            "ask_p50_ms": self.ask_p50_ms,
            "ask_p95_ms": self.ask_p95_ms,
            "stage_p50_ms": self.stage_p50_ms,
            "abstention_questions": self.abstention_questions,
            "abstain_precision": self.abstention.precision,
            "abstain_recall": self.abstention.recall,
            "abstain_f1": self.abstention.f1,
            "threshold": self.threshold,
            "best_threshold": self.best_threshold,
            "threshold_sweep": [
                {
                    "threshold": p.threshold,
                    "precision": p.score.precision,
                    "recall": p.score.recall,
                    "f1": p.score.f1,
                }
                for p in self.sweep
            ],
        }


def _tick(progress: Progress | None, stage: str, i: int, total: int) -> None:
    if progress is not None and (i % 10 == 0 or i == total - 1):
        progress(stage, i + 1, total)


def _index(
    engine: Engine, collection: str, corpus: Path, stage: str, progress: Progress | None
) -> IngestReport:
    """Ingest ``corpus`` into ``collection`` (skipped when unchanged), dropping any other source."""

    def on_ingest(p: IngestProgress) -> None:
        if progress is not None:
            progress(stage, p.chunks_embedded, p.chunks_embedded + p.chunks_pending)

    store = engine.store(collection)
    # A corpus from another path (another dataset, or this one moved) must not stay mixed in.
    stale = [s for s in store.source_hashes() if s != source_of(corpus)]
    store.delete_sources(stale)
    # Paragraphs are judged by their own ids, so none may be dropped as a duplicate.
    report = engine.ingest([corpus], collection=collection, dedup=False, progress=on_ingest)
    if report.errors:
        raise DatasetError(f"could not ingest {corpus}: {report.errors[0][1]}")
    return report


def _partial_corpus(engine: Engine, ds: SquadDataset) -> Path:
    """The even-article paragraphs as a JSONL file in the data directory, rewritten only on change."""
    path = engine.settings.data_dir / "eval-corpora" / PARTIAL_COLLECTION / "corpus.jsonl"
    text = "".join(
        json.dumps({"_id": p.id, "title": p.title, "text": p.text}, ensure_ascii=False) + "\n"
        for p in ds.partial_paragraphs()
    )
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


def ensure_collections(
    engine: Engine, ds: SquadDataset, progress: Progress | None = None
) -> tuple[IngestReport, IngestReport]:
    """Build (or bring up to date) the full and the partial collection of ``ds``."""
    full = _index(engine, FULL_COLLECTION, ds.corpus_path, "indexing full corpus", progress)
    partial = _index(
        engine, PARTIAL_COLLECTION, _partial_corpus(engine, ds), "indexing partial corpus", progress
    )
    return full, partial


def _context_recall(
    engine: Engine, sample: Sequence[SquadQuestion], progress: Progress | None
) -> dict[int, float]:
    found = dict.fromkeys(BUDGETS, 0)
    assembler = engine.assembler(FULL_COLLECTION)
    for i, q in enumerate(sample):
        hits = engine.retrieve_for_answer(q.text, collection=FULL_COLLECTION, top_k=RETRIEVE_TOP_K)
        for b, context in zip(BUDGETS, assembler.run_budgets(hits, BUDGETS, query=q.text), strict=True):
            found[b] += contains_answer(context.text, q.answers)
        _tick(progress, "retrieving contexts", i, len(sample))
    return {b: n / len(sample) for b, n in found.items()}


def _answer(engine: Engine, q: SquadQuestion) -> AnswerOutcome:
    a = engine.ask(q.text, collection=FULL_COLLECTION, debug=True)
    text = "" if a.abstained else strip_citations(a.text)
    # EM/F1 measure the stated answer: the short one when there is one, the sentences otherwise.
    short = a.short is not None and not a.abstained
    prediction = a.short.text if a.short is not None and short else text
    precision = recall = None
    support = a.support
    if not support and not a.abstained and a.debug is not None:
        # answer.unsupported = "off": judge here, as the engine would have.
        claims = [c for c in split_claims(a.text, 999_999) if is_claim(c)]
        if claims:
            support = tuple(engine.answering.offline_judge.judge(claims, cited_sources(a, a.debug.context)))
    if support:
        precision = answer_metrics.citation_precision(support)
        recall = answer_metrics.citation_recall(support)
    docs = list(dict.fromkeys(h.chunk.doc_id for h in a.debug.hits)) if a.debug is not None else []
    return AnswerOutcome(
        question_id=q.id,
        prediction=prediction,
        abstained=a.abstained,
        confidence=a.confidence,
        em=exact_match(prediction, q.answers),
        f1=f1(prediction, q.answers),
        contains_gold=contains_answer(text, q.answers),
        timings_ms=dict(a.timings_ms),
        citation_precision=precision,
        citation_recall=recall,
        gold_hits=tuple(d == q.paragraph_id for d in docs),
        short=short,
    )


def retrieval_at_k(outcomes: Sequence[AnswerOutcome], ks: Sequence[int] = HIT_KS) -> dict[str, float]:
    """Mean ``hit@k``, ``precision@k`` and ``context_precision`` of the answers' hits against the
    questions' own paragraphs."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"hit@{k}"] = _mean([answer_metrics.hit_at_k(o.gold_hits, k) for o in outcomes])
        out[f"precision@{k}"] = _mean([answer_metrics.precision_at_k(o.gold_hits, k) for o in outcomes])
    out["context_precision"] = _mean([answer_metrics.context_precision(o.gold_hits) for o in outcomes])
    return out


def _abstention_cases(
    engine: Engine, pool: Sequence[SquadQuestion], limit: int, progress: Progress | None
) -> list[AbstentionCase]:
    answerable = [q for q in pool if in_partial_index(q.article)]
    unanswerable = [q for q in pool if not in_partial_index(q.article)]
    n = min(limit // 2, len(answerable), len(unanswerable))
    asked = [(q, True) for q in sample_questions(answerable, n, SEED)]
    asked += [(q, False) for q in sample_questions(unanswerable, n, SEED)]
    cases: list[AbstentionCase] = []
    for i, (q, ok) in enumerate(asked):
        a = engine.ask(q.text, collection=PARTIAL_COLLECTION)
        cases.append(AbstentionCase(q.id, ok, a.abstained, a.confidence))
        _tick(progress, "answering (partial index)", i, len(asked))
    return cases


def run_qa(
    engine: Engine,
    dataset_dir: Path,
    *,
    limit: int = 2000,
    split: str = "test",
    progress: Progress | None = None,
) -> QaResult:
    """Evaluate answers on a SQuAD-format dataset; see the module docstring for every measure.

    ``limit`` caps both the questions asked on the full index and those of the abstention check;
    ``progress(stage, done, total)`` is called as work advances.
    """
    if limit < 1:
        raise ConfigError(f"limit must be at least 1 question, got {limit}")
    chosen = check_split(split)
    ds = load_squad(Path(dataset_dir))
    pool = ds.questions_in(chosen)
    if not pool:
        raise DatasetError(
            f"{ds.name} has no questions in the {chosen!r} split (articles with index % 4 in "
            f"{'{0, 1}' if chosen == 'calibration' else '{2, 3}'}); it needs at least 4 articles"
        )
    ingest_full, ingest_partial = ensure_collections(engine, ds, progress)

    sample = sample_questions(pool, limit, SEED)
    recall = _context_recall(engine, sample, progress)
    outcomes: list[AnswerOutcome] = []
    for i, q in enumerate(sample):
        outcomes.append(_answer(engine, q))
        _tick(progress, "answering (full index)", i, len(sample))
    cases = _abstention_cases(engine, pool, limit, progress)

    answered = [o for o in outcomes if not o.abstained]
    totals = [o.timings_ms.get("total", 0.0) for o in outcomes]
    stages = sorted({k for o in outcomes for k in o.timings_ms if k != "total"})
    sweep = threshold_sweep(cases)
    return QaResult(
        dataset=ds.name,
        split=chosen,
        questions=len(sample),
        context_recall=recall,
        em=_mean([o.em for o in outcomes]),
        f1=_mean([o.f1 for o in outcomes]),
        f1_answered=_mean([o.f1 for o in answered]),
        answer_recall=_mean([float(o.contains_gold) for o in outcomes]),
        abstain_rate=_mean([float(o.abstained) for o in outcomes]),
        citation_precision=_mean(
            [o.citation_precision for o in outcomes if o.citation_precision is not None]
        ),
        citation_recall=_mean([o.citation_recall for o in outcomes if o.citation_recall is not None]),
        retrieval_at_k=retrieval_at_k(outcomes),
        ask_p50_ms=_percentile(totals, 50),
        ask_p95_ms=_percentile(totals, 95),
        stage_p50_ms={
            s: _percentile([o.timings_ms[s] for o in outcomes if s in o.timings_ms], 50) for s in stages
        },
        abstention_questions=len(cases),
        abstention=abstention_score([(c.abstained, c.answerable) for c in cases]),
        threshold=engine.settings.answer.abstain_threshold,
        sweep=sweep,
        best_threshold=best_threshold(sweep),
        ingest_full=ingest_full,
        ingest_partial=ingest_partial,
        outcomes=outcomes,
        cases=cases,
        short_rate=_mean([float(o.short) for o in outcomes]),
    )
