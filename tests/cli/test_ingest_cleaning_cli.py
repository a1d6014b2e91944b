"""`ragline ingest --pii --near-duplicates`: the report lists the near-duplicates and the
redaction counts, as text and as JSON (on the fast engine: the CLI's own code is the point)."""

from __future__ import annotations

import json
import random

from typer.testing import CliRunner

import ragline.cli.main as cli
from tests.helpers import fast_engine, paragraph

runner = CliRunner()


def test_ingest_lists_near_duplicates_and_redactions(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_engine", lambda data_dir, **kw: fast_engine(data_dir, **kw))
    rng = random.Random(3)
    body = "\n\n".join(paragraph(rng) for _ in range(4))
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "original.txt").write_text(body + "\n\nQuestions: jo@example.com")
    (b / "copy.txt").write_text(body.replace("the", "teh", 1) + "\n\nQuestions: jo@example.com")
    data = str(tmp_path / "data")
    first = runner.invoke(cli.app, ["ingest", str(a), "--data-dir", data, "--pii", "--near-duplicates"])
    assert first.exit_code == 0, first.output
    assert "PII redacted: 1 email" in first.output
    res = runner.invoke(
        cli.app, ["ingest", str(b), "--data-dir", data, "--pii", "--near-duplicates", "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    (dup,) = report["near_duplicates"]
    assert dup["source"].endswith("copy.txt") and dup["duplicate_of"] and dup["similarity"] >= 0.5
    assert report["pii_redacted"] == {"email": 1} and report["documents_indexed"] == 0
    # In another collection the copy comes first; the original is then its near-duplicate.
    text = runner.invoke(cli.app, ["ingest", str(b), "--data-dir", data, "-c", "other", "--near-duplicates"])
    assert "near-duplicate" not in text.output
    again = runner.invoke(cli.app, ["ingest", str(a), "--data-dir", data, "-c", "other", "--near-duplicates"])
    assert again.exit_code == 0
    # The console wraps long paths at its width (mid-word): read the output unwrapped.
    out = again.output.replace("\n", "")
    assert "near-duplicate" in out and "original.txt" in out and "not indexed" in out
