"""LLM query transforms against a real local HTTP server (a subprocess) speaking the OpenAI
chat-completions protocol: good replies, unusable replies, every model failing, and no model."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from ragline.generation.openai_chat import OpenAIChatModel
from ragline.query.llm import decompose, hyde, llm_filters, multi_query, parse_list, validate_filter
from ragline.query.router import classify_llm, split_question
from ragline.settings import LLMSettings
from ragline.store.filters import And, Compare, Exists, InList, Not, Or, parse_filter
from tests.helpers import FakeServer, running_server

pytestmark = pytest.mark.integration

QUESTION = "How do I rotate API keys?"
SCHEMA = {"year": "number", "doc_type": "string", "draft": "bool"}
VALUES = {"doc_type": ["report", "memo", "paper"]}
TODAY = date(2024, 6, 15)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    stderr = tmp_path_factory.mktemp("fake_query") / "stderr.txt"
    with running_server("tests.query.fake_query_server", stderr) as url:
        yield url


@pytest.fixture
def server(server_url) -> FakeServer:
    return FakeServer(server_url)


@pytest.fixture
def chat(server) -> OpenAIChatModel:
    settings = LLMSettings(base_url=server.base_url, model="good", max_retries=0, timeout_s=5.0)
    return OpenAIChatModel(settings)


@pytest.fixture
def failing_chat(server) -> OpenAIChatModel:
    """Every model answers HTTP 500 (two models, one retry each)."""
    settings = LLMSettings(
        base_url=server.base_url,
        model="fail-a",
        fallback_models=("fail-b",),
        max_retries=1,
        backoff_s=0.01,
        timeout_s=5.0,
    )
    return OpenAIChatModel(settings)


def _warned(caplog) -> list[str]:
    """Warnings from the query package (the chat client logs its own retries besides)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("ragline.query")
    ]


# --- multi_query ------------------------------------------------------------------------------


def test_multi_query_numbered_reply(chat, server, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        queries = multi_query(chat, QUESTION, n=3)
    assert queries == [
        QUESTION,
        "rotate API credentials",
        "API key rotation schedule",
        "how often to change keys",
    ]
    assert not _warned(caplog)
    [request] = server.log()
    assert request["task"] == "multi_query"
    assert request["messages"][-1] == {"role": "user", "content": QUESTION}


def test_multi_query_json_reply_is_deduplicated_and_capped(chat) -> None:
    q = f"{QUESTION} [[json]]"
    assert multi_query(chat, q, n=3) == [q, "rotate API credentials", "key rotation policy"]
    assert multi_query(chat, q, n=1) == [q, "rotate API credentials"]


def test_multi_query_object_reply(chat) -> None:
    q = f"{QUESTION} [[object]]"
    assert multi_query(chat, q) == [q, "rotate API credentials", "key expiry"]


@pytest.mark.parametrize("marker", ["garbage", "echo", "unknown-reply"])
def test_multi_query_unusable_reply_falls_back(chat, caplog, marker) -> None:
    q = f"How do I rotate API keys? [[{marker.replace('-', '_')}]]"
    with caplog.at_level(logging.WARNING):
        assert multi_query(chat, q) == [q]
    assert any("multi_query" in m for m in _warned(caplog))


def test_multi_query_every_model_failing_falls_back_with_warning(failing_chat, server, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert multi_query(failing_chat, QUESTION) == [QUESTION]
    assert any("multi_query: the LLM failed" in m for m in _warned(caplog))
    assert [(r["model"], r["status"]) for r in server.log()] == [
        ("fail-a", 500),
        ("fail-a", 500),
        ("fail-b", 500),
        ("fail-b", 500),
    ]


def test_multi_query_without_llm(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert multi_query(None, QUESTION) == [QUESTION]
    assert not _warned(caplog)


# --- hyde -------------------------------------------------------------------------------------


def test_hyde_returns_the_passage_without_its_label(chat) -> None:
    passage = hyde(chat, QUESTION)
    assert passage is not None
    assert passage.startswith("API keys should be rotated every ninety days.")


def test_hyde_fallbacks(chat, failing_chat, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert hyde(chat, f"{QUESTION} [[garbage]]") is None
        assert hyde(failing_chat, QUESTION) is None
    warned = _warned(caplog)
    assert any("hyde: unusable reply" in m for m in warned)
    assert any("hyde: the LLM failed" in m for m in warned)
    assert hyde(None, QUESTION) is None


# --- decompose --------------------------------------------------------------------------------


def test_decompose_good_and_numbered_replies(chat) -> None:
    assert decompose(chat, "Compare BM25 and SPLADE on recall") == [
        "What is the recall of BM25?",
        "What is the recall of SPLADE?",
    ]
    # The one-letter item is no question and is skipped; then max_parts caps the list.
    assert decompose(chat, "Which retrievers exist? [[numbered]]", max_parts=4) == [
        "What is BM25?",
        "What is SPLADE?",
        "What is ColBERT?",
        "What is DPR?",
    ]
    assert len(decompose(chat, "Which retrievers exist? [[numbered]]", max_parts=2)) == 2


def test_decompose_fallbacks_use_rules(chat, failing_chat, caplog) -> None:
    q = "Compare PostgreSQL and MySQL for analytics"
    expected = ["PostgreSQL for analytics", "MySQL for analytics"]
    with caplog.at_level(logging.WARNING):
        assert decompose(chat, f"{q} [[garbage]]") == split_question(f"{q} [[garbage]]")
        assert decompose(failing_chat, q) == expected
    assert len(_warned(caplog)) == 2
    assert decompose(None, q) == expected
    assert decompose(None, QUESTION) == [QUESTION]


# --- llm_filters ------------------------------------------------------------------------------


def _filters(chat, question: str):
    return llm_filters(chat, question, SCHEMA, VALUES, today=TODAY, year_field="year")


def test_llm_filters_good_reply_is_validated_and_normalised(chat, server) -> None:
    f = _filters(chat, "reports since 2020")
    # "Report" is spelled as the collection knows it.
    assert f == And((Compare("year", "$gte", 2020), InList("doc_type", ("report",), False)))
    system = server.log()[0]["messages"][0]["content"]
    assert "- doc_type: string (one of: report, memo, paper)" in system
    assert "- year: number" in system
    assert "Today is 2024-06-15." in system


def test_llm_filters_json_inside_prose(chat) -> None:
    assert _filters(chat, "what do the memos say [[prose]]") == Compare("doc_type", "$eq", "memo")


def test_llm_filters_empty_object_means_no_filter(chat, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        # The rules would find "in 2021"; the model said there is no filter, and it is trusted.
        assert _filters(chat, "budget in 2021 [[none]]") is None
    assert not _warned(caplog)


def test_llm_filters_drops_unknown_fields_with_a_warning(chat, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert _filters(chat, "red things in 2021 [[unknown_field]]") == Compare("year", "$eq", 2021)
    assert any("unknown field 'colour'" in m for m in _warned(caplog))


def test_llm_filters_drops_unknown_values(chat, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert _filters(chat, "reports and articles [[unknown_value]]") == InList(
            "doc_type", ("report",), False
        )
    assert any("'article'" in m for m in _warned(caplog))


@pytest.mark.parametrize("marker", ["wrong_kind", "or_bad", "bad_operator", "garbage"])
def test_llm_filters_unusable_reply_falls_back_to_rules(chat, caplog, marker) -> None:
    with caplog.at_level(logging.WARNING):
        f = _filters(chat, f"memos from 2019 [[{marker}]]")
    assert f == And((Compare("year", "$eq", 2019), InList("doc_type", ("memo",), False)))
    assert any("llm_filters" in m for m in _warned(caplog))


def test_llm_filters_every_model_failing_and_no_model(failing_chat, caplog) -> None:
    expected = Compare("year", "$eq", 2023)
    with caplog.at_level(logging.WARNING):
        assert _filters(failing_chat, "what happened last year") == expected
    assert any("llm_filters: the LLM failed" in m for m in _warned(caplog))
    assert _filters(None, "what happened last year") == expected
    assert _filters(None, "what is RM3?") is None


# --- classify_llm -----------------------------------------------------------------------------


def test_classify_llm(chat, failing_chat, caplog) -> None:
    # The rules say "fact"; the model's answer wins.
    assert classify_llm(chat, "How do the two backup plans differ?") == "comparison"
    with caplog.at_level(logging.WARNING):
        assert classify_llm(chat, "Summarize the billing docs [[garbage]]") == "summary"
        assert classify_llm(failing_chat, "Summarize the billing docs") == "summary"
    assert len(_warned(caplog)) == 2
    assert classify_llm(None, "PostgreSQL vs MySQL?") == "comparison"


# --- pure helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "items"),
    [
        ('["a b", "c d"]', ["a b", "c d"]),
        ('```json\n["a b", "c d"]\n```', ["a b", "c d"]),
        ('Queries:\n["a b", " ", "c d"]', ["a b", "c d"]),
        ('{"queries": ["a b"]}', ["a b"]),
        ('[{"question": "a b"}, {"q": 3}]', ["a b"]),
        ("Here you go:\n1. a b\n2. c d", ["a b", "c d"]),
        ("(1) a b\n(2) c d", ["a b", "c d"]),
        ("* a b\n• c d", ["a b", "c d"]),
        ("Q1: a b\nQ2: c d", ["a b", "c d"]),
        ("a b\nc d", ["a b", "c d"]),
        ("Sure, here they are:\na b\nc d", ["a b", "c d"]),
        ("Sorry, I cannot do that.", []),
        ("just one line", []),
        ("", []),
        ("[not json", []),
    ],
)
def test_parse_list(reply: str, items: list[str]) -> None:
    assert parse_list(reply) == items


def test_validate_filter_prunes_and_but_drops_or_and_not_whole() -> None:
    problems: list[str] = []
    f = parse_filter({"year": 2021, "colour": "red", "draft": {"$exists": True}})
    assert validate_filter(f, SCHEMA, VALUES, problems) == And(
        (Compare("year", "$eq", 2021), Exists("draft", True))
    )
    assert problems == ["unknown field 'colour'"]
    # Dropping one side of an OR would narrow the search, so the OR goes.
    assert validate_filter(parse_filter({"$or": [{"year": 2020}, {"draft": 1}]}), SCHEMA, VALUES, []) is None
    assert validate_filter(parse_filter({"$not": {"colour": "red"}}), SCHEMA, VALUES, []) is None
    kept = parse_filter({"$or": [{"year": 2020}, {"$not": {"draft": True}}]})
    assert validate_filter(kept, SCHEMA, VALUES, []) == Or(
        (Compare("year", "$eq", 2020), Not(Compare("draft", "$eq", True)))
    )
    # bool is not a number, a number is not a bool.
    assert validate_filter(parse_filter({"year": True}), SCHEMA, VALUES, []) is None
    assert validate_filter(parse_filter({"draft": 1}), SCHEMA, VALUES, []) is None
    # Known values are matched case-insensitively; range operators on strings keep their value.
    assert validate_filter(parse_filter({"doc_type": "MEMO"}), SCHEMA, VALUES, []) == Compare(
        "doc_type", "$eq", "memo"
    )
    assert validate_filter(parse_filter({"doc_type": {"$gt": "m"}}), SCHEMA, VALUES, []) == Compare(
        "doc_type", "$gt", "m"
    )
    assert validate_filter(parse_filter({"doc_type": {"$nin": ["x", "y"]}}), SCHEMA, VALUES, []) is None
