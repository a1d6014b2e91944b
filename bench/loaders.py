"""Cost of the issue-27 loaders and chunkers: PDF tables, OCR, code-aware chunking.

Generates its inputs in a temporary folder (reportlab for text PDFs with ruled tables, Pillow for
scanned pages) and times the loaders alone, in this process:

- PDF loading with ``loaders.pdf_tables`` on and off, for pages with a ruled table and for pages of
  plain text (where only pdfplumber's check for ruling lines runs);
- OCR of scanned A4 pages (300 dpi, Tesseract, one thread): seconds per page and the share of the
  page's words read back exactly;
- code-aware chunking of ragline's own source (``src/ragline/**/*.py``) against the recursive
  chunker: chunks, chunks named by a symbol, seconds.

    .venv/bin/python bench/loaders.py [--pages 20] [--ocr-pages 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from reportlab.lib import colors  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import getSampleStyleSheet  # noqa: E402
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle  # noqa: E402

from ragline.chunking.code import CodeChunker  # noqa: E402
from ragline.chunking.recursive import RecursiveChunker  # noqa: E402
from ragline.loaders.code import CodeLoader  # noqa: E402
from ragline.loaders.pdf import PdfLoader  # noqa: E402
from ragline.settings import LoaderSettings  # noqa: E402
from ragline.text.tokenizer import HFTokenizer, packaged_model_dir  # noqa: E402

WORDS = [
    "harbour", "tide", "vessel", "cargo", "pilot", "anchor", "river", "market", "ledger", "council",
    "engine", "signal", "report", "season", "water", "light", "station", "bridge", "quarter",
    "lantern", "rope", "canal", "winter", "mill",
]  # fmt: skip


def _sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def text_pdf(path: Path, pages: int, tables: bool) -> Path:
    rng = random.Random(0)
    styles = getSampleStyleSheet()
    story: list[object] = []
    for _ in range(pages):
        story.append(Paragraph(" ".join(_sentence(rng) for _ in range(8)), styles["Normal"]))
        if tables:
            body = [[rng.choice(WORDS), str(rng.randint(1, 9)), str(rng.randint(10, 99))] for _ in range(25)]
            table = Table([["Item", "Quay", "Tons"], *body])
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
            story.append(table)
        else:
            story.extend(
                Paragraph(" ".join(_sentence(rng) for _ in range(8)), styles["Normal"]) for _ in range(4)
            )
        story.append(PageBreak())
    SimpleDocTemplate(str(path), pagesize=A4).build(story)  # type: ignore[arg-type]
    return path


def scanned_pdf(path: Path, pages: int) -> tuple[Path, list[str]]:
    """A4 pages at 300 dpi, 30 lines of text each, as images only; and each page's words."""
    rng = random.Random(1)
    font = ImageFont.load_default(size=40)
    images, truth = [], []
    for _ in range(pages):
        image = Image.new("L", (2480, 3508), 255)
        draw = ImageDraw.Draw(image)
        lines = [_sentence(rng, 8) for _ in range(30)]
        for i, line in enumerate(lines):
            draw.text((200, 250 + i * 100), line, fill=0, font=font)
        images.append(image)
        truth.append(" ".join(lines))
    images[0].save(path, "PDF", resolution=300, save_all=True, append_images=images[1:])
    return path, truth


def _time(fn: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--ocr-pages", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out: dict[str, object] = {}
    tmp = Path(tempfile.mkdtemp(prefix="ragline-bench-loaders-"))
    try:
        on, off = PdfLoader(LoaderSettings()), PdfLoader(LoaderSettings(pdf_tables=False))
        for kind, tables in (("tables", True), ("text", False)):
            pdf = text_pdf(tmp / f"{kind}.pdf", args.pages, tables)
            out[f"pdf_{kind}_s_tables_on"] = round(_time(lambda p=pdf: on.load(p)), 3)
            out[f"pdf_{kind}_s_tables_off"] = round(_time(lambda p=pdf: off.load(p)), 3)
        if shutil.which("tesseract") and args.ocr_pages:
            scan, truth = scanned_pdf(tmp / "scan.pdf", args.ocr_pages)
            start = time.perf_counter()
            [doc] = on.load(scan)
            seconds = time.perf_counter() - start
            read = doc.text.split()
            words = " ".join(truth).split()
            hits = sum(1 for a, b in zip(read, words, strict=False) if a == b)
            out["ocr_s_per_page"] = round(seconds / args.ocr_pages, 2)
            out["ocr_words_exact"] = round(hits / len(words), 4)
        elif args.ocr_pages:
            out["ocr"] = "skipped: tesseract not installed"
        tok = HFTokenizer(packaged_model_dir())
        docs = [d for p in sorted((ROOT / "src" / "ragline").rglob("*.py")) for d in CodeLoader().load(p)]
        for name, chunker in (("code", CodeChunker(tok)), ("recursive", RecursiveChunker(tok))):
            start = time.perf_counter()
            chunks = [c for d in docs for c in chunker.chunk(d).chunks]
            out[f"{name}_chunker_s"] = round(time.perf_counter() - start, 2)
            out[f"{name}_chunks"] = len(chunks)
            out[f"{name}_chunks_with_symbol"] = sum(1 for c in chunks if len(c.section_path) > 1)
        out["code_files"] = len(docs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
