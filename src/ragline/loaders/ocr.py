"""OCR of scanned PDF pages: pypdfium2 renders a page, the Tesseract program reads it.

Tesseract runs as a subprocess (``tesseract stdin stdout``), one page at a time with a timeout.
It is a system program (Debian: ``apt-get install tesseract-ocr tesseract-ocr-eng``; other
languages are ``tesseract-ocr-<lang>``), looked up only when a page needs it, so PDFs with a text
layer never need it installed.

Example::

    ocr = TesseractOcr(languages="eng")
    texts = ocr.read_pages(Path("scan.pdf"), [0, 2])  # {0: "...", 2: "..."}
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from ragline.errors import LoaderError

INSTALL_HINT = (
    "install it (Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-eng; "
    'scripts/install-system-deps.sh does this), or set loaders.ocr = "off" to index only pages '
    "with a text layer"
)


class TesseractOcr:
    """Renders PDF pages at ``dpi`` and reads them with Tesseract in ``languages`` ("eng+deu")."""

    def __init__(self, languages: str = "eng", dpi: int = 300, timeout_s: float = 120.0) -> None:
        self.languages = languages
        self.dpi = dpi
        self.timeout_s = timeout_s

    def _program(self, path: Path, page: int) -> str:
        program = shutil.which("tesseract")
        if program is None:
            raise LoaderError(
                str(path),
                f"page {page + 1} has no text layer (a scanned page) and OCR needs the tesseract "
                f"program, which is not on PATH: {INSTALL_HINT}",
            )
        return program

    def render(self, path: Path, pages: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """Each of ``pages`` (0-based) of the PDF at ``path`` as PNG bytes at ``self.dpi``."""
        import pypdfium2  # lazy: only scanned pages need a renderer

        try:
            pdf = pypdfium2.PdfDocument(str(path))
        except pypdfium2.PdfiumError as exc:
            raise LoaderError(str(path), f"cannot render the PDF for OCR ({exc})") from exc
        try:
            for page in pages:
                image = pdf[page].render(scale=self.dpi / 72, grayscale=True).to_pil()
                out = io.BytesIO()
                image.save(out, format="PNG")
                yield page, out.getvalue()
        finally:
            pdf.close()

    def read_image(self, png: bytes, path: Path, page: int = 0) -> str:
        """The text Tesseract reads in ``png`` (a page of ``path``, named in errors)."""
        program = self._program(path, page)
        # One thread: Tesseract's OpenMP threads fight the ingest's embedding for the cores.
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run(
                [program, "stdin", "stdout", "-l", self.languages],
                input=png,
                capture_output=True,
                timeout=self.timeout_s,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LoaderError(
                str(path),
                f"OCR of page {page + 1} took more than loaders.ocr_timeout_s = {self.timeout_s:g} s; "
                "raise it, or lower loaders.ocr_dpi",
            ) from exc
        except OSError as exc:
            raise LoaderError(str(path), f"cannot run tesseract for page {page + 1}: {exc}") from exc
        if done.returncode != 0:
            message = " ".join(done.stderr.decode("utf-8", "replace").split())[-400:]
            hint = ""
            if "Failed loading language" in message or "traineddata" in message:
                hint = (
                    f"; loaders.ocr_languages = {self.languages!r} needs each language's data "
                    "(Debian: apt-get install tesseract-ocr-<lang>)"
                )
            raise LoaderError(str(path), f"OCR of page {page + 1} failed: {message}{hint}")
        return done.stdout.decode("utf-8", "replace")

    def read_pages(self, path: Path, pages: Sequence[int]) -> dict[int, str]:
        """OCR text of each of ``pages`` (0-based) of the PDF at ``path``."""
        if not pages:
            return {}
        self._program(path, pages[0])  # fail before rendering when Tesseract is missing
        return {page: self.read_image(png, path, page) for page, png in self.render(path, pages)}
