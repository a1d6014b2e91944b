"""Build the configured embedder (and the tokenizer chunkers count with)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ragline.embedding.base import CachingEmbedder, Embedder
from ragline.settings import EmbeddingSettings
from ragline.text.tokenizer import HFTokenizer, Tokenizer, packaged_model_dir

if TYPE_CHECKING:
    from ragline.embedding.cache import EmbeddingCache


def make_embedder(settings: EmbeddingSettings, cache_dir: Path) -> Embedder:
    """The embedder named by ``settings.backend``; nothing is loaded until first use."""
    if settings.backend == "onnx":
        from ragline.embedding.onnx import OnnxEmbedder

        return OnnxEmbedder(
            settings.model_path,
            cache_dir=cache_dir,
            batch_size=settings.batch_size,
            threads=settings.threads,
            max_tokens=settings.max_tokens,
            precision="fp32" if settings.precision == "fp32" else "int8",
        )
    if settings.backend == "sentence-transformers":
        from ragline.embedding.sentence_transformers import SentenceTransformersEmbedder

        return SentenceTransformersEmbedder(
            settings.model_path or packaged_model_dir(), settings.batch_size, settings.threads
        )
    from ragline.embedding.openai import OpenAIEmbedder

    assert settings.base_url is not None  # checked by EmbeddingSettings
    return OpenAIEmbedder(
        settings.base_url,
        settings.model,
        api_key=settings.api_key,
        dimension=settings.dimension,
        batch_size=settings.batch_size,
        timeout_s=settings.timeout_s,
    )


def make_cached_embedder(
    settings: EmbeddingSettings, cache_dir: Path, cache: EmbeddingCache
) -> CachingEmbedder:
    """The embedder of ``settings`` in front of the embedding ``cache`` (one per data directory,
    shared by every model of an engine: its keys name the model)."""
    from ragline.embedding.cache import CachedEmbedder

    return CachedEmbedder(
        make_embedder(settings, cache_dir),
        cache,
        query_window_ms=settings.query_batch_window_ms,
        query_batch_max=settings.query_batch_max,
    )


def make_tokenizer(settings: EmbeddingSettings) -> Tokenizer:
    """The tokenizer chunk sizes are counted in: the embedding model's own when it is local.

    For a remote model the packaged MiniLM WordPiece tokenizer is the estimate.
    """
    model_dir = settings.model_path if settings.backend != "openai" and settings.model_path else None
    return HFTokenizer(model_dir or packaged_model_dir(), max_tokens=settings.max_tokens)
