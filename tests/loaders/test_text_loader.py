from __future__ import annotations

from pathlib import Path

import pytest

from ragline.errors import LoaderError
from ragline.loaders.text import TextLoader
from ragline.types import stable_id


def test_loads_utf8_text_with_cleaning_and_file_metadata(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes("\ufeffHello\u00a0world  \r\n\r\n\r\n\r\nSecond\u200b line\t end\n".encode())
    [doc] = TextLoader().load(path)
    assert doc.text == "Hello world\n\nSecond line end"
    assert doc.source == str(path.resolve())
    assert doc.id == stable_id(str(path.resolve()), "")
    assert doc.metadata == {"file_name": "notes.txt", "file_type": "txt"}
    assert doc.title == ""
    assert doc.page_starts == ()


def test_falls_back_to_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("Caf\u00e9 \u201cquoted\u201d \u20ac5".encode("cp1252"))
    [doc] = TextLoader().load(path)
    assert doc.text == "Café “quoted” €5"


def test_utf16_with_bom_is_text_not_binary(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("Grüße aus Köln".encode("utf-16"))
    [doc] = TextLoader().load(path)
    assert doc.text == "Grüße aus Köln"


def test_binary_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(LoaderError, match="looks like a binary file") as info:
        TextLoader().load(path)
    assert info.value.path == str(path)


def test_blank_file_yields_no_documents(tmp_path: Path) -> None:
    path = tmp_path / "blank.log"
    path.write_text(" \n\t\n")
    assert TextLoader().load(path) == []


def test_rst_title(tmp_path: Path) -> None:
    path = tmp_path / "guide.rst"
    path.write_text("=========\nThe Guide\n=========\n\nIntro.\n\nSection\n-------\n\nBody.\n")
    [doc] = TextLoader().load(path)
    assert doc.title == "The Guide"
    assert doc.metadata["file_type"] == "rst"


def test_missing_file_is_a_loader_error(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="cannot read file"):
        TextLoader().load(tmp_path / "nope.txt")


def test_same_file_loaded_twice_has_the_same_id(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("stable")
    assert TextLoader().load(path)[0].id == TextLoader().load(path)[0].id
    other = tmp_path / "b.txt"
    other.write_text("stable")
    assert TextLoader().load(other)[0].id != TextLoader().load(path)[0].id
