"""Tables as Markdown: what every loader that finds a table (PDF, HTML, DOCX, XLSX, PPTX) writes.

A Markdown table keeps a table's shape in plain text: the first row is the header, a ``| --- |``
line follows it, then one line per row. The table-aware chunker (``ragline.chunking.tables``)
recognises exactly this shape, keeps a table whole when it fits a chunk and otherwise repeats the
header row with every piece, so a retrieved cell keeps its column names.

Example::

    markdown_table([["Name", "Price"], ["Tea", "3"]])
    # '| Name | Price |\\n| --- | --- |\\n| Tea | 3 |'
"""

from __future__ import annotations

from collections.abc import Sequence

Cell = str | None


def _cell(value: Cell) -> str:
    """One cell on one line: whitespace (line breaks too) collapsed, ``|`` escaped."""
    if value is None:
        return ""
    return " ".join(str(value).split()).replace("|", "\\|")


def markdown_table(rows: Sequence[Sequence[Cell]]) -> str:
    """``rows`` (the first one the header) as a Markdown table; "" when no cell has text.

    Rows without text are dropped, short rows padded, and empty trailing columns cut, so a sheet's
    stray formatting does not widen the table.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    cells = [row for row in cells if any(row)]
    if not cells:
        return ""
    width = max(max((i + 1 for i, v in enumerate(row) if v), default=0) for row in cells)
    lines = []
    for n, row in enumerate(cells):
        padded = (row + [""] * width)[:width]
        # One space around each cell, empty ones too: clean_text would collapse two.
        lines.append("|" + "".join(f" {v} |" if v else " |" for v in padded))
        if n == 0:
            lines.append("|" + " --- |" * width)
    return "\n".join(lines)
