"""The types that flow through the pipeline: Document -> Chunk -> Hit.

Ids are stable: a document's id comes from its source and its place in that source (or an id the
source supplies), a chunk's id from its document id, position and text. Re-ingesting the same file
yields the same ids, so upserts replace rather than duplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

MetadataValue = str | int | float | bool
Metadata = dict[str, MetadataValue]
RetrieverName = Literal["dense", "keyword"]
SearchMode = Literal["dense", "keyword", "hybrid"]


def content_hash(text: str) -> str:
    """Hex SHA-256 of ``text`` (UTF-8): the identity of a piece of content."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_id(*parts: str) -> str:
    """A short stable id from ``parts``: 32 hex chars of SHA-256 over the NUL-joined parts."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Document:
    """One logical document loaded from a source.

    ``source`` is the file path (or URI) it came from; several documents may share a source
    (rows of a CSV, lines of a JSONL file). ``metadata`` holds scalar values only, so that every
    key can be filtered on in the store.
    """

    id: str
    source: str
    text: str
    metadata: Metadata = field(default_factory=dict)
    title: str = ""
    # Character offsets in ``text`` where each page begins (PDFs); empty when pages don't apply.
    page_starts: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """1-based page number holding character ``offset``, or None for paginated-less documents."""
        if not self.page_starts:
            return None
        page = 0
        for i, start in enumerate(self.page_starts):
            if start <= offset:
                page = i
            else:
                break
        return page + 1

    @property
    def content_hash(self) -> str:
        return content_hash(self.title + "\x00" + self.text)


@dataclass(frozen=True, slots=True)
class Section:
    """A parent section of a document: what a generator reads when a child chunk is retrieved."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    section_path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable piece of a document.

    ``start``/``end`` are character offsets into the document's (cleaned) text, so
    ``doc.text[start:end] == text``. ``embed_text`` is what gets embedded and keyword-indexed: the
    section path prefixed to the text, so that "Install > Linux" context is searchable.
    """

    id: str
    doc_id: str
    text: str
    position: int
    start: int
    end: int
    section_path: tuple[str, ...] = ()
    parent_id: str | None = None
    metadata: Metadata = field(default_factory=dict)
    source: str = ""
    title: str = ""

    @property
    def section(self) -> str:
        return " > ".join(self.section_path)

    @property
    def header(self) -> str:
        """Document title and section path, e.g. ``Guide > Install > Linux`` (title not repeated)."""
        parts = list(self.section_path)
        if self.title and (not parts or parts[0] != self.title):
            parts.insert(0, self.title)
        return " > ".join(parts)

    @property
    def embed_text(self) -> str:
        header = self.header
        return f"{header}\n{self.text}" if header else self.text


@dataclass(frozen=True, slots=True)
class RetrieverScore:
    """One retriever's opinion of a chunk: its 1-based rank and raw score."""

    rank: int
    score: float


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: the chunk, its fused score and what each retriever said about it."""

    chunk: Chunk
    score: float
    retrievers: dict[RetrieverName, RetrieverScore] = field(default_factory=dict)
