"""PDF files via pypdf: one document per file, with page offsets for citations."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, PyPdfError

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.loaders._common import make_document, source_of
from ragline.types import Document, Metadata

_PAGE_SEPARATOR = "\n\n"
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


class PdfLoader:
    """Loads a PDF's text layer as one document; ``page_starts`` maps offsets back to pages."""

    extensions: tuple[str, ...] = (".pdf",)

    def load(self, path: Path) -> list[Document]:
        """One document: each page cleaned separately, pages joined by a blank line.

        Raises :class:`LoaderError` for corrupt or password-protected files and for PDFs without a
        text layer (scanned pages), which would otherwise be silently indexed as empty.
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
        parts: list[str] = []
        starts: list[int] = []
        length = 0
        for number, page in enumerate(pages, start=1):
            try:
                page_text = clean_text(page.extract_text() or "")
            except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise LoaderError(
                    str(path),
                    f"corrupt PDF: cannot extract text of page {number} ({type(exc).__name__}: {exc})",
                ) from exc
            # An empty page starts where the next text will, so page_at never points into it.
            separator = len(_PAGE_SEPARATOR) if parts else 0
            starts.append(length + separator)
            if page_text:
                parts.append(page_text)
                length += separator + len(page_text)
        if not parts:
            raise LoaderError(str(path), "no extractable text (scanned PDF? OCR is not supported yet)")
        title, metadata = _info(reader)
        metadata["pages"] = len(pages)
        # Each part is clean and joined by a blank line, so the whole is clean too: no re-cleaning,
        # which keeps the page offsets exact.
        return [
            make_document(
                path,
                source_of(path),
                _PAGE_SEPARATOR.join(parts),
                title=title,
                metadata=metadata,
                page_starts=tuple(starts),
                cleaned=True,
            )
        ]
