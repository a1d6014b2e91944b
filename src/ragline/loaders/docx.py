"""Word documents (.docx) via python-docx: body paragraphs and tables (as Markdown tables) in
document order."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.loaders._common import make_document, source_of
from ragline.loaders.tables import markdown_table
from ragline.types import Document, Metadata

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)


def _heading_level(paragraph: Paragraph) -> int | None:
    """Markdown heading level of a paragraph's style: Title -> 1, Heading n -> n (capped at 6)."""
    style = paragraph.style
    if style is None:
        return None
    for name in (style.name or "", style.style_id or ""):
        if name.lower() == "title":
            return 1
        match = _HEADING_STYLE.match(name)
        if match:
            return min(int(match.group(1)), 6)
    return None


def _is_list_item(paragraph: Paragraph) -> bool:
    style = paragraph.style
    if style is not None and (style.name or "").lower().startswith("list"):
        return True
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.numPr is not None


def _table_rows(table: Table) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # Merged cells are returned once per grid column; keep one copy.
            if cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        rows.append(cells)
    return rows


class DocxLoader:
    """Loads a .docx as one document; Title/Heading styles become ``#`` lines."""

    extensions: tuple[str, ...] = (".docx",)

    def load(self, path: Path) -> list[Document]:
        """One document; title and author from the core properties."""
        try:
            document = docx.Document(str(path))
        except Exception as exc:
            # python-docx raises a mix of zipfile, KeyError, lxml and its own errors for bad files.
            raise LoaderError(
                str(path),
                f"not a valid .docx file ({type(exc).__name__}: {exc}); .doc files are not supported",
            ) from exc
        blocks: list[str] = []
        first_heading = ""
        in_list = False
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                # The first row is the header, as Word's "header row" option assumes.
                rendered = markdown_table(_table_rows(item))
                if rendered:
                    blocks.append(rendered)
                in_list = False
                continue
            text = item.text.strip()
            if not text:
                continue
            level = _heading_level(item)
            if level is not None:
                text = " ".join(text.split())
                if level == 1 and not first_heading:
                    first_heading = text
                blocks.append("#" * level + " " + text)
                in_list = False
            elif _is_list_item(item):
                # Consecutive list items form one block, like a Markdown list.
                if in_list:
                    blocks[-1] += "\n- " + text
                else:
                    blocks.append("- " + text)
                in_list = True
            else:
                blocks.append(text)
                in_list = False
        text = clean_text("\n\n".join(blocks))
        if not text:
            return []
        props = document.core_properties
        metadata: Metadata = {}
        if props.author and props.author.strip():
            metadata["author"] = " ".join(props.author.split())
        created = props.created
        if isinstance(created, datetime):
            metadata["created"] = created.isoformat()
        title = (props.title or "").strip() or first_heading
        return [make_document(path, source_of(path), text, title=title, metadata=metadata, cleaned=True)]
