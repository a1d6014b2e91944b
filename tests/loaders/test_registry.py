from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragline.errors import LoaderError, UnsupportedFileType
from ragline.loaders.base import Loader
from ragline.loaders.csv import CsvLoader
from ragline.loaders.jsonl import JsonLoader
from ragline.loaders.markdown import MarkdownLoader
from ragline.loaders.registry import SUPPORTED_EXTENSIONS, load_file, loader_for
from ragline.settings import LoaderSettings
from ragline.types import CODE_LANGUAGES

_ALL = {
    ".txt", ".text", ".log", ".rst", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx",
    ".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".xlsx", ".xlsm", ".pptx", ".eml", ".mbox",
} | set(CODE_LANGUAGES)  # fmt: skip


def test_supported_extensions() -> None:
    assert SUPPORTED_EXTENSIONS == _ALL


def test_every_extension_has_a_loader_claiming_it() -> None:
    for ext in SUPPORTED_EXTENSIONS:
        loader = loader_for(Path(f"file{ext}"), LoaderSettings())
        assert isinstance(loader, Loader)
        assert ext in loader.extensions


def test_loader_for_is_case_insensitive_and_passes_settings(tmp_path: Path) -> None:
    assert isinstance(loader_for(Path("README.MD"), LoaderSettings()), MarkdownLoader)
    assert isinstance(loader_for(Path("data.JSONL"), LoaderSettings()), JsonLoader)
    settings = LoaderSettings(csv_mode="file")
    loader = loader_for(Path("t.csv"), settings)
    assert isinstance(loader, CsvLoader)
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    assert len(loader.load(path)) == 1


def test_unsupported_extension_message() -> None:
    with pytest.raises(UnsupportedFileType) as info:
        loader_for(Path("archive.xyz"), LoaderSettings())
    assert isinstance(info.value, LoaderError)
    assert info.value.path == "archive.xyz"
    assert info.value.reason.startswith(
        "unsupported file type '.xyz'; supported: .csv, .docx, .eml, .htm, .html, .json"
    )
    assert info.value.reason.endswith(
        ".xlsx; source code: .bash, .c, .cc, .cjs, .cpp, .cs, .cxx, .dart, "
        ".ex, .exs, .go, .h, .hh, .hpp, .hs, .java, .jl, .js, .jsx, .kt, .lua, .mjs, .ml, .php, .py, "
        ".pyi, .r, .rb, .rs, .scala, .sh, .sql, .swift, .ts, .tsx"
    )
    with pytest.raises(UnsupportedFileType, match="file has no extension"):
        loader_for(Path("Makefile"), LoaderSettings())


def test_load_file_enforces_max_file_mb(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("x" * 20_000)
    settings = LoaderSettings(max_file_mb=0.01)
    with pytest.raises(LoaderError) as info:
        load_file(path, settings)
    assert "above the limit of 0.01 MB" in info.value.reason
    assert "loaders.max_file_mb" in info.value.reason
    assert load_file(path, LoaderSettings(max_file_mb=1))[0].text == "x" * 20_000


def test_load_file_wraps_unexpected_parser_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.md"
    path.write_text("# hi")

    def explode(self: MarkdownLoader, path: Path) -> list[object]:
        raise ZeroDivisionError("parser bug")

    monkeypatch.setattr(MarkdownLoader, "load", explode)
    with pytest.raises(LoaderError) as info:
        load_file(path, LoaderSettings())
    assert info.value.reason == "ZeroDivisionError: parser bug"
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_load_file_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="cannot read file"):
        load_file(tmp_path / "missing.txt", LoaderSettings())
    folder = tmp_path / "folder.md"
    folder.mkdir()
    with pytest.raises(LoaderError, match="not a regular file"):
        load_file(folder, LoaderSettings())


def test_load_file_dispatches_by_extension(tmp_path: Path) -> None:
    path = tmp_path / "page.HTML"
    path.write_text("<html><body><nav>menu</nav><main><h2>Hi</h2><p>there</p></main></body></html>")
    [doc] = load_file(path, LoaderSettings())
    assert doc.text == "## Hi\n\nthere"
    assert doc.metadata["file_type"] == "html"


# Issue 21: a 200 MB text file grew to 21.7 GB at ingest, and one document with 3,000 metadata keys
# made 3,000 columns; both are now refused by limits the messages name.
def test_load_file_enforces_max_document_chars_per_document(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [{"_id": str(i), "text": "word " * 200} for i in range(30)] + [{"_id": "long", "text": "w " * 600}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(LoaderError) as info:
        load_file(path, LoaderSettings(max_document_chars=1_000))
    assert info.value.path == str(path)
    assert info.value.reason.startswith(
        "document 'long' has 1,199 characters of text, above loaders.max_document_chars = 1,000"
    )
    assert "or raise loaders.max_document_chars" in info.value.reason
    # A corpus file of many documents, each under the limit, is not refused for its total.
    assert len(load_file(path, LoaderSettings(max_document_chars=1_200))) == 31


def test_load_file_refuses_a_document_with_too_many_metadata_fields(tmp_path: Path) -> None:
    path = tmp_path / "wide.jsonl"
    wide = {"_id": "wide", "text": "body", **{f"k{i}": i for i in range(3000)}}
    path.write_text(json.dumps({"_id": "ok", "text": "fine", "year": 2020}) + "\n" + json.dumps(wide))
    with pytest.raises(LoaderError) as info:
        load_file(path, LoaderSettings())
    # 3,000 keys plus file_name and file_type.
    assert info.value.reason.startswith(
        "document 'wide' has 3002 metadata fields, above loaders.max_metadata_fields = 64"
    )
    assert "loaders.json_metadata_fields" in info.value.reason
    docs = load_file(path, LoaderSettings(json_metadata_fields=("year",)))
    assert [len(d.metadata) for d in docs] == [3, 2]


@pytest.mark.parametrize(
    ("front_matter", "message"),
    [
        (f"{'k' * 65}: 1", "has a metadata field name of 65 characters ('kkkk"),
        (f"summary: {'v' * 4097}", "has a metadata value of 4097 characters in field 'summary', above "
         "loaders.max_metadata_value_chars = 4096"),
    ],
)  # fmt: skip
def test_load_file_refuses_long_metadata_names_and_values(
    tmp_path: Path, front_matter: str, message: str
) -> None:
    path = tmp_path / "note.md"
    path.write_text(f"---\n{front_matter}\n---\n\n# Note\n\nBody.\n")
    with pytest.raises(LoaderError) as info:
        load_file(path, LoaderSettings())
    assert info.value.reason.startswith("document ")
    assert message in info.value.reason
    assert len(load_file(path, LoaderSettings(max_metadata_key_chars=65, max_metadata_value_chars=4097))) == 1
