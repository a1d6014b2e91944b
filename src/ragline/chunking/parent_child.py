"""Parent-child chunking: small chunks are retrieved, their larger parent sections are read."""

from __future__ import annotations

from ragline.chunking.base import ChunkedDocument
from ragline.chunking.spans import TokenizedText, build_chunks, fit_title, split_span
from ragline.chunking.structure import SectionSplitter, clip_sections, group_sections, section_spans
from ragline.chunking.tables import find_tables
from ragline.errors import ConfigError
from ragline.text.tokenizer import Tokenizer
from ragline.types import Document, Section, content_hash, stable_id


class ParentChildChunker:
    """Parents are Markdown sections of up to ``parent_size`` tokens; children are chunks inside them.

    Parents: sections merged by the structure chunker's rules at ``parent_size`` (small neighbours
    join while they fit), and sections longer than ``parent_size`` split recursively without
    overlap. Parents are not embedded, so ``parent_size`` is not clamped to the model limit.
    Children: each parent chunked like :class:`~ragline.chunking.structure.StructureChunker` at
    ``chunk_size``, with ``parent_id`` set and spans inside the parent's span.

    Example::

        out = ParentChildChunker(HFTokenizer(packaged_model_dir())).chunk(doc)
        parent = {s.id: s for s in out.sections}[out.chunks[0].parent_id]
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        chunk_size: int = 128,
        chunk_overlap: int = 16,
        parent_size: int = 1024,
    ) -> None:
        self._splitter = SectionSplitter(tokenizer, chunk_size, chunk_overlap)
        if isinstance(parent_size, bool) or not isinstance(parent_size, int) or parent_size < chunk_size:
            raise ConfigError(
                f"parent_size must be a number of tokens at least chunk_size ({chunk_size}), "
                f"got {parent_size!r}; raise parent_size or lower chunk_size"
            )
        self.tokenizer = tokenizer
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.parent_size = parent_size

    def chunk(self, doc: Document) -> ChunkedDocument:
        if not doc.text or doc.text.isspace():
            return ChunkedDocument([], [])
        text = doc.text
        tt = TokenizedText.of(text, self.tokenizer)
        sections = section_spans(text)
        tables = find_tables(text)
        title = fit_title(doc.title, self.tokenizer)
        starts = [sec.start for sec in sections]
        size = self.parent_size
        parents: list[Section] = []
        pieces: list[tuple[int, int, tuple[str, ...], str | None]] = []
        for group in group_sections(sections, tt, size, lambda _path: size):
            for start, end in split_span(tt, group.start, group.end, size, 0):
                body = text[start:end]
                section = Section(
                    id=stable_id(doc.id, "section", str(len(parents)), content_hash(body)),
                    doc_id=doc.id,
                    text=body,
                    start=start,
                    end=end,
                    section_path=group.path,
                )
                parents.append(section)
                for s, e, path in self._splitter.pieces(
                    tt, clip_sections(sections, start, end, starts), title, tables
                ):
                    pieces.append((s, e, path, section.id))
        return ChunkedDocument(build_chunks(doc, pieces, title), parents)
