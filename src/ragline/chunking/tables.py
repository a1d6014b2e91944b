"""Markdown tables in a document's text, for table-aware chunking.

The loaders write every table they find (PDF, HTML, DOCX, XLSX, PPTX) as a Markdown table: a header
line, a ``| --- |`` delimiter line, one line per row (``ragline.loaders.tables``). Markdown files
bring their own. :func:`find_tables` locates them (outside fenced code) so the splitter can keep a
table whole when it fits one chunk, and otherwise cut it between rows with the header line carried
by every later piece (in its section path, since a chunk's text is a span of the document).

Example::

    [t] = find_tables("Intro\\n\\n| a | b |\\n| --- | --- |\\n| 1 | 2 |\\n")
    t.header  # '| a | b |'
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

_ROW = re.compile(r" {0,3}\|.*")
_DELIMITER = re.compile(r" {0,3}\|(?:[ \t]*:?-+:?[ \t]*\|)+[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True, slots=True)
class TableSpan:
    """A Markdown table: ``text[start:end]`` from its header line to the end of its last row.

    ``header_end`` ends its delimiter line; ``rows`` are the ``(start, end)`` spans of its body
    lines; ``header`` is the header line's text. Every span is stripped of surrounding whitespace.
    """

    start: int
    end: int
    header: str
    header_end: int
    rows: tuple[tuple[int, int], ...]


def _lines(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _strip(text: str, span: tuple[int, int]) -> tuple[int, int]:
    start, end = span
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def find_tables(text: str) -> list[TableSpan]:
    """Every Markdown table of ``text`` (header, delimiter line, rows) outside fenced code blocks."""
    if "|" not in text:
        return []
    lines = _lines(text)
    tables: list[TableSpan] = []
    fence = ""
    i = 0
    while i < len(lines):
        s, e = lines[i]
        fence_match = _FENCE.match(text, s, e)
        if fence_match:
            marker = fence_match.group(1)
            if not fence:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = ""
            i += 1
            continue
        if (
            fence
            or i + 1 >= len(lines)
            or not _ROW.fullmatch(text, s, e)
            or not _DELIMITER.fullmatch(text, *lines[i + 1])
        ):
            i += 1
            continue
        j = i + 2
        while j < len(lines) and _ROW.fullmatch(text, *lines[j]):
            j += 1
        rows = tuple(_strip(text, line) for line in lines[i + 2 : j])
        start, _ = _strip(text, (s, e))
        header_end = _strip(text, lines[i + 1])[1]
        end = rows[-1][1] if rows else header_end
        tables.append(TableSpan(start, end, text[s:e].strip(), header_end, rows))
        i = j
    return tables


def tables_in(tables: Sequence[TableSpan], start: int, end: int) -> list[TableSpan]:
    """The tables (sorted by start) that overlap ``[start, end)``."""
    i = max(0, bisect_left([t.end for t in tables], start + 1))
    out: list[TableSpan] = []
    for table in tables[i:]:
        if table.start >= end:
            break
        if table.end > start:
            out.append(table)
    return out
