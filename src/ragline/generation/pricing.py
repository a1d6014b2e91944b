"""Cost estimate of one completion from a per-model price table (USD per million tokens).

Example::

    from ragline.settings import DEFAULT_PRICES
    estimate_cost("gpt-4o-mini-2024-07-18", 1_000, 200, DEFAULT_PRICES)  # 0.00027
"""

from __future__ import annotations

from collections.abc import Mapping

from ragline.settings import ModelPrice


def find_price(model: str, prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """The price of ``model``: its exact entry, else the longest key that is a dated/variant prefix.

    ``gpt-4o-mini-2024-07-18`` matches ``gpt-4o-mini`` (not ``gpt-4o``); a provider prefix such as
    ``openai/gpt-4o`` (LiteLLM, OpenRouter) is ignored when the full name matches nothing.
    """
    candidates = [model]
    if "/" in model:
        candidates.append(model.rsplit("/", 1)[1])
    for name in candidates:
        if name in prices:
            return prices[name]
        prefixes = [key for key in prices if name.startswith(key + "-")]
        if prefixes:
            return prices[max(prefixes, key=len)]
    return None


def estimate_cost(
    model: str, prompt_tokens: int, completion_tokens: int, prices: Mapping[str, ModelPrice]
) -> float | None:
    """USD cost of a completion, or None when ``model`` has no entry in ``prices``."""
    price = find_price(model, prices)
    if price is None:
        return None
    return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1_000_000
