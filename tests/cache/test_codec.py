"""The cache codec keeps an answer's per-sentence citation support through JSON."""

from __future__ import annotations

from ragline.cache.codec import decode_answer, encode_answer
from ragline.types import Answer, Citation, SentenceSupport


def test_answer_with_support_round_trips() -> None:
    support = (
        SentenceSupport("It was built in 1887 [1].", 0, 25, (1,), 0.9, True, 1, (1,), "offline"),
        SentenceSupport("It is in Paris [1, 2].", -1, -1, (1, 2), 0.1, False, 2, (), "llm", removed=True),
    )
    cite = Citation(1, "c", "d", "d.md", "D", ("A",), None, 0, 10, "q")
    answer = Answer("q?", "It was built in 1887 [1].", [cite], False, "llm", 1.0, "t", support=support)
    assert decode_answer(encode_answer(answer, 12.5)) == (answer, 12.5)
