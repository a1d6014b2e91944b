"""The Embedder protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors, batching internally.

    ``model_id`` names the exact model (name plus a fingerprint of its weights where known); the
    embedding cache and the store use it to refuse mixing vectors from different models.
    Loading the model is lazy: the constructor only checks and stores its arguments.
    """

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed passages; returns an ``(len(texts), dimension)`` array. Empty input gives ``(0, d)``."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """Embed one query; returns a ``(dimension,)`` array."""
        ...


def l2_normalize(x: Vectors) -> Vectors:
    """Row-wise L2 normalisation; zero rows stay zero."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = (x / norms).astype(np.float32, copy=False)
    return result


@runtime_checkable
class CachingEmbedder(Embedder, Protocol):
    """An embedder in front of a cache: what the engine holds (``embedding.factory``'s
    ``make_cached_embedder``), so it never names a concrete embedder class."""

    @property
    def embedded(self) -> int:
        """Texts that really went through the model so far (cache hits excluded)."""
        ...

    def transient(self) -> Embedder:
        """An embedder for query-time texts over the same model that never writes the cache."""
        ...


def model_id(name: str, fingerprint: str, precision: str = "fp32") -> str:
    """A local model's id, ``<name>[-<precision>]@<weights fingerprint>`` (fp32 carries no suffix,
    as ids did before int8 existed), the inverse of :func:`parse_model_id`::

        model_id("all-MiniLM-L6-v2", "dbc58fdc8d65", "int8")  # "all-MiniLM-L6-v2-int8@dbc58fdc8d65"
    """
    return f"{name}{'' if precision == 'fp32' else f'-{precision}'}@{fingerprint}"


def parse_model_id(model_id: str) -> tuple[str, str, str] | None:
    """``(name, precision, fingerprint)`` of a local model's id, None for an id without a
    fingerprint (a remote model's)."""
    name, at, fingerprint = model_id.partition("@")
    if not at:
        return None
    if name.endswith("-int8"):
        return name[: -len("-int8")], "int8", fingerprint
    return name, "fp32", fingerprint
