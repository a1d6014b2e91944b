"""Comma- and tab-separated files (.csv, .tsv): one document per row, or per file."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.loaders._common import decode_text, make_document, read_bytes, sanitize_key, source_of
from ragline.settings import LoaderSettings
from ragline.types import Document, Metadata, MetadataValue

# Leading zeros mark identifiers (zip codes, account numbers): those stay strings.
_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?((0|[1-9][0-9]*)\.[0-9]*|\.[0-9]+|(0|[1-9][0-9]*)(\.[0-9]*)?[eE][-+]?[0-9]+)$")
_INT64 = 2**63
# The csv module's default 128 KiB field limit rejects long text cells; the file-size limit
# (loaders.max_file_mb) is the real guard, so allow any field a 32-bit C long can describe.
_FIELD_LIMIT = 2**31 - 1


def parse_number(value: str) -> MetadataValue:
    """``value`` as an int or float when it is plainly numeric, else unchanged."""
    if _INT.match(value):
        number = int(value)
        # Wider integers do not fit the store's int64 columns.
        return number if -_INT64 <= number < _INT64 else value
    if _FLOAT.match(value):
        return float(value)
    return value


def _unique_columns(header: list[str]) -> list[str]:
    """Header names stripped, blanks named ``column_N`` (1-based), duplicates suffixed ``_2``..."""
    columns: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(header, start=1):
        name = raw.strip() or f"column_{index}"
        candidate, suffix = name, 2
        while candidate in seen:
            candidate, suffix = f"{name}_{suffix}", suffix + 1
        seen.add(candidate)
        columns.append(candidate)
    return columns


class CsvLoader:
    """Loads a table whose first row is the header.

    ``csv_mode="row"``: each non-blank row is a document; its text is ``csv_text_columns`` joined by
    lines (all columns as ``column: value`` lines when unset), its id the ``csv_id_column`` value or
    ``stable_id(source, "row:N")`` (N = 1-based data row), its metadata the other columns.
    ``csv_mode="file"``: one document holding every row as ``column: value`` lines.
    ``.tsv`` files are tab-separated without quoting (as IANA text/tab-separated-values).
    """

    extensions: tuple[str, ...] = (".csv", ".tsv")

    def __init__(self, settings: LoaderSettings) -> None:
        self._mode = settings.csv_mode
        self._text_columns = settings.csv_text_columns
        self._id_column = settings.csv_id_column

    def load(self, path: Path) -> list[Document]:
        """Documents of the table; [] for a file without data rows."""
        rows = self._rows(path)
        header = next(rows, None)
        if header is None:
            return []
        columns = _unique_columns(header)
        self._check_columns(path, columns)
        source = source_of(path)
        if self._mode == "file":
            return self._file_document(path, source, columns, rows)
        return self._row_documents(path, source, columns, rows)

    def _rows(self, path: Path) -> Iterator[list[str]]:
        """Non-blank rows of the file, the header first."""
        text = decode_text(read_bytes(path), path)
        if csv.field_size_limit() < _FIELD_LIMIT:
            csv.field_size_limit(_FIELD_LIMIT)
        tsv = path.suffix.lower() == ".tsv"
        reader = csv.reader(
            io.StringIO(text, newline=""),
            delimiter="\t" if tsv else ",",
            quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL,
        )
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    yield row
        except csv.Error as exc:
            raise LoaderError(str(path), f"malformed CSV near line {reader.line_num}: {exc}") from exc

    def _check_columns(self, path: Path, columns: list[str]) -> None:
        wanted = [(name, "loaders.csv_text_columns") for name in self._text_columns or ()]
        if self._id_column is not None:
            wanted.append((self._id_column, "loaders.csv_id_column"))
        for name, setting in wanted:
            if name not in columns:
                raise LoaderError(
                    str(path),
                    f"column {name!r} (from {setting}) is not in the header; columns present: "
                    + ", ".join(columns),
                )

    @staticmethod
    def _record(columns: list[str], row: list[str]) -> dict[str, str]:
        """Column -> stripped value; short rows padded, extra cells named ``column_N``."""
        record = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(columns)}
        for i in range(len(columns), len(row)):
            record[f"column_{i + 1}"] = row[i].strip()
        return record

    def _row_documents(
        self, path: Path, source: str, columns: list[str], rows: Iterator[list[str]]
    ) -> list[Document]:
        text_columns = self._text_columns
        id_column = self._id_column
        docs: list[Document] = []
        for number, row in enumerate(rows, start=1):
            record = self._record(columns, row)
            if text_columns is not None:
                text = "\n".join(record[name] for name in text_columns if record[name])
            else:
                text = "\n".join(
                    f"{name}: {value}" for name, value in record.items() if value and name != id_column
                )
            text = clean_text(text)
            if not text:
                continue
            metadata: Metadata = {}
            if text_columns is not None:
                for name, value in record.items():
                    if value and name != id_column and name not in text_columns:
                        metadata[sanitize_key(name)] = parse_number(value)
            doc_id = record[id_column] if id_column is not None and record[id_column] else None
            docs.append(
                make_document(
                    path,
                    source,
                    text,
                    locator=f"row:{number}",
                    doc_id=doc_id,
                    metadata=metadata,
                    cleaned=True,
                )
            )
        return docs

    def _file_document(
        self, path: Path, source: str, columns: list[str], rows: Iterator[list[str]]
    ) -> list[Document]:
        blocks: list[str] = []
        for row in rows:
            record = self._record(columns, row)
            block = "\n".join(f"{name}: {value}" for name, value in record.items() if value)
            if block:
                blocks.append(block)
        text = clean_text("\n\n".join(blocks))
        if not text:
            return []
        return [make_document(path, source, text, metadata={"rows": len(blocks)}, cleaned=True)]
