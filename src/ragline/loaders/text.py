"""Plain-text files (.txt, .text, .log, .rst)."""

from __future__ import annotations

import re
from pathlib import Path

from ragline.cleaning.text import clean_text
from ragline.loaders._common import decode_text, make_document, read_bytes, source_of
from ragline.types import Document

# An reStructuredText title: a text line underlined (optionally also overlined) by one repeated
# punctuation character at least as long as the text.
_RST_TITLE = re.compile(
    r"^(?:([=\-~^\"'`#*+:.])\1+\n)?([^\n]*\S[^\n]*)\n([=\-~^\"'`#*+:.])\3+$", re.MULTILINE
)


def _rst_title(text: str) -> str:
    """The first section title of an reStructuredText document, or ""."""
    for match in _RST_TITLE.finditer(text):
        title = match.group(2).strip()
        underline = match.group(0).rsplit("\n", 1)[1]
        if len(underline) >= len(title):
            return title
    return ""


class TextLoader:
    """Loads a text file as one document; encodings as :func:`~ragline.loaders._common.decode_text`."""

    extensions: tuple[str, ...] = (".txt", ".text", ".log", ".rst")

    def load(self, path: Path) -> list[Document]:
        """One document holding the file's cleaned text; [] for a file with no text."""
        text = clean_text(decode_text(read_bytes(path), path))
        if not text:
            return []
        title = _rst_title(text) if path.suffix.lower() == ".rst" else ""
        return [make_document(path, source_of(path), text, title=title, cleaned=True)]
