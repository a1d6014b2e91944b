"""Freshness: the decay function, date parsing, and the reranker's ordering."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ragline.errors import ConfigError
from ragline.rerank.base import Reranker
from ragline.rerank.freshness import FreshnessReranker, age_in_days, decay, parse_timestamp

from . import make_hit, texts

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_decay_math():
    assert decay(1.0, 0.0, 0.1) == 1.0
    assert decay(2.0, 10.0, 0.1) == pytest.approx(2.0 * math.exp(-1.0))
    assert decay(3.0, 500.0, 0.0) == 3.0  # rate 0 switches freshness off
    # Half-life ln(2) / rate.
    assert decay(1.0, math.log(2) / 0.001, 0.001) == pytest.approx(0.5)
    assert decay(0.0, 1000.0, 0.1) == 0.0


def test_future_dates_never_boost():
    assert decay(1.0, -30.0, 0.1) == 1.0
    assert decay(-1.0, -30.0, 0.1) == -1.0


def test_age_always_lowers_a_score_whatever_its_sign():
    for score in (2.0, 0.5, -0.5, -2.0):
        values = [decay(score, age, 0.01) for age in (0, 10, 100, 1000)]
        assert values == sorted(values, reverse=True)
        assert values[-1] < values[0]
    assert decay(-1.0, 10.0, 0.1) == pytest.approx(-math.exp(1.0))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        (" 2024-05-01 ", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T12:30:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),  # naive is UTC
        ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T12:30:00+02:00", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
        ("2024-02", datetime(2024, 2, 29, tzinfo=UTC)),  # a month stands for its last day
        ("2023", datetime(2023, 12, 31, tzinfo=UTC)),  # a year for its last day
        (2023, datetime(2023, 12, 31, tzinfo=UTC)),
        (1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),  # Unix seconds
        (1_700_000_000.5, datetime(2023, 11, 14, 22, 13, 20, 500_000, tzinfo=UTC)),
        (datetime(2024, 5, 1, 8, 0), datetime(2024, 5, 1, 8, 0, tzinfo=UTC)),
        (
            datetime(2024, 5, 1, 8, 0, tzinfo=timezone(timedelta(hours=-5))),
            datetime(2024, 5, 1, 13, 0, tzinfo=UTC),
        ),
        (date(2024, 5, 1), datetime(2024, 5, 1, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize(
    "value", [True, False, "", "yesterday", "2024-13", "2024-02-30", float("nan"), 1e20, None]
)
def test_values_that_are_not_dates(value):
    assert parse_timestamp(value) is None


def test_age_in_days():
    assert age_in_days("2024-12-22", NOW) == pytest.approx(10.0)
    assert age_in_days("2024-12-31T12:00:00Z", NOW) == pytest.approx(0.5)
    assert age_in_days("2025-01-11", NOW) == pytest.approx(-10.0)
    assert age_in_days("2024-12-22", datetime(2025, 1, 1)) == pytest.approx(10.0)  # naive now is UTC
    assert age_in_days("soon", NOW) is None


def test_newer_document_overtakes_an_older_better_scored_one():
    old = make_hit("old release notes", score=1.0, date="2020-01-01")
    new = make_hit("new release notes", score=0.6, date="2024-12-01")
    reranker = FreshnessReranker("date", rate=0.001, now=NOW)
    assert isinstance(reranker, Reranker)
    ranked = reranker.run("release notes", [old, new], top_k=2)
    assert texts(ranked) == ["new release notes", "old release notes"]
    assert ranked[0].score == pytest.approx(0.6 * math.exp(-0.001 * 31))
    old_age = (NOW - datetime(2020, 1, 1, tzinfo=UTC)).days
    assert ranked[1].score == pytest.approx(math.exp(-0.001 * old_age))
    assert ranked[1].retrievers == old.retrievers  # first-stage evidence kept
    # A gentler rate keeps the first-stage order.
    gentle = FreshnessReranker("date", rate=0.00001, now=NOW).run("q", [old, new], top_k=2)
    assert texts(gentle) == ["old release notes", "new release notes"]


def test_missing_or_unparseable_field_keeps_the_score():
    undated = make_hit("undated", score=0.8)
    garbled = make_hit("garbled", score=0.7, date="sometime in spring")
    other_field = make_hit("other field", score=0.75, updated="2000-01-01")
    dated = make_hit("dated", score=0.9, date="2015-06-01")
    ranked = FreshnessReranker("date", rate=0.001, now=NOW).run(
        "q", [dated, undated, garbled, other_field], 4
    )
    scores = {h.chunk.text: h.score for h in ranked}
    assert scores["undated"] == 0.8
    assert scores["garbled"] == 0.7
    assert scores["other field"] == 0.75
    assert scores["dated"] < 0.9 * 0.1
    assert texts(ranked) == ["undated", "other field", "garbled", "dated"]


def test_year_and_unix_seconds_fields():
    year = make_hit("year", score=1.0, published=2024)
    seconds = make_hit("seconds", score=1.0, published=int(datetime(2024, 12, 31, tzinfo=UTC).timestamp()))
    ranked = FreshnessReranker("published", rate=0.01, now=NOW).run("q", [year, seconds], top_k=2)
    assert ranked[0].score == pytest.approx(ranked[1].score)  # both mean 2024-12-31
    assert ranked[0].score == pytest.approx(math.exp(-0.01))


def test_negative_scores_still_rank_old_documents_lower():
    old = make_hit("old", score=-0.2, date="2015-01-01")
    new = make_hit("new", score=-0.3, date="2024-12-31")
    ranked = FreshnessReranker("date", rate=0.001, now=NOW).run("q", [old, new], top_k=2)
    assert texts(ranked) == ["new", "old"]
    assert ranked[1].score < -0.2


def test_default_clock_is_the_time_of_the_call():
    today = datetime.now(UTC).date().isoformat()
    hit = make_hit("today", score=1.0, date=today)
    (ranked,) = FreshnessReranker("date", rate=0.001).run("q", [hit], top_k=1)
    assert ranked.score == pytest.approx(1.0, abs=0.002)


def test_top_k_empty_input_and_bad_arguments():
    hits = [make_hit(f"doc {i}", score=1.0, date=f"202{i}-01-01") for i in range(5)]
    reranker = FreshnessReranker("date", rate=0.001, now=NOW)
    assert texts(reranker.run("q", hits, top_k=2)) == ["doc 4", "doc 3"]
    assert reranker.run("q", [], top_k=2) == []
    with pytest.raises(ConfigError, match="top_k"):
        reranker.run("q", hits, top_k=0)
    with pytest.raises(ConfigError, match="rate"):
        FreshnessReranker("date", rate=-0.1)
    with pytest.raises(ConfigError, match="rate"):
        FreshnessReranker("date", rate=float("inf"))
    with pytest.raises(ConfigError, match="metadata field"):
        FreshnessReranker("", rate=0.1)
