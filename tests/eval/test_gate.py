"""The quality gate on the bench/gate slice: it passes on the configuration its baseline was
recorded with and fails, naming the metric and its drop, on a deliberately worse one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.cli.main import app
from ragline.errors import DatasetError
from ragline.eval.gate import DEFAULT_TOLERANCE, check, load_baseline, run_datasets, tolerance, write_baseline
from tests.helpers import fast_engine

SLICE = Path(__file__).resolve().parents[2] / "bench" / "gate" / "scifact-slice"


def test_gate_passes_on_the_baseline_and_fails_on_a_worse_configuration(tmp_path: Path) -> None:
    engine = fast_engine(tmp_path / "data", retrieval={"mode": "keyword"})
    baseline_file = tmp_path / "baseline.json"
    write_baseline(baseline_file, run_datasets(engine, [SLICE]))
    baseline = load_baseline(baseline_file)
    assert set(baseline["metrics"]) == {
        "scifact-slice/ndcg@10",
        "scifact-slice/recall@10",
        "scifact-slice/mrr@10",
    }
    assert baseline["metrics"]["scifact-slice/ndcg@10"] > 0.5
    # The same configuration again: deterministic, so nothing fell.
    assert check(run_datasets(engine, [SLICE]), baseline) == []
    # Broken: hybrid with all of the fusion weight on the model-free (hash) embedder's dense side.
    worse = engine.with_settings(retrieval={"mode": "hybrid", "fusion": {"alpha": 1.0}})
    failures = check(run_datasets(worse, [SLICE]), baseline)
    assert "scifact-slice/ndcg@10" in {f.metric for f in failures}
    ndcg = next(f for f in failures if f.metric == "scifact-slice/ndcg@10")
    assert ndcg.drop > DEFAULT_TOLERANCE
    assert ndcg.message().startswith(f"scifact-slice/ndcg@10 fell by {ndcg.drop:.4f}")
    # A tolerance wider than the drop lets it pass.
    lenient = {**baseline, "tolerances": {"ndcg@10": 1.0, "default": 1.0}}
    assert check(run_datasets(worse, [SLICE]), lenient) == []


def test_tolerances_resolve_most_specific_first() -> None:
    tol = {"scifact-slice/ndcg@10": 0.001, "ndcg@10": 0.01, "default": 0.05}
    assert tolerance("scifact-slice/ndcg@10", tol) == 0.001
    assert tolerance("other/ndcg@10", tol) == 0.01
    assert tolerance("other/recall@10", tol) == 0.05
    assert tolerance("other/recall@10", {}) == DEFAULT_TOLERANCE
    base = {"metrics": {"a/ndcg@10": 0.5, "b/ndcg@10": 0.5}, "tolerances": {}}
    # Exactly at the tolerance passes; a metric the run lacks fails.
    (missing,) = check({"a/ndcg@10": 0.48}, base)
    assert missing.metric == "b/ndcg@10" and "not measured" in missing.message()


def test_bad_baselines_and_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="--write-baseline"):
        load_baseline(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"metrics": {"a/ndcg@10": "high"}}))
    with pytest.raises(DatasetError, match="metrics"):
        load_baseline(bad)
    result = CliRunner().invoke(app, ["eval", "gate", str(SLICE)])
    assert result.exit_code == 2 and "exactly one of --baseline" in result.output
