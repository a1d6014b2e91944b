"""The cache codec: hits and answers (with their citation support) through JSON and back."""

from __future__ import annotations

import dataclasses
import json

from ragline.cache.codec import decode_answer, decode_hits, encode_answer, encode_hits
from ragline.types import (
    Access,
    Answer,
    AnswerDebug,
    CachedFrom,
    Chunk,
    ChunkSpan,
    Citation,
    Condensed,
    Context,
    Hit,
    Passage,
    RetrieverScore,
    SentenceSupport,
    ShortAnswer,
    Usage,
)


def test_answer_with_support_round_trips() -> None:
    support = (
        SentenceSupport("It was built in 1887 [1].", 0, 25, (1,), 0.9, True, 1, (1,), "offline"),
        SentenceSupport("It is in Paris [1, 2].", -1, -1, (1, 2), 0.1, False, 2, (), "llm", removed=True),
    )
    cite = Citation(1, "c", "d", "d.md", "D", ("A",), None, 0, 10, "q")
    answer = Answer("q?", "It was built in 1887 [1].", [cite], False, "llm", 1.0, "t", support=support)
    assert decode_answer(encode_answer(answer, 12.5)) == (answer, 12.5)


def _hit(i: int) -> Hit:
    chunk = Chunk(
        f"c{i}",
        f"d{i}",
        f"Chunk {i} text with “quotes” and ünïcode.",
        i,
        0,
        40,
        section_path=("Guide", "Install"),
        parent_id=None if i % 2 else f"p{i}",
        metadata={"year": 2020 + i, "tags": ["a", "b"], "nested": {"k": [1, 2.5, None]}, "ok": True},
        source=f"docs/{i}.md",
        title="Guide",
        access=Access("acme", ("eng", "ops"), 2),
    )
    return Hit(chunk, 0.5 + i, {"dense": RetrieverScore(1, 0.9), "keyword": RetrieverScore(3, 7.25)})


def test_hits_and_answers_encode_as_asdict_would_and_round_trip() -> None:
    """The encoder skips ``dataclasses.asdict``'s deep copies; the JSON must stay what it wrote
    (entries written by an older process, or another replica, must still decode)."""
    hits = [_hit(i) for i in range(3)]
    wrapped = json.loads(encode_hits(hits))
    assert json.dumps(wrapped["value"]) == json.dumps([dataclasses.asdict(h) for h in hits])
    assert decode_hits(encode_hits(hits)) == hits
    passage = Passage(
        "d0",
        "Chunk 0 text",
        0,
        12,
        (ChunkSpan("c0", 0, 12), ChunkSpan("c1", 12, 20, False, 3)),
        0.7,
        1,
        9,
        "docs/0.md",
        "Guide",
        ("Guide",),
        {"year": 2020},
    )
    debug = AnswerDebug(
        hits, Context([passage], 9, 1024, 1), "the prompt", "q", Condensed("q?", "q", "rules", "why")
    )
    answer = Answer(
        "q?",
        "Chunk 0 text [1].",
        [Citation(1, "c0", "d0", "docs/0.md", "Guide", ("Guide",), None, 0, 12, "Chunk 0 text")],
        False,
        "extractive",
        0.8,
        "t",
        usage=Usage(3, 4, None, "m"),
        timings_ms={"total": 1.5},
        errors=("one",),
        debug=debug,
        cached=CachedFrom("semantic", "q", 0.99, 2.0),
        short=ShortAnswer("Chunk 0", 1, 0, 7),
    )
    wrapped = json.loads(encode_answer(answer, 3.0))
    assert json.dumps(wrapped["value"]["answer"]) == json.dumps(dataclasses.asdict(answer))
    assert decode_answer(encode_answer(answer, 3.0)) == (answer, 3.0)
