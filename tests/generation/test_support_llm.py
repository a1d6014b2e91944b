"""The LLM support judge against a fake OpenAI-compatible server (a subprocess speaking the
protocol), its fallback to the offline score, and answers flagged or cut end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.generation.openai_chat import OpenAIChatModel
from ragline.generation.support import split_claims
from ragline.generation.support_llm import LLMSupportJudge, parse_verdicts
from ragline.generation.support_score import OfflineSupportJudge
from ragline.settings import LLMSettings
from ragline.testing.doubles import HashEmbedder, WordCounter
from ragline.types import Final, Restart, Token
from tests.helpers import fast_engine, write_fact_corpus

pytestmark = pytest.mark.integration

SOURCES = {
    1: "The Harbor Lighthouse was built by Ada Moreau in 1887. It stands 41 metres tall.",
    2: "The keeper's cottage was added in 1902. Visitors may climb the tower on Sundays.",
}
TEXT = (
    "The Harbor Lighthouse was built by Ada Moreau in 1887 [1]. "
    "It was moved to Paris in 1990 [1, 2]. Visitors may climb the tower on Sundays [2]."
)


def _judge(server, model: str) -> LLMSupportJudge:
    settings = LLMSettings(base_url=server.base_url, model=model, max_retries=0, timeout_s=5)
    return LLMSupportJudge(OpenAIChatModel(settings, WordCounter()), OfflineSupportJudge(HashEmbedder()))


def test_valid_reply_gives_llm_verdicts(judge_server) -> None:
    judge = _judge(judge_server, "judge")
    got = judge.judge(split_claims(TEXT, 2), SOURCES)
    assert [(s.supported, s.judge, s.score) for s in got] == [
        (True, "llm", 1.0),
        (False, "llm", 0.0),
        (True, "llm", 1.0),
    ]
    assert got[0].precise == (1,) and got[1].precise == () and judge.errors == ()
    (request,) = judge_server.log()
    user = request["messages"][1]["content"]
    # Only the cited sources, numbered as in the answer, and each statement with its citations.
    assert '<source n="1">' in user and '<source n="2">' in user
    assert "2. It was moved to Paris in 1990. (cites 1, 2)" in user


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("judge-prose", "not the JSON asked for"),
        ("judge-missing", "judges no statement [2, 3]"),
        ("judge-foreign", "names sources [7]"),
        ("fail", "server"),
    ],
)
def test_malformed_reply_falls_back_to_the_offline_score(judge_server, model: str, reason: str) -> None:
    judge = _judge(judge_server, model)
    got = judge.judge(split_claims(TEXT, 2), SOURCES)
    assert [s.judge for s in got] == ["offline"] * 3
    assert [s.supported for s in got] == [True, False, True]
    assert len(judge.errors) == 1 and "used the offline score" in judge.errors[0]
    assert reason.lower() in judge.errors[0].lower()


def test_support_scores_one_call_per_evidence(judge_server) -> None:
    judge = _judge(judge_server, "judge")
    evidence = [[SOURCES[1]], [SOURCES[1]], [SOURCES[2]]]
    scores = judge.support_scores(
        ["Ada Moreau built it.", "It is in Paris.", "The cottage came later."], evidence
    )
    assert scores == [1.0, 0.0, 1.0]
    assert len(judge_server.log()) == 2


def test_parse_verdicts_refuses_repeats_and_unknown_ids() -> None:
    statements = [("a [1]", (1,)), ("b [1]", (1,))]
    with pytest.raises(ValueError, match="unknown or repeated"):
        parse_verdicts(
            '{"statements": [{"id": 1, "supported": true}, {"id": 1, "supported": true}]}', statements
        )
    with pytest.raises(ValueError, match="not the JSON"):
        parse_verdicts('{"statements": [{"id": 1, "supported": "yes"}]}', statements)


# -- end to end: engine.ask with the fake chat server's answer ---------------------------------------


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("support")
    write_fact_corpus(root / "docs")
    fast_engine(root / "data").ingest([root / "docs"])
    return root / "docs", root / "data"


def _engine(data: Path, server, **answer):
    llm = {"base_url": server.base_url, "model": "good", "max_retries": 0, "timeout_s": 5}
    return fast_engine(data, llm=llm, answer=answer)


# The "good" scenario answers "According to the documents, <source [1]'s first sentence> [1]. This
# is also covered in [9]." -- [9] is invalid and dropped, leaving a claim that cites nothing.


def test_ask_flags_the_uncited_sentence(docs, server) -> None:
    a = _engine(docs[1], server).ask("Who built the Harbor Lighthouse?")
    assert a.mode == "llm"
    assert [(s.supported, s.citations) for s in a.support] == [(True, (1,)), (False, ())]
    bad = a.support[1]
    assert a.text[bad.start : bad.end] == "This is also covered in."
    assert "support" in a.timings_ms


def test_ask_removes_it_and_streams_the_kept_text(docs, server) -> None:
    events = list(
        _engine(docs[1], server, unsupported="remove").ask("Who built the Harbor Lighthouse?", stream=True)
    )
    final = events[-1]
    assert isinstance(final, Final)
    a = final.answer
    assert "also covered" not in a.text and a.text.endswith("[1].")
    assert [s.removed for s in a.support] == [False, True]
    # The streamed tokens are retracted and the kept text follows.
    assert isinstance(events[-3], Restart) and events[-2] == Token(a.text)


def test_ask_with_the_llm_judge_and_off(docs, server, judge_server) -> None:
    # The judge model lives on its own server here: the answer comes from the extractive answerer.
    llm = {"base_url": judge_server.base_url, "model": "judge", "max_retries": 0, "timeout_s": 5}
    eng = fast_engine(docs[1], llm=llm, answer={"generator": "extractive", "support_judge": "llm"})
    a = eng.ask("Who built the Harbor Lighthouse?")
    assert a.support and all(s.judge == "llm" and s.supported for s in a.support)
    assert [r["task"] for r in judge_server.log()] == ["support"]
    off = _engine(docs[1], server, unsupported="off").ask("Who built the Harbor Lighthouse?")
    assert off.support == () and "support" not in off.timings_ms
