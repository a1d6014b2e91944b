"""LLMReranker against a real local HTTP server (a subprocess) speaking the OpenAI chat protocol,
plus the permutation parser and prompt as pure functions."""

from __future__ import annotations

import logging

import pytest

from ragline.errors import ConfigError
from ragline.generation.openai_chat import OpenAIChatModel
from ragline.rerank.base import Reranker
from ragline.rerank.llm import LLMReranker, build_rank_messages, parse_permutation
from ragline.settings import LLMSettings
from tests.helpers import FakeServer, running_server

from . import make_hits, texts

PASSAGES = ("alpha passage", "bravo passage", "charlie passage", "delta passage")


@pytest.fixture(scope="module")
def rank_server_url(tmp_path_factory):
    stderr = tmp_path_factory.mktemp("fake_rank") / "stderr.txt"
    with running_server("tests.rerank.fake_rank_server", stderr) as url:
        yield url


@pytest.fixture
def server(rank_server_url) -> FakeServer:
    return FakeServer(rank_server_url)


def _chat(server: FakeServer, model: str, *fallbacks: str) -> OpenAIChatModel:
    settings = LLMSettings(
        base_url=server.base_url,
        model=model,
        fallback_models=fallbacks,
        max_retries=1,
        backoff_s=0.01,
        timeout_s=5.0,
    )
    return OpenAIChatModel(settings)


class Reversing:
    """A fallback that is easy to recognise: the hits reversed, scored -rank."""

    def run(self, query, hits, top_k):
        return [
            type(h)(chunk=h.chunk, score=-float(i), retrievers=h.retrievers)
            for i, h in enumerate(reversed(hits), start=1)
        ][:top_k]


@pytest.mark.integration
def test_permutation_from_the_model_is_applied(server):
    hits = make_hits(*PASSAGES)
    reranker = LLMReranker(_chat(server, "reverse"))
    ranked = reranker.run("which passage", hits, top_k=4)
    assert texts(ranked) == list(reversed(PASSAGES))
    assert [h.score for h in ranked] == [1.0, 1 / 2, 1 / 3, 1 / 4]
    original = {h.chunk.id: h.retrievers for h in hits}
    assert all(h.retrievers == original[h.chunk.id] for h in ranked)
    (request,) = server.log()
    prompt = request["messages"][-1]["content"]
    assert "Query: which passage" in prompt
    assert "[1] alpha passage" in prompt and "[4] delta passage" in prompt


@pytest.mark.integration
def test_scripted_partial_reply_with_junk_is_completed(server):
    hits = make_hits(*PASSAGES)
    # 9 is out of range, 3 repeats; 1 and 4 are never named and follow in their original order.
    reranker = LLMReranker(_chat(server, "echo:Ranking: [3] > [2] > [3] > [9]"))
    assert texts(reranker.run("q", hits, top_k=4)) == [PASSAGES[2], PASSAGES[1], PASSAGES[0], PASSAGES[3]]


@pytest.mark.integration
def test_only_max_passages_go_to_the_model_and_top_k_is_honoured(server):
    hits = make_hits(*PASSAGES)
    reranker = LLMReranker(_chat(server, "reverse"), max_passages=2)
    ranked = reranker.run("q", hits, top_k=3)
    assert texts(ranked) == [PASSAGES[1], PASSAGES[0], PASSAGES[2]]
    prompt = server.log()[0]["messages"][-1]["content"]
    assert "[2] bravo passage" in prompt and "charlie" not in prompt


@pytest.mark.integration
def test_garbage_reply_falls_back_with_a_warning(server, caplog):
    hits = make_hits(*PASSAGES)
    chat = _chat(server, "echo:I am sorry, I cannot rank these passages.")
    with caplog.at_level(logging.WARNING, logger="ragline.rerank.llm"):
        ranked = LLMReranker(chat, fallback=Reversing()).run("q", hits, top_k=3)
    assert texts(ranked) == [PASSAGES[3], PASSAGES[2], PASSAGES[1]]
    assert [h.score for h in ranked] == [-1.0, -2.0, -3.0]  # the fallback's own scores
    assert "names no passage" in caplog.text and "fallback reranker" in caplog.text


@pytest.mark.integration
def test_garbage_reply_without_fallback_keeps_the_original_order(server, caplog):
    hits = make_hits(*PASSAGES)
    with caplog.at_level(logging.WARNING, logger="ragline.rerank.llm"):
        ranked = LLMReranker(_chat(server, "echo:no idea")).run("q", hits, top_k=2)
    assert ranked == hits[:2]  # order and first-stage scores untouched
    assert "original order" in caplog.text


@pytest.mark.integration
def test_every_model_failing_uses_the_fallback_and_warns(server, caplog):
    hits = make_hits(*PASSAGES)
    reranker = LLMReranker(_chat(server, "500-main", "500-backup"), fallback=Reversing())
    with caplog.at_level(logging.WARNING):
        ranked = reranker.run("q", hits, top_k=4)
    assert texts(ranked) == list(reversed(PASSAGES))
    # Two attempts per model (max_retries=1), both models tried before giving up.
    assert [r["model"] for r in server.log()] == ["500-main", "500-main", "500-backup", "500-backup"]
    warnings = [r for r in caplog.records if r.name == "ragline.rerank.llm"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "LLM reranking failed" in warnings[0].getMessage() and "HTTP 500" in warnings[0].getMessage()


def test_empty_input_and_bad_top_k_never_call_the_model():
    class Exploding:
        def complete(self, messages):
            raise AssertionError("the model must not be called")

        def stream(self, messages):
            raise AssertionError("the model must not be called")

    reranker = LLMReranker(Exploding())
    assert isinstance(reranker, Reranker)
    assert reranker.run("q", [], top_k=5) == []
    with pytest.raises(ConfigError, match="top_k"):
        reranker.run("q", make_hits("a"), top_k=0)
    with pytest.raises(ConfigError, match="max_passages"):
        LLMReranker(Exploding(), max_passages=0)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("3 > 1 > 2", [2, 0, 1]),
        ("[2] > [3] > [1]", [1, 2, 0]),
        ("2 > 1", [1, 0, 2]),  # missing 3 appended
        ("2 > 2 > 7 > 0 > 1", [1, 0, 2]),  # repeat, out of range and 0 ignored
        ("Here are the 3 passages ranked: 2 > 3 > 1", [1, 2, 0]),  # the chain wins over the preamble
        ("Passage 3 is the most relevant, then passage 1.", [2, 0, 1]),  # no chain: numbers in order
        ("3", [2, 0, 1]),
        ("", None),
        ("none of them", None),
        ("10 > 11", None),
    ],
)
def test_parse_permutation(reply, expected):
    assert parse_permutation(reply, 3) == expected


def test_prompt_numbers_passages_and_repeats_the_query():
    system, user = build_rank_messages("how to bake", ["Mix the flour.\n\nBake it.", "Cool it."])
    assert system.role == "system" and user.role == "user"
    assert "[1] Mix the flour. Bake it.\n\n[2] Cool it." in user.content  # whitespace collapsed
    assert user.content.count("Query: how to bake") == 2
    assert "e.g. 2 > 1" in user.content
