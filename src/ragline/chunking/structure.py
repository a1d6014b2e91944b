"""Markdown-structure-aware chunking: sections by heading, each split recursively.

Headings are ATX (``# Title`` .. ``###### Title``) and setext (a text line underlined by ``===``
or ``---``). Lines inside ``` / ~~~ fences and a leading YAML front matter block are never headings;
``---`` after a blank line is a thematic break. Simplification: a setext heading is only the single
line above its underline, not a whole multi-line paragraph.

Merging of small sections (``size`` is the chunk size, "small" is under ``size // 4`` tokens),
scanning sections in order with a current group:

1. If the group is small and the next section is a descendant of the group's last section (a
   heading directly followed by its subheading, a short intro before a subsection, a short preamble
   before the first heading), the group is glued onto the front of that section and takes its
   deeper path, which is accurate because it names the ancestors too.
2. Otherwise, if the group or the next section is small and both together fit in one chunk, they
   merge under the deepest path common to both.
3. Otherwise the group is closed and split on its own.

Section paths whose prefix line would take more than half of ``max_tokens`` lose their top-level
headings until it fits.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragline.chunking.base import ChunkedDocument
from ragline.chunking.spans import (
    TokenizedText,
    build_chunks,
    check_sizes,
    fit_title,
    lstrip_at,
    make_excess,
    rstrip_at,
    scale_overlap,
    split_span,
)
from ragline.chunking.tables import TableSpan, find_tables, tables_in
from ragline.text.tokenizer import Tokenizer
from ragline.types import Document

Path = tuple[str, ...]

_LINE = re.compile(
    r"^ {0,3}(?:"
    r"(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*?)"
    r"|(?P<atx>#{1,6})[ \t]+(?P<title>[^\n]*?)"
    r"|(?P<under>=+|-+)"
    r")[ \t\r]*$",
    re.MULTILINE,
)
# Lines that cannot be the text of a setext heading: headings, fences, underlines and thematic
# breaks, block quotes and list items (``- item`` followed by ``---`` is a list then a rule).
_NOT_SETEXT_TEXT = re.compile(
    r" {0,3}(?:#{1,6}(?:[ \t]|$)|`{3,}|~{3,}|[=\-]+[ \t\r]*$|[-*_](?:[ \t]*[-*_]){2,}[ \t\r]*$"
    r"|>|[-*+](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$))"
)
_FRONT_MATTER = re.compile(r"---[ \t]*\r?\n[\w-]+[ \t]*:")
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$\n?", re.MULTILINE)
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True, slots=True)
class Heading:
    """A Markdown heading: offset of its first line, level 1-6 and cleaned title."""

    start: int
    level: int
    title: str


@dataclass(frozen=True, slots=True)
class SectionSpan:
    """``text[start:end]`` is one section (heading line included); ``path`` names its headings."""

    start: int
    end: int
    path: Path


def clean_title(raw: str) -> str:
    """Heading text without closing ``#``s, link targets, backticks and ``**``/``~~`` markers."""
    title = _CLOSING_HASHES.sub("", raw.strip())
    title = _LINK.sub(r"\1", title)
    title = title.replace("`", "").replace("**", "").replace("~~", "")
    return " ".join(title.split())


def _front_matter_end(text: str) -> int:
    if not _FRONT_MATTER.match(text):
        return 0
    m = _FRONT_MATTER_END.search(text, text.index("\n") + 1)
    return m.end() if m else 0


def parse_headings(text: str) -> list[Heading]:
    """Headings of a Markdown ``text`` in order; fenced code and front matter are skipped.

    Example::

        parse_headings("# Install\\n## Linux\\n")  # [Heading(0, 1, 'Install'), Heading(10, 2, 'Linux')]
    """
    body = _front_matter_end(text)
    headings: list[Heading] = []
    fence: tuple[str, int] | None = None
    for m in _LINE.finditer(text, body):
        marker = m.group("fence")
        if fence is not None:
            if marker and marker[0] == fence[0] and len(marker) >= fence[1] and not m.group("info").strip():
                fence = None
            continue
        if marker:
            # ```` ```x``` ```` on one line is inline code, not a fence.
            if not (marker[0] == "`" and "`" in m.group("info")):
                fence = (marker[0], len(marker))
            continue
        if m.group("atx"):
            title = clean_title(m.group("title"))
            if title:
                headings.append(Heading(m.start(), len(m.group("atx")), title))
            continue
        line_start = m.start()
        if line_start <= body:
            continue
        prev_start = text.rfind("\n", 0, line_start - 1) + 1
        if prev_start < body:
            continue
        prev = text[prev_start : line_start - 1]
        if not prev.strip() or _NOT_SETEXT_TEXT.match(prev) or len(prev) - len(prev.lstrip(" ")) >= 4:
            continue
        title = clean_title(prev)
        if title:
            headings.append(Heading(prev_start, 1 if m.group("under")[0] == "=" else 2, title))
    return headings


def section_spans(text: str, headings: Sequence[Heading] | None = None) -> list[SectionSpan]:
    """Contiguous sections covering ``text``: a preamble (path ``()``) then one per heading.

    Example::

        [s.path for s in section_spans("# A\\n## B\\nx")]  # [('A',), ('A', 'B')]
    """
    if headings is None:
        headings = parse_headings(text)
    if not headings:
        return [SectionSpan(0, len(text), ())]
    spans: list[SectionSpan] = []
    if headings[0].start > 0:
        spans.append(SectionSpan(0, headings[0].start, ()))
    stack: list[tuple[int, str]] = []
    for i, h in enumerate(headings):
        while stack and stack[-1][0] >= h.level:
            stack.pop()
        stack.append((h.level, h.title))
        end = headings[i + 1].start if i + 1 < len(headings) else len(text)
        spans.append(SectionSpan(h.start, end, tuple(title for _, title in stack)))
    return spans


def clip_sections(
    sections: Sequence[SectionSpan], start: int, end: int, starts: Sequence[int] | None = None
) -> list[SectionSpan]:
    """The parts of ``sections`` (contiguous, ordered) inside ``[start, end)``.

    ``starts`` (the sections' start offsets) saves rebuilding that list on repeated calls.
    """
    if starts is None:
        starts = [s.start for s in sections]
    i = max(0, bisect_right(starts, start) - 1)
    out: list[SectionSpan] = []
    for sec in sections[i:]:
        if sec.start >= end:
            break
        lo, hi = max(sec.start, start), min(sec.end, end)
        if lo < hi:
            out.append(SectionSpan(lo, hi, sec.path))
    return out


def _extends(path: Path, ancestor: Path) -> bool:
    return len(path) > len(ancestor) and path[: len(ancestor)] == ancestor


def _common(a: Path, b: Path) -> Path:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def group_sections(
    sections: Sequence[SectionSpan], tt: TokenizedText, size: int, budget_for: Callable[[Path], int]
) -> list[SectionSpan]:
    """Merge small sections as described in the module docstring; ``budget_for(path)`` is one chunk."""
    small = max(1, size // 4)
    groups: list[SectionSpan] = []
    cur: SectionSpan | None = None
    cur_tokens = 0
    last_path: Path = ()
    for sec in sections:
        tokens = tt.count(sec.start, sec.end)
        if cur is None:
            cur, cur_tokens, last_path = sec, tokens, sec.path
            continue
        if cur_tokens < small and _extends(sec.path, last_path):
            cur = SectionSpan(cur.start, sec.end, sec.path)
        elif (cur_tokens < small or tokens < small) and cur_tokens + tokens <= budget_for(
            common := _common(cur.path, sec.path)
        ):
            cur = SectionSpan(cur.start, sec.end, common)
        else:
            groups.append(cur)
            cur, cur_tokens, last_path = sec, tokens, sec.path
            continue
        cur_tokens += tokens
        last_path = sec.path
    if cur is not None:
        groups.append(cur)
    return groups


def header_parts(title: str, path: Path) -> Path:
    """The parts of a chunk's header line, as :attr:`ragline.types.Chunk.header` builds it."""
    if title and (not path or path[0] != title):
        return (title, *path)
    return path


class SectionSplitter:
    """Groups sections and splits each group under a budget reduced by its section path line."""

    _CACHE_MAX = 4096

    def __init__(self, tokenizer: Tokenizer, chunk_size: int, chunk_overlap: int) -> None:
        self.tokenizer = tokenizer
        self.size, self.overlap = check_sizes(tokenizer, chunk_size, chunk_overlap)
        self._paths: dict[tuple[str, Path], tuple[Path, int]] = {}

    def _cost(self, title: str, path: Path) -> int:
        parts = header_parts(title, path)
        return self.tokenizer.count(" > ".join(parts)) if parts else 0

    def fit_path(self, path: Path, title: str = "") -> tuple[Path, int]:
        """``path`` shortened so its header line (title > path) takes at most half the model
        limit, and the header's tokens."""
        hit = self._paths.get((title, path))
        if hit is not None:
            return hit
        limit = self.tokenizer.max_tokens
        fitted = path
        cost = self._cost(title, fitted)
        while fitted and cost > limit // 2:
            fitted = fitted[1:]
            cost = self._cost(title, fitted)
        if len(self._paths) >= self._CACHE_MAX:
            self._paths.clear()
        self._paths[(title, path)] = (fitted, cost)
        return fitted, cost

    def budget(self, path: Path, title: str = "") -> int:
        fitted, cost = self.fit_path(path, title)
        if not header_parts(title, fitted):
            return self.size
        # +1: the newline between the header line and the text, for tokenizers that count it.
        return max(1, min(self.size, self.tokenizer.max_tokens - cost - 1))

    def pieces(
        self,
        tt: TokenizedText,
        sections: Sequence[SectionSpan],
        title: str = "",
        tables: Sequence[TableSpan] = (),
        *,
        merge: bool = True,
    ) -> list[tuple[int, int, Path]]:
        """``(start, end, path)`` chunk spans of ``sections``: small ones merged first (unless
        ``merge`` is False), each split under its budget, ``tables`` (see :func:`find_tables`)
        kept whole or cut between rows."""

        def budget_of(p: Path) -> int:
            return self.budget(p, title)

        groups = group_sections(sections, tt, self.size, budget_of) if merge else sections
        out: list[tuple[int, int, Path]] = []
        for group in groups:
            inside = tables_in(tables, group.start, group.end) if tables else []
            if not inside:
                out.extend(self._split(tt, group.start, group.end, group.path, title))
                continue
            out.extend(self._split_with_tables(tt, group, title, inside))
        return out

    def _split(
        self, tt: TokenizedText, start: int, end: int, path: Path, title: str, overlap: bool = True
    ) -> list[tuple[int, int, Path]]:
        fitted, _ = self.fit_path(path, title)
        budget = self.budget(path, title)
        lap = scale_overlap(self.overlap, self.size, budget) if overlap else 0
        excess = make_excess(tt, self.tokenizer, budget, " > ".join(header_parts(title, fitted)))
        return [(s, e, fitted) for s, e in split_span(tt, start, end, budget, lap, excess=excess)]

    def fits(self, tt: TokenizedText, start: int, end: int, path: Path, title: str) -> bool:
        """Whether ``text[start:end]`` is one chunk under ``path``'s budget (embed text included)."""
        fitted, _ = self.fit_path(path, title)
        budget = self.budget(path, title)
        if tt.count(start, end) > budget:
            return False
        excess = make_excess(tt, self.tokenizer, budget, " > ".join(header_parts(title, fitted)))
        return excess(start, end) == 0

    def _split_with_tables(
        self, tt: TokenizedText, group: SectionSpan, title: str, tables: Sequence[TableSpan]
    ) -> list[tuple[int, int, Path]]:
        """A group holding tables: text between them split as usual, each table whole when it fits
        (joined to the text piece before and after it while they fit one chunk), else cut between
        rows with its header line appended to the later pieces' section path (a short intro
        before it opens its first piece, short text after it joins its last)."""
        path = group.path
        out: list[tuple[int, int, Path]] = []
        cursor = group.start
        # Index in ``out`` of the first piece of the text after the last whole table, to join.
        join_next: int | None = None
        # A one-row table held back to open the text after it: (start, end, its line).
        record: tuple[int, int, str] | None = None
        for table in tables:
            lo, hi = max(table.start, group.start), min(table.end, group.end)
            text_pieces = self._split_text(tt, cursor, lo, path, title, record)
            record = None
            if join_next is not None and text_pieces:
                s, _, p = out[join_next]
                if self.fits(tt, s, text_pieces[0][1], p, title):
                    out[join_next] = (s, text_pieces[0][1], p)
                    text_pieces = text_pieces[1:]
            join_next = None
            out.extend(text_pieces)
            whole = table.start >= group.start and self.fits(tt, lo, hi, path, title)
            if whole and not table.rows and hi < group.end and tt.count(lo, hi) < self.size // 4:
                # A one-row table heads what follows (an option's "name | Type | Default" record
                # above its description): it opens the text after it, neither closing the
                # entry before it nor standing alone.
                record, cursor = (lo, hi, table.header), hi
                continue
            if whole:
                if text_pieces and self.fits(tt, text_pieces[-1][0], hi, path, title):
                    out[-1] = (text_pieces[-1][0], hi, out[-1][2])
                else:
                    out.append((lo, hi, self.fit_path(path, title)[0]))
                join_next = len(out) - 1
            else:
                # A short text piece just before the table opens its first piece (an intro line).
                opening = None
                if text_pieces and table.start >= group.start:
                    last = text_pieces[-1]
                    if tt.count(last[0], last[1]) < self.size // 4:
                        opening = last[0]
                        out.pop()
                out.extend(self._table_rows(tt, table, lo, hi, path, title, opening))
                join_next = len(out) - 1
            cursor = hi
        rest = self._split_text(tt, cursor, group.end, path, title, record)
        if join_next is not None and rest:
            s, _, p = out[join_next]
            if self.fits(tt, s, rest[0][1], p, title):
                out[join_next] = (s, rest[0][1], p)
                rest = rest[1:]
        out.extend(rest)
        return out

    def _split_text(
        self,
        tt: TokenizedText,
        start: int,
        end: int,
        path: Path,
        title: str,
        record: tuple[int, int, str] | None,
    ) -> list[tuple[int, int, Path]]:
        """``text[start:end]`` split as usual; after a held-back ``record`` (which ends at
        ``start``) the record opens the first piece and every later piece carries its line in
        the section path, as a cut table's pieces carry its header (a long description stays
        the record's entry)."""
        if record is None:
            return self._split(tt, start, end, path, title) if end > start else []
        lo, _, line = record
        fitted, _ = self.fit_path(path, title)
        budget = self.budget(path, title)
        room = budget - tt.count(lo, start) - 1
        if end > start and room >= budget // 2:
            # The first piece: as much of the text as fits beside the record.
            excess = make_excess(tt, self.tokenizer, budget, " > ".join(header_parts(title, fitted)))
            spans = split_span(tt, start, end, room, 0, excess=excess)
            first_end = spans[0][1] if spans else end
            if self.fits(tt, lo, first_end, path, title):
                rest = self._split(tt, first_end, end, (*path, line), title) if end > first_end else []
                return [(lo, first_end, fitted), *rest]
        rest = self._split(tt, start, end, (*path, line), title) if end > start else []
        return [(lo, start, fitted), *rest]

    def _table_rows(
        self,
        tt: TokenizedText,
        table: TableSpan,
        lo: int,
        hi: int,
        path: Path,
        title: str,
        opening: int | None = None,
    ) -> list[tuple[int, int, Path]]:
        """``table`` (its part in ``[lo, hi)``) cut between rows. The first piece starts with the
        header and delimiter lines when they are in range (from ``opening`` when given: a short
        intro before the table); every other piece has the header line as the last part of its
        section path, so a retrieved row keeps its column names."""
        with_header = (*path, table.header)
        rows = [(max(s, lo), min(e, hi)) for s, e in table.rows if e > lo and s < hi]
        out: list[tuple[int, int, Path]] = []
        # The open piece: its start, end and section path.
        start, end, piece_path = -1, -1, path
        if lo < table.header_end:
            # The header and delimiter lines (what of them is in range) open the first piece.
            start = lo if opening is None else opening
            end = min(table.header_end, hi)
        for row_start, row_end in rows:
            if start >= 0 and self.fits(tt, start, row_end, piece_path, title):
                end = row_end
                continue
            if start >= 0:
                out.extend(self._close(tt, start, end, piece_path, title))
            start, end, piece_path = row_start, row_end, with_header
        if start >= 0:
            out.extend(self._close(tt, start, end, piece_path, title))
        return out

    def _close(
        self, tt: TokenizedText, start: int, end: int, path: Path, title: str
    ) -> list[tuple[int, int, Path]]:
        """One table piece; a row too long for a chunk on its own is split like prose."""
        start = lstrip_at(tt.text, start, end)
        end = rstrip_at(tt.text, start, end)
        if start >= end:
            return []
        if self.fits(tt, start, end, path, title):
            fitted, _ = self.fit_path(path, title)
            return [(start, end, fitted)]
        return self._split(tt, start, end, path, title, overlap=False)


class StructureChunker:
    """Chunks Markdown by section: each chunk carries its heading path, e.g. ``("Install", "Linux")``.

    Sections are split with the recursive splitter under ``chunk_size`` tokens minus the tokens of
    the section path line, so ``Chunk.embed_text`` always fits the embedding model. Small sections
    are merged (see the module docstring). Text without headings is chunked exactly like
    :class:`~ragline.chunking.recursive.RecursiveChunker`.

    Example::

        chunker = StructureChunker(HFTokenizer(packaged_model_dir()), chunk_size=200, chunk_overlap=32)
        [c.section for c in chunker.chunk(doc).chunks]  # ["Install > Linux", ...]
    """

    def __init__(self, tokenizer: Tokenizer, chunk_size: int = 200, chunk_overlap: int = 32) -> None:
        self.tokenizer = tokenizer
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._splitter = SectionSplitter(tokenizer, chunk_size, chunk_overlap)

    def chunk(self, doc: Document) -> ChunkedDocument:
        if not doc.text or doc.text.isspace():
            return ChunkedDocument([])
        tt = TokenizedText.of(doc.text, self.tokenizer)
        title = fit_title(doc.title, self.tokenizer)
        pieces = self._splitter.pieces(tt, section_spans(doc.text), title, find_tables(doc.text))
        return ChunkedDocument(build_chunks(doc, [(s, e, path, None) for s, e, path in pieces], title))
