"""PDF files: one document per file, with page offsets for citations.

Per page: the text layer (pypdf); ruled tables found by pdfplumber become Markdown tables in place
(the page's other text then comes from pdfplumber, in reading order around them); a page with no
text layer but an image (a scan) is read by Tesseract OCR (:mod:`ragline.loaders.ocr`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, PyPdfError

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.loaders._common import join_pages, make_document, source_of
from ragline.loaders.ocr import TesseractOcr
from ragline.loaders.tables import markdown_table
from ragline.settings import LoaderSettings
from ragline.types import Document, Metadata

# Titles that PDF producers write when the author set none.
_PLACEHOLDER_TITLES = frozenset({"untitled", "untitled document", "title"})


def _open(path: Path) -> PdfReader:
    """A reader for ``path``, decrypted if it opens with the empty password."""
    try:
        reader = PdfReader(path)
    except OSError as exc:
        raise LoaderError(str(path), f"cannot read file: {exc.strerror or exc}") from exc
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise LoaderError(str(path), f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    if reader.is_encrypted:
        try:
            decrypted = reader.decrypt("")
        except DependencyError as exc:
            raise LoaderError(
                str(path), f"encrypted PDF needs the 'cryptography' package to decrypt ({exc})"
            ) from exc
        except (PyPdfError, ValueError, KeyError, TypeError) as exc:
            raise LoaderError(str(path), f"encrypted PDF could not be decrypted ({exc})") from exc
        if not decrypted:
            raise LoaderError(
                str(path), "PDF is encrypted with a password; remove the password (e.g. qpdf --decrypt) first"
            )
    return reader


def _info(reader: PdfReader) -> tuple[str, Metadata]:
    """Title and author from the PDF's document info, tolerating broken info dictionaries."""
    try:
        info = reader.metadata
        title = info.title if info is not None else None
        author = info.author if info is not None else None
    except (PyPdfError, ValueError, KeyError, TypeError):
        return "", {}
    metadata: Metadata = {}
    if isinstance(author, str) and author.strip():
        metadata["author"] = " ".join(author.split())
    if not isinstance(title, str) or title.strip().lower() in _PLACEHOLDER_TITLES:
        title = ""
    return title, metadata


def _has_image(page: Any) -> bool:
    """Whether a pypdf page draws an image (a scan), read without decoding it."""
    try:
        return len(page.images) > 0
    except Exception:
        # A broken image dictionary is no image we could read either.
        return False


# Path operators that draw ruling: ``re`` (rectangle) and ``l`` (line to), as content-stream tokens.
_RULING_OPS = re.compile(rb"(?<![^\s\]])(?:re|l)(?=\s)")
# A lattice table needs at least its four borders.
_MIN_RULING_OPS = 4


def _may_have_ruling(page: Any) -> bool:
    """Whether a pypdf page may draw table ruling: a cheap scan of its content stream, so that
    pdfminer's layout analysis (about 50x pypdf's text extraction) runs only where a table can
    be. Pages that draw form XObjects are always candidates (their content is elsewhere)."""
    try:
        resources = page.get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources is not None else None
        if xobjects is not None and any(
            xobj.get_object().get("/Subtype") == "/Form" for xobj in xobjects.get_object().values()
        ):
            return True
        contents = page.get_contents()
        data = contents.get_data() if contents is not None else b""
    except Exception:
        return True  # unsure: let pdfplumber look
    return len(_RULING_OPS.findall(data)) >= _MIN_RULING_OPS


def _inside(obj: dict[str, Any], boxes: Sequence[tuple[float, float, float, float]]) -> bool:
    """Whether the centre of a pdfplumber object lies in one of ``boxes`` (x0, top, x1, bottom)."""
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)


# Running heads and page numbers live in the top and bottom tenth of a page: text there does not
# separate a table that goes on over a page break.
_MARGIN_SHARE = 0.1

Row = list[str | None]


@dataclass(frozen=True, slots=True)
class _PageTables:
    """A page's text with its tables as Markdown, and the header of a table that runs to the
    page's foot (so that the next page's continuation gets it)."""

    text: str
    open_header: Row | None


def _page_with_tables(page: Any, carried: Row | None) -> _PageTables | None:
    """A pdfplumber page's text with its ruled tables as Markdown tables, or None without tables.

    Text lines and tables are put in order by their top edge; cells are read by pdfplumber's
    lattice finder (ruling lines), which misses tables drawn without lines, never invents one. A
    table at the head of the page as wide as the one that ended the previous page (``carried``,
    its header) continues it: the header is put back on top, so its rows keep their column names.
    """
    found = sorted((t for t in page.find_tables() if t.bbox), key=lambda t: t.bbox[1])
    tables: list[tuple[tuple[float, float, float, float], list[Row]]] = []
    for table in found:
        rows = [row for row in table.extract() if any(cell and cell.strip() for cell in row)]
        if rows:
            tables.append((table.bbox, rows))
    if not tables:
        return None
    boxes = [bbox for bbox, _ in tables]
    outside = page.filter(lambda obj: obj.get("object_type") != "char" or not _inside(obj, boxes))
    lines = outside.extract_text_lines()
    body_top, body_bottom = page.height * _MARGIN_SHARE, page.height * (1 - _MARGIN_SHARE)
    body = [line for line in lines if body_top <= line["top"] <= body_bottom]
    first_box, first_rows = tables[0]
    if (
        carried is not None
        and len(first_rows[0]) == len(carried)
        and first_rows[0] != carried
        and not any(line["top"] < first_box[1] for line in body)
    ):
        tables[0] = (first_box, [carried, *first_rows])
    last_box, last_rows = tables[-1]
    open_header = None if any(line["top"] > last_box[3] for line in body) else last_rows[0]
    blocks: list[tuple[float, str]] = [(line["top"], line["text"]) for line in lines]
    # Blank lines around a table, so that it is a block of its own.
    blocks.extend((bbox[1], "\n" + markdown_table(rows) + "\n") for bbox, rows in tables)
    blocks.sort(key=lambda block: block[0])
    return _PageTables("\n".join(text for _, text in blocks), open_header)


class PdfLoader:
    """Loads a PDF as one document; ``page_starts`` maps offsets back to pages.

    Example::

        [doc] = PdfLoader(LoaderSettings(ocr="auto")).load(Path("scan.pdf"))
        doc.metadata["ocr_pages"]  # pages read by OCR
    """

    extensions: tuple[str, ...] = (".pdf",)

    def __init__(self, settings: LoaderSettings | None = None) -> None:
        settings = settings or LoaderSettings()
        self._tables = settings.pdf_tables
        self._ocr = (
            TesseractOcr(settings.ocr_languages, settings.ocr_dpi, settings.ocr_timeout_s)
            if settings.ocr == "auto"
            else None
        )

    def load(self, path: Path) -> list[Document]:
        """One document: each page cleaned separately, pages joined by a blank line.

        Raises :class:`LoaderError` for corrupt or password-protected files, for scanned pages when
        Tesseract is missing (naming the fix), and for PDFs with no text at all, which would
        otherwise be silently indexed as empty.
        """
        reader = _open(path)
        try:
            pages = list(reader.pages)
        except (PyPdfError, ValueError, KeyError, TypeError) as exc:
            raise LoaderError(
                str(path), f"corrupt PDF: cannot read its pages ({type(exc).__name__}: {exc})"
            ) from exc
        if not pages:
            raise LoaderError(str(path), "PDF has no pages")
        texts: list[str] = []
        scanned: list[int] = []
        for number, page in enumerate(pages, start=1):
            try:
                page_text = clean_text(page.extract_text() or "")
            except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise LoaderError(
                    str(path),
                    f"corrupt PDF: cannot extract text of page {number} ({type(exc).__name__}: {exc})",
                ) from exc
            if not page_text and _has_image(page):
                scanned.append(number - 1)
            texts.append(page_text)
        if self._tables:
            ruled = [i for i, page in enumerate(pages) if texts[i] and _may_have_ruling(page)]
            if ruled:
                self._add_tables(path, texts, ruled)
        ocr_pages = 0
        if self._ocr is not None and scanned:
            for index, text in self._ocr.read_pages(path, scanned).items():
                texts[index] = clean_text(text)
                ocr_pages += 1
        text, starts = join_pages(texts)
        if not text:
            why = (
                "its pages are scanned images and loaders.ocr is off"
                if scanned
                else "no page has a text layer or a scanned image to read"
            )
            raise LoaderError(str(path), f"no extractable text: {why}")
        title, metadata = _info(reader)
        metadata["pages"] = len(pages)
        if ocr_pages:
            metadata["ocr_pages"] = ocr_pages
        return [
            make_document(
                path, source_of(path), text, title=title, metadata=metadata, page_starts=starts, cleaned=True
            )
        ]

    @staticmethod
    def _add_tables(path: Path, texts: list[str], ruled: Sequence[int]) -> None:
        """Replace the text of each page of ``ruled`` (0-based) that holds a ruled table by its
        text with Markdown tables."""
        import pdfplumber  # lazy: pdfminer's layout analysis is the slow part of a PDF ingest
        from pdfminer.pdfparser import PDFSyntaxError

        try:
            with pdfplumber.open(path) as pdf:
                carried: Row | None = None
                previous = -2
                for index in ruled:
                    page = pdf.pages[index]
                    if index != previous + 1:
                        carried = None  # a table only continues on the very next page
                    previous = index
                    with_tables = _page_with_tables(page, carried) if page.lines or page.rects else None
                    if with_tables is not None:
                        texts[index] = clean_text(with_tables.text)
                    carried = with_tables.open_header if with_tables is not None else None
        except (PDFSyntaxError, ValueError, KeyError, TypeError) as exc:
            raise LoaderError(
                str(path), f"corrupt PDF: cannot read its tables ({type(exc).__name__}: {exc})"
            ) from exc
