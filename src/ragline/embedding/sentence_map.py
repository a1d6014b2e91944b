"""A linear map from late-pooled sentence vectors towards separately embedded ones.

``chunking.sentence_vectors = "mapped"`` pools each sentence from its chunk's own model run (as
``late`` does: no extra model pass) and then applies a ridge-regression map, fitted once per model
on generic text (the SQuAD v1.1 dev calibration articles, not a retrieval evaluation corpus nor
the SQuAD test articles) to predict the vector the model gives ``header + sentence`` embedded on
its own. The map reads the pooled sentence vector and its chunk's vector (``[late, chunk, 1] @ W``),
then the result is scaled to unit length.

Maps ship with ragline like the token-state codebooks: ``SENTENCE_MAP_DIR/<name>@<weights>.npz``
holding ``weights``, a float32 ``(2 * dim + 1, dim)`` array (the last row the bias), and
``provenance``, a JSON string saying what it was fitted on and how (:attr:`SentenceMap.provenance`);
written by ``bench/late_sentence_lab.py fit --ship``. A model without one falls back to plain
``late`` vectors.

Example::

    smap = sentence_map_for(embedder.model_id)
    if smap is not None:
        sentence_vecs = smap.apply(late_vecs, chunk_vector)
        print(smap.provenance["articles"])
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragline.embedding.base import Vectors, l2_normalize
from ragline.embedding.shipped import shipped_for
from ragline.errors import EmbeddingError

SENTENCE_MAP_DIR = Path(__file__).parent / "sentence_maps"

_lock = threading.Lock()
_maps: dict[str, SentenceMap | None] = {}


@dataclass(frozen=True)
class SentenceMap:
    """Ridge weights ``(2 * dim + 1, dim)``: rows for the pooled vector, the chunk vector, the bias."""

    weights: npt.NDArray[np.float32]
    # What the map was fitted on and how (corpus, articles, ridge strength and how it was chosen).
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        w = self.weights
        if w.ndim != 2 or w.shape[0] != 2 * w.shape[1] + 1:
            raise EmbeddingError(
                f"a sentence map must be a (2 * dim + 1, dim) array, got shape {w.shape}; "
                "re-create it with bench/late_sentence_lab.py fit"
            )

    @property
    def dimension(self) -> int:
        return int(self.weights.shape[1])

    def apply(self, sentences: Vectors, chunk: Vectors) -> Vectors:
        """Unit-length mapped rows of ``sentences`` (one chunk's pooled vectors, ``(k, dim)``),
        given that chunk's vector ``chunk`` (``(dim,)``)."""
        d = self.dimension
        if sentences.ndim != 2 or sentences.shape[1] != d or chunk.shape != (d,):
            raise EmbeddingError(
                f"the sentence map takes (k, {d}) sentence vectors and a ({d},) chunk vector, got "
                f"{sentences.shape} and {chunk.shape}: the collection's model differs from the map's"
            )
        if not len(sentences):
            return sentences
        w = self.weights
        mapped = sentences @ w[:d] + (chunk @ w[d : 2 * d] + w[2 * d])
        return l2_normalize(np.asarray(mapped, dtype=np.float32))


def sentence_map_for(model_id: str) -> SentenceMap | None:
    """The shipped map for ``model_id`` (matched by the weights' fingerprint after ``@``, as the
    token-state codebooks are), None when there is none."""
    with _lock:
        if model_id not in _maps:
            path = shipped_for(SENTENCE_MAP_DIR, model_id, "npz")
            _maps[model_id] = load_sentence_map(path) if path is not None else None
        return _maps[model_id]


def load_sentence_map(path: Path) -> SentenceMap:
    """The map stored at ``path`` (as :func:`save_sentence_map` writes it)."""
    with np.load(path, allow_pickle=False) as data:
        if "weights" not in data.files or "provenance" not in data.files:
            raise EmbeddingError(
                f"sentence map {path} holds {sorted(data.files)}, not 'weights' and 'provenance'; "
                "re-create it with bench/late_sentence_lab.py fit --ship"
            )
        return SentenceMap(np.asarray(data["weights"], dtype=np.float32), json.loads(str(data["provenance"])))


def save_sentence_map(
    directory: Path, model_id: str, weights: npt.NDArray[np.float32], provenance: dict[str, Any]
) -> Path:
    """Write ``weights`` for ``model_id`` into ``directory`` as ``<model_id>.npz`` with its
    ``provenance`` (JSON), the form :func:`sentence_map_for` reads; returns the path."""
    smap = SentenceMap(np.asarray(weights, dtype=np.float32), provenance)  # checks the shape
    path = directory / f"{model_id.replace('/', '_')}.npz"
    # No pickle: the provenance is stored as a plain unicode scalar.
    np.savez(path, weights=smap.weights, provenance=np.str_(json.dumps(provenance, sort_keys=True)))
    return path
