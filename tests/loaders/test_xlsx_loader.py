from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest

from ragline.errors import LoaderError
from ragline.loaders.registry import load_file
from ragline.loaders.xlsx import XlsxLoader
from ragline.settings import LoaderSettings


def make_workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    prices = workbook.active
    prices.title = "Prices"
    prices.append(["Product", "Price", "Since"])
    prices.append(["Teapot", 12.5, date(2024, 3, 1)])
    prices.append(["Kettle", 30.0, None])
    prices.append([None, None, None])  # an empty row is dropped
    staff = workbook.create_sheet("Staff list")
    staff.append(["Name", "Room | wing"])
    staff.append(["Ada", "B12"])
    workbook.create_sheet("Empty")
    workbook.properties.creator = "Grace Hopper"
    workbook.properties.title = "Shop data"
    workbook.save(path)
    return path


def test_sheets_become_sections_with_markdown_tables(tmp_path: Path) -> None:
    [doc] = XlsxLoader().load(make_workbook(tmp_path / "shop.xlsx"))
    assert doc.text == (
        "# Prices\n\n| Product | Price | Since |\n| --- | --- | --- |\n"
        "| Teapot | 12.5 | 2024-03-01 |\n| Kettle | 30 | |\n\n"
        "# Staff list\n\n| Name | Room \\| wing |\n| --- | --- |\n| Ada | B12 |"
    )
    assert doc.title == "Shop data"
    assert doc.metadata == {
        "sheets": 2,
        "author": "Grace Hopper",
        "file_name": "shop.xlsx",
        "file_type": "xlsx",
    }


def test_registry_loads_xlsx_and_names_a_broken_file(tmp_path: Path) -> None:
    [doc] = load_file(make_workbook(tmp_path / "shop.xlsx"), LoaderSettings())
    assert "Teapot" in doc.text
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(LoaderError, match=r"not a valid \.xlsx workbook") as info:
        load_file(broken, LoaderSettings())
    assert info.value.path == str(broken)
