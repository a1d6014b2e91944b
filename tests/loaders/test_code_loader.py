from __future__ import annotations

from pathlib import Path

from ragline.cleaning.text import clean_code
from ragline.loaders.discover import discover
from ragline.loaders.registry import load_file
from ragline.settings import LoaderSettings

SOURCE = "class Harbour:\n\tdef fee(self, days):\n        return  days * 3   \r\n\n\n\n# end\n"


def test_source_file_keeps_its_layout_and_names_its_language(tmp_path: Path) -> None:
    path = tmp_path / "harbour.py"
    path.write_text(SOURCE, encoding="utf-8", newline="")
    [doc] = load_file(path, LoaderSettings())
    assert doc.text == "class Harbour:\n\tdef fee(self, days):\n        return  days * 3\n\n# end"
    assert doc.title == "harbour.py"
    assert doc.metadata == {"language": "python", "file_name": "harbour.py", "file_type": "py"}


def test_common_extensions_are_discovered(tmp_path: Path) -> None:
    for name in ("a.go", "b.ts", "c.rs", "d.java", "e.cpp", "f.rb", "g.js", "h.c", "notes.xyz"):
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    found = sorted(p.name for p in discover([tmp_path]).files)
    assert found == ["a.go", "b.ts", "c.rs", "d.java", "e.cpp", "f.rb", "g.js", "h.c"]
    languages = {
        p.suffix: load_file(p, LoaderSettings())[0].metadata["language"] for p in discover([tmp_path]).files
    }
    assert languages == {
        ".go": "go", ".ts": "typescript", ".rs": "rust", ".java": "java", ".cpp": "cpp", ".rb": "ruby",
        ".js": "javascript", ".c": "c",
    }  # fmt: skip


def test_clean_code_is_idempotent_and_keeps_indentation() -> None:
    once = clean_code(SOURCE + "\u200b\x07")
    assert clean_code(once) == once
    assert "\tdef fee" in once
    assert "        return  days" in once
