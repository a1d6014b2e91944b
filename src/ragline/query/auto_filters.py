"""Rule-based extraction of metadata filters from a question ("reports from 2021" -> a filter).

The offline half of auto-retrieval (LlamaIndex's production-RAG guide: "use the LLM to infer the
right metadata filters"); :func:`ragline.query.llm.llm_filters` asks an LLM and falls back to this.
Every filter is checked against the collection's schema (``LanceStore.metadata_fields()``): a
phrase whose field is missing from the schema, or holds the wrong kind of value, is left in the
question and produces no filter. Fields are never invented.

Recognised phrases:

* years: "in 2021", "2021's", "during the year 2021", "in March 2021", "in the 1990s";
* ranges: "between 2019 and 2021", "from 2019 to 2021", "2019-2021", "since 2020",
  "2020 onwards", "before 2018", "after 2015", "until 2018";
* relative to ``today``: "last year", "this year", "last month", "in the past 3 years",
  "last 6 months", "past week", "yesterday";
* versions (with ``version_field``): "version 3.2", "v3.2", "release 2", and a bare "3.11";
* known values (``values={"doc_type": ["paper", "report", "memo"]}``): "reports about X",
  "the memo", singular or plural, case-insensitive.

Dates go to ``year_field`` (a number) when the phrase is whole years, to ``date_field`` (ISO
``YYYY-MM-DD`` strings, compared as strings) when it is finer or there is no year field.

Example::

    schema = {"year": "number", "doc_type": "string"}
    extract_filters("reports about solar panels since 2020", schema,
                    values={"doc_type": ["paper", "report"]}, year_field="year")
    # Extracted(question='solar panels',
    #           filter=And((Compare('year', '$gte', 2020), InList('doc_type', ('report',), False))),
    #           matched=('reports', 'since 2020'))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType

from ragline.store.filters import And, ColumnKind, Compare, Filter, InList, Or, Scalar
from ragline.text.words import content_words


@dataclass(frozen=True, slots=True)
class Extracted:
    """A question with its filter phrases taken out, the filter they make, and the phrases found.

    ``question`` is the input unchanged when nothing matched or when removing the phrases would
    leave no content word ("reports from 2021" stays as it is; "budget cuts in 2021?" becomes
    "budget cuts?"). ``matched`` lists the recognised phrases in question order.
    """

    question: str
    filter: Filter | None
    matched: tuple[str, ...]


_NO_VALUES: Mapping[str, Sequence[str]] = MappingProxyType({})

# --- time ---------------------------------------------------------------------------------------

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_NUMBER_RE = r"\d{1,3}|" + "|".join(_NUMBER_WORDS)


def _when(tag: str) -> str:
    """A year with an optional month before it: ``March 2021``, ``2021``."""
    return rf"(?:(?P<mon{tag}>{_MONTH_RE})\.?\s+)?(?P<y{tag}>(?:19|20)\d\d)(?![\d.]\d)"


@dataclass(frozen=True, slots=True)
class _Period:
    """Half-open dates [start, end); None is unbounded. ``fine`` when finer than whole years.

    ``bound`` marks one-sided constraints ("since 2020", "past 3 months"), which narrow each other;
    ``bound=False`` periods ("in 2019", "between 2019 and 2021") are alternatives.
    """

    start: date | None
    end: date | None
    fine: bool
    bound: bool


def _span_of(m: re.Match[str], tag: str) -> tuple[date, date, bool]:
    year = int(m[f"y{tag}"])
    month_name = m[f"mon{tag}"]
    if month_name:
        month = _MONTHS[month_name.lower()]
        return date(year, month, 1), _add_months(date(year, month, 1), 1), True
    return date(year, 1, 1), date(year + 1, 1, 1), False


def _add_months(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    year, month = divmod(index, 12)
    month += 1
    # Clamp the day: 31 March minus one month is 28/29 February.
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(d.day, (next_month - timedelta(days=1)).day))


def _point(m: re.Match[str], today: date) -> _Period:
    start, end, fine = _span_of(m, "1")
    return _Period(start, end, fine, bound=False)


def _range(m: re.Match[str], today: date) -> _Period:
    a_start, a_end, a_fine = _span_of(m, "1")
    b_start, b_end, b_fine = _span_of(m, "2")
    if b_start < a_start:  # "between 2021 and 2019"
        a_start, a_end, b_start, b_end = b_start, b_end, a_start, a_end
    return _Period(a_start, b_end, a_fine or b_fine, bound=False)


def _since(m: re.Match[str], today: date) -> _Period:
    start, _, fine = _span_of(m, "1")
    return _Period(start, None, fine, bound=True)


def _after(m: re.Match[str], today: date) -> _Period:
    _, end, fine = _span_of(m, "1")
    return _Period(end, None, fine, bound=True)


def _before(m: re.Match[str], today: date) -> _Period:
    start, _, fine = _span_of(m, "1")
    return _Period(None, start, fine, bound=True)


def _until(m: re.Match[str], today: date) -> _Period:
    _, end, fine = _span_of(m, "1")
    return _Period(None, end, fine, bound=True)


def _decade(m: re.Match[str], today: date) -> _Period:
    start = int(m["decade"]) * 10
    return _Period(date(start, 1, 1), date(start + 10, 1, 1), fine=False, bound=False)


def _relative(m: re.Match[str], today: date) -> _Period:
    which, unit = m["which"].lower(), m["unit"].lower()
    n_text = (m["n"] or "").lower()
    n = int(n_text) if n_text.isdigit() else _NUMBER_WORDS.get(n_text, 0)
    if which in ("this", "current"):
        if unit == "year":
            return _Period(date(today.year, 1, 1), date(today.year + 1, 1, 1), False, bound=False)
        if unit == "month":
            first = today.replace(day=1)
            return _Period(first, _add_months(first, 1), True, bound=False)
        if unit == "decade":
            start_year = today.year // 10 * 10
            return _Period(date(start_year, 1, 1), date(start_year + 10, 1, 1), False, bound=False)
        if unit == "week":  # ISO weeks start on Monday
            monday = today - timedelta(days=today.weekday())
            return _Period(monday, monday + timedelta(days=7), True, bound=False)
        return _Period(today, today + timedelta(days=1), True, bound=False)
    if not n and which in ("last", "previous"):
        # "last year" / "last month" name the previous calendar unit; "past year" is a window.
        if unit == "year":
            return _Period(date(today.year - 1, 1, 1), date(today.year, 1, 1), False, bound=False)
        if unit == "month":
            first = today.replace(day=1)
            return _Period(_add_months(first, -1), first, True, bound=False)
        if unit == "decade":
            return _Period(date(today.year - 10, 1, 1), date(today.year, 1, 1), False, bound=False)
    n = max(n, 1)
    if unit == "day":
        start = today - timedelta(days=n)
    elif unit == "week":
        start = today - timedelta(weeks=n)
    elif unit == "month":
        start = _add_months(today, -n)
    else:
        start = _add_months(today, -12 * n * (10 if unit == "decade" else 1))
    return _Period(start, None, True, bound=True)


def _yesterday(m: re.Match[str], today: date) -> _Period:
    day = today - timedelta(days=1)
    return _Period(day, today, True, bound=False)


# "2020 and before" is a bound, "2020 and before 2023" two phrases.
_NO_YEAR_NEXT = rf"(?!\s+(?:(?:the|{_MONTH_RE})\.?\s+)?(?:19|20)\d\d)"
_PREP = r"(?:(?:in|during|for|of|from|throughout|within|over)\s+)?(?:the\s+)?"
_TIME_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str], date], _Period]]] = [
    (
        re.compile(
            rf"\b(?:(?:between|from)\s+(?:the\s+years?\s+)?){_when('1')}\s*"
            rf"(?:and|to|until|till|through|thru|-|–)\s*{_when('2')}\b",
            re.I,
        ),
        _range,
    ),
    (re.compile(rf"\b(?:(?:in|during)\s+)?{_when('1')}\s*(?:-|–|to|through)\s*{_when('2')}\b", re.I), _range),
    (
        re.compile(
            rf"\b(?:(?:from|starting(?:\s+in)?|beginning(?:\s+in)?)\s+)?{_when('1')}\s+"
            r"(?:on(?:wards?)?|and\s+(?:later|after|beyond|newer)|or\s+(?:later|after|newer))\b"
            + _NO_YEAR_NEXT,
            re.I,
        ),
        _since,
    ),
    (
        re.compile(rf"\b{_when('1')}\s+(?:and|or)\s+(?:earlier|before|older|prior)\b{_NO_YEAR_NEXT}", re.I),
        _until,
    ),
    (re.compile(rf"\b(?:since|starting(?:\s+(?:in|from))?)\s+{_when('1')}\b", re.I), _since),
    (re.compile(rf"\b(?:after|later\s+than|newer\s+than)\s+{_when('1')}\b", re.I), _after),
    (re.compile(rf"\b(?:before|prior\s+to|earlier\s+than|older\s+than)\s+{_when('1')}\b", re.I), _before),
    (re.compile(rf"\b(?:until|till|up\s+to|through|thru|no\s+later\s+than)\s+{_when('1')}\b", re.I), _until),
    (re.compile(rf"\b{_PREP}(?P<decade>(?:19|20)\d)0'?s\b", re.I), _decade),
    (
        re.compile(
            rf"\b{_PREP}(?P<which>last|past|previous|this|current)\s+(?:(?P<n>{_NUMBER_RE})\s+)?"
            r"(?P<unit>year|month|week|day|decade)s?\b",
            re.I,
        ),
        _relative,
    ),
    # Not "today": "what is the status today?" asks about now, not about documents dated today.
    (re.compile(r"\b(?:(?:from|since)\s+)?yesterday\b", re.I), _yesterday),
    (
        re.compile(
            rf"\b(?:(?:in|during|for|of|from|throughout)\s+)?(?:the\s+(?:fiscal\s+)?year\s+)?{_when('1')}"
            r"['’]s\b",
            re.I,
        ),
        _point,
    ),
    (
        re.compile(
            rf"\b(?:(?:in|during|for|of|from|throughout|dated)\s+|(?:fiscal\s+)?year\s+|fy\s*)"
            rf"(?:the\s+(?:fiscal\s+)?year\s+)?{_when('1')}\b",
            re.I,
        ),
        _point,
    ),
    # A month and year are specific enough without a preposition ("the March 2021 memo").
    (re.compile(rf"\b(?P<mon1>{_MONTH_RE})\.?\s+(?P<y1>(?:19|20)\d\d)\b", re.I), _point),
]

# --- versions -----------------------------------------------------------------------------------

_VERSION_RULES = [
    re.compile(
        r"\b(?:(?:in|for|of|on|with|from)\s+)?(?:the\s+)?"
        r"(?:(?:version|ver\.?|release)\s*|v)(?P<v>\d+(?:\.\d+){0,3})\b(?!\.\d)",
        re.I,
    ),
    # A bare dotted number (``3.11``) is a version when the collection has a version field, but
    # not a year-like part, money or a quantity ("3.5 million", "2.5%", "$1.50").
    re.compile(
        r"(?<![\w.$€£])(?:(?:in|for|of|on|with|from)\s+)?(?P<v>\d{1,3}(?:\.\d+){1,3})(?![\w.%])"
        r"(?!\s*(?:%|percent|million|billion|thousand|times|kg|km|mb|gb|ms|hours?|days?|minutes?)\b)",
        re.I,
    ),
]

# --- cleaning up the question --------------------------------------------------------------------

_DANGLING_TEXT = """
    about on regarding concerning covering in from of for and or the a an during since before after
    between to with by at"""
_DANGLING = frozenset(_DANGLING_TEXT.split())
# Words that ask for documents rather than saying what they should be about.
_REQUEST_TEXT = """
    show list find give get tell display fetch search look documents document docs anything
    everything something stuff things information info any all"""
_REQUEST_WORDS = frozenset(_REQUEST_TEXT.split())


@dataclass(frozen=True, slots=True)
class _Mention:
    start: int
    end: int
    text: str


def _free(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    return all(end <= s or start >= e for s, e in taken)


def _field_ok(schema: Mapping[str, ColumnKind], field: str | None, *kinds: ColumnKind) -> bool:
    return field is not None and schema.get(field) in kinds


def _year_filter(field: str, p: _Period) -> Filter:
    lo = p.start.year if p.start else None
    hi = (p.end - timedelta(days=1)).year if p.end else None
    if lo is not None and lo == hi:
        return Compare(field, "$eq", lo)
    parts: list[Filter] = []
    if lo is not None:
        parts.append(Compare(field, "$gte", lo))
    if hi is not None:
        parts.append(Compare(field, "$lte", hi))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _date_filter(field: str, p: _Period) -> Filter:
    # ISO strings order like the dates they name, so string comparison is date comparison.
    parts: list[Filter] = []
    if p.start:
        parts.append(Compare(field, "$gte", p.start.isoformat()))
    if p.end:
        parts.append(Compare(field, "$lt", p.end.isoformat()))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _all_of(parts: list[Filter]) -> Filter:
    """AND of ``parts``, nested ANDs flattened (``year >= 2019 AND year <= 2021 AND doc_type ...``)."""
    flat: list[Filter] = []
    for p in parts:
        flat.extend(p.parts if isinstance(p, And) else (p,))
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def _any_of(parts: list[Filter]) -> Filter:
    if len(parts) == 1:
        return parts[0]
    # "in 2019 and in 2021" on a year field reads best as one $in.
    if all(isinstance(p, Compare) and p.op == "$eq" for p in parts):
        eqs = [p for p in parts if isinstance(p, Compare)]
        if len({p.field for p in eqs}) == 1:
            return InList(eqs[0].field, tuple(dict.fromkeys(p.value for p in eqs)), False)
    return Or(tuple(parts))


def _time_filter(
    periods: list[_Period], schema: Mapping[str, ColumnKind], year_field: str | None, date_field: str | None
) -> Filter | None:
    alternatives: list[Filter] = []
    bounds: list[Filter] = []
    for p in periods:
        use_date = _field_ok(schema, date_field, "string") and (
            p.fine or not _field_ok(schema, year_field, "number")
        )
        if use_date and date_field is not None:
            f = _date_filter(date_field, p)
        elif year_field is not None:
            f = _year_filter(year_field, p)
        else:  # unreachable: callers only pass periods some field can hold
            continue
        (bounds if p.bound else alternatives).append(f)
    parts = ([_any_of(alternatives)] if alternatives else []) + bounds
    return _all_of(parts) if parts else None


def _version_value(kind: ColumnKind, text: str) -> Scalar | None:
    if kind == "string":
        return text
    if text.count(".") > 1:  # 3.2.1 is no number
        return None
    # A number field holds 3.1 for "3.10": versions are better stored as strings.
    return float(text) if "." in text else int(text)


def _forms(value: str) -> set[str]:
    """Singular and plural spellings of a known value: report/reports, policy/policies, box/boxes."""
    v = value.lower()
    forms = {v}
    if v.endswith("ies") and len(v) > 4:
        forms.add(v[:-3] + "y")
    elif v.endswith(("xes", "zes", "ches", "shes")):
        forms.add(v[:-2])
    elif v.endswith("sis"):  # analysis/analyses
        forms.add(v[:-2] + "es")
    elif v.endswith("s") and not v.endswith(("ss", "us", "is")):
        # A declared plural ("memos") also matches its singular; not for short words, where the
        # stripped form is another word ("news" -> "new").
        if len(v) > 4:
            forms.add(v[:-1])
    else:
        if v.endswith("y") and len(v) > 1 and v[-2] not in "aeiou":
            forms.add(v[:-1] + "ies")
        elif v.endswith(("s", "x", "z", "ch", "sh")):
            forms.add(v + "es")
        else:
            forms.add(v + "s")
    return forms


def _clean_question(question: str, mentions: list[_Mention]) -> str | None:
    """The question without the mentions, or None when nothing meaningful is left."""
    pieces: list[str] = []
    at = 0
    for mention in sorted(mentions, key=lambda m: m.start):
        pieces.append(question[at : mention.start])
        at = mention.end
    pieces.append(question[at:])
    text = " ".join(" ".join(pieces).split())
    text = re.sub(r"\s+([?.!,;:])", r"\1", text)
    text = re.sub(r",\s*(?=[?.!,])|^[,;:]\s*", "", text)
    m = re.match(r"^(.*?)([?.!]*)$", text, re.DOTALL)
    body, end = (m[1], m[2]) if m else (text, "")
    words = body.strip(" ,;:").split()
    while words and words[0].lower() in _DANGLING:
        words.pop(0)
    while words and words[-1].lower().strip(",;:") in _DANGLING:
        words.pop()
    content = [t for t in content_words(" ".join(words)) if t not in _REQUEST_WORDS]
    if not content:
        return None
    body = " ".join(words).strip(" ,;:")
    if question[:1].isupper():
        body = body[:1].upper() + body[1:]
    return body + end


def extract_filters(
    question: str,
    schema: Mapping[str, ColumnKind],
    *,
    values: Mapping[str, Sequence[str]] = _NO_VALUES,
    date_field: str | None = None,
    year_field: str | None = None,
    version_field: str | None = None,
    today: date | None = None,
) -> Extracted:
    """Metadata filters stated in ``question``, for the fields ``schema`` holds with the right kind.

    ``year_field`` must be a number field, ``date_field`` a string field of ISO dates,
    ``version_field`` a string (or number) field, each field of ``values`` a string field; others
    are ignored. Relative dates count from ``today`` (default: the real today). Several years are
    alternatives ("in 2019 and in 2021" -> ``$in``), one-sided bounds narrow each other ("since
    2020 and before 2023"; so "in 2016 or since 2023" is read as AND, a limit of the rules), and
    different fields are ANDed. Pure: no I/O.

    Example::

        extract_filters("What changed in version 3.2 last year?", {"version": "string", "year": "number"},
                        version_field="version", year_field="year", today=date(2024, 6, 1))
        # Extracted(question='What changed?',
        #           filter=And((Compare('year', '$eq', 2023), Compare('version', '$eq', '3.2'))),
        #           matched=('version 3.2', 'last year'))
    """
    today = today or date.today()
    taken: list[tuple[int, int]] = []
    mentions: list[_Mention] = []
    parts: list[Filter] = []

    def take(m: re.Match[str], text: str | None = None) -> None:
        taken.append(m.span())
        mentions.append(_Mention(m.start(), m.end(), text or m[0].strip()))

    # Dates
    if _field_ok(schema, year_field, "number") or _field_ok(schema, date_field, "string"):
        periods: list[_Period] = []
        for pattern, build in _TIME_RULES:
            for m in pattern.finditer(question):
                if _free(taken, *m.span()):
                    periods.append(build(m, today))
                    take(m)
        time_filter = _time_filter(periods, schema, year_field, date_field)
        if time_filter is not None:
            parts.append(time_filter)

    # Versions
    if version_field is not None and _field_ok(schema, version_field, "string", "number"):
        kind = schema[version_field]
        found: list[Scalar] = []
        for pattern in _VERSION_RULES:
            for m in pattern.finditer(question):
                value = _version_value(kind, m["v"])
                if value is not None and _free(taken, *m.span()):
                    found.append(value)
                    take(m)
        unique = tuple(dict.fromkeys(found))
        if len(unique) == 1:
            parts.append(Compare(version_field, "$eq", unique[0]))
        elif unique:
            parts.append(InList(version_field, unique, False))

    # Known values ("reports" -> doc_type in [report]); longest spellings first, so "white papers"
    # wins over "papers".
    spellings = sorted(
        (
            (form, field, value)
            for field, known in values.items()
            if _field_ok(schema, field, "string")
            for value in known
            for form in _forms(value)
        ),
        key=lambda t: -len(t[0]),
    )
    per_field: dict[str, list[tuple[int, str]]] = {}
    for form, field, value in spellings:
        words = r"\s+".join(map(re.escape, form.split()))
        pattern = re.compile(
            rf"(?:\b(?:in|from|among|of)\s+)?(?:\b(?:the|a|an|all|any|our|my|these|those)\s+)?"
            rf"(?<![\w-])(?P<form>{words})(?![\w-])"
            r"(?:\s+(?:about|on|regarding|concerning|covering|discussing|that\s+(?:mention|discuss|cover)s?))?",
            re.I,
        )
        for m in pattern.finditer(question):
            if _free(taken, *m.span()):
                per_field.setdefault(field, []).append((m.start(), value))
                take(m, m["form"])
    for field in values:
        if field in per_field:
            ordered = tuple(dict.fromkeys(v for _, v in sorted(per_field[field])))
            parts.append(InList(field, ordered, False))

    if not parts:
        return Extracted(question, None, ())
    cleaned = _clean_question(question, mentions)
    matched = tuple(m.text for m in sorted(mentions, key=lambda m: m.start))
    return Extracted(
        cleaned if cleaned is not None else question,
        _all_of(parts),
        matched,
    )
