"""engine.ask end to end over a real collection with the real embedding model (extractive answers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ragline
from ragline.errors import CollectionNotFound, ConfigError, FilterError
from ragline.generation.extractive import ABSTAIN_TEXT
from ragline.types import Final, Token
from tests.helpers import write_fact_corpus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> ragline.engine.Engine:
    root = tmp_path_factory.mktemp("ask")
    write_fact_corpus(root / "docs")
    eng = ragline.open(root / "data")
    eng.ingest([root / "docs"])
    return eng


def test_answer_quotes_the_source_and_cites_exact_spans(engine) -> None:
    a = engine.ask("Who built the Harbor Lighthouse?")
    assert a.mode == "extractive" and not a.abstained
    assert "Maria Okafor" in a.text
    assert re.fullmatch(r"[0-9a-f]{32}", a.trace_id)
    assert set(a.timings_ms) == {"retrieve", "assemble", "generate", "support", "total"}
    assert a.timings_ms["total"] >= a.timings_ms["retrieve"]
    # Quoted sentences are supported by the passages they cite (answer.unsupported = "flag").
    assert a.support and all(s.supported and s.judge == "offline" for s in a.support)
    chunks = {c.id: c for c in engine.store().all_chunks()}
    assert a.citations
    for c in a.citations:
        assert f"[{c.n}]" in a.text and c.quote in a.text
        chunk = chunks[c.chunk_id]
        assert chunk.doc_id == c.doc_id and c.source.endswith(".md")
        # The span is in document coordinates and lies inside (or straddles) the cited chunk.
        assert chunk.start <= c.start < chunk.end
        if c.end <= chunk.end:
            assert chunk.text[c.start - chunk.start : c.end - chunk.start] == c.quote
    assert a.citations[0].section_path[0] == "Harbor Lighthouse"


def test_unrelated_question_abstains(engine) -> None:
    a = engine.ask("What is the population of Ulaanbaatar in 2020?")
    assert a.abstained and a.text == ABSTAIN_TEXT and a.citations == []
    assert a.confidence < engine.settings.answer.abstain_threshold


def test_stream_yields_tokens_then_the_final_answer(engine) -> None:
    events = list(engine.ask("How long should sourdough dough rest?", stream=True))
    assert isinstance(events[-1], Final)
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert len(tokens) >= 1
    answer = events[-1].answer
    assert "".join(tokens) == answer.text
    assert "twelve hours" in answer.text


def test_debug_carries_hits_scores_context_and_prompt(engine) -> None:
    a = engine.ask("What does a red volcano alert mean?", debug=True)
    assert a.debug is not None
    scores = [h.score for h in a.debug.hits]
    assert scores and scores == sorted(scores, reverse=True)
    assert all(h.retrievers for h in a.debug.hits)
    assert a.debug.context.passages and a.debug.context.tokens <= a.debug.context.budget
    assert "What does a red volcano alert mean?" in a.debug.prompt
    assert a.debug.context.passages[0].text in a.debug.prompt
    assert engine.ask("What does a red volcano alert mean?").debug is None


def test_filters_restrict_the_evidence(engine) -> None:
    a = engine.ask("When was it built?", filters={"category": "food"}, debug=True)
    assert a.debug is not None
    assert {h.chunk.metadata["category"] for h in a.debug.hits} == {"food"}
    assert all(c.source.endswith("bakery.md") for c in a.citations)


def test_bad_input_fails_at_call_time_with_a_clear_message(engine) -> None:
    with pytest.raises(ConfigError, match="question is empty"):
        engine.ask("   ", stream=True)
    with pytest.raises(ConfigError, match="limit"):
        engine.ask("x" * 10_000)
    with pytest.raises(FilterError, match="unknown filter field"):
        engine.ask("lighthouse", filters={"colour": "red"})
    with pytest.raises(CollectionNotFound, match="ragline ingest"):
        engine.ask("lighthouse", collection="nope")


def test_llm_generator_without_endpoint_is_a_config_error(tmp_path: Path) -> None:
    eng = ragline.open(tmp_path / "d", answer={"generator": "llm"})
    with pytest.raises(ConfigError, match=r"llm\.base_url"):
        eng.generator_kind()
