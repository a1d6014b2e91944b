"""The BEIR runner end to end on a tiny dataset, cross-checked against pytrec_eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytrec_eval

import ragline
from ragline.eval.runner import collapse_to_documents, run_beir

pytestmark = pytest.mark.integration

DOCS = {
    "d1": (
        "Aspirin and heart attacks",
        "Daily low-dose aspirin reduces the risk of myocardial infarction in adults.",
    ),
    "d2": ("Vitamin D", "Vitamin D supplementation does not prevent fractures in elderly women."),
    "d3": ("Exercise", "Regular aerobic exercise lowers blood pressure in hypertensive patients."),
    "d4": ("Sleep", "Short sleep duration is associated with obesity in children."),
    "d5": ("Smoking", "Smoking cessation improves lung function within a year."),
    "d6": (
        "Aspirin and heart attacks",
        "Daily low-dose aspirin reduces the risk of myocardial infarction in adults.",
    ),
    "q3": ("Identical id", "This document shares its id with query q3 and mentions blood pressure exercise."),
}
QUERIES = {
    "q1": "does aspirin prevent heart attacks",
    "q2": "vitamin D and bone fractures",
    "q3": "exercise blood pressure",
    "q4": "children sleep obesity",
}
QRELS = [
    ("q1", "d1", 1),
    ("q1", "d6", 1),
    ("q2", "d2", 2),
    ("q3", "d3", 1),
    ("q3", "q3", 1),
    ("q4", "d4", 1),
    ("q4", "d3", 1),
]


def write_dataset(root: Path) -> Path:
    ds = root / "tinybeir"
    (ds / "qrels").mkdir(parents=True)
    with (ds / "corpus.jsonl").open("w") as f:
        for i, (t, x) in DOCS.items():
            f.write(json.dumps({"_id": i, "title": t, "text": x, "metadata": {}}) + "\n")
    with (ds / "queries.jsonl").open("w") as f:
        for i, q in QUERIES.items():
            f.write(json.dumps({"_id": i, "text": q, "metadata": {}}) + "\n")
    (ds / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in QRELS)
    )
    return ds


def test_collapse_keeps_best_rank_per_document() -> None:
    assert collapse_to_documents(["a", "b", "a", "c", "b"]) == {"a": 1.0, "b": 0.5, "c": 1 / 3}
    assert list(collapse_to_documents([f"d{i}" for i in range(500)], depth=100)) == [
        f"d{i}" for i in range(100)
    ]


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_runner_metrics_equal_pytrec_eval_on_the_same_run(tmp_path: Path, mode: str) -> None:
    ds = write_dataset(tmp_path)
    engine = ragline.open(tmp_path / "data")
    result = run_beir(engine, ds, mode=mode)  # type: ignore[arg-type]
    assert result.queries == 4 and result.mode == mode and result.dataset == "tinybeir"
    # Duplicate documents are both indexed: qrels judge each id.
    assert {"d1", "d6"} <= set(result.run["q1"])
    # ignore_identical_ids: the document "q3" never appears in q3's ranking.
    assert "q3" not in result.run["q3"]
    qrels = {}
    for q, d, s in QRELS:
        qrels.setdefault(q, {})[d] = s
    measures = {"ndcg_cut.10", "recall.10", "recall.100", "map_cut.100"}
    ev = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(result.run)
    top10 = {q: dict(sorted(r.items(), key=lambda kv: -kv[1])[:10]) for q, r in result.run.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    expect = {
        "ndcg@10": sum(v["ndcg_cut_10"] for v in ev.values()) / 4,
        "recall@10": sum(v["recall_10"] for v in ev.values()) / 4,
        "recall@100": sum(v["recall_100"] for v in ev.values()) / 4,
        "map@100": sum(v["map_cut_100"] for v in ev.values()) / 4,
        "mrr@10": sum(v["recip_rank"] for v in rr.values()) / 4,
    }
    for k, v in expect.items():
        assert result.metrics[k] == pytest.approx(v, abs=1e-6), k
    assert result.metrics["ndcg@10"] > 0.5


def test_second_run_reuses_collection_and_embeds_nothing(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path)
    first = run_beir(ragline.open(tmp_path / "data"), ds, mode="dense")
    assert first.ingest.chunks_embedded > 0
    second = run_beir(ragline.open(tmp_path / "data"), ds, mode="dense")
    assert second.ingest.chunks_embedded == 0 and second.ingest.files_unchanged == 1
    assert second.metrics == first.metrics


def test_keeping_identical_ids_changes_the_run(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path)
    kept = run_beir(ragline.open(tmp_path / "data"), ds, mode="keyword", ignore_identical_ids=False)
    assert "q3" in kept.run["q3"]
