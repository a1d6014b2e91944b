"""Protocols shared by the chunkers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ragline.types import Chunk, Document, Section


@runtime_checkable
class Tokenizer(Protocol):
    """Counts text in a model's tokens."""

    #: Most content tokens one chunk may hold (the model's limit minus special tokens).
    max_tokens: int

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character (start, end) span of every token of ``text``, special tokens excluded."""
        ...

    def count(self, text: str) -> int:
        """Number of content tokens in ``text``."""
        ...

    def count_batch(self, texts: list[str]) -> list[int]:
        """:meth:`count` for many texts at once (batched, and parallel where the backend can)."""
        ...


@dataclass(frozen=True, slots=True)
class ChunkedDocument:
    """A chunker's output: retrieval chunks and, for parent-child chunking, their parent sections."""

    chunks: list[Chunk]
    sections: list[Section] = field(default_factory=list)


@runtime_checkable
class Chunker(Protocol):
    """Cuts a document into chunks whose character spans cover all of its non-blank text."""

    def chunk(self, doc: Document) -> ChunkedDocument: ...
