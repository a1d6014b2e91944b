"""The keyword analysis and BM25 of :mod:`ragline.store.keyword` against plain references."""

from __future__ import annotations

import math
import unicodedata
from collections import Counter

import numpy as np
import pytest

from ragline.store.keyword import K1, B, KeywordIndex, _tokens, analyze


def _tokens_by_char(text: str) -> list[str]:
    """Runs of letters, digits and combining marks, one character at a time."""
    out, cur = [], ""
    for ch in text:
        if ch.isalnum() or unicodedata.category(ch) in ("Mn", "Mc"):
            cur += ch
        elif cur:
            out.append(cur)
            cur = ""
    return [*out, cur] if cur else out


@pytest.mark.parametrize(
    "text",
    [
        "Running dogs, C++ and e-mail: o'reilly's 2010 snake_case_words!",
        "  leading and trailing  ",
        "",
        "x",
        "tabs\tand\nnew lines\r\n42abc abc42 _under_",
        "café naïve Zürich straße",  # not ASCII: the character loop
        "हिन्दी शब्द",  # combining vowel signs stay inside the word
    ],
)
def test_tokens_are_runs_of_letters_digits_and_marks(text: str) -> None:
    assert _tokens(text) == _tokens_by_char(text)


def test_ascii_tokens_match_the_character_loop_on_random_text() -> None:
    rng = np.random.default_rng(0)
    alphabet = [chr(c) for c in range(32, 127)] + ["\t", "\n"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 80))))
        assert _tokens(text) == _tokens_by_char(text)


def _bm25_reference(docs: list[list[str]], query: list[str]) -> list[float]:
    n = len(docs)
    avgdl = sum(map(len, docs)) / n
    df = Counter(t for d in docs for t in set(d))
    scores = []
    for d in docs:
        tf = Counter(d)
        s = 0.0
        for term, count in Counter(query).items():
            if tf[term]:
                idf = math.log(1.0 + (n - df[term] + 0.5) / (df[term] + 0.5))
                s += count * idf * tf[term] * (K1 + 1.0) / (tf[term] + K1 * (1.0 - B + B * len(d) / avgdl))
        scores.append(s)
    return scores


def test_bm25_scores_equal_the_formula_per_document() -> None:
    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(60)]
    docs = [list(rng.choice(vocab, size=int(rng.integers(0, 30)))) for _ in range(200)]
    index = KeywordIndex(docs)
    for _ in range(50):
        query = list(rng.choice([*vocab, "absent"], size=int(rng.integers(1, 12))))
        scores, hit = index.scores(query)
        assert scores.tolist() == pytest.approx(_bm25_reference(docs, query), rel=1e-12)
        assert hit.tolist() == [bool(set(d) & set(query)) for d in docs]
    assert index.postings("absent") is None
    rows, tf = index.postings("w3")  # type: ignore[misc]
    assert rows.tolist() == [i for i, d in enumerate(docs) if "w3" in d]
    assert tf.tolist() == [float(d.count("w3")) for d in docs if "w3" in d]


def test_bm25_of_nothing() -> None:
    assert KeywordIndex([]).scores(["a"])[0].tolist() == []
    scores, hit = KeywordIndex([[], []]).scores(["a"])
    assert scores.tolist() == [0.0, 0.0] and not hit.any()
    assert analyze("the and of") == []
