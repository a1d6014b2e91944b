"""Lexical overlap between a question and sentences: small pure functions.

Terms are lower-cased words minus stop words, reduced by a light suffix stripper (a subset of
Porter's step 1, Porter 1980, "An algorithm for suffix stripping"). Overlap is IDF-weighted with
IDF taken over the candidate sentences themselves (Sparck Jones 1972), so a question term that
every sentence shares counts for little.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache

from ragline.text.words import STOPWORDS

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_POSSESSIVE = re.compile(r"['’]s$")
# The shared stop words less the 14 that only the feedback list ever had: dropping them from
# answer scoring too would change its measured results, so that waits for a measurement.
_STOPWORDS = STOPWORDS - {
    "also",
    "either",
    "else",
    "ever",
    "may",
    "might",
    "must",
    "shall",
    "upon",
    "us",
    "whose",
    "within",
    "without",
    "yet",
}


def stem(word: str) -> str:
    """Strip common English inflections: ``studies -> studi``, ``played -> play``, ``cats -> cat``."""
    if len(word) <= 3:
        return word
    for suffix, repl in (("sses", "ss"), ("ies", "i"), ("ss", "ss"), ("s", "")):
        if word.endswith(suffix):
            word = word[: len(word) - len(suffix)] + repl
            break
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=1 << 16)
def _term(word: str) -> str | None:
    # Cached: the answerer analyses the same few thousand words for every question (~3 ms an ask).
    w = _POSSESSIVE.sub("", word.lower())
    return None if w in _STOPWORDS else stem(w)


# Texts up to this long are remembered whole (answer units, passages, questions): at most the
# cache's 8,192 entries of it, ~16 MB, however long the texts some caller passes.
_CACHED_TEXT = 2_000


def terms(text: str) -> list[str]:
    """Content terms of ``text`` in order (stop words and possessive 's dropped, stemmed)."""
    return list(_terms(text) if len(text) <= _CACHED_TEXT else _analyse(text))


@lru_cache(maxsize=1 << 13)
def _terms(text: str) -> tuple[str, ...]:
    # Cached: one ask analyses each answer unit about five times (its score, follow-on reading,
    # support): 19,127 calls on 3,873 texts in 160 SQuAD asks, 2.4 -> 1.0 ms an ask. A tuple, so
    # no caller can change what the next one gets.
    return _analyse(text)


def _analyse(text: str) -> tuple[str, ...]:
    found = (_term(w) for w in _WORD.findall(text))
    return tuple(t for t in found if t is not None)


def idf(docs: Sequence[set[str]]) -> dict[str, float]:
    """Smoothed IDF over ``docs``: ``log(1 + N / df)``."""
    df: dict[str, int] = {}
    for d in docs:
        for t in d:
            df[t] = df.get(t, 0) + 1
    n = len(docs)
    return {t: math.log(1.0 + n / c) for t, c in df.items()}


def coverage(
    question: set[str],
    sentence: set[str],
    weights: dict[str, float],
    default: float,
    context: frozenset[str] = frozenset(),
    context_weight: float = 0.5,
) -> float:
    """IDF-weighted share of the question's terms found in the sentence, in [0, 1].

    A term found only in ``context`` (the sentence's title and section path) counts
    ``context_weight`` of its weight: it says what the sentence is about, not that it answers.
    """
    total = sum(weights.get(t, default) for t in question)
    if total == 0:
        return 0.0
    found = sum(weights.get(t, default) for t in question & sentence)
    found += context_weight * sum(weights.get(t, default) for t in (question & context) - sentence)
    return found / total
