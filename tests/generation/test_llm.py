"""OpenAIChatModel and LLMGenerator against a real local HTTP server (a subprocess) speaking the
OpenAI chat-completions protocol: streaming, retries, timeouts, fallback models, citations, cost."""

from __future__ import annotations

import socket
from datetime import date

import openai
import pytest

from ragline.errors import ConfigError, GenerationError
from ragline.generation.base import ChatModel, Completion, Generator, collect
from ragline.generation.llm import LLMGenerator
from ragline.generation.openai_chat import OpenAIChatModel
from ragline.generation.prompt import NOT_ENOUGH_INFORMATION, build_messages
from ragline.settings import LLMSettings, ModelPrice
from ragline.testing.doubles import WordCounter
from ragline.types import ChunkSpan, Context, Final, Passage, Restart, Token

from .fake_chat_server import ABSTAIN_TEXT, SCENARIOS, good_answer, words

pytestmark = pytest.mark.integration

TODAY = date(2024, 6, 1)
QUESTION = "How do I install ragline?"


def _settings(server, model: str, *fallbacks: str, **kwargs) -> LLMSettings:
    options = {"max_retries": 1, "backoff_s": 0.01, "timeout_s": 5.0} | kwargs
    return LLMSettings(base_url=server.base_url, model=model, fallback_models=fallbacks, **options)


def _context() -> Context:
    texts = [
        "Ragline installs with pip install ragline. It needs Python 3.11.",
        "The service is configured in ragline.toml next to the data directory.",
    ]
    passages = [
        Passage(
            doc_id=f"doc{i}",
            text=text,
            start=10 * i,
            end=10 * i + len(text),
            chunks=(
                ChunkSpan(f"doc{i}-neighbour", 0, 10 * i, retrieved=False, page=1),
                ChunkSpan(f"doc{i}-hit", 10 * i, 10 * i + len(text), page=2),
            ),
            score=1.0 / i,
            rank=i,
            tokens=len(text.split()),
            source=f"docs/guide{i}.md",
            title="Guide",
            section_path=("Guide", "Install" if i == 1 else "Configure"),
            metadata={"date": "2020-03-01"} if i == 2 else {},
        )
        for i, text in enumerate(texts, start=1)
    ]
    return Context(passages=passages, tokens=sum(p.tokens for p in passages), budget=512)


def _generator(settings: LLMSettings, counter=None) -> LLMGenerator:
    return LLMGenerator(
        OpenAIChatModel(settings, counter), settings, stale_after_days=365, today=lambda: TODAY
    )


def _messages():
    return build_messages(QUESTION, _context(), today=TODAY, stale_after_days=365)


def _expected_text() -> str:
    """What the ``good`` scenario answers for the test context (before citation checking)."""
    return good_answer([{"role": m.role, "content": m.content} for m in _messages()])


# --- the happy paths ---------------------------------------------------------------------------


def test_non_streaming_completion(server):
    chat = OpenAIChatModel(_settings(server, "good"))
    assert isinstance(chat, ChatModel)
    completion = chat.complete(_messages())
    assert completion.text == _expected_text()
    assert completion.text.startswith(
        "According to the documents, Ragline installs with pip install ragline [1]."
    )
    assert completion.model == "good"
    assert completion.failures == ()
    prompt_words = sum(words(m.content) for m in _messages())
    assert (completion.prompt_tokens, completion.completion_tokens) == (prompt_words, words(completion.text))
    (request,) = server.log()
    assert (request["model"], request["stream"], request["status"]) == ("good", False, 200)
    assert request["authorization"] == "Bearer not-needed"
    assert [m["role"] for m in request["messages"]] == ["system", "user"]


def test_streaming_completion(server):
    events = list(OpenAIChatModel(_settings(server, "good")).stream(_messages()))
    *tokens, completion = events
    assert all(isinstance(t, Token) for t in tokens)
    assert len(tokens) > 5  # it really streamed, word by word
    assert isinstance(completion, Completion)
    assert "".join(t.text for t in tokens) == completion.text == _expected_text()
    assert completion.model == "good"
    assert completion.completion_tokens == words(completion.text)
    assert server.calls() == [("good", True, 200)]


def test_streamed_answer_with_checked_citations(server):
    generator = _generator(_settings(server, "good"))
    assert isinstance(generator, Generator)
    events = list(generator.stream(QUESTION, _context()))
    assert isinstance(events[-1], Final)
    assert all(isinstance(e, Token) for e in events[:-1])
    streamed = "".join(e.text for e in events[:-1])
    assert streamed == _expected_text()
    assert "[9]" in streamed

    answer = events[-1].answer
    assert answer.text == streamed.replace(" [9]", "")
    assert answer.invalid_citations == 1
    assert [c.n for c in answer.citations] == [1]
    cite = answer.citations[0]
    assert (cite.chunk_id, cite.doc_id, cite.source, cite.page) == ("doc1-hit", "doc1", "docs/guide1.md", 2)
    assert cite.quote == _context().passages[0].text
    assert (answer.mode, answer.abstained, answer.confidence) == ("llm", False, 1.0)
    assert answer.question == QUESTION
    assert answer.errors == ()
    assert answer.usage.model == "good"
    assert answer.usage.cost_usd is None  # "good" is not in the default price table
    assert server.calls() == [("good", True, 200)]
    # The stale source reached the model flagged, with its date.
    user = server.log()[0]["messages"][1]["content"]
    assert "[2] Guide > Configure (source: docs/guide2.md, date: 2020-03-01, OUTDATED)" in user


def test_usage_and_cost_from_the_price_table(server):
    prices = {"good": ModelPrice(input_per_mtok=1000.0, output_per_mtok=3000.0)}
    answer = collect(_generator(_settings(server, "good", prices=prices)).stream(QUESTION, _context()))
    prompt_words = sum(words(m.content) for m in _messages())
    completion_words = words(_expected_text())
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (prompt_words, completion_words)
    assert answer.usage.cost_usd == pytest.approx((prompt_words * 1000 + completion_words * 3000) / 1e6)


def test_missing_usage_is_counted_with_the_token_counter(server):
    messages = _messages()
    counted = OpenAIChatModel(_settings(server, "no-usage"), WordCounter())
    for completion in (counted.complete(messages), list(counted.stream(messages))[-1]):
        assert isinstance(completion, Completion)
        assert completion.prompt_tokens == sum(words(m.content) for m in messages)
        assert completion.completion_tokens == words(completion.text) > 0
    uncounted = OpenAIChatModel(_settings(server, "no-usage")).complete(messages)
    assert (uncounted.prompt_tokens, uncounted.completion_tokens) == (0, 0)


def test_model_that_abstains(server):
    answer = collect(_generator(_settings(server, "abstain")).stream(QUESTION, _context()))
    assert answer.text == ABSTAIN_TEXT
    assert (answer.abstained, answer.confidence, answer.citations) == (True, 0.0, [])


def test_empty_answer_is_valid_text(server):
    chat = OpenAIChatModel(_settings(server, "empty"))
    assert chat.complete(_messages()).text == ""
    answer = collect(_generator(_settings(server, "empty")).stream(QUESTION, _context()))
    assert (answer.text, answer.abstained, answer.confidence, answer.errors) == ("", False, 0.0, ())
    assert [status for *_, status in server.calls()] == [200, 200]


def test_empty_context_abstains_without_calling_the_server(server):
    generator = _generator(_settings(server, "good"))
    empty = Context(passages=[], tokens=0, budget=512)
    events = list(generator.stream(QUESTION, empty))
    assert len(events) == 1
    assert isinstance(events[0], Final)
    answer = events[0].answer
    assert answer.text == NOT_ENOUGH_INFORMATION
    assert (answer.abstained, answer.mode, answer.confidence, answer.citations) == (True, "llm", 0.0, [])
    assert generator.prompt_for(QUESTION, empty) == ""
    assert server.log() == []


def test_prompt_for_shows_the_prompt_sent(server):
    generator = _generator(_settings(server, "good"))
    prompt = generator.prompt_for(QUESTION, _context())
    assert prompt.startswith("=== system ===\n")
    assert "Today is 2024-06-01" in prompt
    assert "Ragline installs with pip install ragline." in prompt
    assert prompt.endswith(f"Question: {QUESTION}")
    collect(generator.stream(QUESTION, _context()))
    sent = server.log()[0]["messages"]
    assert prompt == "\n\n".join(f"=== {m['role']} ===\n{m['content']}" for m in sent)


def test_api_key_is_sent(server):
    settings = _settings(server, "unauthorized", api_key="secret")
    assert OpenAIChatModel(settings).complete(_messages()).text == _expected_text()
    assert server.log()[0]["authorization"] == "Bearer secret"


def test_models_endpoint_speaks_the_protocol(server):
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    assert sorted(m.id for m in client.models.list()) == sorted(SCENARIOS)


# --- retries, timeouts, fallbacks --------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_rate_limit_is_retried(server, stream, caplog):
    # backoff_s is huge: the retry must wait what "Retry-After: 0" says instead.
    chat = OpenAIChatModel(_settings(server, "flaky-429", backoff_s=30.0))
    with caplog.at_level("WARNING", logger="ragline.generation.openai_chat"):
        completion = list(chat.stream(_messages()))[-1] if stream else chat.complete(_messages())
    assert any("HTTP 429" in m and "retrying in 0.00 s" in m for m in caplog.messages)
    assert isinstance(completion, Completion)
    assert completion.text == _expected_text()
    assert completion.model == "flaky-429"
    assert server.calls() == [("flaky-429", stream, 429), ("flaky-429", stream, 200)]
    (failure,) = completion.failures
    assert failure.startswith("flaky-429: HTTP 429")


def test_timeout_then_fallback_model(server):
    settings = _settings(server, "slow", "good", timeout_s=0.5)
    answer = collect(_generator(settings).stream(QUESTION, _context()))
    assert answer.usage.model == "good"
    assert answer.text == _expected_text().replace(" [9]", "")
    assert answer.errors == ("slow: timed out after 0.5 s (llm.timeout_s)",) * 2
    assert server.calls() == [("slow", True, 200), ("slow", True, 200), ("good", True, 200)]


def test_timeout_alone_raises(server):
    chat = OpenAIChatModel(_settings(server, "slow", timeout_s=0.5, max_retries=0))
    with pytest.raises(GenerationError, match=r"'slow' failed 1 time\(s\), last: timed out after 0.5 s"):
        chat.complete(_messages())


def test_server_error_then_fallback_model(server):
    settings = _settings(server, "always-500", "good")
    answer = collect(_generator(settings).stream(QUESTION, _context()))
    assert answer.usage.model == "good"
    assert len(answer.errors) == 2
    assert all(e.startswith("always-500: HTTP 500") for e in answer.errors)
    assert [c.n for c in answer.citations] == [1]
    assert server.calls() == [("always-500", True, 500), ("always-500", True, 500), ("good", True, 200)]


def test_every_model_failing_names_each_model(server):
    chat = OpenAIChatModel(_settings(server, "always-500", "unauthorized", "no-such-model", max_retries=2))
    with pytest.raises(GenerationError) as info:
        list(chat.stream(_messages()))
    msg = str(info.value)
    assert "'always-500' failed 3 time(s), last: HTTP 500" in msg
    assert "'unauthorized' failed 1 time(s), last: HTTP 401: Incorrect API key provided" in msg
    assert "'no-such-model' failed 1 time(s), last: HTTP 404: The model `no-such-model` does not exist" in msg
    assert server.base_url in msg
    for setting in ("llm.base_url", "llm.model", "llm.api_key"):
        assert setting in msg
    # 5xx retried with backoff; 401 and 404 are not worth retrying.
    assert [(model, status) for model, _, status in server.calls()] == [
        ("always-500", 500),
        ("always-500", 500),
        ("always-500", 500),
        ("unauthorized", 401),
        ("no-such-model", 404),
    ]


def test_generation_error_propagates_from_the_generator(server):
    generator = _generator(_settings(server, "always-500", max_retries=0))
    with pytest.raises(GenerationError, match="always-500"):
        collect(generator.stream(QUESTION, _context()))


def test_unreachable_server():
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = LLMSettings(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1, backoff_s=0.01)
    with pytest.raises(GenerationError, match=r"'m' failed 2 time\(s\), last: connection failed"):
        OpenAIChatModel(settings).complete(_messages())


def test_death_mid_stream_restarts_on_the_fallback(server):
    settings = _settings(server, "die-mid-stream", "good", max_retries=0)
    events = list(_generator(settings).stream(QUESTION, _context()))
    kinds = [type(e).__name__ for e in events]
    restart = kinds.index("Restart")
    assert kinds[:restart] == ["Token"] * 3
    assert kinds[restart + 1 : -1] == ["Token"] * (len(events) - restart - 2)
    assert kinds[-1] == "Final"
    reason = events[restart]
    assert isinstance(reason, Restart)
    assert reason.reason.startswith("die-mid-stream: connection failed")
    assert "after 3 streamed tokens" in reason.reason
    after = "".join(e.text for e in events[restart + 1 : -1] if isinstance(e, Token))
    assert after == _expected_text()  # the fallback's answer, from its first token
    answer = events[-1].answer
    assert answer.usage.model == "good"
    assert answer.errors == (reason.reason,)
    assert server.calls() == [("die-mid-stream", True, 200), ("good", True, 200)]


def test_death_mid_stream_is_retried_on_the_same_model_first(server):
    settings = _settings(server, "die-mid-stream", "good", max_retries=1)
    events = list(OpenAIChatModel(settings).stream(_messages()))
    assert sum(isinstance(e, Restart) for e in events) == 2
    assert [m for m, *_ in server.calls()] == ["die-mid-stream", "die-mid-stream", "good"]


def test_no_restart_when_no_attempt_follows(server):
    chat = OpenAIChatModel(_settings(server, "die-mid-stream", max_retries=0))
    events = []
    with pytest.raises(GenerationError, match="die-mid-stream"):
        events.extend(chat.stream(_messages()))
    assert events and all(isinstance(e, Token) for e in events)


def test_truncated_non_streamed_body_falls_back(server):
    completion = OpenAIChatModel(_settings(server, "die-mid-stream", "good", max_retries=0)).complete(
        _messages()
    )
    assert completion.model == "good"
    (failure,) = completion.failures
    assert failure.startswith("die-mid-stream: connection failed")


# --- configuration -----------------------------------------------------------------------------


def test_missing_base_url_is_a_config_error():
    with pytest.raises(ConfigError, match=r"llm\.base_url is not set"):
        OpenAIChatModel(LLMSettings())


def test_base_url_needs_a_scheme():
    with pytest.raises(ConfigError, match=r"llm\.base_url='localhost:8000/v1' must start with http"):
        OpenAIChatModel(LLMSettings(base_url="localhost:8000/v1", model="m"))


def test_constructor_makes_no_request(server):
    OpenAIChatModel(_settings(server, "good"))
    assert server.log() == []
