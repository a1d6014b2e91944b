"""Pick the chunker named by :class:`~ragline.settings.ChunkingSettings`."""

from __future__ import annotations

from ragline.chunking.base import Chunker, Tokenizer
from ragline.chunking.parent_child import ParentChildChunker
from ragline.chunking.recursive import RecursiveChunker
from ragline.chunking.structure import StructureChunker
from ragline.errors import ConfigError
from ragline.settings import ChunkingSettings


def make_chunker(settings: ChunkingSettings, tokenizer: Tokenizer) -> Chunker:
    """The chunker for ``settings.strategy``: "recursive", "structure" or "parent-child".

    Example::

        chunker = make_chunker(ChunkingSettings(strategy="recursive"), tokenizer)
    """
    if settings.strategy == "recursive":
        return RecursiveChunker(tokenizer, settings.chunk_size, settings.chunk_overlap)
    if settings.strategy == "structure":
        return StructureChunker(tokenizer, settings.chunk_size, settings.chunk_overlap)
    if settings.strategy == "parent-child":
        return ParentChildChunker(
            tokenizer, settings.chunk_size, settings.chunk_overlap, settings.parent_size
        )
    raise ConfigError(
        f"unknown chunking.strategy {settings.strategy!r}; use 'recursive', 'structure' or 'parent-child'"
    )
