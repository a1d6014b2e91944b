"""Feedback analytics: the thumbs-up rate per collection, variant and day, and the worst-rated
questions with the traces they came from.

Example::

    report = feedback_report(state, tenant="acme", days=30)
    report.by_collection[0].rate
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ragline.errors import ConfigError
from ragline.service_state import RatedTrace, StateStore

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")
# Worst-rated questions listed.
WORST_QUESTIONS = 20


def normalise_question(text: str) -> str:
    """Case-folded, punctuation dropped, whitespace collapsed: "How do backups work?" and
    "how do  backups work" are one question."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.casefold())).strip()


@dataclass(frozen=True, slots=True)
class RateRow:
    """Ratings of one group: traces rated up and down (a trace counts once, by its majority)."""

    key: str
    up: int
    down: int

    @property
    def rated(self) -> int:
        return self.up + self.down

    @property
    def rate(self) -> float:
        """Thumbs-up share of rated traces."""
        return self.up / self.rated if self.rated else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "up": self.up, "down": self.down, "rated": self.rated, "rate": self.rate}


@dataclass(frozen=True, slots=True)
class WorstQuestion:
    question: str
    collection: str
    up: int
    down: int
    trace_ids: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "collection": self.collection,
            "up": self.up,
            "down": self.down,
            "trace_ids": list(self.trace_ids),
        }


@dataclass(frozen=True, slots=True)
class FeedbackReport:
    days: float
    traces: int
    rated: int
    by_collection: tuple[RateRow, ...]
    by_variant: tuple[RateRow, ...]
    by_day: tuple[RateRow, ...]
    worst: tuple[WorstQuestion, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "traces": self.traces,
            "rated": self.rated,
            "by_collection": [r.as_json() for r in self.by_collection],
            "by_variant": [r.as_json() for r in self.by_variant],
            "by_day": [r.as_json() for r in self.by_day],
            "worst": [w.as_json() for w in self.worst],
        }


def _rows(pairs: Iterable[tuple[str, int]]) -> tuple[RateRow, ...]:
    counts: dict[str, list[int]] = {}
    for key, vote in pairs:
        c = counts.setdefault(key, [0, 0])
        c[0 if vote > 0 else 1] += 1
    return tuple(RateRow(k, up, down) for k, (up, down) in sorted(counts.items()))


def _day(r: RatedTrace) -> str:
    return datetime.datetime.fromtimestamp(r.trace.created_at, datetime.UTC).date().isoformat()


def summarise(
    rows: Iterable[RatedTrace], *, days: float = 0.0, worst: int = WORST_QUESTIONS
) -> FeedbackReport:
    """The report over rated traces (unrated ones only count towards ``traces``)."""
    traces = 0
    votes: list[tuple[RatedTrace, int]] = []
    for r in rows:
        traces += 1
        if r.up or r.down:
            votes.append((r, 1 if r.up > r.down else -1))
    questions: dict[tuple[str, str], list[RatedTrace]] = {}
    for r, _ in votes:
        questions.setdefault((r.trace.collection, normalise_question(r.trace.question)), []).append(r)
    ranked = []
    for (collection, _), group in questions.items():
        up, down = sum(g.up for g in group), sum(g.down for g in group)
        if down:
            ranked.append(
                WorstQuestion(group[0].trace.question, collection, up, down, tuple(g.trace.id for g in group))
            )
    # Most thumbs-down first, then the lowest share of ups.
    ranked.sort(key=lambda w: (-w.down, w.up / (w.up + w.down), w.question))
    return FeedbackReport(
        days=days,
        traces=traces,
        rated=len(votes),
        by_collection=_rows((r.trace.collection, v) for r, v in votes),
        by_variant=_rows(
            (pair or "(none)", v) for r, v in votes for pair in (r.trace.variant.split(",") or [""])
        ),
        by_day=_rows((_day(r), v) for r, v in votes),
        worst=tuple(ranked[:worst]),
    )


def feedback_report(
    state: StateStore,
    *,
    tenant: str | None,
    collection: str | None = None,
    days: float = 30.0,
    now: float | None = None,
) -> FeedbackReport:
    """Feedback over the last ``days`` days of ``tenant``'s traces (None: every tenant)."""
    if not days > 0:
        raise ConfigError(f"days {days!r} is invalid: use a number of days > 0")
    since = (time.time() if now is None else now) - days * 86_400
    return summarise(state.rated_traces(tenant=tenant, collection=collection, since=since), days=days)
