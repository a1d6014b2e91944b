from __future__ import annotations

import random
import zipfile
from pathlib import Path

import docx
import pytest

from ragline.errors import LoaderError
from ragline.loaders.docx import DocxLoader


def _make_docx(path: Path, *, core_title: str = "Employee Handbook") -> Path:
    document = docx.Document()
    document.core_properties.title = core_title
    document.core_properties.author = "Grace Hopper"
    document.add_heading("Handbook", level=0)
    document.add_heading("Introduction", level=1)
    document.add_paragraph("Welcome to the company.")
    document.add_paragraph("")
    document.add_heading("Leave policy", level=2)
    document.add_paragraph("Annual leave is 25 days.")
    document.add_paragraph("Ask your manager", style="List Bullet")
    document.add_paragraph("Book it in the portal", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Type"
    table.cell(0, 1).text = "Days"
    table.cell(1, 0).text = "Sick"
    table.cell(1, 1).text = "10"
    document.add_heading("Deep", level=7)
    document.add_paragraph("After the table.")
    document.save(str(path))
    return path


def test_docx_headings_paragraphs_lists_and_table_in_order(tmp_path: Path) -> None:
    path = _make_docx(tmp_path / "handbook.docx")
    [doc] = DocxLoader().load(path)
    assert doc.text == (
        "# Handbook\n\n# Introduction\n\nWelcome to the company.\n\n## Leave policy\n\n"
        "Annual leave is 25 days.\n\n- Ask your manager\n- Book it in the portal\n\n"
        "| Type | Days |\n| --- | --- |\n| Sick | 10 |\n\n###### Deep\n\nAfter the table."
    )
    assert doc.title == "Employee Handbook"
    assert doc.metadata["author"] == "Grace Hopper"
    assert doc.metadata["file_name"] == "handbook.docx"
    assert doc.metadata["file_type"] == "docx"
    assert all(isinstance(v, str | int | float | bool) for v in doc.metadata.values())


def test_docx_title_falls_back_to_first_heading(tmp_path: Path) -> None:
    path = _make_docx(tmp_path / "h.docx", core_title="")
    [doc] = DocxLoader().load(path)
    assert doc.title == "Handbook"


def test_merged_table_cells_are_not_repeated(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 2))
    merged.text = "Spanning header"
    for i, value in enumerate(["a", "b", "c"]):
        table.cell(1, i).text = value
    path = tmp_path / "merged.docx"
    document.save(str(path))
    [doc] = DocxLoader().load(path)
    assert doc.text == "| Spanning header | | |\n| --- | --- | --- |\n| a | b | c |"


def test_random_bytes_docx_is_a_loader_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.docx"
    path.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(LoaderError, match=r"not a valid \.docx file") as info:
        DocxLoader().load(path)
    assert info.value.path == str(path)


def test_zip_without_word_document_is_a_loader_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "not a word document")
    with pytest.raises(LoaderError, match=r"not a valid \.docx file"):
        DocxLoader().load(path)


def test_empty_docx_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.docx"
    docx.Document().save(str(path))
    assert DocxLoader().load(path) == []
