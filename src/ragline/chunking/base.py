"""Protocols shared by the chunkers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ragline.types import Chunk, Document, Section


@dataclass(frozen=True, slots=True)
class ChunkedDocument:
    """A chunker's output: retrieval chunks and, for parent-child chunking, their parent sections."""

    chunks: list[Chunk]
    sections: list[Section] = field(default_factory=list)


@runtime_checkable
class Chunker(Protocol):
    """Cuts a document into chunks whose character spans cover all of its non-blank text."""

    def chunk(self, doc: Document) -> ChunkedDocument: ...
