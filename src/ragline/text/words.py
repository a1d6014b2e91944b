"""Stop words and content words: the word-level view of text the lexical stages share.

RM3 feedback, automatic filter extraction, the question router and the feedback gate (how many
content words a query has) use :func:`content_words`; the extractive answerer's overlap scores
start from :data:`STOPWORDS` (``generation/lexical.py``).

Example::

    content_words("The 2 cats' vet-visits")  # ['cats', 'vet', 'visits']
"""

from __future__ import annotations

import re
from collections.abc import Set

# A small English stop-word list (function words only): feedback terms must carry topic, and the
# store removes these words from queries anyway. No nltk download.
_STOPWORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each either else ever few for
    from further had has have having he her here hers herself him himself his how i if in into is it
    its itself just may me might more most must my myself no nor not now of off on once only or other
    our ours ourselves out over own same shall she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up upon us very was
    we were what when where which while who whom whose why will with within without would yet you
    your yours yourself yourselves"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORDS_TEXT.split())
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_HAS_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def content_words(text: str, stopwords: Set[str] = STOPWORDS) -> list[str]:
    """Lower-cased word tokens with a letter, stop words and one-letter tokens removed.

    Pure numbers are dropped: in feedback documents they are mostly counts and dates, which drift
    the expanded query away from the topic.

    Example::

        content_words("The 2 cats' vet-visits")  # ['cats', 'vet', 'visits']
    """
    return [
        t
        for t in (m.lower() for m in _WORD.findall(text))
        if len(t) > 1 and t not in stopwords and _HAS_LETTER.search(t)
    ]
