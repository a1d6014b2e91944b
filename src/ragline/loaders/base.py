"""The Loader protocol shared by every file-type backend."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from ragline.types import Document


@runtime_checkable
class Loader(Protocol):
    """Reads one file into zero or more documents.

    Raises :class:`ragline.errors.LoaderError` (with the path and reason) when the file is unreadable
    or corrupt. Returned documents have cleaned text (see :mod:`ragline.cleaning`).
    """

    #: Lower-case file extensions this loader handles, with the dot (".md").
    extensions: tuple[str, ...]

    def load(self, path: Path) -> list[Document]: ...
