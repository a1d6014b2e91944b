from __future__ import annotations

from pathlib import Path

import pytest

from ragline.errors import LoaderError, UnsupportedFileType
from ragline.loaders.base import Loader
from ragline.loaders.csv import CsvLoader
from ragline.loaders.jsonl import JsonLoader
from ragline.loaders.markdown import MarkdownLoader
from ragline.loaders.registry import SUPPORTED_EXTENSIONS, load_file, loader_for
from ragline.settings import LoaderSettings

_ALL = {
    ".txt", ".text", ".log", ".rst", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx",
    ".json", ".jsonl", ".ndjson", ".csv", ".tsv",
}  # fmt: skip


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
    assert info.value.reason.startswith("unsupported file type '.xyz'; supported: .csv, .docx, .htm, .html")
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
