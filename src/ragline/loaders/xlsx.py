"""Excel workbooks (.xlsx, .xlsm) via openpyxl: one document, one section per sheet.

Each sheet becomes a ``# <sheet name>`` heading followed by its cells as a Markdown table whose
first non-empty row is the header (the usual layout of a sheet), so the structure-aware chunker
puts the sheet name in each chunk's section path and the table-aware chunker repeats the header.
Cell values are the cached results of formulas (``data_only``), as Excel last saved them.
"""

from __future__ import annotations

import zipfile
from datetime import date, datetime, time
from pathlib import Path

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.loaders._common import make_document, source_of
from ragline.loaders.tables import markdown_table
from ragline.types import Document, Metadata


def _cell_text(value: object) -> str:
    """A cell as text: whole floats without ``.0``, dates in ISO form, None as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time(0):
        # Excel stores dates as date-times: a date cell reads as midnight.
        return value.date().isoformat()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


class XlsxLoader:
    """Loads a workbook as one document with a section per non-empty sheet.

    Example::

        [doc] = XlsxLoader().load(Path("budget.xlsx"))
        doc.metadata["sheets"]  # number of sheets with data
    """

    extensions: tuple[str, ...] = (".xlsx", ".xlsm")

    def load(self, path: Path) -> list[Document]:
        """One document; [] for a workbook without cell values."""
        import openpyxl  # lazy: a spreadsheet library for an ingest that may have no spreadsheets

        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise LoaderError(
                str(path), f"not a valid .xlsx workbook ({type(exc).__name__}: {exc}); .xls is not supported"
            ) from exc
        try:
            blocks: list[str] = []
            for sheet in workbook.worksheets:
                rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
                table = markdown_table(rows)
                if table:
                    name = " ".join(str(sheet.title).split()) or "Sheet"
                    blocks.append(f"# {name}\n\n{table}")
            props = workbook.properties
        finally:
            workbook.close()
        text = clean_text("\n\n".join(blocks))
        if not text:
            return []
        metadata: Metadata = {"sheets": len(blocks)}
        if props.creator and props.creator.strip():
            metadata["author"] = " ".join(props.creator.split())
        title = (props.title or "").strip() or path.stem
        return [make_document(path, source_of(path), text, title=title, metadata=metadata, cleaned=True)]
