"""Sentence chunking: one sentence per chunk, for sentence-window retrieval.

Small sentence-level chunks make dense matches precise; the answer side then reads a window of
sentences around each hit (``answer.expand = "window"``), so precision costs no context. Sentences
come from :func:`ragline.text.sentences.sentence_spans`, the same splitter the window expansion
uses, so a chunk is exactly one of the sentences the assembler counts.

Also home of the helpers the sentence-based chunkers share (:func:`sentence_blocks`,
:class:`BlockBudget`): sections found as the structure chunker finds them, each section's sentences,
and the token budget of a chunk under its section path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ragline.chunking.base import ChunkedDocument
from ragline.chunking.spans import Excess, TokenizedText, build_chunks, fit_title, make_excess, split_span
from ragline.chunking.structure import SectionSpan, SectionSplitter, header_parts, section_spans
from ragline.errors import ConfigError
from ragline.text.sentences import is_heading, sentence_spans
from ragline.text.tokenizer import Tokenizer
from ragline.types import Document

Path = tuple[str, ...]
Span = tuple[int, int]
Piece = tuple[int, int, Path]


@dataclass(frozen=True, slots=True)
class SentenceBlock:
    """The sentence spans of one section, in order; ``path`` is its heading path.

    A heading line is glued to the sentence after it (a heading alone says where text is, not
    what it says), so ``units`` are the atoms the chunkers group.
    """

    path: Path
    units: tuple[Span, ...]


# A setext heading as the sentence splitter leaves it: one text line, then its underline.
_SETEXT = re.compile(r"[^\n]+\n {0,3}(?:=+|-+)[ \t\r]*")


def _is_heading_unit(text: str) -> bool:
    return is_heading(text) or _SETEXT.fullmatch(text) is not None


def _descends(path: Path, ancestor: Path) -> bool:
    return len(path) > len(ancestor) and path[: len(ancestor)] == ancestor


def sentence_blocks(text: str, sections: Sequence[SectionSpan] | None = None) -> list[SentenceBlock]:
    """Sentence units of each section of ``text`` (sections as :func:`section_spans` finds them).

    A section holding nothing but its heading, directly followed by a subsection ("# Install"
    then "## Linux"), joins that subsection, whose path names both headings. Every non-whitespace
    character of ``text`` lies in exactly one unit.

    Example::

        [b.path for b in sentence_blocks("# A\\n## B\\nText here.")]  # [('A', 'B')]
    """
    if sections is None:
        sections = section_spans(text)
    blocks: list[SentenceBlock] = []
    carry: int | None = None  # start of heading-only sections waiting for their subsection
    for i, sec in enumerate(sections):
        units = sentence_spans(text, sec.start, sec.end)
        if not units:
            continue
        lead = 1 if sec.path and _is_heading_unit(text[units[0][0] : units[0][1]]) else 0
        nxt = sections[i + 1] if i + 1 < len(sections) else None
        if len(units) <= lead and nxt is not None and _descends(nxt.path, sec.path):
            carry = units[0][0] if carry is None else carry
            continue
        if carry is not None or lead:
            # Glue the pending headings and this section's heading to its first sentence.
            first = (units[0][0] if carry is None else carry, units[min(lead, len(units) - 1)][1])
            units = [first, *units[lead + 1 :]]
        carry = None
        blocks.append(SentenceBlock(sec.path, tuple(units)))
    return blocks


@dataclass(frozen=True, slots=True)
class BlockBudget:
    """Token budget of the chunks of one block: ``budget`` tokens of text under header ``path``."""

    tt: TokenizedText
    path: Path
    budget: int
    excess: Excess

    def fits(self, start: int, end: int) -> bool:
        """True when ``text[start:end]`` is one valid chunk (text and embedded text within limits)."""
        return self.tt.count(start, end) <= self.budget and self.excess(start, end) == 0

    def split(self, start: int, end: int) -> list[Span]:
        """``text[start:end]`` cut by the recursive splitter (no overlap) into chunks that fit."""
        return split_span(self.tt, start, end, self.budget, 0, excess=self.excess)

    def pieces(self, start: int, end: int) -> list[Piece]:
        """``text[start:end]`` as one piece when it fits, else recursively split pieces."""
        spans = [(start, end)] if self.fits(start, end) else self.split(start, end)
        return [(s, e, self.path) for s, e in spans]


def block_budget(splitter: SectionSplitter, tt: TokenizedText, path: Path, title: str) -> BlockBudget:
    """The :class:`BlockBudget` for a block under ``path`` in a document titled ``title``.

    Same arithmetic as the structure chunker: the header line (title > section path) is embedded
    with every chunk, so it takes from the budget, and overlong paths lose their top headings.
    """
    fitted, _ = splitter.fit_path(path, title)
    budget = splitter.budget(path, title)
    excess = make_excess(tt, splitter.tokenizer, budget, " > ".join(header_parts(title, fitted)))
    return BlockBudget(tt, fitted, budget, excess)


class SentenceChunker:
    """One chunk per sentence; sentences under ``min_tokens`` tokens join the sentence after them.

    Built for sentence-window retrieval: small chunks match precisely, and the answer side expands
    each hit to its neighbouring sentences. Sections (Markdown headings) are detected as the
    structure chunker does and set ``section_path``; a heading line joins the sentence after it.
    Short sentences never merge across sections; a short last sentence of a section joins the
    chunk before it when both fit. Sentences over ``chunk_size`` tokens (minus the header line) are
    split by the recursive splitter. Chunks do not overlap.

    Example::

        chunker = SentenceChunker(HFTokenizer(packaged_model_dir()), min_tokens=8, chunk_size=200)
        [c.text for c in chunker.chunk(doc).chunks]  # ["First sentence.", "Second one.", ...]
    """

    def __init__(self, tokenizer: Tokenizer, min_tokens: int = 8, chunk_size: int = 200) -> None:
        if isinstance(min_tokens, bool) or not isinstance(min_tokens, int) or min_tokens < 1:
            raise ConfigError(f"min_tokens must be a positive number of tokens, got {min_tokens!r}")
        self.tokenizer = tokenizer
        self.min_tokens = min_tokens
        self.chunk_size = chunk_size
        # Validates the sizes now, so a bad setting fails at startup rather than at the first document.
        self._splitter = SectionSplitter(tokenizer, chunk_size, 0)

    def chunk(self, doc: Document) -> ChunkedDocument:
        if not doc.text or doc.text.isspace():
            return ChunkedDocument([])
        tt = TokenizedText.of(doc.text, self.tokenizer)
        title = fit_title(doc.title, self.tokenizer)
        pieces: list[Piece] = []
        for block in sentence_blocks(doc.text):
            pieces.extend(self._block_pieces(tt, block_budget(self._splitter, tt, block.path, title), block))
        return ChunkedDocument(build_chunks(doc, [(s, e, path, None) for s, e, path in pieces], title))

    def _block_pieces(self, tt: TokenizedText, bb: BlockBudget, block: SentenceBlock) -> list[Piece]:
        out: list[Piece] = []
        last_whole = False  # whether out[-1] is one unsplit group, which a short tail may join
        pending: Span | None = None  # short sentences waiting for the next one
        for s, e in block.units:
            start = s
            if pending is not None:
                if bb.fits(pending[0], e):
                    start = pending[0]
                else:
                    # The next sentence is too long to take the short ones along: they stand alone.
                    out.extend(bb.pieces(*pending))
                    last_whole = False
            pending = None
            if tt.count(start, e) < self.min_tokens:
                pending = (start, e)
                continue
            piece = bb.pieces(start, e)
            out.extend(piece)
            last_whole = len(piece) == 1
        if pending is not None:
            if last_whole and bb.fits(out[-1][0], pending[1]):
                out[-1] = (out[-1][0], pending[1], bb.path)
            else:
                out.extend(bb.pieces(*pending))
        return out
