"""``ragline eval qa`` through typer's runner: the --json object, the table, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.cli.main import app
from tests.eval.test_qa import MINI, QA_KEYS

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_eval_qa_json_is_one_object_with_the_documented_keys(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["eval", "qa", str(MINI), "--limit", "8", "--json", "--data-dir", str(tmp_path / "d")]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)  # exactly one JSON document on stdout
    assert set(out) == QA_KEYS
    assert out["questions"] == 8 and out["abstention_questions"] == 8 and out["split"] == "test"
    res = runner.invoke(
        app,
        [
            "eval",
            "qa",
            str(MINI),
            "--limit",
            "4",
            "--split",
            "calibration",
            "--data-dir",
            str(tmp_path / "d"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "squad-mini (calibration, 4 questions)" in res.stdout
    assert "context_recall@2048" in res.stdout and "best threshold" in res.stdout


def test_eval_qa_bad_input_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    res = runner.invoke(app, ["eval", "qa", str(tmp_path / "nope"), "--data-dir", str(tmp_path / "d")])
    assert res.exit_code == 2
    message = " ".join(res.stderr.split())  # rich wraps long lines
    assert "nope' does not exist; pass the directory holding corpus.jsonl" in message
    assert "answers.jsonl" in message
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "corpus.jsonl").write_text('{"_id": "0-0", "title": "T", "text": "x"}\n')
    res = runner.invoke(app, ["eval", "qa", str(tmp_path / "half"), "--data-dir", str(tmp_path / "d")])
    assert res.exit_code == 2 and "has no queries.jsonl" in " ".join(res.stderr.split())
    res = runner.invoke(app, ["eval", "qa", str(MINI), "--split", "dev", "--data-dir", str(tmp_path / "d")])
    assert res.exit_code == 2 and "dev" in res.output
    res = runner.invoke(app, ["eval", "qa", str(MINI), "--limit", "0", "--data-dir", str(tmp_path / "d")])
    assert res.exit_code == 2
