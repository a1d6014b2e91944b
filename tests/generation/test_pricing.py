"""Cost estimates from the per-model price table."""

from __future__ import annotations

import pytest

from ragline.generation.pricing import estimate_cost, find_price
from ragline.settings import DEFAULT_PRICES, ModelPrice


def test_exact_model():
    cost = estimate_cost("gpt-4o", 1_000_000, 1_000_000, DEFAULT_PRICES)
    assert cost == pytest.approx(2.5 + 10.0)


def test_dated_model_uses_the_longest_matching_prefix():
    # "gpt-4o" is also a prefix of the name; the more specific "gpt-4o-mini" must win.
    cost = estimate_cost("gpt-4o-mini-2024-07-18", 1_000, 200, DEFAULT_PRICES)
    assert cost == pytest.approx((1_000 * 0.15 + 200 * 0.6) / 1e6)
    assert find_price("gpt-4.1-mini-2025-04-14", DEFAULT_PRICES) == DEFAULT_PRICES["gpt-4.1-mini"]


def test_prefix_must_end_at_a_dash():
    assert estimate_cost("gpt-4ox", 10, 10, DEFAULT_PRICES) is None


def test_provider_prefix_is_ignored():
    assert find_price("openai/gpt-4o-mini", DEFAULT_PRICES) == DEFAULT_PRICES["gpt-4o-mini"]


def test_unknown_model_has_no_cost():
    assert estimate_cost("llama3.1:8b", 100, 100, DEFAULT_PRICES) is None
    assert estimate_cost("gpt-4o", 100, 100, {}) is None


def test_custom_table_and_zero_tokens():
    prices = {"local": ModelPrice(input_per_mtok=1.0, output_per_mtok=3.0)}
    assert estimate_cost("local", 0, 0, prices) == 0.0
    assert estimate_cost("local", 500_000, 100_000, prices) == pytest.approx(0.5 + 0.3)
