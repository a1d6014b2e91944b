"""ragline.eval.qa: the abstention sweep on hand-made cases, and run_qa end to end on squad-mini."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import ragline
from ragline.errors import ConfigError, DatasetError
from ragline.eval.qa import (
    BUDGETS,
    FULL_COLLECTION,
    PARTIAL_COLLECTION,
    AbstentionCase,
    QaResult,
    abstention_score,
    best_threshold,
    run_qa,
    threshold_sweep,
)
from ragline.eval.squad import load_squad
from ragline.settings import AnswerSettings

MINI = Path(__file__).parent / "fixtures" / "squad-mini"

QA_KEYS = {
    "dataset",
    "split",
    "questions",
    "context_recall@256",
    "context_recall@512",
    "context_recall@1024",
    "context_recall@2048",
    "em",
    "f1",
    "f1_answered",
    "answer_recall",
    "abstain_rate",
    "citation_precision",
    "citation_recall",
    "short_rate",
    "hit@1",
    "hit@3",
    "hit@5",
    "precision@1",
    "precision@3",
    "precision@5",
    "context_precision",
    "ask_p50_ms",
    "ask_p95_ms",
    "stage_p50_ms",
    "abstention_questions",
    "abstain_precision",
    "abstain_recall",
    "abstain_f1",
    "threshold",
    "best_threshold",
    "threshold_sweep",
}


def _cases(pairs: list[tuple[float, bool]]) -> list[AbstentionCase]:
    return [AbstentionCase(f"q{i}", ok, False, conf) for i, (conf, ok) in enumerate(pairs)]


def test_abstention_score_and_zero_denominators() -> None:
    # (abstained, answerable): 2 abstentions, 1 on an unanswerable question; 2 unanswerable in all.
    s = abstention_score([(True, False), (True, True), (False, False), (False, True)])
    assert (s.precision, s.recall, s.f1) == (0.5, 0.5, 0.5)
    none = abstention_score([(False, False), (False, True)])
    assert (none.precision, none.recall, none.f1) == (0.0, 0.0, 0.0)
    assert abstention_score([(True, True)]).recall == 0.0  # no unanswerable question: 0/0 -> 0
    assert abstention_score([]).f1 == 0.0


def test_sweep_grid_and_best_threshold_on_hand_made_cases() -> None:
    # Unanswerable: 0.10, 0.30, 0.55; answerable: 0.20, 0.60, 0.90.
    cases = _cases([(0.10, False), (0.30, False), (0.55, False), (0.20, True), (0.60, True), (0.90, True)])
    sweep = threshold_sweep(cases)
    assert [p.threshold for p in sweep][:4] == [0.0, 0.02, 0.04, 0.06]
    assert len(sweep) == 51 and sweep[-1].threshold == 1.0
    at = {p.threshold: p.score for p in sweep}
    # t=0: nobody abstains. t in (0.10, 0.20]: one correct abstention -> P=1, R=1/3, F1=0.5.
    assert at[0.0].f1 == 0.0
    assert (at[0.12].precision, at[0.12].recall) == (1.0, pytest.approx(1 / 3))
    # t in (0.30, 0.55]: abstain on 0.10, 0.20, 0.30 -> P=2/3, R=2/3, F1=2/3.
    assert at[0.32].f1 == pytest.approx(2 / 3)
    # t in (0.55, 0.60]: abstain on 0.10, 0.20, 0.30, 0.55 -> P=3/4, R=1, F1=6/7, the maximum;
    # 0.56, 0.58 and 0.60 tie, and the lowest wins.
    assert at[0.56].f1 == pytest.approx(6 / 7) and at[0.60].f1 == pytest.approx(6 / 7)
    assert max(p.score.f1 for p in sweep) == pytest.approx(6 / 7)
    assert best_threshold(sweep) == 0.56
    # t=1: abstain on everything -> P=1/2, R=1.
    assert (at[1.0].precision, at[1.0].recall) == (0.5, 1.0)


def test_best_threshold_ties_go_low_and_degenerate_inputs() -> None:
    # A perfectly separated set: every t in (0.40, 0.70] gives F1 = 1; the lowest such is 0.42.
    sweep = threshold_sweep(_cases([(0.40, False), (0.70, True)]))
    assert best_threshold(sweep) == 0.42
    # All F1 = 0 (no unanswerable question): the lowest threshold, 0.0.
    assert best_threshold(threshold_sweep(_cases([(0.5, True)]))) == 0.0
    with pytest.raises(ConfigError):
        best_threshold([])
    with pytest.raises(ConfigError):
        threshold_sweep([], step=0.0)


# -- end to end (real embedding model) -------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qa") / "data"


@pytest.fixture(scope="module")
def first_run(data_dir: Path) -> QaResult:
    return run_qa(ragline.open(data_dir), MINI, limit=40)


@pytest.mark.integration
def test_run_qa_reports_every_key_in_range(first_run: QaResult) -> None:
    out = first_run.as_json()
    assert set(out) == QA_KEYS
    json.dumps(out)  # serialisable as is
    assert out["split"] == "test" and out["dataset"] == "squad-mini"
    # The test split is articles 2, 3, 6, 7: 16 questions, all asked (limit 40).
    assert out["questions"] == 16 and len(first_run.outcomes) == 16
    # Abstention check: 8 answerable (articles 2, 6) and 8 unanswerable (3, 7).
    assert out["abstention_questions"] == 16
    assert sum(c.answerable for c in first_run.cases) == 8
    recalls = [out[f"context_recall@{b}"] for b in BUDGETS]
    assert recalls == sorted(recalls) and recalls[-1] >= 0.9
    for k in (
        "em",
        "f1",
        "f1_answered",
        "answer_recall",
        "abstain_rate",
        "short_rate",
        "abstain_precision",
        "abstain_recall",
    ):
        assert 0.0 <= out[k] <= 1.0, k
    assert out["f1"] > 0.1 and out["answer_recall"] > 0.5
    assert 0 < out["ask_p50_ms"] <= out["ask_p95_ms"]
    assert set(out["stage_p50_ms"]) == {"retrieve", "assemble", "generate", "support"}
    # The extractive answerer quotes the passages it cites: every sentence is supported by its
    # one citation (ALCE recall and precision 1), and no answered question lacks the measures.
    assert out["citation_recall"] == 1.0 and out["citation_precision"] == 1.0
    assert all(o.citation_recall is not None for o in first_run.outcomes if not o.abstained)
    # One relevant paragraph per question (hits are deduplicated by document): precision@k is
    # hit@k / k, and the paragraph is usually among the first hits.
    assert out["hit@1"] <= out["hit@3"] <= out["hit@5"] and out["hit@5"] >= 0.8
    for k in (1, 3, 5):
        assert out[f"precision@{k}"] == pytest.approx(out[f"hit@{k}"] / k)
    assert 0.0 < out["context_precision"] <= 1.0
    assert out["threshold"] == AnswerSettings().abstain_threshold and 0.0 <= out["best_threshold"] <= 1.0
    assert len(out["threshold_sweep"]) == 51
    assert all(0.0 <= p[k] <= 1.0 for p in out["threshold_sweep"] for k in ("precision", "recall", "f1"))
    # With unanswerable questions on unrelated topics, abstaining catches most of them.
    assert out["abstain_recall"] >= 0.5


@pytest.mark.integration
def test_collections_hold_the_right_articles(first_run: QaResult, data_dir: Path) -> None:
    engine = ragline.open(data_dir)
    assert engine.store(FULL_COLLECTION).document_ids() == {f"{a}-{p}" for a in range(8) for p in range(2)}
    assert engine.store(PARTIAL_COLLECTION).document_ids() == {
        f"{a}-{p}" for a in (0, 2, 4, 6) for p in (0, 1)
    }


@pytest.mark.integration
def test_second_run_reindexes_nothing_and_repeats_the_sample(first_run: QaResult, data_dir: Path) -> None:
    assert first_run.ingest_full.chunks_indexed > 0 and first_run.ingest_partial.chunks_indexed > 0
    again = run_qa(ragline.open(data_dir), MINI, limit=40)
    for report in (again.ingest_full, again.ingest_partial):
        assert report.files_unchanged == 1 and report.files_indexed == 0 and report.chunks_embedded == 0
    assert [o.question_id for o in again.outcomes] == [o.question_id for o in first_run.outcomes]
    assert [c.question_id for c in again.cases] == [c.question_id for c in first_run.cases]


@pytest.mark.integration
def test_calibration_split_and_limit(data_dir: Path) -> None:
    result = run_qa(ragline.open(data_dir), MINI, limit=6, split="calibration")
    article = {q.id: q.article for q in load_squad(MINI).questions}
    ids = [o.question_id for o in result.outcomes]
    assert result.questions == 6 and len(set(ids)) == 6
    # Spread over the calibration articles 0, 1, 4, 5: each gives one before any gives two.
    assert {article[q] for q in ids[:4]} == {0, 1, 4, 5}
    assert result.abstention_questions == 6


@pytest.mark.integration
def test_a_moved_dataset_replaces_the_old_source(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_qa(ragline.open(data), MINI, limit=2)
    moved = Path(shutil.copytree(MINI, tmp_path / "squad-mini"))
    run_qa(ragline.open(data), moved, limit=2)
    engine = ragline.open(data)
    for name in (FULL_COLLECTION, PARTIAL_COLLECTION):
        assert engine.stats(name).store.sources == 1
        assert engine.stats(name).store.documents == (16 if name == FULL_COLLECTION else 8)
    assert list(engine.store(FULL_COLLECTION).source_hashes()) == [str((moved / "corpus.jsonl").resolve())]


@pytest.mark.integration
def test_bad_arguments(tmp_path: Path) -> None:
    engine = ragline.open(tmp_path / "data")
    with pytest.raises(DatasetError, match="does not exist"):
        run_qa(engine, tmp_path / "missing")
    with pytest.raises(DatasetError, match="unknown SQuAD split 'dev'"):
        run_qa(engine, MINI, split="dev")
    with pytest.raises(ConfigError, match="limit"):
        run_qa(engine, MINI, limit=0)
