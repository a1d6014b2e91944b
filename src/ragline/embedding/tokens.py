"""Contextual token embeddings ("token states") of a text, and their compact stored form.

Late-interaction reranking (ColBERT's MaxSim) matches each query token against a passage's token
embeddings. Computing a passage's tokens costs a full model pass, so they can be kept from the
chunk's own ingest run instead (``chunking.token_states``). At 384 float32 dimensions a token takes
1.5 KB, about 270 KB for a 176-token chunk; stored as int8 with one float32 scale per token
(absmax quantization, as in LLM.int8(): Dettmers et al., NeurIPS 2022) it takes 388 bytes.

Example::

    blob = pack_tokens(matrix)              # (tokens, dim) float32, unit rows
    again = unpack_tokens(blob, matrix.shape[1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ragline.embedding.base import Embedder, Vectors
from ragline.errors import EmbeddingError

TokenMatrix = npt.NDArray[np.float32]


@runtime_checkable
class TokenEmbedder(Protocol):
    """An embedder that also returns each text's contextual token embeddings from the same run."""

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[Vectors, list[TokenMatrix]]: ...


@runtime_checkable
class TokenModel(TokenEmbedder, Protocol):
    """A model late interaction can run: token states of passages and of queries."""

    @property
    def model_id(self) -> str: ...

    def query_tokens(self, text: str) -> TokenMatrix:
        """``text``'s unit-length token states (special tokens left out)."""
        ...

    def warm_up(self) -> None: ...


@runtime_checkable
class Wrapper(Protocol):
    """An embedder wrapping another (the embedding cache): it names the model that gives tokens."""

    def token_model(self) -> TokenModel | None: ...


def token_model(embedder: Embedder) -> TokenModel | None:
    """The model behind ``embedder`` that late interaction can run, or None when it has none."""
    if isinstance(embedder, Wrapper):
        return embedder.token_model()
    return embedder if isinstance(embedder, TokenModel) else None


_SCALE = np.dtype("<f4")


def token_states(embedder: Embedder, texts: Sequence[str]) -> tuple[Vectors, list[TokenMatrix]]:
    """``texts``' vectors and token states from ``embedder``, which must be a :class:`TokenEmbedder`."""
    if not isinstance(embedder, TokenEmbedder):
        raise EmbeddingError(
            f"the embedder {embedder.model_id} gives no token states; set chunking.token_states = "
            "'off', or use embedding.backend = 'onnx'"
        )
    return embedder.embed_with_tokens(texts)


def token_rows(hidden: npt.NDArray[np.float32], encoding: Any) -> TokenMatrix:
    """Unit-length rows of ``hidden`` (one text's token states) for its non-special tokens.

    ``encoding`` is the text's ``tokenizers`` encoding; [CLS], [SEP] and padding are left out.
    """
    special = np.asarray(encoding.special_tokens_mask, dtype=bool)
    rows = np.asarray(hidden[: len(special)][~special], dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: TokenMatrix = (rows / norms).astype(np.float32, copy=False)
    return out


@dataclass(frozen=True, slots=True)
class PackedTokens:
    """One text's token states in their stored form (:func:`pack_tokens`): a quarter of the float32
    size, so ingest can hold a large source's states until its commit."""

    blob: bytes
    dimension: int

    @classmethod
    def of(cls, matrix: npt.NDArray[np.floating[Any]]) -> PackedTokens:
        m = np.asarray(matrix)
        if m.ndim != 2:
            raise EmbeddingError(f"token states must be a (tokens, dim) matrix, got shape {m.shape}")
        return cls(pack_tokens(m), m.shape[1])


def pack_tokens(matrix: npt.NDArray[np.floating[Any]]) -> bytes:
    """``matrix`` (tokens, dim) as bytes: every token's float32 scale, then the int8 values.

    Each row is divided by its largest absolute value over 127 and rounded (absmax quantization),
    so the largest component of every token is exact and the rest err by at most half a step.
    """
    m = np.asarray(matrix, dtype=np.float32)
    if m.ndim != 2:
        raise EmbeddingError(f"token states must be a (tokens, dim) matrix, got shape {m.shape}")
    if m.shape[0] == 0:
        return b""
    scale = np.abs(m).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(m / scale[:, None]), -127, 127).astype(np.int8)
    return bytes(scale.astype(_SCALE).tobytes()) + bytes(q.tobytes())


def unpack_tokens(blob: bytes, dimension: int) -> TokenMatrix:
    """The float32 (tokens, dimension) matrix :func:`pack_tokens` stored in ``blob``."""
    per_token = _SCALE.itemsize + dimension
    if dimension < 1 or len(blob) % per_token:
        raise EmbeddingError(
            f"{len(blob)} bytes of token states do not hold whole {dimension}-d tokens "
            f"({per_token} bytes each); the collection was written for another model, re-ingest it"
        )
    n = len(blob) // per_token
    scale = np.frombuffer(blob, dtype=_SCALE, count=n).astype(np.float32)
    q = np.frombuffer(blob, dtype=np.int8, offset=n * _SCALE.itemsize).reshape(n, dimension)
    out: TokenMatrix = q.astype(np.float32) * scale[:, None]
    return out
