"""Table-aware chunking: a table stays whole when it fits, else it is cut between rows and every
later piece carries the header row in its section path (issue 27)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from ragline.chunking.parent_child import ParentChildChunker
from ragline.chunking.structure import StructureChunker
from ragline.chunking.tables import find_tables
from ragline.types import Document
from tests.chunking.gen import check_invariants, random_docs_with_tables
from tests.helpers import fast_engine

HEADER = "| Product | Price | Stock |"


def _table(rows: int) -> str:
    body = "\n".join(f"| item{n} widget | {n}.50 | {n % 7} |" for n in range(rows))
    return f"{HEADER}\n| --- | --- | --- |\n{body}"


def test_find_tables_skips_fenced_code_and_needs_a_delimiter_line() -> None:
    text = "| not | a table |\nplain\n\n```\n| a | b |\n| - | - |\n```\n\n" + _table(2) + "\n\nAfter."
    [table] = find_tables(text)
    assert table.header == HEADER
    assert text[table.start : table.end] == _table(2)
    assert [text[s:e] for s, e in table.rows] == [
        "| item0 widget | 0.50 | 0 |",
        "| item1 widget | 1.50 | 1 |",
    ]


def test_a_table_that_fits_stays_whole_with_its_intro(tok) -> None:
    text = "# Prices\n\nThe spring price list follows.\n\n" + _table(4) + "\n\nPrices include tax."
    chunks = StructureChunker(tok, chunk_size=128, chunk_overlap=16).chunk(Document("d", "s", text)).chunks
    [holder] = [c for c in chunks if HEADER in c.text]
    assert _table(4) in holder.text
    assert "spring price list" in holder.text


def test_a_one_row_record_table_opens_the_description_after_it(tok) -> None:
    # Options as one-row records ("name | Use | Type | Default") each above its description.
    entries = [(f"option_{n}", f"This option sets limit number {n} of the server. " * 25) for n in range(4)]
    text = "# Options\n\n" + "\n\n".join(
        f"| {name} | Use: main | Type: integer | Default: {n}0 |\n| --- | --- | --- | --- |\n\n{body}"
        for n, (name, body) in enumerate(entries)
    )
    doc = Document("d", "s", text)
    out = StructureChunker(tok, chunk_size=200, chunk_overlap=16).chunk(doc)
    for n, (name, _) in enumerate(entries):
        [holder] = [c for c in out.chunks if f"| {name} |" in c.text]
        # The record starts its chunk (after the section's heading) and the description of that
        # option follows it there, not the end of the option before it.
        assert holder.text.removeprefix("# Options\n\n").startswith(f"| {name} |"), holder.text
        assert f"limit number {n} " in holder.text
        assert f"limit number {n - 1} " not in holder.text
        # The rest of a long description stays the option's entry: the record is its section.
        rest = [c for c in out.chunks if f"limit number {n} " in c.text and c is not holder]
        assert rest and all(c.section_path[-1].startswith(f"| {name} |") for c in rest)
    check_invariants(doc, out, tok, 200)


def test_a_long_table_is_cut_between_rows_and_repeats_its_header(tok) -> None:
    table = _table(60)
    text = "# Stock\n\nIntro line.\n\n" + table + "\n\nClosing remark."
    doc = Document("d", "s", text, title="Inventory")
    chunks = StructureChunker(tok, chunk_size=64, chunk_overlap=8).chunk(doc).chunks
    table_chunks = [c for c in chunks if "widget" in c.text]
    assert len(table_chunks) > 3
    rows = [line for line in table.split("\n")[2:]]
    seen: list[str] = []
    for chunk in table_chunks:
        assert chunk.text == doc.text[chunk.start : chunk.end]
        lines = chunk.text.split("\n")
        # Whole rows only: every table line of the chunk is a complete row of the table.
        assert all(line in rows or line in (HEADER, "| --- | --- | --- |") for line in lines if "|" in line)
        seen.extend(line for line in lines if line in rows)
        # The column names travel with every piece: in the text (first) or the section path.
        assert HEADER in chunk.embed_text
        assert HEADER in chunk.text or chunk.section_path[-1] == HEADER
        assert chunk.section_path[:1] == ("Stock",)
    assert seen == rows
    # A short intro opens the first piece, short text after the table joins the last one.
    assert table_chunks[0].text.startswith("# Stock\n\nIntro line.\n\n" + HEADER)
    assert table_chunks[-1].text.endswith("Closing remark.")


def test_parent_child_children_repeat_the_header(tok) -> None:
    text = "# Stock\n\n" + _table(80)
    out = ParentChildChunker(tok, chunk_size=48, chunk_overlap=8, parent_size=256).chunk(
        Document("d", "s", text)
    )
    assert len(out.sections) > 1
    assert all(HEADER in c.embed_text for c in out.chunks if "widget" in c.text)


def test_a_cell_is_retrieved_with_its_column_names(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Stock"
    sheet.append(["Product", "Warehouse", "Quantity"])
    for n in range(120):
        sheet.append([f"part-{n:03d}", f"hall {n % 9}", n * 3])
    sheet.append(["zephyrine gasket", "hall 4", 777])
    sheet.append(["part-end", "hall 1", 1])
    workbook.save(tmp_path / "stock.xlsx")
    engine = fast_engine(tmp_path / "data", chunking={"chunk_size": 64, "chunk_overlap": 8})
    report = engine.ingest([tmp_path / "stock.xlsx"])
    assert report.chunks_indexed > 5
    [hit, *_] = engine.search("zephyrine gasket", mode="keyword")
    assert "| zephyrine gasket | hall 4 | 777 |" in hit.chunk.text
    assert "| Product | Warehouse | Quantity |" in hit.chunk.embed_text
    assert hit.chunk.section_path == ("Stock", "| Product | Warehouse | Quantity |")


@pytest.mark.parametrize(("size", "overlap"), [(16, 0), (64, 16)])
@pytest.mark.parametrize("kind", ["structure", "parent-child"])
def test_random_documents_with_tables_keep_the_contract(tok, kind: str, size: int, overlap: int) -> None:
    if kind == "structure":
        chunker = StructureChunker(tok, size, overlap)
    else:
        chunker = ParentChildChunker(tok, size, overlap, parent_size=300)
    docs = random_docs_with_tables(seed=size + overlap, n=4)
    # (A table that landed inside a fenced block is code, not a table.)
    assert sum(len(find_tables(doc.text)) for doc in docs) >= 4
    for doc in docs:
        check_invariants(doc, chunker.chunk(doc), tok, size)
