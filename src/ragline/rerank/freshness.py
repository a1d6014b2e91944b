"""Freshness reranking: older documents' scores decay exponentially with their age.

The age comes from a chunk metadata field: an ISO date (``2024-05-01``, ``2024-05``, ``2024``) or
datetime string, a ``date``/``datetime``, a year (an int from 1000 to 9999), or any other number as
Unix seconds. Naive datetimes are taken as UTC. A year or month stands for its last day, so a
coarse date never makes a document look older than it may be; future dates count as age 0.

Example::

    reranker = FreshnessReranker("date", rate=0.001)   # half-life ln(2) / 0.001 = 693 days
    hits = reranker.run("pricing", hits, top_k=5)
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime

from ragline.errors import ConfigError
from ragline.rerank.base import check_top_k, rescore
from ragline.types import Hit

_SECONDS_PER_DAY = 86_400.0
_YEAR = re.compile(r"\d{4}")
_YEAR_MONTH = re.compile(r"(\d{4})-(\d{1,2})")


def decay(score: float, age_days: float, rate: float) -> float:
    """Exponential time decay of a score, after the exponential recency prior of Li & Croft (CIKM
    2003, "Time-Based Language Models"): ``score * exp(-rate * age_days)``.

    Age below 0 (a future date) counts as 0: freshness never boosts. For a negative score
    (cosine similarities, MMR values) the factor divides instead, ``score * exp(+rate * age)``,
    so that age always lowers a score: multiplying would pull an old document's negative score
    towards 0, above fresher ones.
    """
    factor = math.exp(-rate * max(age_days, 0.0))
    return score * factor if score >= 0 else score / factor


def _end_of_year(year: int) -> datetime:
    return datetime(year, 12, 31, tzinfo=UTC)


def parse_timestamp(value: object) -> datetime | None:
    """The (UTC-aware) moment a metadata value stands for, or None when it is not a date."""
    if isinstance(value, bool):  # bool is an int, but True is not the year 1
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int) and 1000 <= value <= 9999:
        return _end_of_year(value)
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):  # NaN, infinities and far-off years
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _YEAR.fullmatch(text):
        return _end_of_year(int(text))
    m = _YEAR_MONTH.fullmatch(text)
    if m:
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            return None
        return datetime(year, month, calendar.monthrange(year, month)[1], tzinfo=UTC)
    try:
        # fromisoformat reads "2024-05-01", "2024-05-01T10:00:00+02:00" and "...Z" on Python 3.11.
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def age_in_days(value: object, now: datetime) -> float | None:
    """Days from the moment ``value`` stands for until ``now``; None when ``value`` is not a date."""
    when = parse_timestamp(value)
    if when is None:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return (now - when).total_seconds() / _SECONDS_PER_DAY


class FreshnessReranker:
    """Re-scores hits with :func:`decay` by the age in the chunk metadata ``field``.

    Hits whose ``field`` is missing or not a date keep their score unchanged: nothing says they are
    old, and penalising them would rank documents by how complete their metadata is. ``rate`` is
    per day (half-life ``ln(2) / rate`` days); ``now`` fixes the clock (None: the time of each call).

    Example::

        reranker = FreshnessReranker("updated", rate=0.002, now=datetime(2025, 1, 1, tzinfo=UTC))
        reranker.run("release notes", hits, top_k=5)
    """

    def __init__(self, field: str, rate: float, now: datetime | None = None) -> None:
        if not field:
            raise ConfigError("FreshnessReranker needs the name of a metadata field holding a date")
        if not math.isfinite(rate) or rate < 0:
            raise ConfigError(f"freshness rate={rate!r} must be a finite number >= 0 (per day)")
        self.field = field
        self.rate = rate
        self.now = now

    def scores(self, hits: Sequence[Hit]) -> list[float]:
        """Each hit's decayed score (its own score when it has no usable date)."""
        now = self.now if self.now is not None else datetime.now(UTC)
        out: list[float] = []
        for h in hits:
            value = h.chunk.metadata.get(self.field)
            age = None if value is None else age_in_days(value, now)
            out.append(h.score if age is None else decay(h.score, age, self.rate))
        return out

    def run(self, query: str, hits: Sequence[Hit], top_k: int) -> list[Hit]:
        check_top_k(top_k)
        if not hits:
            return []
        return rescore(hits, self.scores(hits), top_k)
