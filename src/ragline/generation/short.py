"""The short answer inside a supporting unit: typed extraction by the question's kind.

For a question that asks for a value (a default, a number, a code, a name, a date) the answer is
also given as the span that states it, found by small typed patterns over the unit the answerer
chose: the cell after "Default:" (without the setting's own name), the value after "default
is/defaults to", a number with its unit, an upper-case code or the number of a code named in the
question, a year or date, a capitalised name the question does not already hold.

Example::

    need = classify("What is the default value of KeepAliveTimeout?")
    text = "Default: | KeepAliveTimeout 5"
    a, b = short_span(need, "What is the default value of KeepAliveTimeout?", text)
    text[a:b]   # '5'
"""

from __future__ import annotations

import re

from ragline.generation.question import SHORT_KINDS, STANDARD_SETUP, UNSET, QuestionNeed

_NUM = r"[-+]?\d[\d,]*(?:\.\d+)?"
# Spaced or glued ("30 seconds", "4MB"); the one- and two-letter units only glued, as a
# configuration file writes them ("15s", "256kB", "5min", "24h", "4d", "100us").
_UNIT = (
    r"(?:\s?(?:%|ms\b|seconds?\b|minutes?\b|hours?\b|days?\b|weeks?\b|months?\b|years?\b|bytes?\b|[KMG]i?B\b|pages?\b|KiB\b|MiB\b)"
    r"|(?:s|kB|TB|B|min|h|d|us)\b)?"
)
_NUMBER = re.compile(rf"(?<![\w.\-]){_NUM}{_UNIT}(?![\w.]\d)")
# "Default: | KeepAliveTimeout 5", "Default: 100"; the value ends at a semicolon or a comma before
# a space: "(default: 300 seconds; before Postfix 2.4: 1000s)", "(default: 5 days, available with
# Postfix version 2.1 and later)", not "(default: 1,000)".
_DEFAULT_CELL = re.compile(r"\bDefault(?: values?)?:\s*(?:\|\s*)?(?P<v>(?:[^\n|;,]|,(?=\S))+)", re.IGNORECASE)
# "The default ... is 100", "defaults to OFF", "default value of this macro is 1 billion"
_DEFAULT_IS = re.compile(
    r"\bdefault(?:s|ing)?\b[^.;\n]{0,80}?\b(?:is|are|was|to|at)\s+"
    # "The default is typically 100 connections": the hedge is not the value.
    r"(?:(?:typically|usually|normally|currently|generally|approximately|about)\s+)?(?P<v>\"[^\"]{1,40}\"|'[^']{1,40}'"
    # "The default is no limit.": the value is the two words.
    r"|no\s+(?:limit|maximum|minimum|timeout|restriction)s?\b"
    r"|[^\s,;()]+(?:\s(?:or|and)\s\"?[^\s,;()\"]+\"?)?)",
    re.IGNORECASE,
)
# The value a clause sets: a quoted literal or one token ("200", "DISABLE_ALL", "~/sent").
_SET_VALUE = r"(?:set\s+to\s+)?(?P<v>\"[^\"]{1,40}\"|'[^']{1,40}'|[^\s,;()]+)"
# "In the standard PostGIS installation, postgis.gdal_enabled_drivers is set to DISABLE_ALL."
_STANDARD_IS = re.compile(
    rf"{STANDARD_SETUP},?(?:[^.;\n]|\.(?=\w)){{0,80}}?\b(?:is|are)\s+{_SET_VALUE}", re.IGNORECASE
)
# "or the default value of 3ms if it is not", "a default of 100 is used": the value after "of".
_DEFAULT_OF = re.compile(
    rf"\bdefault(?:\s+value)?\s+of\s+(?P<v>{_NUM}{_UNIT}|true|false|on|off|none|yes|no)(?![\w.]\d)",
    re.IGNORECASE,
)
# "If not specified, this attribute is set to 200", "When unset, the value is 10": the value the
# setting takes when nothing sets it.
_UNSET_IS = re.compile(rf"(?:{UNSET})[^.;\n]{{0,60}}?\b(?:is|are|will\s+be)\s+{_SET_VALUE}", re.IGNORECASE)
# "... is off by default", "enabled by default"
_BY_DEFAULT = re.compile(
    r"\b(?:is|are)\s+(?:\w+\s)?(?P<v>on|off|enabled|disabled|true|false|\w+)\s+by default\b", re.IGNORECASE
)
# The value's literal in parentheses right after it: "four megabytes (4MB)".
_LITERAL_AFTER = re.compile(r"[\w.\-]+(?:\s[A-Za-z]+)?\s*\((?P<p>[-+]?\d[\w.]{0,12})\)")
# "The TCP port the server listens on; 5432 by default."
# A number never starts right after a comma: inside "1,1,1,..." every position would start one
# that runs to the end and fails, quadratic in the run (a 100,000-character line took minutes).
_VALUE_BY_DEFAULT = re.compile(rf"(?<![\w.,\-])(?P<v>{_NUM}{_UNIT})\s+by default\b")
# "Range: [0-120000], default 10000", "Range: [30-30000], default 300ms": the number right after.
_DEFAULT_NUMBER = re.compile(rf"\bdefault\s+(?P<v>{_NUM}{_UNIT})(?![\w.]\d)", re.IGNORECASE)
# A plain word stated as the default, closing its clause ("The default value is localhost, which
# ..."): a value unless it is a participle ("The default is used.").
_CLAUSE_END = re.compile(r"\s*(?:[,.;:)]|$)")
_CODE = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b[A-Z]{3,}\d*\b")
_CODE_NUMBER = re.compile(r"\((?P<v>-?\d+)\)|(?<![\w.])(?P<w>-?\d+)(?![\w.])")
_DATE = re.compile(
    r"\b(?:(?:\d{1,2}\s)?(?:January|February|March|April|May|June|July|August|September|October|"
    r"November|December)(?:\s\d{1,2})?,?\s\d{4}|\d{4}-\d{2}-\d{2}|1[5-9]\d\d|20\d\d)\b"
)
_NAME = re.compile(r"\b[A-Z][\w\-]*(?:[ \t]+(?:of[ \t]+|the[ \t]+|de[ \t]+)?[A-Z][\w\-]*)*")
# What a stated default looks like: a number, a switch word, a quoted literal, an upper-case or
# code-like token ("SERIALIZABLE", "index.html", "-1"); not a plain word ("built", "used").
_VALUE_LIKE = re.compile(
    r"^(?:[-+]?\d.*|on|off|none|true|false|enabled|disabled|yes|no|\".*|'.*|[A-Z][A-Z0-9_]+.*|\S*[._/]\S*)$",
    re.IGNORECASE,
)
_TRAILING = ".,;:)(\"' "


def _looks_like_value(value: str) -> bool:
    word = value.split()[0]
    # Case matters for the upper-case alternative: "OFF" and "SERIALIZABLE" yes, "Built" no.
    return bool(_VALUE_LIKE.match(word)) and (
        word.lower() in _SWITCHES or not word.isalpha() or word.isupper()
    )


_SWITCHES = frozenset({"on", "off", "none", "true", "false", "enabled", "disabled", "yes", "no"})


def _in_question(value: str, question: str) -> bool:
    # As a word: the "on" of "encryption" is no value the question states.
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", question, re.IGNORECASE) is not None


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a] in _TRAILING:
        a += 1
    while b > a and text[b - 1] in _TRAILING:
        b -= 1
    return a, b


# A MyST/Sphinx role in front of a literal ("{file}`requirements.txt`", ":command:`ls`") and the
# quoting marks around one: markup of the source, not part of the value.
_ROLE = re.compile(r"(?:\{[\w:.+-]+\}|:[\w:.+-]+:)(?=[`'\"])")
_QUOTES = "`'\"*_"
# A flag's letters and the space after them, when the value follows.
_CUT_FLAG = re.compile(r"[A-Za-z]{1,2}[ \t]+(?=\S)")


def tidy_span(text: str, a: int, b: int) -> tuple[int, int]:
    """``(a, b)`` narrowed to the value inside ``text[a:b]``: a leading markup role and the quoting
    marks around it left out, so a span never ends half-quoted ("{file}`requirements.txt" ->
    "requirements.txt"). The span is returned unchanged when nothing would be left.

    Example::

        text = "Use {file}`requirements.txt` files."
        a, b = tidy_span(text, 4, 27)
        text[a:b]   # 'requirements.txt'
    """
    x, y = a, b
    m = _ROLE.match(text, x, y)
    if m is not None:
        x = m.end()
    flag = _CUT_FLAG.match(text, x, y)
    if flag is not None and x > 0 and text[x - 1] == "-" and (x == 1 or text[x - 2].isspace()):
        # The span starts inside a command-line flag ("r requirements.txt" out of "pip install -r
        # requirements.txt"): the flag's letter is no part of the value after it.
        x = flag.end()
    while x < y and text[x] in _QUOTES:
        x += 1
    while y > x and text[y - 1] in _QUOTES + " \t\n,;:.":
        y -= 1
    return (x, y) if y > x else (a, b)


def _default_span(need: QuestionNeed, question: str, text: str) -> tuple[int, int] | None:
    m = _DEFAULT_CELL.search(text)
    if m:
        a, b = m.span("v")
        value = text[a:b]
        # The row repeats the setting's name before its value: "KeepAliveTimeout 5" -> "5".
        first = value.split(" ", 1)
        if len(first) == 2 and any(first[0].lower() == e.lower() for e in need.entities):
            a += len(first[0]) + 1
        return _strip(text, a, b)
    patterns = (
        _DEFAULT_IS,
        _BY_DEFAULT,
        _VALUE_BY_DEFAULT,
        _DEFAULT_NUMBER,
        _DEFAULT_OF,
        _UNSET_IS,
        _STANDARD_IS,
    )
    for pattern in patterns:
        for m in pattern.finditer(text):
            a, b = _strip(text, *m.span("v"))
            value = text[a:b]
            if not value or _in_question(value, question):
                continue
            literal = _LITERAL_AFTER.match(text, a)
            if pattern is _DEFAULT_IS and literal is not None:
                # "four megabytes (4MB)", "128 megabytes (128MB)": the literal a configuration
                # file takes, as the manual writes it.
                return literal.span("p")
            if not _looks_like_value(value) and not _closing_word(pattern, text, m, value):
                continue
            # "1 billion (1 thousand million or 1,000,000,000)": keep the number's unit word.
            n = _NUMBER.match(text, a)
            if n:
                end = n.end()
                word = re.match(
                    r"\s(?:billion|million|thousand|pages?|bytes?|seconds?|KiB|MiB)\b", text[end:]
                )
                return (a, end + word.end()) if word else _strip(text, a, end)
            return a, b
    return None


def _closing_word(pattern: re.Pattern[str], text: str, m: re.Match[str], value: str) -> bool:
    """Whether ``value``, a plain word after "default ... is", ends the clause that states it and
    is no participle or adverb: "localhost" in "The default value is localhost, which ..."."""
    if pattern is not _DEFAULT_IS or " " in value or not value.isalpha():
        return False
    if value.lower().endswith(("ed", "ly", "ing")) or value.lower() in _NOT_VALUES:
        return False
    return _CLAUSE_END.match(text, m.end("v")) is not None


_NOT_VALUES = frozenset({"set", "unset", "given", "shown", "known", "not", "the", "a", "an", "this", "that"})


def _number_span(question: str, text: str) -> tuple[int, int] | None:
    for m in _NUMBER.finditer(text):
        if not _in_question(m.group(0).strip(), question):
            return _strip(text, *m.span())
    return None


_SNAKE = re.compile(r"[a-z]+(?:_[a-z0-9]+)+")
# A five-character SQLSTATE with a letter among its digits ("40P01"; "23505" is a number too).
_SQLSTATE = re.compile(r"(?<![\w.])(?=[0-9A-Z]*\d)(?=[0-9A-Z]*[A-Z])[0-9A-Z]{5}(?![\w.])")


def _code_span(need: QuestionNeed, question: str, text: str) -> tuple[int, int] | None:
    # The question names the code ("the numeric value of SQLITE_BUSY"): its number is asked.
    if any(_CODE.fullmatch(e) or _SNAKE.fullmatch(e) for e in need.entities):
        # A table row's SQLSTATE ("| 40P01 | deadlock_detected |") before any bare number.
        for m in _SQLSTATE.finditer(text):
            if not _in_question(m.group(0), question):
                return m.span()
        for m in _CODE_NUMBER.finditer(text):
            group = "v" if m.group("v") is not None else "w"
            if not _in_question(m.group(group), question):
                return m.span(group)
        return None
    if need.codes:
        # The question names the value ("What does error code 23503 mean?"): the name beside it.
        for m in (*_CODE.finditer(text), *_SNAKE.finditer(text)):
            if not _in_question(m.group(0), question):
                return m.span()
        return None
    # A code of letters and digits ("40P01") before any number: "4" is no part of an answer.
    for m in _SQLSTATE.finditer(text):
        if not _in_question(m.group(0), question):
            return m.span()
    for m in _CODE.finditer(text):
        if not _in_question(m.group(0), question):
            return m.span()
    return _number_span(question, text)


def short_span(need: QuestionNeed, question: str, text: str) -> tuple[int, int] | None:
    """``(start, end)`` of the short answer inside ``text``, or None (no value of the asked kind,
    or a kind that a sentence answers better: a definition, a procedure, a reason...)."""
    if need.kind not in SHORT_KINDS:
        return None
    span: tuple[int, int] | None
    if need.kind == "default":
        span = _default_span(need, question, text)
    elif need.kind == "number":
        span = _number_span(question, text)
    elif need.kind == "code":
        span = _code_span(need, question, text)
    elif need.kind == "date":
        m = _DATE.search(text)
        span = m.span() if m else None
    else:
        span = next(
            (
                m.span()
                for m in _NAME.finditer(text)
                if m.start() > 0 and not _in_question(m.group(0), question)
            ),
            None,
        )
    if span is None or span[1] <= span[0]:
        return None
    return span
