"""Scanned PDF pages through Tesseract, and ruled PDF tables as Markdown tables (issue 27)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

from ragline.errors import LoaderError
from ragline.loaders.pdf import PdfLoader, _may_have_ruling
from ragline.settings import LoaderSettings
from tests.helpers import fast_engine

SENTENCE = "The quartermaster stores seven lanterns."
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="tesseract is not installed (scripts/install-system-deps.sh installs it)",
)


def _sentence_image(text: str = SENTENCE) -> Image.Image:
    """A white page strip with ``text`` in black: what a scanner gives."""
    image = Image.new("L", (1700, 300), 255)
    # Pillow's bundled font at a scan-like size: no system font needed.
    ImageDraw.Draw(image).text((60, 120), text, fill=0, font=ImageFont.load_default(size=48))
    return image


def scanned_pdf(path: Path, text: str = SENTENCE) -> Path:
    """A one-page PDF holding only an image of ``text`` (no text layer)."""
    _sentence_image(text).save(path, "PDF", resolution=150)
    return path


def _mixed_pdf(path: Path) -> Path:
    """Page 1 with a text layer, page 2 a scanned image, page 3 text again."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.drawString(72, 780, "Typed page one about harbour fees.")
    pdf.showPage()
    pdf.drawImage(ImageReader(_sentence_image()), 40, 500, width=520, height=92)
    pdf.showPage()
    pdf.drawString(72, 780, "Typed page three about tides.")
    pdf.showPage()
    pdf.save()
    return path


def table_pdf(path: Path, rows: list[list[str]]) -> Path:
    """A PDF with a paragraph, a ruled table of ``rows`` (the first is the header), a paragraph."""
    styles = getSampleStyleSheet()
    table = Table(rows)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    SimpleDocTemplate(str(path), pagesize=A4).build(
        [
            Paragraph("Price list for the spring catalogue.", styles["Normal"]),
            table,
            Paragraph("Prices include tax.", styles["Normal"]),
        ]
    )
    return path


@needs_tesseract
def test_scanned_page_is_read_by_ocr(tmp_path: Path) -> None:
    [doc] = PdfLoader().load(scanned_pdf(tmp_path / "scan.pdf"))
    assert doc.text == SENTENCE
    assert doc.metadata["ocr_pages"] == 1
    assert doc.page_at(0) == 1


@needs_tesseract
def test_only_pages_without_a_text_layer_are_ocred(tmp_path: Path) -> None:
    [doc] = PdfLoader().load(_mixed_pdf(tmp_path / "mixed.pdf"))
    assert doc.metadata["ocr_pages"] == 1
    assert doc.metadata["pages"] == 3
    assert doc.page_at(doc.text.index("harbour")) == 1
    assert doc.page_at(doc.text.index("quartermaster")) == 2
    assert doc.page_at(doc.text.index("tides")) == 3
    assert SENTENCE in doc.text


def test_missing_tesseract_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A PATH without the program: what a machine without the Debian package looks like.
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    path = scanned_pdf(tmp_path / "scan.pdf")
    with pytest.raises(LoaderError, match=r"page 1 has no text layer.*apt-get install tesseract-ocr") as info:
        PdfLoader().load(path)
    assert 'loaders.ocr = "off"' in str(info.value)


def test_ocr_off_leaves_scanned_pages_out(tmp_path: Path) -> None:
    loader = PdfLoader(LoaderSettings(ocr="off"))
    with pytest.raises(LoaderError, match=r"scanned images and loaders\.ocr is off"):
        loader.load(scanned_pdf(tmp_path / "scan.pdf"))
    [doc] = loader.load(_mixed_pdf(tmp_path / "mixed.pdf"))
    assert "quartermaster" not in doc.text
    assert "ocr_pages" not in doc.metadata
    assert doc.page_at(doc.text.index("tides")) == 3


@needs_tesseract
def test_unknown_ocr_language_names_the_package(tmp_path: Path) -> None:
    loader = PdfLoader(LoaderSettings(ocr_languages="xqz"))
    with pytest.raises(LoaderError, match=r"OCR of page 1 failed.*tesseract-ocr-<lang>"):
        loader.load(scanned_pdf(tmp_path / "scan.pdf"))


def test_ocr_languages_are_checked() -> None:
    with pytest.raises(ValueError, match="ocr_languages"):
        LoaderSettings(ocr_languages="eng --psm 0")


def test_ruled_table_becomes_a_markdown_table_in_place(tmp_path: Path) -> None:
    rows = [["Product", "Price", "Stock"], ["Teapot", "12.50", "7"], ["Kettle", "30.00", "2"]]
    [doc] = PdfLoader().load(table_pdf(tmp_path / "prices.pdf", rows))
    assert doc.text == (
        "Price list for the spring catalogue.\n\n"
        "| Product | Price | Stock |\n| --- | --- | --- |\n| Teapot | 12.50 | 7 |\n| Kettle | 30.00 | 2 |\n\n"
        "Prices include tax."
    )


def test_pdf_tables_off_keeps_the_text_layer(tmp_path: Path) -> None:
    rows = [["Product", "Price"], ["Teapot", "12.50"]]
    [doc] = PdfLoader(LoaderSettings(pdf_tables=False)).load(table_pdf(tmp_path / "prices.pdf", rows))
    assert "| Product" not in doc.text
    assert "Teapot" in doc.text


@needs_tesseract
def test_ingested_scan_is_found_by_search(tmp_path: Path) -> None:
    engine = fast_engine(tmp_path / "data")
    report = engine.ingest([scanned_pdf(tmp_path / "scan.pdf")])
    assert report.files_indexed == 1
    [hit, *_] = engine.search("quartermaster lanterns", mode="keyword")
    assert SENTENCE in hit.chunk.text
    assert hit.chunk.metadata["page"] == 1
    assert hit.chunk.metadata["ocr_pages"] == 1


def test_pdf_table_cell_is_retrieved_with_its_header(tmp_path: Path) -> None:
    rows = [["Product", "Price", "Stock"]] + [[f"item {n}", f"{n}.50", str(n % 7)] for n in range(60)]
    rows[45][0] = "copper samovar"
    engine = fast_engine(tmp_path / "data", chunking={"chunk_size": 64, "chunk_overlap": 8})
    engine.ingest([table_pdf(tmp_path / "prices.pdf", rows)])
    [hit, *_] = engine.search("copper samovar", mode="keyword")
    # Row 44 is on the second page: the table's continuation there gets the header back.
    assert hit.chunk.metadata["page"] == 2
    assert "| copper samovar | 44.50 | 2 |" in hit.chunk.text
    assert "| Product | Price | Stock |" in hit.chunk.embed_text


def test_only_pages_that_draw_ruling_get_the_table_pass(tmp_path: Path) -> None:
    """pdfminer's layout pass costs ~50x pypdf's text extraction: plain text pages skip it."""
    table = table_pdf(tmp_path / "prices.pdf", [["Product", "Price"], ["Teapot", "12.50"]])
    plain = tmp_path / "plain.pdf"
    pdf = canvas.Canvas(str(plain), pagesize=A4)
    pdf.drawString(72, 780, "Only words | and a pipe here.")
    pdf.showPage()
    pdf.save()
    assert [_may_have_ruling(p) for p in PdfReader(table).pages] == [True]
    assert [_may_have_ruling(p) for p in PdfReader(plain).pages] == [False]
