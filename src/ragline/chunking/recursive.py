"""Recursive character/token splitting: the structure-blind chunker and the splitter the others use."""

from __future__ import annotations

from ragline.chunking.base import ChunkedDocument
from ragline.chunking.spans import (
    TokenizedText,
    build_chunks,
    check_sizes,
    fit_title,
    make_excess,
    scale_overlap,
    split_span,
)
from ragline.text.tokenizer import Tokenizer
from ragline.types import Document

__all__ = ["RecursiveChunker", "split_span"]


class RecursiveChunker:
    """Cuts text at the highest-level separator that keeps chunks within ``chunk_size`` tokens.

    Separators, strongest first: paragraph break, line break, sentence end, ``;``, ``,``, space, and
    token boundaries for words longer than a chunk. ``chunk_size`` is clamped to the tokenizer's
    ``max_tokens``; consecutive chunks share about ``chunk_overlap`` tokens, starting on a word.

    Example::

        chunker = RecursiveChunker(HFTokenizer(packaged_model_dir()), chunk_size=200, chunk_overlap=32)
        chunks = chunker.chunk(doc).chunks
    """

    def __init__(self, tokenizer: Tokenizer, chunk_size: int = 200, chunk_overlap: int = 32) -> None:
        self.tokenizer = tokenizer
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._size, self._overlap = check_sizes(tokenizer, chunk_size, chunk_overlap)

    def chunk(self, doc: Document) -> ChunkedDocument:
        if not doc.text or doc.text.isspace():
            return ChunkedDocument([])
        tt = TokenizedText.of(doc.text, self.tokenizer)
        size, overlap = self._size, self._overlap
        title = fit_title(doc.title, self.tokenizer)
        if title:
            # The title heads every chunk's embedded text (Chunk.header), so it takes from the budget.
            size = max(1, min(size, self.tokenizer.max_tokens - self.tokenizer.count(title) - 1))
            overlap = scale_overlap(overlap, self._size, size)
        excess = make_excess(tt, self.tokenizer, size, title)
        spans = split_span(tt, 0, len(doc.text), size, overlap, excess=excess)
        return ChunkedDocument(build_chunks(doc, [(s, e, (), None) for s, e in spans], title))
