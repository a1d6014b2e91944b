from __future__ import annotations

import pytest

from ragline.errors import ConfigError
from ragline.insights.experiments import (
    assign,
    assign_all,
    experiment_report,
    variant_label,
    variant_override,
)
from ragline.service_state import StateStore
from ragline.settings import ExperimentSettings, load_settings
from tests.insights.conftest import put_answer

TREATMENT = {"retrieval": {"rerank": {"stages": []}}, "answer": {"top_k": 3}}


def _settings(**exp: object) -> object:
    return load_settings(
        experiments={
            "rerank": {"variants": {"control": {}, "treatment": TREATMENT}, "min_samples": 3, **exp},
            "prompt": {
                "variants": {"a": {}, "b": {"answer": {"top_k": 7}}},
                "unit": "user",
                "collections": ["kb"],
            },
        }
    )


def test_assignment_is_sticky_and_follows_the_split() -> None:
    exp = ExperimentSettings(variants={"c": {}, "t": {}}, split=[20, 80])
    arms = [assign("e", exp, f"key:{i}") for i in range(10_000)]
    assert arms == [assign("e", exp, f"key:{i}") for i in range(10_000)]
    assert 0.18 < arms.count("c") / 10_000 < 0.22
    # Another experiment's assignment is independent of this one's.
    other = [assign("f", exp, f"key:{i}") for i in range(10_000)]
    both_c = sum(a == b == "c" for a, b in zip(arms, other, strict=True)) / 10_000
    assert both_c == pytest.approx(0.04, abs=0.01)


def test_assign_all_uses_the_unit_and_the_collections() -> None:
    settings = _settings()
    units = {"key": "k1", "user": "alice", "session": ""}
    arms = assign_all(settings, collection="kb", units=units)
    assert [name for name, _ in arms] == ["prompt", "rerank"]
    assert dict(arms)["prompt"] == assign("prompt", settings.experiments["prompt"], "user:alice")
    assert dict(arms)["rerank"] == assign("rerank", settings.experiments["rerank"], "key:k1")
    # A missing user id falls back to the key; another collection is outside "prompt".
    fallback = assign_all(settings, collection="kb", units={"key": "k1", "user": ""})
    assert dict(fallback)["prompt"] == assign("prompt", settings.experiments["prompt"], "user:k1")
    assert [n for n, _ in assign_all(settings, collection="news", units=units)] == ["rerank"]
    assert variant_label([("prompt", "b"), ("rerank", "control")]) == "prompt=b,rerank=control"
    merged = variant_override(settings, [("prompt", "b"), ("rerank", "treatment")])
    assert merged == {"answer": {"top_k": 3}, "retrieval": {"rerank": {"stages": []}}}


def test_disabled_experiment_assigns_nothing() -> None:
    settings = _settings(enabled=False)
    assert [n for n, _ in assign_all(settings, collection="kb", units={"key": "k"})] == ["prompt"]


@pytest.mark.parametrize(
    ("exp", "message"),
    [
        ({"variants": {"only": {}}}, "at least two variants"),
        ({"variants": {"c": {}, "t": {"chunking": {}}}}, "may override only"),
        ({"variants": {"c": {}, "t": {"retrieval": {"top_kk": 3}}}}, "top_kk"),
        ({"variants": {"c": {}, "t": {}}, "split": [50, 40]}, "summing to 100"),
        ({"variants": {"c": {}, "t": {}}, "split": [100]}, "one share per variant"),
        ({"variants": {"c": {}, "t": {}}, "unit": "ip"}, "unit"),
    ],
)
def test_bad_experiments_are_refused(exp: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(experiments={"x": exp})


def test_report_hand_computed(state: StateStore) -> None:
    # control: 4 answers, 1 abstained, 3 rated (2 up), latencies 100..400, cost .01 each
    for i, (abst, ratings) in enumerate([(False, (1,)), (False, (1,)), (True, (-1,)), (False, ())]):
        put_answer(
            state,
            f"c{i}",
            f"q{i}",
            variant="rerank=control",
            abstained=abst,
            ratings=ratings,
            total_ms=100.0 * (i + 1),
            cost=0.01,
        )
    # treatment: 2 answers, none abstained, 2 rated up (one of them 2 up vs 1 down: up by majority)
    put_answer(state, "t0", "q0", variant="prompt=a,rerank=treatment", ratings=(1, 1, -1), total_ms=50.0)
    put_answer(state, "t1", "q1", variant="rerank=treatment", ratings=(1,), total_ms=70.0)
    put_answer(state, "x", "q9", variant="prompt=a")  # another experiment only
    report = experiment_report(state, _settings(), "rerank", tenant="default")
    control, treatment = report.variants
    assert (control.answers, control.abstained, control.rated, control.thumbs_up) == (4, 1, 3, 2)
    assert control.abstention_rate == 0.25 and control.thumbs_up_rate == pytest.approx(2 / 3)
    assert control.feedback_rate == 0.75
    assert control.latency_p50_ms == 250.0 and control.latency_p95_ms == pytest.approx(385.0)
    assert control.cost_usd == pytest.approx(0.04)
    assert (treatment.answers, treatment.rated, treatment.thumbs_up, treatment.latency_p50_ms) == (
        2,
        2,
        2,
        60.0,
    )
    (cmp,) = report.comparisons
    assert cmp.thumbs_up.diff == pytest.approx(1 / 3)
    assert cmp.abstention.diff == -0.25
    assert report.warnings == (
        "variant 'treatment' has 2 traces, below min_samples=3: differences are not reliable yet",
    )
    out = report.as_json()
    assert out["control"] == "control" and out["variants"][0]["cost_per_answer_usd"] == pytest.approx(0.01)
    assert experiment_report(state, _settings(), "rerank", tenant="other").variants[0].traces == 0


def test_report_of_unknown_experiment_names_the_configured_ones(state: StateStore) -> None:
    with pytest.raises(ConfigError, match="configured: prompt, rerank"):
        experiment_report(state, _settings(), "nope", tenant=None)
