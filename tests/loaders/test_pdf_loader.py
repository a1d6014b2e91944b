from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.loaders.pdf import PdfLoader

_PAGES = [
    ["Chapter one", "Alpha text on the first page."],
    ["Chapter two", "Bravo text on the second page."],
    ["Chapter three", "Charlie text on the third page."],
]


def _make_pdf(path: Path, pages: list[list[str]], title: str | None = "Field Manual") -> Path:
    pdf = canvas.Canvas(str(path), pagesize=A4)
    if title:
        pdf.setTitle(title)
        pdf.setAuthor("Ada Lovelace")
    for lines in pages:
        for i, line in enumerate(lines):
            pdf.drawString(72, 780 - 20 * i, line)
        pdf.showPage()
    pdf.save()
    return path


def test_three_page_pdf_with_page_offsets(tmp_path: Path) -> None:
    path = _make_pdf(tmp_path / "manual.pdf", _PAGES)
    [doc] = PdfLoader().load(path)
    expected_pages = ["\n".join(lines) for lines in _PAGES]
    assert doc.text == "\n\n".join(expected_pages)
    assert len(doc.page_starts) == 3
    for number, (start, page_text) in enumerate(zip(doc.page_starts, expected_pages, strict=True), start=1):
        assert doc.text[start : start + len(page_text)] == page_text
        assert doc.page_at(start) == number
        assert doc.page_at(start + len(page_text) - 1) == number
    assert doc.page_at(doc.text.index("Bravo")) == 2
    assert doc.page_at(len(doc.text) - 1) == 3
    assert doc.title == "Field Manual"
    assert doc.metadata == {
        "author": "Ada Lovelace",
        "pages": 3,
        "file_name": "manual.pdf",
        "file_type": "pdf",
    }
    assert clean_text(doc.text) == doc.text


def test_blank_page_in_the_middle_is_never_pointed_at(tmp_path: Path) -> None:
    path = _make_pdf(tmp_path / "gap.pdf", [_PAGES[0], [], _PAGES[2]], title=None)
    [doc] = PdfLoader().load(path)
    assert doc.metadata["pages"] == 3
    assert doc.title == ""
    assert doc.page_at(doc.text.index("Alpha")) == 1
    assert doc.page_at(doc.text.index("Chapter three")) == 3
    assert doc.text.count("\n\n") == 1


def test_password_protected_pdf(tmp_path: Path) -> None:
    plain = _make_pdf(tmp_path / "plain.pdf", _PAGES)
    writer = PdfWriter()
    writer.append(PdfReader(plain))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(LoaderError, match="encrypted with a password") as info:
        PdfLoader().load(locked)
    assert info.value.path == str(locked)


def test_pdf_encrypted_with_empty_user_password_opens(tmp_path: Path) -> None:
    plain = _make_pdf(tmp_path / "plain.pdf", _PAGES)
    writer = PdfWriter()
    writer.append(PdfReader(plain))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    restricted = tmp_path / "restricted.pdf"
    with restricted.open("wb") as fh:
        writer.write(fh)
    [doc] = PdfLoader().load(restricted)
    assert "Bravo text on the second page." in doc.text


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_truncated_pdf(tmp_path: Path, keep: float) -> None:
    data = _make_pdf(tmp_path / "full.pdf", _PAGES).read_bytes()
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(LoaderError, match="corrupt") as info:
        PdfLoader().load(broken)
    assert info.value.path == str(broken)


def test_empty_and_garbage_pdf(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(bytes(range(256)) * 8)
    for path in (empty, garbage):
        with pytest.raises(LoaderError, match="corrupt or unreadable PDF"):
            PdfLoader().load(path)


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.rect(50, 50, 200, 200, fill=1)
    pdf.showPage()
    pdf.save()
    with pytest.raises(LoaderError, match="no extractable text: no page has a text layer"):
        PdfLoader().load(path)
