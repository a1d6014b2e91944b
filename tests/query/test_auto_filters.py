"""Rule-based filter extraction: a table of questions, their filters, cleaned questions and phrases."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest

from ragline.query.auto_filters import Extracted, extract_filters
from ragline.store.filters import And, Compare, Filter, InList, Or, fields_of, matches, to_sql

SCHEMA: dict[str, Any] = {
    "year": "number",
    "date": "string",
    "doc_type": "string",
    "version": "string",
    "draft": "bool",
}
VALUES = {"doc_type": ["paper", "report", "memo", "policy", "white paper"]}
TODAY = date(2024, 6, 15)
YEAR = {"year_field": "year"}
DATE = {"date_field": "date"}
BOTH = {"year_field": "year", "date_field": "date"}
VERSION = {"version_field": "version"}


def gte(f: str, v: Any) -> Compare:
    return Compare(f, "$gte", v)


def lte(f: str, v: Any) -> Compare:
    return Compare(f, "$lte", v)


def lt(f: str, v: Any) -> Compare:
    return Compare(f, "$lt", v)


def eq(f: str, v: Any) -> Compare:
    return Compare(f, "$eq", v)


def doc_types(*v: str) -> InList:
    return InList("doc_type", v, False)


# (question, options, filter, cleaned question, matched phrases)
CASES: list[tuple[str, dict[str, Any], Filter | None, str, tuple[str, ...]]] = [
    # single years
    (
        "What were the budget cuts in 2021?",
        YEAR,
        eq("year", 2021),
        "What were the budget cuts?",
        ("in 2021",),
    ),
    (
        "What did 2021's memos say about hiring?",
        YEAR,
        And((eq("year", 2021), doc_types("memo"))),
        "What did say about hiring?",
        ("2021's", "memos"),
    ),
    ("hiring plans during the year 2020", YEAR, eq("year", 2020), "hiring plans", ("during the year 2020",)),
    (
        "What changed in 2019 and in 2021?",
        YEAR,
        InList("year", (2019, 2021), False),
        "What changed?",
        ("in 2019", "in 2021"),
    ),
    (
        "What changed in 2019 and in 2021?",
        DATE,
        Or(
            (
                And((gte("date", "2019-01-01"), lt("date", "2020-01-01"))),
                And((gte("date", "2021-01-01"), lt("date", "2022-01-01"))),
            )
        ),
        "What changed?",
        ("in 2019", "in 2021"),
    ),
    (
        "budget cuts in 2021",
        DATE,
        And((gte("date", "2021-01-01"), lt("date", "2022-01-01"))),
        "budget cuts",
        ("in 2021",),
    ),
    (
        "In March 2021, what did the board decide?",
        BOTH,
        And((gte("date", "2021-03-01"), lt("date", "2021-04-01"))),
        "What did the board decide?",
        ("In March 2021",),
    ),
    ("board decisions in March 2021", YEAR, eq("year", 2021), "board decisions", ("in March 2021",)),
    # ranges
    (
        "papers between 2019 and 2021 on retrieval",
        YEAR,
        And((gte("year", 2019), lte("year", 2021), doc_types("paper"))),
        "retrieval",
        ("papers", "between 2019 and 2021"),
    ),
    (
        "from 2019 to 2021 what changed in pricing",
        YEAR,
        And((gte("year", 2019), lte("year", 2021))),
        "what changed in pricing",
        ("from 2019 to 2021",),
    ),
    (
        "outages between 2021 and 2019",
        YEAR,
        And((gte("year", 2019), lte("year", 2021))),
        "outages",
        ("between 2021 and 2019",),
    ),
    ("incidents 2019-2021", YEAR, And((gte("year", 2019), lte("year", 2021))), "incidents", ("2019-2021",)),
    (
        "reports about solar panels since 2020",
        YEAR,
        And((gte("year", 2020), doc_types("report"))),
        "solar panels",
        ("reports", "since 2020"),
    ),
    ("sales from 2020 onwards", YEAR, gte("year", 2020), "sales", ("from 2020 onwards",)),
    ("security incidents before 2018", YEAR, lte("year", 2017), "security incidents", ("before 2018",)),
    ("hiring after 2015", YEAR, gte("year", 2016), "hiring", ("after 2015",)),
    ("hiring after 2015", DATE, gte("date", "2016-01-01"), "hiring", ("after 2015",)),
    ("pricing until 2018", YEAR, lte("year", 2018), "pricing", ("until 2018",)),
    ("pricing 2018 or earlier", YEAR, lte("year", 2018), "pricing", ("2018 or earlier",)),
    (
        "budget in the 1990s",
        YEAR,
        And((gte("year", 1990), lte("year", 1999))),
        "budget",
        ("in the 1990s",),
    ),
    (
        "outages since 2020 and before 2023",
        YEAR,
        And((gte("year", 2020), lte("year", 2022))),
        "outages",
        ("since 2020", "before 2023"),
    ),
    # relative to TODAY (2024-06-15)
    ("What happened last year?", YEAR, eq("year", 2023), "What happened?", ("last year",)),
    (
        "What happened last year?",
        DATE,
        And((gte("date", "2023-01-01"), lt("date", "2024-01-01"))),
        "What happened?",
        ("last year",),
    ),
    ("plans for this year", YEAR, eq("year", 2024), "plans", ("for this year",)),
    ("budget in the past 3 years", BOTH, gte("date", "2021-06-15"), "budget", ("in the past 3 years",)),
    ("budget in the past three years", YEAR, gte("year", 2021), "budget", ("in the past three years",)),
    (
        "incidents last month",
        BOTH,
        And((gte("date", "2024-05-01"), lt("date", "2024-06-01"))),
        "incidents",
        ("last month",),
    ),
    ("alerts over the past 2 weeks", DATE, gte("date", "2024-06-01"), "alerts", ("over the past 2 weeks",)),
    (
        "deploys yesterday",
        DATE,
        And((gte("date", "2024-06-14"), lt("date", "2024-06-15"))),
        "deploys",
        ("yesterday",),
    ),
    # versions
    ("What changed in version 3.2?", VERSION, eq("version", "3.2"), "What changed?", ("in version 3.2",)),
    (
        "bugs fixed in v3.2 and v3.3",
        VERSION,
        InList("version", ("3.2", "3.3"), False),
        "bugs fixed",
        ("in v3.2", "v3.3"),
    ),
    ("Python 3.11 features", VERSION, eq("version", "3.11"), "Python features", ("3.11",)),
    ("revenue grew 3.5 million", VERSION, None, "revenue grew 3.5 million", ()),
    ("What changed in version 3.2?", {}, None, "What changed in version 3.2?", ()),
    # known values
    ("policies on remote work", {}, doc_types("policy"), "remote work", ("policies",)),
    ("the white papers on caching", {}, doc_types("white paper"), "caching", ("white papers",)),
    (
        "Which REPORT or memo covers pricing?",
        {},
        doc_types("report", "memo"),
        "Which or covers pricing?",
        ("REPORT", "memo"),
    ),
    # removal would leave nothing meaningful: the question stays as asked
    (
        "reports from 2021",
        YEAR,
        And((eq("year", 2021), doc_types("report"))),
        "reports from 2021",
        ("reports", "from 2021"),
    ),
    (
        "Show me memos from 2020",
        YEAR,
        And((eq("year", 2020), doc_types("memo"))),
        "Show me memos from 2020",
        ("memos", "from 2020"),
    ),
    # no match
    ("What is the capital of France?", BOTH | VERSION, None, "What is the capital of France?", ()),
    ("What is the status today?", BOTH, None, "What is the status today?", ()),
    ("news about Windows 2000", BOTH, None, "news about Windows 2000", ()),
    ("paperwork for the reporter", {}, None, "paperwork for the reporter", ()),
    # wrong kind or unknown field: never used
    ("budget in 2021", {"year_field": "doc_type"}, None, "budget in 2021", ()),
    ("budget in 2021", {"date_field": "year"}, None, "budget in 2021", ()),
    ("budget in 2021", {"year_field": "published"}, None, "budget in 2021", ()),
    (
        "budget in 2021 for draft memos",
        {"year_field": "draft"},
        doc_types("memo"),
        "budget in 2021 for draft",
        ("memos",),
    ),
    ("flags in version 3.2", {"version_field": "draft"}, None, "flags in version 3.2", ()),
]


@pytest.mark.parametrize(("question", "options", "expected", "cleaned", "matched"), CASES)
def test_extract_filters(question, options, expected, cleaned, matched) -> None:
    got = extract_filters(question, SCHEMA, values=VALUES, today=TODAY, **options)
    assert got == Extracted(cleaned, expected, matched)


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 25


def _column(schema: dict[str, Any]):
    return lambda name: (f"`{name}`", schema[name]) if name in schema else None


@pytest.mark.parametrize(("question", "options"), [(c[0], c[1]) for c in CASES])
def test_every_filter_uses_schema_fields_with_the_right_kind(question, options) -> None:
    f = extract_filters(question, SCHEMA, values=VALUES, today=TODAY, **options).filter
    if f is not None:
        assert fields_of(f) <= set(SCHEMA)
        to_sql(f, _column(SCHEMA))  # raises FilterError on a value of the wrong kind


def test_unknown_fields_are_never_produced_for_random_questions() -> None:
    rng = random.Random(7)
    words = [
        "in", "2021", "since", "2019", "between", "and", "last", "year", "month", "reports", "memo",
        "version", "3.2", "v4", "before", "after", "papers", "2010s", "past", "3", "weeks", "the",
        "1.2.3", "from", "to", "2020", "policy", "white", "paper", "yesterday", "this", "decade",
    ]  # fmt: skip
    schemas: list[dict[str, Any]] = [
        {"year": "number"},
        {"date": "string", "doc_type": "string"},
        {"doc_type": "number", "version": "bool"},
        {},
    ]
    for _ in range(400):
        question = " ".join(rng.choice(words) for _ in range(rng.randint(1, 10)))
        schema = rng.choice(schemas)
        got = extract_filters(question, schema, values=VALUES, today=TODAY, **BOTH, **VERSION)
        if got.filter is None:
            assert got.matched == () and got.question == question
            continue
        assert fields_of(got.filter) <= set(schema), (question, schema)
        to_sql(got.filter, _column(schema))
        assert got.matched


def test_relative_dates_across_a_year_boundary() -> None:
    january = date(2024, 1, 10)
    assert extract_filters("memos last year", SCHEMA, year_field="year", today=january).filter == eq(
        "year", 2023
    )
    last_month = extract_filters("memos last month", SCHEMA, date_field="date", today=january).filter
    assert last_month == And((gte("date", "2023-12-01"), lt("date", "2024-01-01")))
    # 31 March minus one month is the end of February (a leap year here).
    march = extract_filters("memos in the past month", SCHEMA, date_field="date", today=date(2024, 3, 31))
    assert march.filter == gte("date", "2024-02-29")
    assert extract_filters(
        "memos this week", SCHEMA, date_field="date", today=date(2024, 6, 13)
    ).filter == And((gte("date", "2024-06-10"), lt("date", "2024-06-17")))


def test_number_version_field() -> None:
    schema: dict[str, Any] = {"version": "number"}
    assert extract_filters("notes for version 3.2", schema, version_field="version").filter == eq(
        "version", 3.2
    )
    assert extract_filters("notes for v3", schema, version_field="version").filter == eq("version", 3)
    # 3.2.1 is no number: nothing to compare a number field with.
    assert extract_filters("notes for version 3.2.1", schema, version_field="version").filter is None


def test_filters_select_what_they_say() -> None:
    """The extracted filter, run by the reference evaluator, picks the documents the phrase means."""
    docs = [{"year": y, "doc_type": t} for y in range(2015, 2025) for t in ("report", "memo")]
    f = extract_filters("reports between 2019 and 2021", SCHEMA, values=VALUES, year_field="year").filter
    assert f is not None
    picked = [d for d in docs if matches(f, d)]
    assert picked == [{"year": y, "doc_type": "report"} for y in (2019, 2020, 2021)]
    alternatives = extract_filters(
        "memos in 2016 or reports in 2023", SCHEMA, values=VALUES, year_field="year", today=TODAY
    ).filter
    # Years are alternatives; types too (the rules do not pair them up).
    assert alternatives == And((InList("year", (2016, 2023), False), doc_types("memo", "report")))
