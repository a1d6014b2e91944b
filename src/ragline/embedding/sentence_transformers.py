"""Embedder backend for any local sentence-transformers model directory (runs on torch).

Example::

    emb = SentenceTransformersEmbedder(Path("/models/bge-small-en-v1.5"))
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ragline.embedding.base import Vectors
from ragline.embedding.onnx import weights_fingerprint
from ragline.errors import EmbeddingError


class SentenceTransformersEmbedder:
    """Loads the model lazily with ``local_files_only``: nothing is ever downloaded."""

    def __init__(self, model_dir: Path, batch_size: int = 32, threads: int = 2) -> None:
        self.model_dir = Path(model_dir)
        if not self.model_dir.is_dir():
            raise EmbeddingError(
                f"embedding.model_path={self.model_dir} is not a directory; point it at a local "
                "sentence-transformers model (downloads are never attempted)"
            )
        self.batch_size = batch_size
        self.threads = threads

    @cached_property
    def _model(self) -> Any:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EmbeddingError(
                "the sentence-transformers backend needs: pip install 'ragline[export]'"
            ) from None
        torch.set_num_threads(self.threads)
        try:
            return SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError... for a bad dir
            raise EmbeddingError(
                f"cannot load the sentence-transformers model at embedding.model_path={self.model_dir}: {exc}"
            ) from exc

    @cached_property
    def model_id(self) -> str:
        return f"st:{self.model_dir.name}@{weights_fingerprint(self.model_dir)}"

    @cached_property
    def dimension(self) -> int:
        # Newer sentence-transformers renamed the method (the old name warns); older ones lack the new name.
        getter = getattr(self._model, "get_embedding_dimension", None)
        if getter is None:
            getter = self._model.get_sentence_embedding_dimension
        return int(getter())

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(out, dtype=np.float32)

    def embed_query(self, text: str) -> Vectors:
        result: Vectors = self.embed_documents([text])[0]
        return result
