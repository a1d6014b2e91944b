"""The LLM condenser against a real local HTTP server (a subprocess) speaking the OpenAI
chat-completions protocol: a good rewrite is used, and every unusable reply or failed call falls
back to the offline rules, with a warning naming why."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ragline.generation.openai_chat import OpenAIChatModel
from ragline.query.condense import LLMCondenser, RuleCondenser
from ragline.settings import LLMSettings
from ragline.types import Turn
from tests.helpers import FakeServer, fast_engine, running_server

pytestmark = pytest.mark.integration

HISTORY = [
    Turn("system", "be brief"),
    Turn("user", "How do I install ragline on Linux?"),
    Turn("assistant", "Install the package with apt [1]."),
]
RULES = "How do I install ragline on Windows?"  # what the offline rules make of "And on Windows?"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory):
    stderr = tmp_path_factory.mktemp("fake_condense") / "stderr.txt"
    with running_server("tests.query.fake_query_server", stderr) as url:
        yield url


@pytest.fixture
def server(server_url: str) -> FakeServer:
    return FakeServer(server_url)


def _condenser(server: FakeServer, model: str = "good") -> LLMCondenser:
    settings = LLMSettings(base_url=server.base_url, model=model, max_retries=0, timeout_s=5.0)
    return LLMCondenser(OpenAIChatModel(settings), RuleCondenser())


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ragline.query.condense"]


def test_a_good_rewrite_is_used(server: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        result = _condenser(server).condense("What about Windows?", HISTORY)
    assert (result.query, result.method) == ("How do I install ragline on Windows?", "llm")
    assert not _warnings(caplog)
    [request] = server.log()
    assert request["task"] == "condense"
    transcript = request["messages"][-1]["content"]
    # The conversation goes to the model, system messages left out, the question last.
    assert "user: How do I install ragline on Linux?" in transcript
    assert "assistant: Install the package with apt [1]." in transcript
    assert "be brief" not in transcript
    assert transcript.endswith("Last question: What about Windows?")


def test_a_prefixed_or_quoted_rewrite_is_cleaned(server: FakeServer) -> None:
    result = _condenser(server).condense("What about Windows? [[prefixed]]", HISTORY)
    assert (result.query, result.method) == ("How do I install ragline on Windows?", "llm")


@pytest.mark.parametrize(
    ("marker", "why"),
    [
        ("answer", "an answer or remark"),
        ("long", "over the limit"),
        ("garbage", "chatter"),
        ("offtopic", "no word of the question"),
        ("empty", "empty reply"),
    ],
)
def test_an_unusable_reply_falls_back_to_the_rules(
    server: FakeServer, caplog: pytest.LogCaptureFixture, marker: str, why: str
) -> None:
    with caplog.at_level(logging.WARNING):
        result = _condenser(server).condense(f"And on Windows? [[{marker}]]", HISTORY)
    assert result.method == "rules" and why in result.reason
    assert result.query == RULES.replace("Windows", f"Windows? [[{marker}]]").replace("??", "?")
    [warning] = _warnings(caplog)
    assert "unusable LLM reply" in warning and why in warning


def test_a_failing_model_falls_back_to_the_rules(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        result = _condenser(server, model="fail-a").condense("And on Windows?", HISTORY)
    assert (result.query, result.method) == (RULES, "rules")
    assert any("the LLM failed" in w for w in _warnings(caplog))
    assert [r["status"] for r in server.log()] == [500]


def test_no_history_makes_no_call(server: FakeServer) -> None:
    result = _condenser(server).condense("And on Windows?", [Turn("system", "be brief")])
    assert result.query == "And on Windows?" and result.method == "unchanged"
    assert server.log() == []


def test_the_engine_condenses_with_the_configured_llm(server: FakeServer, tmp_path: Path) -> None:
    engine = fast_engine(tmp_path, llm={"base_url": server.base_url, "model": "good"})
    assert isinstance(engine.condenser, LLMCondenser)
    assert engine.condense("What about Windows?", HISTORY).query == "How do I install ragline on Windows?"
    rules = fast_engine(
        tmp_path, llm={"base_url": server.base_url, "model": "good"}, chat={"condense": "rules"}
    )
    assert isinstance(rules.condenser, RuleCondenser)
