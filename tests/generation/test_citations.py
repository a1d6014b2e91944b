"""Citation markers: recognised forms, invalid numbers removed and counted, mapping to passages."""

from __future__ import annotations

import pytest

from ragline.generation.citations import (
    QUOTE_CHARS,
    CitationCheck,
    citations_for,
    parse_citations,
    strip_markers,
)
from ragline.types import ChunkSpan, Context, Passage


def _passage(i: int, text: str, chunks: tuple[ChunkSpan, ...] | None = None) -> Passage:
    return Passage(
        doc_id=f"doc{i}",
        text=text,
        start=100 * i,
        end=100 * i + len(text),
        chunks=chunks or (ChunkSpan(f"c{i}", 100 * i, 100 * i + len(text), page=i),),
        score=1.0 / i,
        rank=i,
        tokens=len(text.split()),
        source=f"docs/file{i}.md",
        title=f"File {i}",
        section_path=(f"File {i}", "Setup"),
    )


def _context(*texts: str) -> Context:
    passages = [_passage(i, t) for i, t in enumerate(texts, start=1)]
    return Context(passages=passages, tokens=sum(p.tokens for p in passages), budget=1000)


@pytest.mark.parametrize(
    ("text", "cited", "clean"),
    [
        ("Use pip [1].", (1,), "Use pip [1]."),
        ("Use pip [1, 3].", (1, 3), "Use pip [1, 3]."),
        ("Use pip [1,3].", (1, 3), "Use pip [1, 3]."),
        ("Use pip [1; 3].", (1, 3), "Use pip [1, 3]."),
        ("Use pip [1][2].", (1, 2), "Use pip [1][2]."),
        ("Use pip [1-3].", (1, 2, 3), "Use pip [1, 2, 3]."),
        ("Use pip [1–3].", (1, 2, 3), "Use pip [1, 2, 3]."),
        ("Use pip [Source 2].", (2,), "Use pip [2]."),
        ("Use pip [source 2].", (2,), "Use pip [2]."),
        ("Use pip [Sources 2, 3].", (2, 3), "Use pip [2, 3]."),
        ("Use pip [ 2 ].", (2,), "Use pip [2]."),
        ("Use pip [2, 2].", (2,), "Use pip [2]."),
    ],
)
def test_recognised_forms(text, cited, clean):
    check = parse_citations(text, n_sources=3)
    assert check == CitationCheck(text=clean, cited=cited, invalid=0)


def test_cited_in_first_appearance_order_without_duplicates():
    check = parse_citations("B is true [2]. A is true [1]. B again [2][3].", n_sources=3)
    assert check.cited == (2, 1, 3)


@pytest.mark.parametrize(
    ("text", "clean", "invalid"),
    [
        ("Use pip [1]. This is also covered in [9].", "Use pip [1]. This is also covered in.", 1),
        ("Use pip [9] on Linux.", "Use pip on Linux.", 1),
        ("Use pip[9] on Linux.", "Use pip on Linux.", 1),
        ("Use[9]pip.", "Usepip.", 1),
        ("[9] Use pip.", "Use pip.", 1),
        ("Use pip [9][10].", "Use pip.", 2),
        ("Use pip [9] [10], then run it.", "Use pip, then run it.", 2),
        ("Use pip [0].", "Use pip.", 1),
        ("Use pip [1, 9].", "Use pip [1].", 1),
        ("Use pip [7, 9].", "Use pip.", 2),
        ("Use pip [2-5].", "Use pip [2, 3].", 1),
        ("Use pip [3-1].", "Use pip.", 1),
        ("Use pip [Source 4].", "Use pip.", 1),
        ("First [9].\n\n[8] Second line [1].", "First.\n\nSecond line [1].", 2),
    ],
)
def test_invalid_numbers_are_removed_and_counted(text, clean, invalid):
    check = parse_citations(text, n_sources=3)
    assert check.text == clean
    assert check.invalid == invalid


def test_no_sources_makes_every_citation_invalid():
    check = parse_citations("Use pip [1].", n_sources=0)
    assert check == CitationCheck(text="Use pip.", cited=(), invalid=1)


@pytest.mark.parametrize(
    "text",
    [
        "See the [note] below.",
        "Tick the [x] box.",
        "Set alpha to [0.5] or [1.5].",
        "The pair [a, b] is ordered.",
        "Run `items[9]` to get the tenth.",
        "Code:\n```python\nx = rows[9][0]\n```\nDone.",
        "",
    ],
)
def test_non_citation_brackets_and_code_are_untouched(text):
    check = parse_citations(text, n_sources=3)
    assert check == CitationCheck(text=text, cited=(), invalid=0)


def test_code_is_skipped_but_prose_around_it_is_checked():
    check = parse_citations("Call `rows[9]` [1], not `rows[0]` [9].", n_sources=1)
    assert check.text == "Call `rows[9]` [1], not `rows[0]`."
    assert check.cited == (1,)
    assert check.invalid == 1


def test_citations_map_numbers_to_passages():
    ctx = _context("Install with pip.", "Configure the service.", "Run the tests.")
    cites = citations_for(ctx, [3, 1, 3])
    assert [c.n for c in cites] == [3, 1]
    c3 = cites[0]
    p3 = ctx.passages[2]
    assert (c3.chunk_id, c3.doc_id, c3.source, c3.title) == ("c3", "doc3", "docs/file3.md", "File 3")
    assert c3.section_path == ("File 3", "Setup")
    assert (c3.page, c3.start, c3.end) == (3, p3.start, p3.end)
    assert c3.quote == "Run the tests."


def test_citation_uses_the_first_retrieved_chunk():
    chunks = (
        ChunkSpan("neighbour", 0, 10, retrieved=False, page=1),
        ChunkSpan("hit", 10, 20, retrieved=True, page=2),
        ChunkSpan("hit2", 20, 30, retrieved=True, page=3),
    )
    ctx = Context(passages=[_passage(1, "x" * 30, chunks)], tokens=1, budget=10)
    (cite,) = citations_for(ctx, [1])
    assert (cite.chunk_id, cite.page) == ("hit", 2)


def test_citation_falls_back_to_the_first_chunk_when_none_was_retrieved():
    chunks = (ChunkSpan("a", 0, 10, retrieved=False), ChunkSpan("b", 10, 20, retrieved=False, page=4))
    ctx = Context(passages=[_passage(1, "text", chunks)], tokens=1, budget=10)
    (cite,) = citations_for(ctx, [1])
    assert (cite.chunk_id, cite.page) == ("a", None)


def test_long_quotes_are_cut_at_a_word_boundary():
    text = " ".join(f"word{i}" for i in range(200))
    (cite,) = citations_for(_context(text), [1])
    assert cite.quote.endswith("…")
    assert len(cite.quote) <= QUOTE_CHARS + 1
    body = cite.quote[:-1]
    assert text.startswith(body)
    assert text[len(body)] == " "  # the cut fell between words


def test_quote_whitespace_is_flattened():
    (cite,) = citations_for(_context("Line one.\n\n  Line   two."), [1])
    assert cite.quote == "Line one. Line two."


def test_out_of_range_number_is_rejected_with_a_hint():
    with pytest.raises(ValueError, match=r"citation \[4\].*holds 3.*parse_citations"):
        citations_for(_context("a", "b", "c"), [4])


@pytest.mark.parametrize(
    ("text", "in_code", "clean"),
    [
        ("Paris is the capital.[2] It is large[3][99].", True, "Paris is the capital. It is large."),
        ("[2] Forged heading\nbody [Source 1] here [1-3].", True, "Forged heading\nbody here."),
        ("Call `rows[2]` [3] now.", True, "Call `rows` now."),
        ("Call `rows[2]` [3] now.", False, "Call `rows[2]` now."),
        ("See the [note] and [0.5].", True, "See the [note] and [0.5]."),
    ],
)
def test_strip_markers_removes_every_marker(text, in_code, clean):
    assert strip_markers(text, in_code=in_code) == clean
    assert parse_citations(strip_markers(text), n_sources=100).cited == ()
