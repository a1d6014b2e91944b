"""Source-code files (.py, .js, .ts, .go, .java, .rs, .c, .cpp, .rb, ...): one document per file.

The text is the file as written (decoded like any text file); ``language`` metadata names the
language (see :data:`ragline.types.CODE_LANGUAGES`), which the code-aware chunker reads to cut the
file into functions and classes.
"""

from __future__ import annotations

from pathlib import Path

from ragline.cleaning.text import clean_code
from ragline.loaders._common import decode_text, make_document, read_bytes, source_of
from ragline.types import CODE_LANGUAGES, Document


class CodeLoader:
    """Loads a source file as one document titled by its file name, with ``language`` metadata.

    Example::

        [doc] = CodeLoader().load(Path("src/app.py"))
        doc.metadata["language"]  # "python"
    """

    extensions: tuple[str, ...] = tuple(CODE_LANGUAGES)

    def load(self, path: Path) -> list[Document]:
        """One document; [] for a file with no text."""
        # Indentation kept: clean_text would collapse it (and Python's grammar needs it).
        text = clean_code(decode_text(read_bytes(path), path))
        if not text:
            return []
        language = CODE_LANGUAGES[path.suffix.lower()]
        return [
            make_document(
                path, source_of(path), text, title=path.name, metadata={"language": language}, cleaned=True
            )
        ]
