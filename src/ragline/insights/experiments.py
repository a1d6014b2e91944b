"""A/B experiments: sticky assignment of a unit (key, user or session) to a variant, the settings
override a request runs with, and the per-variant report with significance tests.

Assignment hashes ``"<experiment>:<unit id>"`` (SHA-256) to a point in [0, 100) and walks the
cumulative split, so one unit always gets the same variant, the variants of two experiments are
independent, and changing the split moves only the units near the boundaries.

Example::

    arms = assign_all(settings, collection="kb", units={"key": "k1", "user": "", "session": ""})
    label = variant_label(arms)           # "rerank=treatment", stored in the trace
    override = variant_override(settings, arms)   # feed to Engine.with_settings(**override)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragline.errors import ConfigError
from ragline.insights.stats import (
    BootstrapCI,
    ProportionTest,
    bootstrap_diff_ci,
    percentile,
    two_proportion_test,
)
from ragline.service_state import RatedTrace, StateStore, in_experiment
from ragline.settings import ExperimentSettings, Settings, deep_merge


def bucket(experiment: str, unit_id: str) -> float:
    """The unit's point in [0, 100) for this experiment (deterministic across processes)."""
    digest = hashlib.sha256(f"{experiment}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def assign(experiment: str, exp: ExperimentSettings, unit_id: str) -> str:
    """The variant of ``exp`` that ``unit_id`` gets."""
    point = bucket(experiment, unit_id)
    edge = 0.0
    names = list(exp.variants)
    for name, share in zip(names, exp.shares(), strict=True):
        edge += share
        if point < edge:
            return name
    return names[-1]  # float rounding at the top edge


def assign_all(settings: Settings, *, collection: str, units: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(experiment, variant)`` for every enabled experiment covering ``collection``, in name order.
    ``units`` maps "key", "user" and "session" to the request's ids ("" when it has none: the
    key is used instead)."""
    out = []
    for name in sorted(settings.experiments):
        exp = settings.experiments[name]
        if not exp.enabled or (exp.collections and collection not in exp.collections):
            continue
        unit_id = units.get(exp.unit) or units.get("key", "")
        out.append((name, assign(name, exp, f"{exp.unit}:{unit_id}")))
    return out


def variant_label(arms: Sequence[tuple[str, str]]) -> str:
    """The trace's ``variant`` field: ``name=variant`` pairs joined by ","."""
    return ",".join(f"{name}={arm}" for name, arm in arms)


def variant_override(settings: Settings, arms: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The settings override of these variants merged in experiment order (a later experiment's
    key wins where two touch the same setting)."""
    merged: dict[str, Any] = {}
    for name, arm in arms:
        merged = deep_merge(merged, settings.experiments[name].variants[arm])
    return merged


def experiment(settings: Settings, name: str) -> ExperimentSettings:
    """The named experiment, or a :class:`ConfigError` naming the configured ones."""
    if name not in settings.experiments:
        known = ", ".join(sorted(settings.experiments)) or "none"
        raise ConfigError(f"no experiment {name!r} in the settings ([experiments.NAME]); configured: {known}")
    return settings.experiments[name]


# -- the report -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VariantStats:
    """What one variant's traces show."""

    variant: str
    traces: int
    answers: int
    abstained: int
    rated: int
    thumbs_up: int
    latency_p50_ms: float
    latency_p95_ms: float
    cost_usd: float
    latencies_ms: tuple[float, ...] = field(repr=False, default=())

    @property
    def abstention_rate(self) -> float:
        return self.abstained / self.answers if self.answers else 0.0

    @property
    def feedback_rate(self) -> float:
        """Share of traces that got any rating."""
        return self.rated / self.traces if self.traces else 0.0

    @property
    def thumbs_up_rate(self) -> float:
        """Share of rated traces rated up."""
        return self.thumbs_up / self.rated if self.rated else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "traces": self.traces,
            "answers": self.answers,
            "abstention_rate": self.abstention_rate,
            "feedback_rate": self.feedback_rate,
            "rated": self.rated,
            "thumbs_up_rate": self.thumbs_up_rate,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "cost_usd": self.cost_usd,
            "cost_per_answer_usd": self.cost_usd / self.answers if self.answers else 0.0,
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """A treatment against the control: rate tests and latency intervals at the report's alpha."""

    variant: str
    abstention: ProportionTest
    thumbs_up: ProportionTest
    latency_p50: BootstrapCI
    latency_p95: BootstrapCI
    alpha: float

    def as_json(self) -> dict[str, Any]:
        def rate(t: ProportionTest) -> dict[str, Any]:
            return {"diff": t.diff, "z": t.z, "p_value": t.p_value, "significant": t.p_value < self.alpha}

        def ci(c: BootstrapCI) -> dict[str, Any]:
            return {"diff_ms": c.estimate, "ci_low": c.low, "ci_high": c.high, "significant": c.significant}

        return {
            "variant": self.variant,
            "abstention_rate": rate(self.abstention),
            "thumbs_up_rate": rate(self.thumbs_up),
            "latency_p50": ci(self.latency_p50),
            "latency_p95": ci(self.latency_p95),
        }


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    """Per-variant statistics, each treatment compared with the control (the first variant)."""

    experiment: str
    alpha: float
    min_samples: int
    variants: tuple[VariantStats, ...]
    comparisons: tuple[Comparison, ...]
    warnings: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "alpha": self.alpha,
            "min_samples": self.min_samples,
            "control": self.variants[0].variant if self.variants else "",
            "variants": [v.as_json() for v in self.variants],
            "comparisons": [c.as_json() for c in self.comparisons],
            "warnings": list(self.warnings),
        }


def _stats(variant: str, rows: Sequence[RatedTrace]) -> VariantStats:
    answers = abstained = rated = up = 0
    cost = 0.0
    latencies: list[float] = []
    for r in rows:
        payload = json.loads(r.trace.payload)
        if payload.get("kind") == "ask":
            answers += 1
            abstained += bool(payload.get("abstained"))
            cost += float((payload.get("usage") or {}).get("cost_usd") or 0.0)
        total = (payload.get("timings_ms") or {}).get("total")
        if total is not None:
            latencies.append(float(total))
        if r.up or r.down:
            rated += 1
            # A trace rated both ways by different users counts by its majority (ties: down).
            up += r.up > r.down
    return VariantStats(
        variant=variant,
        traces=len(rows),
        answers=answers,
        abstained=abstained,
        rated=rated,
        thumbs_up=up,
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        cost_usd=cost,
        latencies_ms=tuple(latencies),
    )


def compare(
    name: str, exp: ExperimentSettings, stats: Sequence[VariantStats], *, seed: int = 0
) -> ExperimentReport:
    """The report over already computed per-variant statistics (control first)."""
    control = stats[0]
    comparisons = []
    for s in stats[1:]:
        comparisons.append(
            Comparison(
                variant=s.variant,
                abstention=two_proportion_test(control.abstained, control.answers, s.abstained, s.answers),
                thumbs_up=two_proportion_test(control.thumbs_up, control.rated, s.thumbs_up, s.rated),
                latency_p50=bootstrap_diff_ci(
                    control.latencies_ms, s.latencies_ms, 50, alpha=exp.alpha, seed=seed
                ),
                latency_p95=bootstrap_diff_ci(
                    control.latencies_ms, s.latencies_ms, 95, alpha=exp.alpha, seed=seed
                ),
                alpha=exp.alpha,
            )
        )
    warnings = [
        f"variant {s.variant!r} has {s.traces} traces, below min_samples={exp.min_samples}: "
        "differences are not reliable yet"
        for s in stats
        if s.traces < exp.min_samples
    ]
    return ExperimentReport(
        name, exp.alpha, exp.min_samples, tuple(stats), tuple(comparisons), tuple(warnings)
    )


def experiment_report(
    state: StateStore, settings: Settings, name: str, *, tenant: str | None, since: float = 0.0
) -> ExperimentReport:
    """The report of experiment ``name`` over the stored traces of ``tenant`` (None: all tenants).

    Example::

        experiment_report(state, settings, "rerank", tenant="acme").as_json()
    """
    exp = experiment(settings, name)
    rows = state.rated_traces(tenant=tenant, experiment=name, since=since)
    by_arm: dict[str, list[RatedTrace]] = {arm: [] for arm in exp.variants}
    for r in rows:
        arm = in_experiment(r.trace.variant, name)
        if arm in by_arm:
            by_arm[arm].append(r)
    return compare(name, exp, [_stats(arm, by_arm[arm]) for arm in exp.variants])
