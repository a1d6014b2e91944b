"""Test doubles shared by ragline's tests and by anyone testing code built on ragline: no model
weights, no store, deterministic.

Example::

    from ragline.testing.doubles import HashEmbedder, WordCounter
    emb = HashEmbedder()
    emb.embed_documents(["harbour tides"]).shape   # (1, 64)
    WordCounter().count("two words")               # 2
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from ragline.embedding.base import Vectors, l2_normalize

_WORD = re.compile(r"\w+")


class HashEmbedder:
    """An :class:`~ragline.embedding.base.Embedder` whose vectors are hashed bags of words: texts
    sharing words are similar, as with a real model, at no cost. Records each batch it embeds."""

    def __init__(self, dimension: int = 64, model_id: str = "hash-64") -> None:
        self.dimension = dimension
        self.model_id = model_id
        self.calls: list[list[str]] = []

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[i, zlib.crc32(word.encode()) % self.dimension] += 1.0
        return l2_normalize(out)

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self.embed_documents([text])[0]
        return vector


class WordCounter:
    """A token counter (:class:`~ragline.text.token_counters.TokenCounter`) that counts
    whitespace-separated words: budgets in tests are easy to reason about."""

    name = "words"

    def count(self, text: str) -> int:
        return len(text.split())

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        return [self.count(t) for t in texts]
