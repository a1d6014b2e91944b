"""engine.chat and ask(history=) end to end on a small fast collection: a follow-up is searched as
the standalone query its conversation makes of it, and the debug view shows that query."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.engine import Engine
from ragline.errors import ConfigError
from ragline.types import Document, Final, Turn
from tests.helpers import fast_engine

DOCS = {
    "lighthouse": "The Orrin Point lighthouse stands on the north cape. The Orrin Point lighthouse was built "
    "in 1874 from pale granite blocks.",
    "dam": "The Velmar dam holds the valley reservoir. The Velmar dam was built in 1950 from concrete.",
    "bridge": "The Kestrel bridge crosses the harbour. The Kestrel bridge was built in 1923 from steel.",
    "linux": "Install ragline on Linux with apt install ragline, then enable the service with systemd.",
    "windows": "Install ragline on Windows with the MSI installer and add its folder to PATH.",
}
FIRST = "Where is the Orrin Point lighthouse?"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    eng = fast_engine(tmp_path_factory.mktemp("chat"))
    eng.upsert_documents([Document(id=k, source=f"{k}.txt", text=v, title=k) for k, v in DOCS.items()])
    return eng


def _first_doc(answer_hits: list[object]) -> str:
    return answer_hits[0].chunk.doc_id  # type: ignore[attr-defined]


def test_a_follow_up_is_searched_with_the_conversations_topic(engine: Engine) -> None:
    messages = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": "On the north cape [1]."},
        {"role": "user", "content": "When was it built?"},
    ]
    answer = engine.chat(messages, debug=True)
    assert answer.question == "When was it built?"
    assert answer.debug is not None and answer.debug.condensed is not None
    assert answer.debug.query == "When was Orrin Point lighthouse built?"
    assert answer.debug.condensed.method == "rules"
    assert _first_doc(answer.debug.hits) == "lighthouse"
    assert "1874" in answer.text and answer.citations[0].doc_id == "lighthouse"
    assert "condense" in answer.timings_ms
    # The same follow-up on its own is ambiguous: every building was built.
    alone = engine.ask("When was it built?", debug=True)
    assert (
        alone.debug is not None
        and alone.debug.query == "When was it built?"
        and alone.debug.condensed is None
    )


def test_history_on_ask_and_a_fragment_follow_up(engine: Engine) -> None:
    history = [Turn("user", "How do I install ragline on Linux?"), Turn("assistant", "With apt [1].")]
    answer = engine.ask("And on Windows?", history=history, debug=True)
    assert answer.debug is not None and answer.debug.query == "How do I install ragline on Windows?"
    assert _first_doc(answer.debug.hits) == "windows"
    # Streaming goes the same way; the final answer keeps the question as asked.
    events = list(engine.ask("And on Windows?", history=history, stream=True, debug=True))
    final = events[-1]
    assert isinstance(final, Final) and final.answer.question == "And on Windows?"
    assert (
        final.answer.debug is not None and final.answer.debug.query == "How do I install ragline on Windows?"
    )


def test_a_self_contained_question_is_searched_as_asked(engine: Engine) -> None:
    history = [Turn("user", FIRST), Turn("assistant", "On the north cape [1].")]
    question = "When was the Kestrel bridge built?"
    answer = engine.ask(question, history=history, debug=True)
    assert answer.debug is not None and answer.debug.query == question
    assert answer.debug.condensed is not None and answer.debug.condensed.method == "unchanged"
    assert _first_doc(answer.debug.hits) == "bridge"


def test_condense_off_searches_follow_ups_as_they_are(tmp_path: Path, engine: Engine) -> None:
    off = fast_engine(tmp_path, chat={"condense": "off"})
    history = [Turn("user", FIRST)]
    assert off.condense("When was it built?", history).query == "When was it built?"
    # Only the last chat.history_turns turns are read.
    short = fast_engine(tmp_path, chat={"history_turns": 1})
    long_ago = [Turn("user", FIRST), Turn("assistant", "On the north cape [1].")]
    assert short.condense("When was it built?", long_ago).query == "When was it built?"
    assert engine.condense("When was it built?", long_ago).query == "When was Orrin Point lighthouse built?"


def test_bad_conversations_are_refused(engine: Engine) -> None:
    with pytest.raises(ConfigError, match="last message is an assistant"):
        engine.chat([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
    with pytest.raises(ConfigError, match="no user message"):
        engine.chat([{"role": "system", "content": "only system"}])
    with pytest.raises(ConfigError, match="history holds a dict"):
        engine.ask("When was it built?", history=[{"role": "user", "content": FIRST}])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="condense"):
        _ = fast_engine(engine.settings.data_dir, chat={"condense": "llm"}).condenser
    with pytest.raises(ConfigError):
        fast_engine(engine.settings.data_dir, chat={"condense": "sometimes"})
