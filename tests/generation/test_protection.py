"""Circuit breakers per model and the per-request LLM deadline, against the fake OpenAI-protocol
server process (a model that always fails, one that recovers, one that hangs)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ragline.errors import GenerationError
from ragline.generation.base import ChatMessage
from ragline.generation.breaker import Breakers, CircuitBreaker
from ragline.generation.deadline import Deadline, current, request_deadline
from ragline.generation.openai_chat import OpenAIChatModel
from ragline.settings import LLMSettings
from tests.helpers import fast_engine, write_fact_corpus

pytestmark = pytest.mark.integration


class Clock:
    """A hand-moved clock, so a cool-down passes without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _chat(server, model: str, *fallbacks: str, clock: Clock, failures: int = 2) -> OpenAIChatModel:
    settings = LLMSettings(
        base_url=server.base_url,
        model=model,
        fallback_models=fallbacks,
        max_retries=0,
        backoff_s=0.01,
        timeout_s=5.0,
    )
    return OpenAIChatModel(settings, breakers=Breakers(failures, 30.0, clock))


def _ask(chat: OpenAIChatModel, text: str = "Say hi") -> str:
    return chat.complete([ChatMessage("user", text)]).text


def test_breaker_opens_after_n_failures_and_skips_the_model(server) -> None:
    clock = Clock()
    chat = _chat(server, "always-500", clock=clock)
    for _ in range(2):
        with pytest.raises(GenerationError, match="HTTP 500"):
            _ask(chat)
    assert chat.breakers.get("always-500").state == "open"
    with pytest.raises(GenerationError, match="circuit open after 2 consecutive failures"):
        _ask(chat)
    assert len(server.calls()) == 2  # the third call never reached the server


def test_an_open_breaker_hands_over_to_the_fallback_model_at_once(server) -> None:
    clock = Clock()
    chat = _chat(server, "always-500", "good", clock=clock, failures=1)
    _ask(chat)  # always-500 fails once (breaker opens), good answers
    result = chat.complete([ChatMessage("user", "again")])
    assert result.model == "good"
    assert any("circuit open" in f for f in result.failures)
    assert [c[0] for c in server.calls()] == ["always-500", "good", "good"]


def test_half_open_probe_fails_and_reopens(server) -> None:
    clock = Clock()
    chat = _chat(server, "always-500", clock=clock)
    for _ in range(2):
        with pytest.raises(GenerationError):
            _ask(chat)
    clock.now += 31  # past the cool-down
    breaker = chat.breakers.get("always-500")
    assert breaker.state == "half_open"
    with pytest.raises(GenerationError, match="HTTP 500"):
        _ask(chat)  # the probe went out
    assert len(server.calls()) == 3
    assert breaker.state == "open"  # one failed probe is enough to open it again
    with pytest.raises(GenerationError, match="circuit open"):
        _ask(chat)
    assert len(server.calls()) == 3


def test_half_open_probe_succeeds_and_closes(server) -> None:
    clock = Clock()
    # flaky-429 fails the first request for given messages, then answers them.
    chat = _chat(server, "flaky-429", clock=clock, failures=1)
    with pytest.raises(GenerationError, match="HTTP 429"):
        _ask(chat, "recover")
    assert chat.breakers.get("flaky-429").state == "open"
    with pytest.raises(GenerationError, match="circuit open"):
        _ask(chat, "recover")
    clock.now += 31
    assert _ask(chat, "recover")
    assert chat.breakers.get("flaky-429").state == "closed"
    assert [c[2] for c in server.calls()] == [429, 200]


def test_only_one_probe_goes_out_while_half_open() -> None:
    clock = Clock()
    b = CircuitBreaker(1, 10.0, clock)
    b.failure()
    assert not b.allow()
    clock.now += 10
    assert b.allow()
    assert not b.allow()  # a second caller waits for the probe's verdict
    b.release()  # the probe ended without one (e.g. cut by the deadline)
    assert b.allow()
    b.success()
    assert b.state == "closed"
    assert b.allow()


def test_breaker_off_with_zero_failures() -> None:
    b = CircuitBreaker(0, 10.0)
    for _ in range(5):
        b.failure()
    assert b.allow()
    assert b.state == "closed"


def test_deadline_is_shared_and_nested_searches_reuse_it() -> None:
    assert current() is None
    with request_deadline(5.0) as outer:
        assert current() is outer
        with request_deadline(99.0) as inner:
            assert inner is outer  # a search inside an ask keeps the ask's deadline
    assert current() is None
    with request_deadline(None) as none:
        assert none is None


def test_bind_sets_the_deadline_for_each_step_only() -> None:
    dl = Deadline.start(5.0)
    seen = []

    def steps():
        for _ in range(2):
            seen.append(current())
            yield len(seen)

    assert list(dl.bind(steps())) == [1, 2]
    assert seen == [dl, dl]
    assert current() is None


def test_bind_closes_the_inner_stream_when_the_consumer_stops() -> None:
    closed = []

    def steps():
        try:
            yield 1
            yield 2
        finally:
            closed.append(current())

    dl = Deadline.start(5.0)
    bound = dl.bind(steps())
    assert next(bound) == 1
    bound.close()
    assert closed == [dl]  # closed, with the deadline current while it cleans up


def test_a_spent_deadline_skips_the_call(server) -> None:
    chat = _chat(server, "good", clock=Clock())
    with (
        Deadline(time.monotonic() - 1, 2.0).active(),
        pytest.raises(GenerationError, match="deadline of 2 s"),
    ):
        _ask(chat)
    assert server.calls() == []


def test_a_hanging_llm_yields_the_degraded_answer_within_the_deadline(tmp_path: Path, server) -> None:
    """Three LLM stages (multi-query, HyDE, generation) and two models, each with a 30 s timeout and
    two retries: about 9 minutes without the deadline. With llm.deadline_s = 2 the extractive answer
    arrives a little after 2 s (bounded here at 2 + 5 s; the old behaviour took minutes)."""
    write_fact_corpus(tmp_path / "docs")
    eng = fast_engine(
        tmp_path / "data",
        llm={
            "base_url": server.base_url,
            "model": "hang",
            "fallback_models": ["hang"],
            "timeout_s": 30.0,
            "max_retries": 2,
            "deadline_s": 2.0,
        },
        answer={"generator": "llm"},
        retrieval={"query": {"multi_query": 2, "hyde": True}, "rerank": []},
    )
    eng.ingest([tmp_path / "docs"])
    t0 = time.monotonic()
    answer = eng.ask("Who built the Harbor Lighthouse?")
    elapsed = time.monotonic() - t0
    assert answer.mode == "degraded"
    assert answer.text  # the extractive answer
    assert any("llm.deadline_s" in e for e in answer.errors)
    assert elapsed < 2.0 + 5.0, elapsed
    # The first stage spent the deadline; the later ones did not call the hanging model at all.
    assert 1 <= len(server.calls()) <= 2
