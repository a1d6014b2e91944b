"""Cross-encoder reranking: a model reads query and passage together and scores their relevance.

Any local sentence-transformers ``CrossEncoder`` directory works (a Hugging Face sequence
classification model with one output, e.g. ms-marco-MiniLM-L6-v2). It runs on torch, which the
``export`` extra installs; nothing is ever downloaded.

Example::

    reranker = CrossEncoderReranker(Path("/models/ms-marco-MiniLM-L6-v2"))
    hits = reranker.run("rotate api keys", hits, top_k=5)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ragline.errors import ConfigError, EmbeddingError
from ragline.rerank.base import check_top_k, rescore
from ragline.types import Hit


def _check_cross_encoder_dir(path: Path) -> None:
    """Raise ConfigError unless ``path`` holds a single-output sequence classification model."""
    if not path.is_dir():
        raise ConfigError(
            f"rerank.model_path={path} is not a directory; point it at a local cross-encoder model "
            "(e.g. a downloaded cross-encoder/ms-marco-MiniLM-L6-v2; downloads are never attempted)"
        )
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ConfigError(f"rerank.model_path={path} holds no config.json, so it is not a Hugging Face model")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {config_file}: {exc}") from exc
    architectures = config.get("architectures") or []
    if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
        raise ConfigError(
            f"rerank.model_path={path} is not a cross-encoder: its architectures are {architectures}, "
            "expected a *ForSequenceClassification model (a bi-encoder such as all-MiniLM-L6-v2 "
            "belongs in embedding.model_path)"
        )
    # transformers defaults to two labels when id2label is absent.
    labels = len(config.get("id2label") or {"0": "", "1": ""})
    if labels != 1:
        raise ConfigError(
            f"rerank.model_path={path} has {labels} output labels; a reranker needs a model with one "
            "relevance score (num_labels=1)"
        )


class CrossEncoderReranker:
    """Scores each (query, ``chunk.embed_text``) pair with a local cross-encoder model.

    The model loads on the first :meth:`run` (or :meth:`warm_up`); the constructor only checks that
    ``model_path`` holds a single-output sequence classification model. Scores are the model's
    (sigmoid-activated by default, so in [0, 1]). Passages longer than ``max_length`` tokens,
    query included, are truncated.

    Example::

        reranker = CrossEncoderReranker(Path("/models/ms-marco-MiniLM-L6-v2"), batch_size=16)
        best = reranker.run("how do refunds work", hits, top_k=3)
    """

    def __init__(self, model_path: Path, batch_size: int = 32, max_length: int = 256) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if max_length < 8:
            raise ConfigError(f"max_length must be at least 8 tokens, got {max_length}")
        self.model_path = Path(model_path)
        _check_cross_encoder_dir(self.model_path)
        self.batch_size = batch_size
        self.max_length = max_length

    @cached_property
    def _model(self) -> Any:
        try:
            from sentence_transformers import CrossEncoder
        except ImportError:
            raise EmbeddingError("the cross-encoder reranker needs: pip install 'ragline[export]'") from None
        try:
            return CrossEncoder(
                str(self.model_path), device="cpu", local_files_only=True, max_length=self.max_length
            )
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError... for a bad dir
            raise EmbeddingError(f"cannot load the cross-encoder at {self.model_path}: {exc}") from exc

    def warm_up(self) -> None:
        """Load the model now rather than on the first call."""
        _ = self._model

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        """The model's relevance score of each text for ``query``."""
        if not texts:
            return []
        raw = self._model.predict(
            [(query, t) for t in texts],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return [float(s) for s in np.asarray(raw, dtype=np.float64).reshape(len(texts))]

    def run(self, query: str, hits: Sequence[Hit], top_k: int) -> list[Hit]:
        check_top_k(top_k)
        if not hits:
            return []
        return rescore(hits, self.scores(query, [h.chunk.embed_text for h in hits]), top_k)
