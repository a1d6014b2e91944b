"""Pick the chunker named by :class:`~ragline.settings.ChunkingSettings`."""

from __future__ import annotations

from ragline.chunking.base import Chunker
from ragline.chunking.code import CodeAwareChunker, CodeChunker
from ragline.chunking.parent_child import ParentChildChunker
from ragline.chunking.recursive import RecursiveChunker
from ragline.chunking.semantic import SemanticChunker
from ragline.chunking.sentence import SentenceChunker
from ragline.chunking.structure import StructureChunker
from ragline.embedding.base import Embedder
from ragline.errors import ConfigError
from ragline.settings import ChunkingSettings
from ragline.text.tokenizer import Tokenizer


def make_chunker(
    settings: ChunkingSettings, tokenizer: Tokenizer, embedder: Embedder | None = None
) -> CodeAwareChunker:
    """The chunker for ``settings.strategy``: "recursive", "structure", "parent-child", "semantic"
    or "sentence" (its ``inner``), with source-code documents going to the code-aware chunker
    (functions and classes as chunks, :mod:`ragline.chunking.code`). Only "semantic" uses
    ``embedder`` (and needs it).

    Example::

        chunker = make_chunker(ChunkingSettings(strategy="recursive"), tokenizer)
        semantic = make_chunker(ChunkingSettings(strategy="semantic"), tokenizer, embedder)
    """
    code = CodeChunker(tokenizer, settings.chunk_size, settings.chunk_overlap)
    return CodeAwareChunker(_strategy(settings, tokenizer, embedder), code)


def _strategy(settings: ChunkingSettings, tokenizer: Tokenizer, embedder: Embedder | None) -> Chunker:
    if settings.strategy == "recursive":
        return RecursiveChunker(tokenizer, settings.chunk_size, settings.chunk_overlap)
    if settings.strategy == "structure":
        return StructureChunker(tokenizer, settings.chunk_size, settings.chunk_overlap)
    if settings.strategy == "parent-child":
        return ParentChildChunker(
            tokenizer, settings.chunk_size, settings.chunk_overlap, settings.parent_size
        )
    if settings.strategy == "semantic":
        if embedder is None:
            raise ConfigError(
                "chunking.strategy='semantic' needs an embedder to compare sentences: pass "
                "make_chunker(settings, tokenizer, embedder), or choose another chunking.strategy"
            )
        return SemanticChunker(tokenizer, embedder, settings.chunk_size, settings.semantic_percentile)
    if settings.strategy == "sentence":
        return SentenceChunker(tokenizer, settings.sentence_min_tokens, settings.chunk_size)
    raise ConfigError(
        f"unknown chunking.strategy {settings.strategy!r}; use 'recursive', 'structure', 'parent-child', "
        "'semantic' or 'sentence'"
    )
