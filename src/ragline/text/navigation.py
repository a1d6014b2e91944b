"""Navigation pages: a manual's index, table of contents or site map, told from its text.

A whole manual ingested as a user would (every page) brings its back-of-the-book index with it.
An index chunk names every identifier of its letter ("-Mg ... -Mmad ... -Mrm", "work_mem
configuration parameter, Resource Consumption"), so an exact-name question's keyword search ranks
it beside the pages that describe the name, and in ``ask`` it spends the context's tokens on a
list of references that answers nothing. Context assembly admits such a chunk only after every
other passage (``context/assembler.py``).

A chunk is navigation when both hold:

- its page title names a listing ("Index", "Concept Index", "Table of Contents", "Site Map"),
  written as a title word: an all-capital ``INDEX`` is an SQL keyword ("CREATE INDEX") and a
  hyphenated ``-index`` a command name ("git-update-index"), both pages of content;
- its text holds almost no prose: under :data:`NAVIGATION_PROSE` of its words stand in sentences
  of six words or more that end like a sentence. An index's entries are terms and references;
  a page titled "Index Types" or "Override Class Index" explains itself in sentences.

Example::

    is_navigation("Index", "work_mem configuration parameter, Resource Consumption")  # True
    is_navigation("CREATE INDEX", "CREATE INDEX constructs an index on the specified column(s).")  # False
"""

from __future__ import annotations

import re

from ragline.text.history import asks_about_history, is_release_notes
from ragline.text.sentences import sentence_spans

# Title words of a listing page; matched case-sensitively as written in titles (see the module
# docstring for why "INDEX" and "-index" are not).
_NAVIGATION_TITLE = re.compile(
    r"(?<![\w-])(?:[Ii]ndex|Contents|Table of contents|Site [Mm]ap|Sitemap)(?![\w-])"
)
_WORD = re.compile(r"[^\W_][\w'-]*", re.UNICODE)
_SENTENCE_END = (".", "!", "?", ":")
# A sentence this long is prose, a shorter piece a term or a reference.
_PROSE_WORDS = 6
# At most this share of a navigation chunk's words stands in prose sentences. Index chunks of six
# manuals (Exim, zsh, rsyslog, Varnish, SQLite, Apache) measure 0.0 almost throughout; their
# pages' introductions ("Jump to: ... Index Entry ...") under 0.5, chunks of content pages under
# such titles ("Index Types", "Override Class Index") 0.65 and more.
NAVIGATION_PROSE = 0.3


def prose_share(text: str) -> float:
    """The share of ``text``'s words that stand in prose sentences (0.0 for no words).

    Example::

        prose_share("ALIASES | 16.2.6 Input/Output")  # 0.0
    """
    total = len(_WORD.findall(text))
    if not total:
        return 0.0
    prose = 0
    for a, b in sentence_spans(text):
        piece = text[a:b].rstrip()
        words = len(_WORD.findall(piece))
        if words >= _PROSE_WORDS and piece.endswith(_SENTENCE_END):
            prose += words
    return prose / total


def navigation_title(title: str) -> bool:
    """Whether a page title names a listing page (index, table of contents, site map).

    Example::

        navigation_title("Index — rsyslog documentation")  # True
        navigation_title("CREATE INDEX")  # False
    """
    return bool(_NAVIGATION_TITLE.search(title))


def is_navigation(title: str, text: str) -> bool:
    """Whether a chunk of the page titled ``title`` is a listing of references, not content."""
    return navigation_title(title) and prose_share(text) < NAVIGATION_PROSE


# A table of contents inside a page: numbered titles, one a paragraph ("5.3.6. Raw mode"), no
# sentence end. A run of this many or more is a listing, not content.
_NUMBERED_TITLE = re.compile(r"\d+(?:\.\d+)*\.?[ \t]+[^\n]{1,100}")
_LISTING_RUN = 3
_PARAGRAPH = re.compile(r"[^\n]+(?:\n[^\n]+)*")


def listing_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` holds a table of contents: runs of at least three paragraphs that are each one
    numbered title ("5.1. Setting Parameters", "5.1.1. Parameter Names and Values"), as offsets.
    A DocBook chapter page opens with one; its lines are no answer to anything.

    Example::

        listing_spans("Intro.\n\n5.1. Setting\n\n5.2. Pooling\n\n5.3. Logging")  # [(8, 48)]
    """
    spans: list[tuple[int, int]] = []
    run: list[tuple[int, int]] = []
    for m in _PARAGRAPH.finditer(text):
        piece = m.group(0).strip()
        if _NUMBERED_TITLE.fullmatch(piece) and not piece.endswith((".", "!", "?", ":")):
            run.append(m.span())
            continue
        if len(run) >= _LISTING_RUN:
            spans.append((run[0][0], run[-1][1]))
        run = []
    if len(run) >= _LISTING_RUN:
        spans.append((run[0][0], run[-1][1]))
    return spans


def answers_last(question: str, title: str, text: str) -> bool:
    """Whether a chunk of the page titled ``title`` should answer ``question`` only when nothing
    else can: a listing of references (:func:`is_navigation`), or release notes when a question is
    asked that is not about versions or changes (``text/history.py``).

    Example::

        answers_last("What is the default of max_pool?", "Release 4.2.10", "Fix max_pool ...")  # True
    """
    if is_navigation(title, text):
        return True
    return bool(question) and is_release_notes(title) and not asks_about_history(question)
