from __future__ import annotations

import random
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


# Issue 21: binary data without NUL bytes was indexed as 197 garbage chunks, and Shift-JIS text as
# mojibake (it fell through to latin-1).
def _random_bytes(alphabet: range | list[int], n: int = 20_000, seed: int = 21) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.choice(alphabet) for _ in range(n))


@pytest.mark.parametrize(
    "data",
    [
        _random_bytes(range(0x80, 0x100)),  # high bytes only: neither UTF-8 nor any legacy text
        _random_bytes(range(1, 0x100)),  # any byte but NUL
        _random_bytes(range(1, 0x80)),  # valid UTF-8 (ASCII), a quarter control characters
        # Decodes as cp1252 (no undefined cp1252 byte), but reads as nothing in any language.
        _random_bytes([b for b in range(0x80, 0x100) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)]),
    ],
    ids=["high-bytes", "no-nul", "ascii-controls", "cp1252-decodable"],
)
def test_binary_without_nul_bytes_is_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "noise.txt"
    path.write_bytes(data)
    with pytest.raises(LoaderError, match="does not look like text") as info:
        TextLoader().load(path)
    assert info.value.path == str(path)


JAPANESE = (
    "日本語の文書です。東京は日本の首都であり、多くの人が住んでいます。\n"
    "検索エンジンはこの文章を正しく読めるはずです。"
)
FRENCH = "Le café de la gare est très apprécié ; la crème brûlée coûte 5 €, déjà « célèbre » à Zürich."


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (JAPANESE, "shift_jis"),
        (JAPANESE, "euc_jp"),
        (FRENCH, "cp1252"),
        ("Съешь же ещё этих мягких французских булок, да выпей чаю. Москва — столица.", "cp1251"),
        ("中华人民共和国是世界上人口最多的国家之一。北京是中国的首都。", "gbk"),
        (FRENCH + "\n" + JAPANESE, "utf-8"),
        (FRENCH + "\n" + JAPANESE, "utf-8-sig"),
        (FRENCH + "\n" + JAPANESE, "utf-16"),  # with a BOM, little- or big-endian as Python writes it
        (FRENCH + "\n" + JAPANESE, "utf-16-be"),
        (FRENCH + "\n" + JAPANESE, "utf-32"),
    ],
    ids=lambda v: v if len(v) < 12 else None,
)
def test_legacy_and_unicode_encodings_are_decoded(tmp_path: Path, text: str, encoding: str) -> None:
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path = tmp_path / "doc.txt"
    path.write_bytes(data)
    [doc] = TextLoader().load(path)
    assert doc.text == text


def test_log_with_terminal_colour_codes_is_text(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    lines = [f"\x1b[32mINFO\x1b[0m 2026-12-05 request {i} served in 12 ms\x07" for i in range(200)]
    path.write_text("\n".join(lines))
    [doc] = TextLoader().load(path)
    assert "request 199 served" in doc.text
