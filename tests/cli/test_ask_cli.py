"""`ragline ask` end to end through typer's runner, with the offline extractive answerer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.cli.main import app
from tests.helpers import write_fact_corpus

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("askcli")
    write_fact_corpus(root / "docs")
    res = runner.invoke(app, ["ingest", str(root / "docs"), "--data-dir", str(root / "data")])
    assert res.exit_code == 0, res.output
    return root / "data"


def test_ask_prints_the_answer_then_numbered_sources(data: Path) -> None:
    res = runner.invoke(
        app, ["ask", "How many steps lead to the lighthouse gallery?", "--data-dir", str(data)]
    )
    assert res.exit_code == 0, res.output
    answer, _, sources = res.stdout.partition("Sources")
    assert "212 steps" in answer and "[1]" in answer
    assert "[1] lighthouse.md" in sources and "Harbor Lighthouse > Visiting" in sources


def test_ask_json_is_one_object_with_citations_and_timings(data: Path) -> None:
    res = runner.invoke(
        app, ["ask", "How many steps lead to the lighthouse gallery?", "--data-dir", str(data), "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["mode"] == "extractive" and out["abstained"] is False and out["debug"] is None
    assert set(out["timings_ms"]) == {"retrieve", "assemble", "generate", "support", "total"}
    assert out["support"] and all(s["supported"] for s in out["support"])
    c = out["citations"][0]
    assert {"n", "chunk_id", "doc_id", "source", "section_path", "page", "start", "end", "quote"} <= set(c)


def test_ask_debug_shows_hits_and_prompt(data: Path) -> None:
    res = runner.invoke(
        app, ["ask", "What does a red alert mean?", "--data-dir", str(data), "--json", "--debug"]
    )
    out = json.loads(res.stdout)
    assert out["debug"]["hits"][0]["retrievers"]
    assert "What does a red alert mean?" in out["debug"]["prompt"]
    plain = runner.invoke(app, ["ask", "What does a red alert mean?", "--data-dir", str(data), "--debug"])
    assert "Hits" in plain.output and "Prompt" in plain.output


def test_ask_abstains_in_plain_words(data: Path) -> None:
    res = runner.invoke(app, ["ask", "Who painted the Mona Lisa?", "--data-dir", str(data)])
    assert res.exit_code == 0
    assert "do not contain enough information" in res.stdout and "Sources" not in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "  "], "question is empty"),
        (["ask", "steps", "--filter", "{year: 1}"], "not valid JSON"),
        (["ask", "steps", "--filter", '{"colour": "red"}'], "unknown filter field"),
        (["ask", "steps", "-c", "missing"], "does not exist"),
        (["ask", "steps", "--top-k", "3"], "No such option"),
    ],
)
def test_ask_bad_input_exits_2_with_a_message(data: Path, args: list[str], message: str) -> None:
    res = runner.invoke(app, [*args, "--data-dir", str(data)])
    assert res.exit_code == 2
    assert message in res.output
