"""The report's statistics against hand-computed values, and an A/B simulation: a known effect is
detected, a null effect is not (false-positive rate near alpha over many seeds)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ragline.errors import ConfigError
from ragline.insights.experiments import assign
from ragline.insights.stats import bootstrap_diff_ci, percentile, two_proportion_test
from ragline.settings import ExperimentSettings

ALPHA = 0.05


def test_two_proportion_test_hand_computed() -> None:
    # p1 = .45, p2 = .60, pooled p = 105/200 = .525; se = sqrt(.525 * .475 * (1/100 + 1/100))
    # = sqrt(.0049875) = .0706222; z = .15 / .0706222 = 2.12398; p = erfc(2.12398 / sqrt 2) = .03367
    t = two_proportion_test(45, 100, 60, 100)
    assert (t.p1, t.p2) == (0.45, 0.60)
    assert t.diff == pytest.approx(0.15)
    assert t.z == pytest.approx(2.12398, abs=1e-5)
    assert t.p_value == pytest.approx(0.03367, abs=1e-5)
    # Unequal sizes: 30/200 vs 30/100: pooled .2, se = sqrt(.16 * .015) = .0489898, z = .15/.0489898
    u = two_proportion_test(30, 200, 30, 100)
    assert u.z == pytest.approx(3.06186, abs=1e-5)
    assert two_proportion_test(60, 100, 45, 100).z == pytest.approx(-t.z)


def test_two_proportion_test_degenerate_cases() -> None:
    assert two_proportion_test(0, 0, 5, 10).p_value == 1.0
    assert two_proportion_test(10, 10, 10, 10).z == 0.0  # no variance: nothing to test
    with pytest.raises(ConfigError, match="11 successes of 10"):
        two_proportion_test(11, 10, 1, 10)


def test_percentile_interpolates_linearly() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)  # 1 + .95 * 3 = position 2.85
    assert percentile([], 50) == 0.0
    with pytest.raises(ConfigError, match="101"):
        percentile([1.0], 101)


def test_bootstrap_of_constant_samples_is_the_exact_difference() -> None:
    ci = bootstrap_diff_ci([100.0] * 10, [150.0] * 10, 50)
    assert (ci.estimate, ci.low, ci.high) == (50.0, 50.0, 50.0)
    assert ci.significant
    empty = bootstrap_diff_ci([], [1.0], 50)
    assert not empty.significant and math.isinf(empty.low)
    with pytest.raises(ConfigError, match=r"alpha 1\.5"):
        bootstrap_diff_ci([1.0], [1.0], 50, alpha=1.5)


def test_bootstrap_interval_is_deterministic_per_seed_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(5, 0.4, 80).tolist(), rng.lognormal(5, 0.4, 80).tolist()
    first, again = bootstrap_diff_ci(a, b, 95, seed=7), bootstrap_diff_ci(a, b, 95, seed=7)
    assert first == again
    assert first.low <= first.estimate <= first.high


EXP = ExperimentSettings(variants={"control": {}, "treatment": {"answer": {"top_k": 3}}})


def _simulated_rates(
    seed: int, n_units: int, p_control: float, p_treatment: float
) -> tuple[int, int, int, int]:
    """Units assigned by the real hash; each unit's one rating is up with its variant's rate."""
    rng = np.random.default_rng(seed)
    counts = {"control": [0, 0], "treatment": [0, 0]}
    for i in range(n_units):
        arm = assign("sim", EXP, f"user:{seed}-{i}")
        p = p_control if arm == "control" else p_treatment
        counts[arm][0] += int(rng.random() < p)
        counts[arm][1] += 1
    return counts["control"][0], counts["control"][1], counts["treatment"][0], counts["treatment"][1]


def test_a_known_effect_is_detected() -> None:
    # 50% vs 60% thumbs-up over ~1,000 units an arm: power ~0.99 at alpha .05.
    detected = 0
    for seed in range(20):
        t = two_proportion_test(*_simulated_rates(seed, 2000, 0.50, 0.60))
        detected += t.p_value < ALPHA and t.diff > 0
    assert detected >= 18


def test_a_null_effect_is_not_detected_beyond_alpha() -> None:
    false_positives = sum(
        two_proportion_test(*_simulated_rates(seed, 400, 0.55, 0.55)).p_value < ALPHA for seed in range(200)
    )
    assert false_positives / 200 <= 2 * ALPHA


def test_latency_bootstrap_detects_a_shift_and_not_a_null() -> None:
    rng = np.random.default_rng(11)
    shifted = sum(
        bootstrap_diff_ci(
            rng.lognormal(5, 0.3, 150), rng.lognormal(5, 0.3, 150) * 1.3, 50, resamples=400, seed=s
        ).significant
        for s in range(20)
    )
    assert shifted >= 18
    null = sum(
        bootstrap_diff_ci(
            rng.lognormal(5, 0.3, 150), rng.lognormal(5, 0.3, 150), 50, resamples=400, seed=s
        ).significant
        for s in range(200)
    )
    assert null / 200 <= 2 * ALPHA
