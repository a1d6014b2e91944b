"""The cache codec: hits and answers (with their citation support) through JSON and back."""

from __future__ import annotations

import dataclasses
import json

from ragline import types as t
from ragline.cache.codec import decode_answer, decode_hits, encode_answer, encode_hits


def test_answer_with_support_round_trips() -> None:
    support = (
        t.SentenceSupport("It was built in 1887 [1].", 0, 25, (1,), 0.9, True, 1, (1,), "offline"),
        t.SentenceSupport("It is in Paris [1, 2].", -1, -1, (1, 2), 0.1, False, 2, (), "llm", removed=True),
    )
    cite = t.Citation(1, "c", "d", "d.md", "D", ("A",), None, 0, 10, "q")
    answer = t.Answer("q?", "It was built in 1887 [1].", [cite], False, "llm", 1.0, "t", support=support)
    assert decode_answer(encode_answer(answer, 12.5)) == (answer, 12.5)


def _hit(i: int) -> t.Hit:
    chunk = t.Chunk(
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
        access=t.Access("acme", ("eng", "ops"), 2),
    )
    return t.Hit(chunk, 0.5 + i, {"dense": t.RetrieverScore(1, 0.9), "keyword": t.RetrieverScore(3, 7.25)})


def test_hits_and_answers_encode_as_asdict_would_and_round_trip() -> None:
    """The encoder skips ``dataclasses.asdict``'s deep copies; the JSON must stay what it wrote
    (entries written by an older process, or another replica, must still decode)."""
    hits = [_hit(i) for i in range(3)]
    wrapped = json.loads(encode_hits(hits))
    assert json.dumps(wrapped["value"]) == json.dumps([dataclasses.asdict(h) for h in hits])
    assert decode_hits(encode_hits(hits)) == hits
    passage = t.Passage(
        "d0",
        "Chunk 0 text",
        0,
        12,
        (t.ChunkSpan("c0", 0, 12), t.ChunkSpan("c1", 12, 20, False, 3)),
        0.7,
        1,
        9,
        "docs/0.md",
        "Guide",
        ("Guide",),
        {"year": 2020},
    )
    debug = t.AnswerDebug(
        hits, t.Context([passage], 9, 1024, 1), "the prompt", "q", t.Condensed("q?", "q", "rules", "why")
    )
    answer = t.Answer(
        "q?",
        "Chunk 0 text [1].",
        [t.Citation(1, "c0", "d0", "docs/0.md", "Guide", ("Guide",), None, 0, 12, "Chunk 0 text")],
        False,
        "extractive",
        0.8,
        "t",
        usage=t.Usage(3, 4, None, "m"),
        timings_ms={"total": 1.5},
        errors=("one",),
        debug=debug,
        cached=t.CachedFrom("semantic", "q", 0.99, 2.0),
        short=t.ShortAnswer("Chunk 0", 1, 0, 7),
    )
    wrapped = json.loads(encode_answer(answer, 3.0))
    assert json.dumps(wrapped["value"]["answer"]) == json.dumps(dataclasses.asdict(answer))
    assert decode_answer(encode_answer(answer, 3.0)) == (answer, 3.0)
