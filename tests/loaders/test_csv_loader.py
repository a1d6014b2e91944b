from __future__ import annotations

from pathlib import Path

import pytest

from ragline.errors import LoaderError
from ragline.loaders.csv import CsvLoader, parse_number
from ragline.settings import LoaderSettings
from ragline.types import stable_id

_CSV = (
    "sku,name,description,price,stock,zip,weird col!\r\n"
    'A1,Widget,"A small widget,\nwith a comma and a newline",9.99,12,01234,x\r\n'
    ",,,,,,\r\n"
    "B2,Gadget,Does things,10,-3,99999,\r\n"
    "C3,Short row\r\n"
)


def test_row_mode_with_text_and_id_columns(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(_CSV, newline="")
    settings = LoaderSettings(csv_text_columns=("name", "description"), csv_id_column="sku")
    docs = CsvLoader(settings).load(path)
    assert [d.id for d in docs] == ["A1", "B2", "C3"]
    assert docs[0].text == "Widget\nA small widget,\nwith a comma and a newline"
    assert docs[0].metadata == {
        "price": 9.99,
        "stock": 12,
        "zip": "01234",
        "weird_col_": "x",
        "file_name": "products.csv",
        "file_type": "csv",
    }
    assert docs[1].metadata["price"] == 10 and isinstance(docs[1].metadata["price"], int)
    assert docs[1].metadata["stock"] == -3
    assert docs[2].text == "Short row"
    assert docs[2].metadata == {"file_name": "products.csv", "file_type": "csv"}
    assert all(d.source == str(path.resolve()) for d in docs)


def test_row_mode_defaults_render_all_columns(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("name,role,,name\nAda,engineer,x,dup\n\nGrace,,y,\n")
    docs = CsvLoader(LoaderSettings()).load(path)
    source = str(path.resolve())
    # Blank rows are skipped and not counted; ids follow data row numbers.
    assert [d.id for d in docs] == [stable_id(source, "row:1"), stable_id(source, "row:2")]
    assert docs[0].text == "name: Ada\nrole: engineer\ncolumn_3: x\nname_2: dup"
    assert docs[1].text == "name: Grace\ncolumn_3: y"
    assert docs[0].metadata == {"file_name": "people.csv", "file_type": "csv"}


def test_extra_cells_in_ragged_rows_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2,3\n")
    [doc] = CsvLoader(LoaderSettings()).load(path)
    assert doc.text == "a: 1\nb: 2\ncolumn_3: 3"


def test_file_mode_one_document(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(_CSV, newline="")
    [doc] = CsvLoader(LoaderSettings(csv_mode="file")).load(path)
    assert doc.id == stable_id(str(path.resolve()), "")
    assert doc.text.startswith(
        "sku: A1\nname: Widget\ndescription: A small widget,\nwith a comma and a newline\nprice: 9.99\n"
    )
    assert (
        "\n\nsku: B2\nname: Gadget\ndescription: Does things\nprice: 10\nstock: -3\nzip: 99999\n\n"
        in doc.text
    )
    assert doc.text.endswith("\n\nsku: C3\nname: Short row")
    assert doc.metadata == {"rows": 3, "file_name": "products.csv", "file_type": "csv"}


def test_tsv_is_tab_separated_without_quoting(tmp_path: Path) -> None:
    path = tmp_path / "passages.tsv"
    path.write_text('pid\ttext\n1\tHe said "hi, there\n2\tThe 5" floppy\n')
    docs = CsvLoader(LoaderSettings(csv_text_columns=("text",), csv_id_column="pid")).load(path)
    assert [(d.id, d.text) for d in docs] == [("1", 'He said "hi, there'), ("2", 'The 5" floppy')]
    assert docs[0].metadata["file_type"] == "tsv"


def test_missing_configured_column_names_it_and_the_columns_present(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("title,body\nx,y\n")
    with pytest.raises(LoaderError) as info:
        CsvLoader(LoaderSettings(csv_text_columns=("text",))).load(path)
    assert "'text'" in info.value.reason
    assert "loaders.csv_text_columns" in info.value.reason
    assert "columns present: title, body" in info.value.reason
    with pytest.raises(LoaderError, match=r"'id' \(from loaders.csv_id_column\)"):
        CsvLoader(LoaderSettings(csv_id_column="id")).load(path)


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    assert CsvLoader(LoaderSettings()).load(empty) == []
    assert CsvLoader(LoaderSettings()).load(header_only) == []
    assert CsvLoader(LoaderSettings(csv_mode="file")).load(header_only) == []


def test_cp1252_csv_and_long_fields(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    long_text = "word " * 40_000
    path.write_bytes(f"name,notes\nCaf\u00e9,{long_text}\n".encode("cp1252"))
    [doc] = CsvLoader(LoaderSettings(csv_text_columns=("notes",))).load(path)
    assert doc.metadata["name"] == "Café"
    assert len(doc.text) == len(long_text.strip())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12", 12), ("-7", -7), ("0", 0), ("1.5", 1.5), ("-.5", -0.5), ("1e3", 1000.0), ("007", "007"),
     ("1,000", "1,000"), ("nan", "nan"), ("99999999999999999999", "99999999999999999999"), ("12a", "12a")],
)  # fmt: skip
def test_parse_number(raw: str, expected: object) -> None:
    result = parse_number(raw)
    assert result == expected and type(result) is type(expected)
