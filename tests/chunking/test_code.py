"""Code-aware chunking: functions and classes as chunks with the file and symbol in the section path
(tree-sitter grammars from tree-sitter-language-pack), recursive fallback otherwise (issue 27)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ragline.chunking.code import CodeChunker
from ragline.chunking.factory import make_chunker
from ragline.settings import ChunkingSettings
from ragline.types import Document
from tests.helpers import fast_engine

pytest.importorskip(
    "tree_sitter_language_pack", reason="the code extra (tree-sitter grammars) is not installed"
)

PYTHON = '''"""Shop module."""
import sys

TAX = 0.2


@dataclass
class Cart:
    """A shopping cart."""

    items: list

    def total(self):
        # Sum of prices with tax.
        return sum(i.price for i in self.items) * (1 + TAX)

    def add(self, item):
        self.items.append(item)
        return self


def log(*args):
    print(*args, file=sys.stderr)
'''

SAMPLES = {
    "app.go": (
        "package app\n\n// Fee computes the harbour fee.\nfunc Fee(days int) int {\n\treturn days * 3\n}\n\n"
        "type Boat struct {\n\tName string\n}\n\nfunc (b *Boat) Dock() string {\n\treturn b.Name\n}\n",
        {("app.go", "Fee"), ("app.go", "Boat"), ("app.go", "Dock")},
    ),
    "lib.rs": (
        "/// Doc.\nfn fee(days: i32) -> i32 {\n    days * 3\n}\n\nstruct Boat {\n    name: String,\n}\n\n"
        "impl Boat {\n    fn dock(&self) -> &str {\n        &self.name\n    }\n}\n",
        {("lib.rs", "fee"), ("lib.rs", "Boat")},
    ),
    "Harbour.java": (
        "package p;\n\n/** A harbour. */\npublic class Harbour {\n    public int fee(int days) {\n"
        "        return days * 3;\n    }\n}\n",
        {("Harbour.java", "Harbour")},
    ),
    "tide.ts": (
        "export interface Tide {\n  height: number;\n}\n\nexport function high(t: Tide): boolean {\n"
        "  return t.height > 2;\n}\n",
        {("tide.ts", "Tide"), ("tide.ts", "high")},
    ),
    "fee.c": (
        "/* Fee per day. */\nint fee(int days) {\n    return days * 3;\n}\n\n"
        "struct boat {\n    int id;\n};\n",
        {("fee.c", "fee"), ("fee.c", "boat")},
    ),
    "boat.rb": ("class Boat\n  def dock\n    1\n  end\nend\n", {("boat.rb", "Boat")}),
}


def _doc(name: str, text: str, language: str) -> Document:
    ext = name.rsplit(".", 1)[1]
    meta = {"language": language, "file_name": name, "file_type": ext}
    return Document("d-" + name, "/src/" + name, text, metadata=meta, title=name)  # type: ignore[arg-type]


def test_functions_and_classes_are_chunks_named_in_the_section_path(tok) -> None:
    chunks = CodeChunker(tok, chunk_size=64, chunk_overlap=8).chunk(_doc("shop.py", PYTHON, "python")).chunks
    by_path = {c.section_path: c.text for c in chunks}
    assert by_path[("shop.py", "Cart", "total")].startswith("def total(self):\n        # Sum of prices")
    assert by_path[("shop.py", "Cart", "add")].startswith("def add(self, item):")
    assert by_path[("shop.py", "log")].startswith("def log(*args):")
    # The class's own lines (decorator, docstring, fields) are the class's chunk.
    assert by_path[("shop.py", "Cart")].startswith("@dataclass\nclass Cart:")
    # Every character of code is in some chunk, in order, and spans match the document.
    doc_text = PYTHON.strip("\n")
    assert all(doc_text[c.start : c.end] == c.text for c in chunks)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert " ".join(c.text for c in chunks).split() == doc_text.split()


def test_a_class_that_fits_is_one_chunk(tok) -> None:
    [*_, cart, log] = (
        CodeChunker(tok, chunk_size=256, chunk_overlap=8).chunk(_doc("shop.py", PYTHON, "python")).chunks
    )
    assert cart.section_path == ("shop.py", "Cart")
    assert "def total" in cart.text and "def add" in cart.text
    assert log.section_path == ("shop.py", "log")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_definitions_in_other_languages(tok, name: str) -> None:
    text, expected = SAMPLES[name]
    language = {"go": "go", "rs": "rust", "java": "java", "ts": "typescript", "c": "c", "rb": "ruby"}
    doc = _doc(name, text.strip("\n"), language[name.rsplit(".", 1)[1]])
    paths = {c.section_path for c in CodeChunker(tok, chunk_size=24, chunk_overlap=4).chunk(doc).chunks}
    assert expected <= paths


def test_non_ascii_code_keeps_exact_spans(tok) -> None:
    text = 'def grüße():\n    return "héllo wörld ünïcödé"\n\n\ndef zwei():\n    return "ß" * 2'
    chunks = CodeChunker(tok, chunk_size=16, chunk_overlap=2).chunk(_doc("g.py", text, "python")).chunks
    assert {c.section_path for c in chunks} == {("g.py", "grüße"), ("g.py", "zwei")}
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_unsupported_language_falls_back_with_a_logged_reason(tok, caplog: pytest.LogCaptureFixture) -> None:
    chunker = make_chunker(ChunkingSettings(chunk_size=64, chunk_overlap=8), tok)
    doc = _doc("a.jl", "function f()\n  1\nend\n\n# Not a heading\nx = 2", "julia")
    with caplog.at_level(logging.INFO, logger="ragline.chunking.code"):
        chunks = chunker.chunk(doc).chunks
        chunker.chunk(doc)
    assert [c.section_path for c in chunks] == [()]  # recursive: no Markdown headings read into code
    assert caplog.text.count("no definition rules for language 'julia'") == 1


def test_json_with_a_language_field_is_not_code(tok) -> None:
    chunker = make_chunker(ChunkingSettings(), tok)
    doc = Document("j", "/d.json", "# Guide\n\nHello.", metadata={"language": "python", "file_type": "json"})
    assert [c.section_path for c in chunker.chunk(doc).chunks] == [("Guide",)]


def test_ingested_code_is_found_with_its_symbol(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "shop.py").write_text(PYTHON, encoding="utf-8")
    (tmp_path / "src" / "fee.go").write_text(SAMPLES["app.go"][0], encoding="utf-8")
    engine = fast_engine(tmp_path / "data", chunking={"chunk_size": 64, "chunk_overlap": 8})
    engine.ingest([tmp_path / "src"])
    [hit, *_] = engine.search("stderr print", mode="keyword")
    assert hit.chunk.section_path == ("shop.py", "log")
    assert hit.chunk.metadata["language"] == "python"
    [hit, *_] = engine.search("Dock Boat Name", mode="keyword")
    assert hit.chunk.section_path == ("fee.go", "Dock")
