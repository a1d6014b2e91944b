"""The CLI end to end through typer's runner: ingest, search, stats, delete, eval, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ragline
from ragline.cli.main import app
from tests.eval.test_runner import write_dataset
from tests.helpers import write_markdown_corpus

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    write_markdown_corpus(docs, n_files=4)
    data = tmp_path / "data"
    res = runner.invoke(app, ["ingest", str(docs), "--data-dir", str(data), "--collection", "kb", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["files_indexed"] == 4 and report["chunks_indexed"] > 4
    return data


def test_search_json_returns_hits_with_sources(indexed: Path) -> None:
    res = runner.invoke(
        app,
        [
            "search",
            "backup snapshots nightly",
            "--data-dir",
            str(indexed),
            "-c",
            "kb",
            "--json",
            "--top-k",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    hits = json.loads(res.stdout)
    assert 1 <= len(hits) <= 3
    assert hits[0]["source"].endswith("guide-02-backup.md")
    # The default fuses the feedback searches (RM3, Rocchio) beside the first pass.
    assert set(hits[0]["retrievers"]) <= {"dense", "dense_sentences", "keyword", "dense_prf", "keyword_prf"}
    assert hits[0]["retrievers"]
    assert hits[0]["section"].startswith("Guide 2: backup")


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_search_modes_and_filters(indexed: Path, mode: str) -> None:
    res = runner.invoke(
        app,
        [
            "search",
            "install",
            "--mode",
            mode,
            "--filter",
            '{"file_name": {"$ne": "guide-00-linux.md"}}',
            "--data-dir",
            str(indexed),
            "-c",
            "kb",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    hits = json.loads(res.stdout)
    assert hits and all(not h["source"].endswith("guide-00-linux.md") for h in hits)


def test_human_output_lists_sources(indexed: Path) -> None:
    res = runner.invoke(app, ["search", "refunds invoices monthly", "--data-dir", str(indexed), "-c", "kb"])
    assert res.exit_code == 0
    assert "guide-03-billing.md" in res.stdout
    assert "2." in res.stdout


def test_bad_filter_and_unknown_collection_are_clear_errors(indexed: Path) -> None:
    res = runner.invoke(app, ["search", "x", "--filter", "{year: 1}", "--data-dir", str(indexed), "-c", "kb"])
    assert res.exit_code == 2
    assert "not valid JSON" in res.stderr
    res = runner.invoke(
        app, ["search", "x", "--filter", '{"yeer": 1}', "--data-dir", str(indexed), "-c", "kb"]
    )
    assert res.exit_code == 2 and "yeer" in res.stderr and "file_name" in res.stderr
    res = runner.invoke(app, ["search", "x", "--data-dir", str(indexed), "-c", "nope"])
    assert res.exit_code == 2 and "does not exist" in res.stderr and "kb" in res.stderr
    res = runner.invoke(app, ["search", "x", "--mode", "fuzzy", "--data-dir", str(indexed), "-c", "kb"])
    assert res.exit_code == 2


def test_stats_and_delete(indexed: Path) -> None:
    res = runner.invoke(app, ["stats", "--json", "--data-dir", str(indexed), "-c", "kb"])
    stats = json.loads(res.stdout)
    assert stats["store"]["documents"] == 4 and stats["store"]["keyword_index"] is True
    hits = json.loads(
        runner.invoke(app, ["search", "refunds", "--json", "--data-dir", str(indexed), "-c", "kb"]).stdout
    )
    doc_id = hits[0]["doc_id"]
    res = runner.invoke(app, ["delete", doc_id, "--data-dir", str(indexed), "-c", "kb"])
    assert res.exit_code == 0 and "deleted" in res.stdout
    stats = json.loads(runner.invoke(app, ["stats", "--json", "--data-dir", str(indexed), "-c", "kb"]).stdout)
    assert stats["store"]["documents"] == 3
    res = runner.invoke(app, ["delete", "no-such-id", "--data-dir", str(indexed), "-c", "kb"])
    assert res.exit_code == 1 and "no document" in res.stderr


def test_ingest_missing_path_and_unknown_option(tmp_path: Path) -> None:
    res = runner.invoke(app, ["ingest", str(tmp_path / "missing"), "--data-dir", str(tmp_path / "d")])
    assert res.exit_code == 2 and "does not exist" in res.stderr
    res = runner.invoke(app, ["ingest", str(tmp_path), "--colection", "x"])
    assert res.exit_code == 2 and "colection" in res.output


def test_eval_beir_json_has_exactly_the_documented_keys(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path)
    res = runner.invoke(app, ["eval", "beir", str(ds), "--json", "--data-dir", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {
        "ndcg@10",
        "recall@10",
        "recall@100",
        "mrr@10",
        "map@100",
        "mode",
        "dataset",
        "queries",
    }
    assert out["mode"] == "hybrid" and out["dataset"] == "tinybeir" and out["queries"] == 4
    res = runner.invoke(app, ["eval", "beir", str(tmp_path / "nope"), "--data-dir", str(tmp_path / "d")])
    assert res.exit_code == 2 and "nope" in res.stderr


def test_invalid_setting_from_environment_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGLINE_RETRIEVAL__MODE", "semantic")
    res = runner.invoke(app, ["search", "x", "--data-dir", str(tmp_path)])
    assert res.exit_code == 2 and "retrieval.mode" in res.stderr


def test_ingest_for_a_tenant_with_groups_and_clearance(tmp_path: Path) -> None:
    from ragline.types import Principal

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pay.md").write_text("# Pay\n\nThe payroll runs on the 25th of each month.\n")
    data = tmp_path / "data"
    args = ["ingest", str(docs), "-c", "hr", "--data-dir", str(data)]
    res = runner.invoke(app, [*args, "--tenant", "acme", "--groups", "hr, payroll", "--clearance", "3"])
    assert res.exit_code == 0, res.output
    engine = ragline.open(data)
    assert engine.collections() == [] and engine.collections("acme") == ["hr"]
    assert engine.search("payroll", collection="hr", principal=Principal("acme", ("hr",), 3))
    assert engine.search("payroll", collection="hr", principal=Principal("acme", ("hr",), 2)) == []
    assert engine.search("payroll", collection="hr", principal=Principal("acme", ("eng",), 9)) == []
    bad = runner.invoke(app, [*args, "--groups", "h r"])
    assert bad.exit_code == 2 and "group name(s) ['h r'] are invalid" in bad.output
