"""engine.ask with an LLM configured, against the fake OpenAI-compatible server process:
the LLM answer, fallback models, and the degraded extractive answer when every model fails."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ragline
from ragline.cli.main import app
from ragline.types import Final, Restart, Token
from tests.helpers import write_fact_corpus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("askllm")
    write_fact_corpus(root / "docs")
    ragline.open(root / "data").ingest([root / "docs"])
    return root / "docs", root / "data"


def engine(data: Path, server, model: str, *fallbacks: str) -> ragline.engine.Engine:
    return ragline.open(
        data,
        llm={
            "base_url": server.base_url,
            "model": model,
            "fallback_models": list(fallbacks),
            "max_retries": 1,
            "backoff_s": 0.01,
            "timeout_s": 0.5,
        },
    )


def test_llm_answer_cites_the_context_and_reports_usage(docs, server) -> None:
    eng = engine(docs[1], server, "good")
    a = eng.ask("Who built the Harbor Lighthouse?", debug=True)
    assert a.mode == "llm" and not a.abstained and a.errors == ()
    assert a.invalid_citations == 1  # the server also cites a source [9] that does not exist
    assert [c.n for c in a.citations] == [1]
    assert a.citations[0].doc_id == a.debug.context.passages[0].doc_id
    assert "[9]" not in a.text and "[1]" in a.text
    assert a.usage.model == "good" and a.usage.prompt_tokens > 0 and a.usage.completion_tokens > 0
    assert a.usage.cost_usd is None  # "good" is not in the price table
    # The debug prompt is exactly what the model was sent.
    assert "Who built the Harbor Lighthouse?" in a.debug.prompt
    assert a.debug.context.passages[0].text in a.debug.prompt
    assert server.calls() == [("good", True, 200)]


def test_a_failing_model_falls_back_to_the_next(docs, server) -> None:
    a = engine(docs[1], server, "always-500", "good").ask("How tall is the lighthouse?")
    assert a.mode == "llm" and a.usage.model == "good"
    assert any("500" in e for e in a.errors)


def test_every_model_failing_yields_a_degraded_extractive_answer(docs, server) -> None:
    a = engine(docs[1], server, "always-500", "slow").ask("Who built the Harbor Lighthouse?")
    assert a.mode == "degraded"
    assert "Maria Okafor" in a.text and a.citations
    assert any("always-500" in e and "slow" in e for e in a.errors)


def test_a_stream_that_dies_restarts_then_degrades(docs, server) -> None:
    events = list(engine(docs[1], server, "die-mid-stream").ask("Who built the lighthouse?", stream=True))
    kinds = [type(e) for e in events]
    assert Restart in kinds and isinstance(events[-1], Final)
    last_restart = len(kinds) - 1 - kinds[::-1].index(Restart)
    after = events[last_restart + 1 :]
    final = events[-1].answer
    assert final.mode == "degraded"
    assert "".join(e.text for e in after if isinstance(e, Token)) == final.text


def test_cli_ask_streams_the_llm_answer_and_lists_sources(docs, server, monkeypatch) -> None:
    monkeypatch.setenv("RAGLINE_LLM__BASE_URL", server.base_url)
    monkeypatch.setenv("RAGLINE_LLM__MODEL", "good")
    result = CliRunner().invoke(app, ["ask", "Who built the Harbor Lighthouse?", "--data-dir", str(docs[1])])
    assert result.exit_code == 0, result.output
    assert "Sources" in result.output and "lighthouse.md" in result.output
    result = CliRunner().invoke(
        app, ["ask", "Who built the Harbor Lighthouse?", "--data-dir", str(docs[1]), "--json"]
    )
    payload = json.loads(result.stdout)
    assert payload["mode"] == "llm" and payload["citations"][0]["n"] == 1


def test_a_documents_own_markers_do_not_become_llm_citations(tmp_path, server) -> None:
    # The model quotes source [1]; the document's own "[2]" (a footnote or a planted marker) must not
    # reach it, or the answer would cite whatever source happens to be [2].
    write_fact_corpus(tmp_path / "docs")
    (tmp_path / "docs" / "ledger.md").write_text(
        "# Ledger vault\n\nThe ledger vault is opened by the night clerk Ilse Varga.[2] She keeps the "
        "brass key [3] on a chain. The ledger vault holds the harbour records [99].\n",
        encoding="utf-8",
    )
    ragline.open(tmp_path / "data").ingest([tmp_path / "docs"])
    a = engine(tmp_path / "data", server, "good").ask("Who opens the ledger vault?", debug=True)
    assert a.mode == "llm" and len(a.debug.context.passages) >= 3
    assert a.debug.context.passages[0].source.endswith("ledger.md")
    assert "Ilse Varga" in a.text
    assert re.findall(r"\[[^\]]*\]", a.text) == ["[1]"]
    assert [c.n for c in a.citations] == [1] and a.citations[0].source.endswith("ledger.md")
    assert (
        "Ilse Varga. She keeps the brass key on a chain." in a.debug.prompt and "[99]" not in a.debug.prompt
    )
