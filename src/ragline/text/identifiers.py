"""Names a query asks about that a text must spell exactly: settings, variables and codes.

Keyword search splits ``default_process_limit`` into ``default``, ``process`` and ``limit``
(LanceDB's tokenizer keeps runs of letters and digits), so every chunk that says "default" and
"limit" competes with the setting's own entry; dense search does no better on a name it never
learnt. A query that names such an identifier wants the text that spells it, and above all the
entry that opens with it (a definition list's term, a man page's parameter line, a heading).

What counts as an identifier (a word would be too loose: "limit" is no name):

- snake case, an underscore between letters or digits: ``default_process_limit``, ``SQLITE_BUSY``;
- a dotted name with two lower-case letters or digits before a dot and two letters after it:
  ``gc.auto``, ``diff.renameLimit``, ``main.cf`` (not ``e.g.``, ``U.S.`` or ``H2A.Z``);
- camel case with two humps or more: ``KeepAliveTimeout``, ``bigFileThreshold`` (not ``McDonald``,
  ``PostgreSQL`` or ``iPhone``, which are names of things rather than of settings);
- any word the query calls a setting: "the relayhost parameter", "the KeepAlive directive".

Example::

    identifiers("What is the default value of default_process_limit?")  # ("default_process_limit",)
    naming_grade("default_process_limit (default: 100)\\n\\nThe default ...", "default_process_limit")  # 2
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

_TOKEN = re.compile(r"(?<![\w.\-])[A-Za-z][\w]*(?:\.[A-Za-z][\w]*)*")
_SNAKE = re.compile(r"[A-Za-z0-9]_[A-Za-z0-9]")
_SCOPED = re.compile(r"(?<![\w.:\-])[A-Za-z][\w\-]*(?:::[A-Za-z][\w\-]*)+")
_DOTTED = re.compile(r"[a-z0-9]{2}\.[a-z]{2}", re.IGNORECASE)
_MIN_HUMPS = 2


def humps(word: str) -> int:
    """How many times a lower-case letter is followed by a capital (``KeepAliveTimeout``: 2)."""
    return sum(a.islower() and b.isupper() for a, b in pairwise(word))


def dotted(name: str) -> bool:
    """A dotted name: git's ``gc.auto``, ``core.abbrev``; not "e.g." nor a sentence's full stop."""
    return _DOTTED.search(name.strip(".")) is not None


def is_identifier_name(token: str) -> bool:
    """Whether ``token`` is a setting's, variable's or code's name by its spelling alone."""
    return bool(_SNAKE.search(token) or dotted(token) or humps(token) >= _MIN_HUMPS)


# "the relayhost parameter", "the KeepAlive directive": a word the question calls a setting is one,
# however plainly it is spelt.
_CALLED = re.compile(
    r"\bthe\s+(?P<name>-{0,2}[A-Za-z][\w.]*)\s+(?:configuration\s+)?"
    r"(?:parameter|setting|option|directive|variable|pragma)s?\b",
    re.IGNORECASE,
)
_NOT_NAMES = frozenset(
    [
        "configuration",
        "default",
        "main",
        "global",
        "same",
        "new",
        "other",
        "following",
        "above",
        "below",
        "first",
        "last",
        "given",
        "corresponding",
        "relevant",
        "appropriate",
        "required",
        "optional",
    ]
)


@lru_cache(maxsize=1024)
def identifiers(text: str) -> tuple[str, ...]:
    """The identifiers ``text`` names, in order, each once (case-folded duplicates dropped)."""
    found: list[tuple[int, str]] = []
    # A scoped name ("Aptitude::ProblemResolver::StepLimit", "Net::HTTP") is one name, not its
    # parts.
    scoped = [(m.start(), m.end(), m.group(0)) for m in _SCOPED.finditer(text)]
    found.extend((a, name) for a, _, name in scoped)
    for m in _TOKEN.finditer(text):
        if is_identifier_name(m.group(0)) and not any(a <= m.start() < b for a, b, _ in scoped):
            found.append((m.start(), m.group(0)))
    for m in _CALLED.finditer(text):
        if m.group("name").lower() not in _NOT_NAMES:
            found.append((m.start("name"), m.group("name")))
    seen: dict[str, str] = {}
    for _, token in sorted(found):
        seen.setdefault(token.casefold(), token)
    return tuple(seen.values())


# The kinds of item a manual lists one entry each of ("function", "option", "parameter", ...).
_ITEM = (
    r"(?:functions?|commands?|subcommands?|subroutines?|methods?|counters?|macros?|hooks?|callbacks?"
    r"|options?|parameters?|settings?|directives?|variables?|flags?|modules?|tags?|formatters?|fields?)"
)
# "Which vmod_std function ...", "What git command ...": the name only says whose function or
# command is asked for; the answer is another name (an item of the named module or tool).
_FAMILY = re.compile(rf"\b(?:which|what)\s+(?P<name>[\w.\-]+)\s+{_ITEM}\b", re.IGNORECASE)


def only_qualifies(question: str, name: str) -> bool:
    """Whether ``name`` only says whose item ``question`` asks for ("Which vmod_std function sorts
    the query string?": a function of vmod_std, which its entry need not spell)."""
    return any(m.group("name").casefold() == name.casefold() for m in _FAMILY.finditer(question))


def asks_for_item(question: str) -> bool:
    """Whether ``question`` asks which entry of a manual's list answers ("Which function sorts
    ...?", "What vmod_std function ...?"): the answer is that entry's name."""
    return _ASKED_ITEM.match(question) is not None


_ASKED_ITEM = re.compile(rf"^\s*(?:which|what)\s+(?:[\w.\-]+\s+)?(?P<item>{_ITEM})\b", re.IGNORECASE)


def asked_item(question: str) -> str | None:
    """The kind of entry ``question`` asks for, singular and lower case ("directive" in "Which
    directive sets the range of passive ports?"), or None.

    >>> asked_item("Which directive sets the range of ports used for passive transfers?")
    'directive'
    """
    m = _ASKED_ITEM.match(question)
    if m is None:
        return None
    item = m.group("item").lower()
    return item[:-1] if item.endswith("s") else item


# What a definition question asks about: "What is (a|an|the) X?", "What is X (used) for?", "What
# does (the) X do/mean?".
_DEFINED = re.compile(
    r"^\s*(?:what|who)\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?(?P<x>.+?)"
    r"(?:\s+(?:in|of|for|on)\s+[A-Z][\w .\-]*|\s+(?:used\s+)?for)?\s*\??\s*$"
    r"|^\s*what\s+does\s+(?:an?\s+|the\s+)?(?P<y>.+?)\s+"
    r"(?:do|mean|stand for|specify|control|set|configure|determine|define)(?:\s+in\s+\w+)?\s*\??\s*$",
    re.IGNORECASE,
)


# A relative clause after the term says which one is meant, not what it is called: "the
# thundering herd problem that serialize_accept solves".
_RELATIVE = re.compile(r"\s+(?:that|which|who|whom|whose)\s+\S.*$", re.IGNORECASE)
# A term named by its kind, then whose it is: "-f option of reconstruct", "CASCADE option in DROP
# TABLE".
_OWNER_AFTER_KIND = re.compile(
    r"^(?P<t>\S+\s+(?:option|flag|switch|argument|parameter|setting|directive|keyword|clause)s?)"
    r"\s+(?:of|in|for|to)\s+\S.*$",
    re.IGNORECASE,
)


# A question of a definition's or a comparison's shape is short; the patterns that read one
# backtrack over every split of a long text (a question of 2,000 spaces took 12 s), so a longer one
# is not read as one, and runs of whitespace count as one space.
QUESTION_SHAPE_CHARS = 400


def question_shape(question: str) -> str | None:
    """``question`` with its whitespace runs as single spaces, or None when it is too long to be a
    definition or comparison question (:data:`QUESTION_SHAPE_CHARS`)."""
    if len(question) > 4 * QUESTION_SHAPE_CHARS:
        return None  # split() would still be linear; this saves it on an 8 KB paste
    short = " ".join(question.split())
    return short if len(short) <= QUESTION_SHAPE_CHARS else None


def asked_term(question: str) -> str | None:
    """The term a question of a definition's shape asks about ("reverse proxy" in "What is a
    reverse proxy?", "VACUUM" in "What does VACUUM do?", "thundering herd problem" in "What is the
    thundering herd problem that serialize_accept solves?"), else None."""
    shaped = question_shape(question)
    if shaped is None:
        return None
    m = _DEFINED.search(shaped)
    if not m:
        return None
    x = _RELATIVE.sub("", (m.group("x") or m.group("y") or "").strip())
    # "the -f option of reconstruct": the option is the term, the command only says whose.
    x = _OWNER_AFTER_KIND.sub(r"\g<t>", x)
    return x or None


# A value looked up by the one word a list names it by: "What frame size does the video size
# abbreviation qpal stand for?", "Which numeric log level corresponds to warning?". The word is
# the last before "stand for" / "mean" / "represent", or the only one after "correspond(s) to".
_LOOKED_UP = re.compile(
    r"\b(?:does|do)\s+(?:\S+\s+){0,6}?(?P<x>[\w.\-]+)\s+(?:stand\s+for|mean|represent)\s*\??$"
    r"|\bcorrespond(?:s|ing)?\s+to\s+(?:an?\s+|the\s+)?(?P<y>[\w.\-]+)\s*\??$",
    re.IGNORECASE,
)


def looked_up_term(question: str) -> str | None:
    """The word a lookup question names its entry by ("qpal" in "What frame size does the video
    size abbreviation qpal stand for?", "warning" in "Which numeric log level corresponds to
    warning?"), else None.

    >>> looked_up_term("Which numeric log level corresponds to warning?")
    'warning'
    """
    shaped = question_shape(question)
    m = _LOOKED_UP.search(shaped) if shaped is not None else None
    return (m.group("x") or m.group("y")) if m else None


@lru_cache(maxsize=256)
def _mention(ident: str) -> re.Pattern[str]:
    # Not part of a longer name: "merge.renameLimit" does not name "renameLimit", nor
    # "smtpd_recipient_limit_x" "smtpd_recipient_limit". A "$" before it (a reference to its
    # value) still names it, and so does prose that writes its underscores as hyphens or spaces
    # ("auto-vacuum" for ``auto_vacuum``, "the default process limit").
    flexible = r"[_\- ]".join(re.escape(part) for part in ident.split("_"))
    return re.compile(rf"(?<![\w.\-]){flexible}(?![\w]|[.\-]\w)", re.IGNORECASE)


# Quotes or emphasis around a term in Markdown and reStructuredText: `x`, ``x``, **x**, *x*, "x".
_MARK = r"(?:``|\*\*|[`'\"*])?"


# Another name of the same entry on its term line: "--slew" beside "-x", "d" beside
# "black_min_duration".
_ALIAS = r"-{0,2}[\w][\w.\-]*"


@lru_cache(maxsize=256)
def _opening(ident: str) -> re.Pattern[str]:
    # A line that is the name's term: after indentation, a heading's "#" or a value in brackets
    # ("### (19) SQLITE_CONSTRAINT"), the name, then nothing but asides in brackets ("work_mem
    # (integer)", "       queue_run_delay (300s)"), a kind noun ("KeepAliveTimeout Directive"), a
    # colon or an anchor mark. Not after a list bullet: "- auto_vacuum" is a list of names (a page's
    # table of contents); not a line that goes on ("default port for SMTP is taken from the", a
    # man page's wrapped sentence), nor "name = value" (an example of a configuration file). The
    # name may stand among its aliases, comma-separated: "-x, --slew", "black_min_duration, d".
    return re.compile(
        rf"(?im)^[ \t]*(?:#{{1,6}}[ \t]+)?(?:\(\w+\)[ \t]+)?(?:{_ALIAS},[ \t]*)*"
        rf"{_MARK}{re.escape(ident)}{_MARK}(?:,[ \t]*{_ALIAS})*"
        r"(?:[ \t]*\([^()\n]*\))*"
        r"(?:[ \t]+(?:directive|parameter|option|setting|variable|pragma|command))?"
        r"(?:[ \t]*:)?[ \t#¶]*$"
    )


def naming_grade(text: str, ident: str) -> int:
    """2 when a line of ``text`` opens with ``ident`` (its entry), 1 when ``text`` names it
    elsewhere, else 0."""
    if _opening(ident).search(text):
        return 2
    return 1 if _mention(ident).search(text) else 0
