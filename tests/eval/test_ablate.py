"""``eval ablate`` on a tiny BEIR dataset: rows per variant, skips that say why, the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ragline
from ragline.cli.main import app
from ragline.errors import ConfigError
from ragline.eval.ablate import VARIANTS, render_table, run_ablation
from tests.eval.test_runner import write_dataset

pytestmark = pytest.mark.integration


def test_variants_run_and_skip_with_reasons(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path)
    engine = ragline.open(tmp_path / "data")
    names = [
        "baseline: hybrid, RRF",
        "z-score fusion",
        "keyword only",
        "RM3 feedback (keyword side)",
        "tuned embeddings",
        "multi-query (LLM)",
        "default (configured)",
    ]
    rows = run_ablation(engine, [ds], variants=names)
    by = {r.variant: r for r in rows}
    assert sorted(by) == sorted(names)
    for name in ("baseline: hybrid, RRF", "z-score fusion", "keyword only", "default (configured)"):
        r = by[name]
        assert r.queries == 4 and 0.0 < r.ndcg10 <= 1.0 and r.p50_ms is not None and r.p50_ms > 0
    assert by["tuned embeddings"].ndcg10 is None and "ragline tune embeddings" in by["tuned embeddings"].note
    assert by["multi-query (LLM)"].note == "skipped: no LLM configured"
    table = render_table(rows)
    assert table.splitlines()[0].startswith("| variant | tinybeir nDCG@10 |")
    assert "| z-score fusion | " in table and "skipped: no LLM configured" in table


def test_chunking_variant_builds_its_own_collection(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path)
    engine = ragline.open(tmp_path / "data")
    rows = run_ablation(engine, [ds], variants=["sentence chunking"], limit=2)
    assert rows[0].queries <= 2 and rows[0].ndcg10 is not None
    assert "beir-tinybeir-sentence" in engine.collections()
    # Built without sentence vectors or token states: the sentence search finds nothing there.
    vec = engine.embedder.embed_query("anything")
    store = engine.store("beir-tinybeir-sentence")
    assert store.sentence_candidates(vec, 5) == []
    assert set(store.fetch_token_states([c.id for c in store.all_chunks()])) == {None}


def test_unknown_variant_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="z-score fusion"):
        run_ablation(ragline.open(tmp_path / "d"), [write_dataset(tmp_path)], variants=["zscore"])
    assert len({v.name for v in VARIANTS}) == len(VARIANTS)


def test_cli_writes_the_table(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path)
    out = tmp_path / "table.md"
    res = CliRunner().invoke(
        app,
        [
            "eval",
            "ablate",
            str(ds),
            "--variant",
            "z-score fusion",
            "--variant",
            "keyword only",
            "--json",
            "--out",
            str(out),
            "--data-dir",
            str(tmp_path / "data"),
        ],
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["variant"] for r in rows] == ["keyword only", "z-score fusion"]
    assert out.read_text().count("\n") == 4
    bad = CliRunner().invoke(
        app, ["eval", "ablate", str(ds), "--variant", "nope", "--data-dir", str(tmp_path / "d")]
    )
    assert bad.exit_code == 2 and "choose from" in bad.output
