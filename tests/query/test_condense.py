"""The offline condenser: dependent follow-ups are rewritten from the earlier turns, self-contained
questions are left alone; and how a chat's messages split into question and history."""

from __future__ import annotations

import pytest

from ragline.errors import ConfigError
from ragline.query.condense import NoCondenser, RuleCondenser, split_messages
from ragline.types import Condensed, Turn

INSTALL = [
    Turn("user", "How do I install ragline on Linux?"),
    Turn("assistant", "Install the package with apt [1]."),
]
LIGHTHOUSE = [
    Turn("user", "Who designed the Orrin Point lighthouse?"),
    Turn("assistant", "Maria Okafor designed it [1]."),
]
BRONCOS = [Turn("user", "When did the Denver Broncos win Super Bowl 50?")]


def _query(question: str, history: list[Turn]) -> str:
    return RuleCondenser().condense(question, history).query


@pytest.mark.parametrize(
    ("question", "history", "expected"),
    [
        # A fragment with a preposition replaces the previous question's phrase.
        ("And on Windows?", INSTALL, "How do I install ragline on Windows?"),
        ("What about on macOS?", INSTALL, "How do I install ragline on macOS?"),
        # A pronoun becomes the topic's main entity (a qualifier like "on Linux" never is).
        ("When was it built?", LIGHTHOUSE, "When was Orrin Point lighthouse built?"),
        ("How tall is this?", LIGHTHOUSE, "How tall is Orrin Point lighthouse?"),
        ("Who did they beat?", BRONCOS, "Who did Denver Broncos beat? (Super Bowl 50)"),
        ("What is its capacity?", LIGHTHOUSE, "What is Orrin Point lighthouse's capacity?"),
        # No entity to stand for the pronoun: the previous question's terms are carried.
        ("how do I configure it?", INSTALL, "how do I configure it? (Linux install ragline)"),
        ("what about its default port?", INSTALL, "its default port? (Linux install ragline)"),
        ("Why?", INSTALL, "Why? (Linux install ragline)"),
    ],
)
def test_dependent_follow_ups_are_rewritten(question: str, history: list[Turn], expected: str) -> None:
    result = RuleCondenser().condense(question, history)
    assert result.query == expected
    assert result.method == "rules" and result.question == question and result.reason


@pytest.mark.parametrize(
    "question",
    [
        "What is BM25?",
        "How does the kernel schedule threads when it is idle?",  # "it" has its antecedent
        "How long does it take to cook rice?",  # a dummy "it"
        "What is the name of the team that won the 1998 final?",  # a relative "that"
        "What is Python and how is it installed?",
        "Who was the coach of the team that won Super Bowl 50?",
        "Is there a limit on upload size?",  # an existential "there"
        "Which company built the Velmar dam this year?",  # "this year" points nowhere
    ],
)
def test_self_contained_questions_are_left_alone(question: str) -> None:
    for history in (INSTALL, LIGHTHOUSE, BRONCOS):
        assert RuleCondenser().condense(question, history) == Condensed(question, question)


def test_no_history_no_rewrite() -> None:
    assert RuleCondenser().condense("When was it built?", []) == Condensed(
        "When was it built?", "When was it built?"
    )
    # Assistant turns alone carry no question to take the topic from.
    only_answers = [Turn("assistant", "The Orrin Point lighthouse.")]
    assert _query("When was it built?", only_answers) == "When was it built?"


def test_the_topic_reaches_back_through_earlier_follow_ups() -> None:
    history = [*LIGHTHOUSE, Turn("user", "When was it built?"), Turn("assistant", "In 1874 [1].")]
    assert _query("Who paid for it?", history) == "Who paid for Orrin Point lighthouse?"


def test_no_condenser_keeps_every_question() -> None:
    assert NoCondenser().condense("And on Windows?", INSTALL).query == "And on Windows?"


def test_split_messages_takes_the_last_user_message_and_drops_system_ones() -> None:
    question, history = split_messages(
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "How do I install ragline on Linux?"},
            Turn("assistant", "With apt [1]."),
            {"role": "system", "content": "cite sources"},
            {"role": "user", "content": "And on Windows?"},
        ]
    )
    assert question == "And on Windows?"
    assert history == [Turn("user", "How do I install ragline on Linux?"), Turn("assistant", "With apt [1].")]


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "no user message"),
        ([{"role": "system", "content": "only system"}], "no user message"),
        (
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            "last message is an assistant",
        ),
        ([{"role": "tool", "content": "x"}], "message 0 is"),
        ([{"role": "user", "content": 3}], "message 0 is"),
        ([{"role": "user", "content": "q", "name": "bob"}], "unknown field"),
        (["just a string"], "message 0 is a str"),
    ],
)
def test_malformed_messages_are_refused(messages: list[object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        split_messages(messages)  # type: ignore[arg-type]
