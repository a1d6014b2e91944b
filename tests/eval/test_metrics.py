"""ragline.eval.metrics: hand-computed cases and agreement with pytrec_eval (trec_eval)."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
import pytrec_eval

from ragline.errors import ConfigError, DatasetError
from ragline.eval.beir import load_beir
from ragline.eval.metrics import (
    EvalReport,
    Qrels,
    Run,
    average_precision_at_k,
    evaluate,
    mrr_at_k,
    ndcg_at_k,
    rank_run,
    recall_at_k,
)

SCIFACT = Path("/work/shared/datasets/scifact")
TOL = 1e-6


def _log2(i: int) -> float:
    return math.log2(i)


# --------------------------------------------------------------------------- hand-computed


class TestNdcg:
    def test_perfect_ranking_is_one(self) -> None:
        assert ndcg_at_k(["a", "b"], {"a": 2, "b": 1}, 10) == pytest.approx(1.0)

    def test_graded_hand_computed(self) -> None:
        # ranked: x(0) a(1) b(2); ideal: b(2) a(1)
        dcg = 1 / _log2(3) + 2 / _log2(4)
        idcg = 2 / _log2(2) + 1 / _log2(3)
        assert ndcg_at_k(["x", "a", "b"], {"a": 1, "b": 2}, 10) == pytest.approx(dcg / idcg)

    def test_cutoff_drops_later_hits_but_ideal_uses_all_judged(self) -> None:
        # k=1: only x counts (gain 0); ideal at k=1 is the single best gain.
        assert ndcg_at_k(["x", "a"], {"a": 1}, 1) == 0.0
        # k=2 with 3 relevant docs: ideal is cut at 2 as well.
        got = ndcg_at_k(["a", "x", "b"], {"a": 1, "b": 1, "c": 1}, 2)
        assert got == pytest.approx(1.0 / (1 + 1 / _log2(3)))

    def test_negative_and_zero_gains_ignored(self) -> None:
        got = ndcg_at_k(["a", "b", "c"], {"a": -1, "b": 2, "c": 0}, 10)
        assert got == pytest.approx((2 / _log2(3)) / 2)

    def test_no_relevant_is_zero(self) -> None:
        assert ndcg_at_k(["a"], {"a": 0}, 10) == 0.0
        assert ndcg_at_k([], {}, 10) == 0.0


class TestRecall:
    def test_hand_computed(self) -> None:
        rels = {"a": 1, "b": 2, "c": 1, "z": 0}
        assert recall_at_k(["a", "x", "b", "c"], rels, 2) == pytest.approx(1 / 3)
        assert recall_at_k(["a", "x", "b", "c"], rels, 3) == pytest.approx(2 / 3)
        assert recall_at_k(["a", "x", "b", "c"], rels, 100) == pytest.approx(1.0)

    def test_no_relevant_is_zero(self) -> None:
        assert recall_at_k(["a"], {"a": 0}, 10) == 0.0


class TestMrr:
    def test_first_relevant(self) -> None:
        assert mrr_at_k(["x", "y", "a", "b"], {"a": 1, "b": 2}, 10) == pytest.approx(1 / 3)

    def test_beyond_cutoff_is_zero(self) -> None:
        assert mrr_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0

    def test_zero_relevance_is_not_a_hit(self) -> None:
        assert mrr_at_k(["z", "a"], {"z": 0, "a": 1}, 10) == pytest.approx(0.5)


class TestAveragePrecision:
    def test_hand_computed(self) -> None:
        # relevant at ranks 1 and 3, 3 relevant in total: (1/1 + 2/3) / 3
        got = average_precision_at_k(["a", "x", "b", "y"], {"a": 1, "b": 1, "c": 2}, 100)
        assert got == pytest.approx((1 + 2 / 3) / 3)

    def test_cutoff_keeps_denominator(self) -> None:
        got = average_precision_at_k(["a", "x", "b"], {"a": 1, "b": 1}, 2)
        assert got == pytest.approx(1 / 2)

    def test_no_relevant_is_zero(self) -> None:
        assert average_precision_at_k(["a"], {}, 10) == 0.0


MetricFn = Callable[[Sequence[str], Mapping[str, int], int], float]


@pytest.mark.parametrize("fn", [ndcg_at_k, recall_at_k, mrr_at_k, average_precision_at_k])
class TestArgumentChecks:
    def test_k_must_be_positive(self, fn: MetricFn) -> None:
        with pytest.raises(ConfigError, match="k=0"):
            fn(["a"], {"a": 1}, 0)

    def test_duplicate_ids_rejected(self, fn: MetricFn) -> None:
        with pytest.raises(ConfigError, match="'a' more than once"):
            fn(["a", "b", "a"], {"a": 1}, 10)


# --------------------------------------------------------------------------- rank_run


class TestRankRun:
    def test_score_descending(self) -> None:
        assert rank_run({"a": 0.1, "b": 0.9, "c": 0.5}) == ["b", "c", "a"]

    def test_ties_by_doc_id_descending(self) -> None:
        assert rank_run({"a": 1.0, "B": 1.0, "aa": 1.0, "ab": 1.0, "z": 2.0}) == ["z", "ab", "aa", "a", "B"]

    def test_matches_pytrec_eval_on_ties(self) -> None:
        docs = ["a", "B", "aa", "ab", "10", "9", "d\u00e9", "de"]
        scores = dict.fromkeys(docs, 1.0)
        ranked = rank_run(scores)
        # The relevant doc's reciprocal rank under trec_eval reveals its position.
        for doc in docs:
            ev = pytrec_eval.RelevanceEvaluator({"q": {doc: 1}}, {"recip_rank"})
            rr = ev.evaluate({"q": scores})["q"]["recip_rank"]
            assert rr == pytest.approx(1 / (ranked.index(doc) + 1)), doc

    def test_nan_rejected(self) -> None:
        with pytest.raises(ConfigError, match="NaN"):
            rank_run({"a": float("nan")})

    def test_empty(self) -> None:
        assert rank_run({}) == []


# --------------------------------------------------------------------------- evaluate


class TestEvaluate:
    def test_report_fields_and_as_dict(self) -> None:
        run = {"q1": {"a": 3.0, "x": 2.0, "b": 1.0}, "q2": {"y": 1.0}}
        qrels = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}}
        report = evaluate(run, qrels)
        assert isinstance(report, EvalReport)
        assert report.queries == 2
        assert report.mrr_at_10 == pytest.approx((1.0 + 0.0) / 2)
        assert report.recall_at_10 == pytest.approx(0.5)
        assert report.map_at_100 == pytest.approx(((1 + 2 / 3) / 2) / 2)
        assert set(report.as_dict()) == {"ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"}
        assert all(isinstance(v, float) for v in report.as_dict().values())
        assert report.per_query["q2"]["ndcg@10"] == 0.0
        assert report.metrics["ndcg@1"] == pytest.approx(0.5)  # default k_values include 1

    def test_query_missing_from_run_scores_zero(self) -> None:
        qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
        report = evaluate({"q1": {"a": 1.0}}, qrels)
        assert report.queries == 2
        assert report.ndcg_at_10 == pytest.approx(0.5)
        assert report.per_query["q2"] == dict.fromkeys(report.per_query["q2"], 0.0)

    def test_queries_without_relevant_docs_and_unjudged_run_queries_ignored(self) -> None:
        qrels = {"q1": {"a": 1}, "q0": {"b": 0}}
        run = {"q1": {"a": 1.0}, "q0": {"b": 1.0}, "extra": {"a": 1.0}}
        report = evaluate(run, qrels)
        assert report.queries == 1
        assert set(report.per_query) == {"q1"}
        assert report.ndcg_at_10 == pytest.approx(1.0)

    def test_ignore_identical_ids(self) -> None:
        run = {"q1": {"q1": 10.0, "d1": 5.0}}
        qrels = {"q1": {"d1": 1}}
        assert evaluate(run, qrels).mrr_at_10 == pytest.approx(1.0)
        assert evaluate(run, qrels, ignore_identical_ids=False).mrr_at_10 == pytest.approx(0.5)

    def test_custom_k_values(self) -> None:
        report = evaluate({"q": {"x": 2.0, "a": 1.0}}, {"q": {"a": 1}}, k_values=[1, 2])
        assert report.metrics["recall@1"] == 0.0
        assert report.metrics["recall@2"] == 1.0
        assert "recall@100" in report.metrics  # the headline cutoffs are always computed

    def test_invalid_k_values(self) -> None:
        with pytest.raises(ConfigError, match="k=0"):
            evaluate({}, {"q": {"a": 1}}, k_values=[0])

    def test_no_relevant_query_at_all(self) -> None:
        with pytest.raises(DatasetError, match="no query with a relevant document"):
            evaluate({"q": {"a": 1.0}}, {"q": {"a": 0}})


# --------------------------------------------------------------------------- vs pytrec_eval

_MEASURES = {"ndcg_cut.10", "recall.10", "recall.100", "map_cut.100"}
_KEYS = {
    "ndcg_cut_10": "ndcg@10",
    "recall_10": "recall@10",
    "recall_100": "recall@100",
    "map_cut_100": "map@100",
}


def _trec_top(scores: dict[str, float], k: int) -> dict[str, float]:
    """Top k by trec_eval's order, written independently of rank_run."""
    return dict(sorted(scores.items(), key=lambda kv: (-kv[1], [-ord(c) for c in kv[0]] + [1]))[:k])


def _reference(run: Run, qrels: Qrels, ignore_identical_ids: bool) -> dict[str, dict[str, float]]:
    """Per-query scores from pytrec_eval, 0 for judged queries it cannot score."""
    judged = {q: dict(r) for q, r in qrels.items() if any(v >= 1 for v in r.values())}
    filtered = {
        q: {d: float(s) for d, s in docs.items() if not (ignore_identical_ids and d == q)}
        for q, docs in run.items()
        if q in judged
    }
    filtered = {q: docs for q, docs in filtered.items() if docs}
    full = pytrec_eval.RelevanceEvaluator(judged, _MEASURES).evaluate(filtered)
    top10 = {q: _trec_top(docs, 10) for q, docs in filtered.items()}
    rr10 = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(top10)
    rr_full = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(filtered)
    out: dict[str, dict[str, float]] = {}
    for q in judged:
        row = {ours: full.get(q, {}).get(theirs, 0.0) for theirs, ours in _KEYS.items()}
        row["mrr@10"] = rr10.get(q, {}).get("recip_rank", 0.0)
        # Independent check of the truncation: RR@10 is RR when the first hit is within 10.
        full_rr = rr_full.get(q, {}).get("recip_rank", 0.0)
        assert row["mrr@10"] == pytest.approx(full_rr if full_rr >= 0.1 else 0.0, abs=1e-12)
        out[q] = row
    return out


def _assert_matches(run: Run, qrels: Qrels, ignore_identical_ids: bool) -> EvalReport:
    ref = _reference(run, qrels, ignore_identical_ids)
    report = evaluate(run, qrels, k_values=[10, 100], ignore_identical_ids=ignore_identical_ids)
    assert report.queries == len(ref)
    assert set(report.per_query) == set(ref)
    for q, row in ref.items():
        for key, want in row.items():
            assert report.per_query[q][key] == pytest.approx(want, abs=TOL), (q, key)
    for key, got in report.as_dict().items():
        want = sum(row[key] for row in ref.values()) / len(ref)
        assert got == pytest.approx(want, abs=TOL), key
    return report


def _random_case(rng: random.Random) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, int]]]:
    pool = [f"d{i}" for i in range(rng.choice([15, 60, 250]))]
    qids = [f"q{i}" for i in range(rng.randint(1, 12))]
    pool += qids  # some doc ids equal query ids, for ignore_identical_ids
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in qids:
        judged = rng.sample(pool, rng.randint(1, min(len(pool), 25)))
        if rng.random() < 0.1:
            judged.append(q)
        qrels[q] = {d: rng.choice([0, 1, 1, 2]) for d in judged}
        if rng.random() < 0.1:
            continue  # query missing from the run
        n = rng.choice([0, 1, 3, 9, 10, 11, 40, 99, 100, 101, 150, len(pool)])
        docs = rng.sample(pool, min(n, len(pool)))
        levels = rng.choice([3, 10, 1000])  # few levels -> many ties
        run[q] = {d: rng.randint(0, levels) / levels for d in docs}
    if not any(v >= 1 for r in qrels.values() for v in r.values()):
        first = next(iter(qrels[qids[0]]))
        qrels[qids[0]][first] = 1
    run["unjudged-query"] = {"d0": 1.0}
    return run, qrels


@pytest.mark.parametrize("ignore_identical_ids", [True, False])
@pytest.mark.parametrize("seed", range(60))
def test_random_runs_match_pytrec_eval(seed: int, ignore_identical_ids: bool) -> None:
    rng = random.Random(seed)
    run, qrels = _random_case(rng)
    _assert_matches(run, qrels, ignore_identical_ids)


_TOKEN = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


def test_scifact_slice_matches_pytrec_eval() -> None:
    if not (SCIFACT / "qrels" / "test.tsv").is_file():
        pytest.skip(f"SciFact not found at {SCIFACT}: the real-data comparison needs it")
    ds = load_beir(SCIFACT, "test")
    qids = list(ds.qrels)[:50]
    qrels = {q: ds.qrels[q] for q in qids}
    wanted = {d for q in qids for d in qrels[q]}
    corpus: dict[str, set[str]] = {}
    with ds.corpus_path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            obj = json.loads(line)
            if i < 300 or obj["_id"] in wanted:
                corpus[obj["_id"]] = _tokens(obj.get("title", "") + " " + obj["text"])
    assert wanted <= set(corpus)
    # Token overlap: integer scores, so plenty of ties exercise trec_eval's tie-break.
    run = {}
    for q in qids:
        qt = _tokens(ds.queries[q])
        scores = {d: float(len(qt & toks)) for d, toks in corpus.items()}
        run[q] = {d: s for d, s in scores.items() if s > 0}
    report = _assert_matches(run, qrels, ignore_identical_ids=True)
    assert report.queries == 50
    assert 0.0 < report.ndcg_at_10 < 1.0
