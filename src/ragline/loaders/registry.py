"""Picks the loader for a file by its extension and loads it with the shared safety checks."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from ragline.errors import LoaderError, UnsupportedFileType
from ragline.loaders.base import Loader
from ragline.loaders.code import CodeLoader
from ragline.loaders.csv import CsvLoader
from ragline.loaders.docx import DocxLoader
from ragline.loaders.email import AttachmentLoader, EmailLoader
from ragline.loaders.html import HtmlLoader
from ragline.loaders.jsonl import JsonLoader
from ragline.loaders.markdown import MarkdownLoader
from ragline.loaders.pdf import PdfLoader
from ragline.loaders.pptx import PptxLoader
from ragline.loaders.text import TextLoader
from ragline.loaders.xlsx import XlsxLoader
from ragline.settings import LoaderSettings
from ragline.types import CODE_LANGUAGES, Document

_UNSAFE_NAME_CHARS = re.compile(r"[^\w .-]")


def _attachment_reader(settings: LoaderSettings) -> AttachmentLoader:
    """Reads an e-mail attachment with the loader for its extension, under the same limits as a
    file (``load_file``); [] for a type no loader reads (images, archives)."""

    def read(name: str, data: bytes) -> list[Document]:
        # The sender chose the name: keep its last path part and plain characters only.
        safe = _UNSAFE_NAME_CHARS.sub("_", Path(name.replace("\\", "/")).name)[-120:].lstrip(".")
        if not safe or Path(safe).suffix.lower() not in _FACTORIES:
            return []
        with tempfile.TemporaryDirectory(prefix="ragline-attachment-") as tmp:
            path = Path(tmp) / safe
            path.write_bytes(data)
            return load_file(path, settings)

    return read


_LOADERS: tuple[tuple[tuple[str, ...], Callable[[LoaderSettings], Loader]], ...] = (
    (TextLoader.extensions, lambda _settings: TextLoader()),
    (MarkdownLoader.extensions, lambda _settings: MarkdownLoader()),
    (HtmlLoader.extensions, lambda _settings: HtmlLoader()),
    (PdfLoader.extensions, PdfLoader),
    (DocxLoader.extensions, lambda _settings: DocxLoader()),
    (JsonLoader.extensions, JsonLoader),
    (CsvLoader.extensions, CsvLoader),
    (XlsxLoader.extensions, lambda _settings: XlsxLoader()),
    (PptxLoader.extensions, lambda _settings: PptxLoader()),
    (EmailLoader.extensions, lambda settings: EmailLoader(_attachment_reader(settings))),
    (CodeLoader.extensions, lambda _settings: CodeLoader()),
)
_FACTORIES: dict[str, Callable[[LoaderSettings], Loader]] = {
    ext: factory for extensions, factory in _LOADERS for ext in extensions
}

#: Lower-case extensions (with the dot) that some loader handles.
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_FACTORIES)


def unsupported_reason(path: Path) -> str:
    """Why ``path`` cannot be loaded, listing the supported extensions."""
    documents = ", ".join(sorted(SUPPORTED_EXTENSIONS - set(CODE_LANGUAGES)))
    supported = f"{documents}; source code: {', '.join(sorted(CODE_LANGUAGES))}"
    ext = path.suffix.lower()
    what = f"unsupported file type '{ext}'" if ext else "file has no extension"
    return f"{what}; supported: {supported}"


def loader_for(path: Path, settings: LoaderSettings) -> Loader:
    """The loader for ``path``'s (case-insensitive) extension; raises :class:`UnsupportedFileType`."""
    factory = _FACTORIES.get(path.suffix.lower())
    if factory is None:
        raise UnsupportedFileType(str(path), unsupported_reason(path))
    return factory(settings)


def metadata_problem(doc: Document, settings: LoaderSettings) -> str | None:
    """Why ``doc``'s metadata breaks the ``loaders.max_metadata_*`` limits, or None."""
    fields = len(doc.metadata)
    if fields > settings.max_metadata_fields:
        return (
            f"document {doc.id!r} has {fields} metadata fields, above loaders.max_metadata_fields = "
            f"{settings.max_metadata_fields} (each field becomes a column of the collection): keep the "
            "fields you filter on (loaders.json_metadata_fields for JSON) or raise the limit"
        )
    for key, value in doc.metadata.items():
        if len(key) > settings.max_metadata_key_chars:
            return (
                f"document {doc.id!r} has a metadata field name of {len(key)} characters "
                f"({key[:40]!r}...), above loaders.max_metadata_key_chars = "
                f"{settings.max_metadata_key_chars}: shorten it or raise the limit"
            )
        if isinstance(value, str) and len(value) > settings.max_metadata_value_chars:
            return (
                f"document {doc.id!r} has a metadata value of {len(value)} characters in field {key!r}, "
                f"above loaders.max_metadata_value_chars = {settings.max_metadata_value_chars} (values "
                "are copied into every chunk): put long text in the document's text, or raise the limit"
            )
    return None


def text_problem(doc: Document, settings: LoaderSettings) -> str | None:
    """Why ``doc``'s text breaks ``loaders.max_document_chars``, or None."""
    if len(doc.text) <= settings.max_document_chars:
        return None
    return (
        f"document {doc.id!r} has {len(doc.text):,} characters of text, above "
        f"loaders.max_document_chars = {settings.max_document_chars:,} (ingest holds its chunks "
        "and vectors in memory until they are written, about 0.4 GB per million characters): "
        "split it into several documents, or raise loaders.max_document_chars where the memory "
        "is there"
    )


def _check_loaded(path: Path, docs: list[Document], settings: LoaderSettings) -> None:
    for d in docs:
        too_long = text_problem(d, settings)
        if too_long is not None:
            raise LoaderError(str(path), too_long)
        problem = metadata_problem(d, settings)
        if problem is not None:
            raise LoaderError(str(path), problem)


def load_file(path: Path, settings: LoaderSettings) -> list[Document]:
    """Load one file, enforcing the ``loaders.max_*`` limits; every failure is a :class:`LoaderError`."""
    loader = loader_for(path, settings)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoaderError(str(path), f"cannot read file: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise LoaderError(str(path), "not a regular file")
    limit = settings.max_file_mb * 1024 * 1024
    if size > limit:
        raise LoaderError(
            str(path),
            f"file is {size / (1024 * 1024):.1f} MB, above the limit of {settings.max_file_mb:g} MB; "
            "raise loaders.max_file_mb to load it",
        )
    try:
        docs = loader.load(path)
    except LoaderError:
        raise
    except Exception as exc:
        # Parsers fail in many ways on odd input; callers get one error type naming the file.
        raise LoaderError(str(path), f"{type(exc).__name__}: {exc}") from exc
    _check_loaded(path, docs, settings)
    return docs
