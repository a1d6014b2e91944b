"""``ragline golden export``, ``ragline feedback report`` and ``ragline experiments report`` through
typer's runner, over a real SQLite state store in the data folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.cli.main import app
from ragline.service_state import open_state
from tests.insights.conftest import put_answer

runner = CliRunner()
CONFIG = """
[experiments.rerank]
min_samples = 2
variants.control = {}
variants.treatment = { retrieval = { rerank = { stages = [] } } }
"""


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("RAGLINE_CONFIG", "RAGLINE_DATA_DIR", "RAGLINE_SERVER__STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "ragline.toml").write_text(CONFIG)
    data = tmp_path / "data"
    data.mkdir()
    state = open_state("", data)
    try:
        put_answer(
            state, "a", "How do backups work?", cited=("backup.md",), variant="rerank=control", ratings=(1,)
        )
        put_answer(state, "b", "What is the refund period?", variant="rerank=treatment", ratings=(-1,))
        put_answer(
            state, "c", "Who signs invoices?", variant="rerank=treatment", tenant="globex", ratings=(1,)
        )
    finally:
        state.close()
    return data


def _json(args: list[str]) -> dict[str, object]:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    out: dict[str, object] = json.loads(res.stdout)
    return out


def test_golden_export_cli(data: Path, tmp_path: Path) -> None:
    out = _json(
        [
            "golden",
            "export",
            str(tmp_path / "g.jsonl"),
            "--tenant",
            "default",
            "--json",
            "--data-dir",
            str(data),
        ]
    )
    assert (out["golden"], out["review"]) == (1, 1)
    assert json.loads((tmp_path / "g.jsonl").read_text())["relevant"] == {"backup.md": 1}
    bad = runner.invoke(app, ["golden", "export", "x.jsonl", "--since", "last week", "--data-dir", str(data)])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_feedback_and_experiment_reports_cli(data: Path) -> None:
    fb = _json(["feedback", "report", "--tenant", "default", "--json", "--data-dir", str(data)])
    assert [(r["key"], r["up"], r["down"]) for r in fb["by_collection"]] == [("kb", 1, 1)]  # type: ignore[index, union-attr]
    everyone = _json(["feedback", "report", "--json", "--data-dir", str(data)])
    assert everyone["rated"] == 3
    exp = _json(["experiments", "report", "rerank", "--tenant", "default", "--json", "--data-dir", str(data)])
    assert [(v["variant"], v["answers"], v["thumbs_up_rate"]) for v in exp["variants"]] == [  # type: ignore[index, union-attr]
        ("control", 1, 1.0),
        ("treatment", 1, 0.0),
    ]
    unknown = runner.invoke(app, ["experiments", "report", "nope", "--data-dir", str(data)])
    assert unknown.exit_code == 2 and "configured: rerank" in " ".join(unknown.output.split())
