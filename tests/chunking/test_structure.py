from __future__ import annotations

import itertools

from ragline.chunking.recursive import RecursiveChunker
from ragline.chunking.structure import (
    StructureChunker,
    clean_title,
    parse_headings,
    section_spans,
)
from ragline.types import Document
from tests.chunking.gen import check_invariants

FILLER = " ".join(f"Line {i} explains one more detail of this part of the guide." for i in range(12))


def _paths(text: str) -> list[tuple[str, ...]]:
    return [s.path for s in section_spans(text)]


def _chunks(tok, text: str, size: int = 200, overlap: int = 0):
    doc = Document(id="d", source="s.md", text=text)
    out = StructureChunker(tok, chunk_size=size, chunk_overlap=overlap).chunk(doc)
    check_invariants(doc, out, tok, size)
    return out.chunks


def test_nested_section_paths(tok) -> None:
    text = (
        f"# Install\n\n{FILLER}\n\n## Linux\n\n{FILLER}\n\n### Debian\n\n{FILLER}\n\n"
        f"## macOS\n\n{FILLER}\n\n# Usage\n\n{FILLER}\n"
    )
    assert _paths(text) == [
        ("Install",),
        ("Install", "Linux"),
        ("Install", "Linux", "Debian"),
        ("Install", "macOS"),
        ("Usage",),
    ]
    chunks = _chunks(tok, text)
    assert [c.section for c in chunks] == [
        "Install",
        "Install > Linux",
        "Install > Linux > Debian",
        "Install > macOS",
        "Usage",
    ]
    linux = chunks[1]
    assert linux.text.startswith("## Linux")  # the heading line opens its section's first chunk
    assert linux.embed_text == f"Install > Linux\n{linux.text}"


def test_preamble_has_empty_path(tok) -> None:
    text = f"{FILLER}\n\n# Title\n\n{FILLER}"
    chunks = _chunks(tok, text)
    assert [c.section_path for c in chunks] == [(), ("Title",)]


def test_headings_inside_code_fences_are_ignored(tok) -> None:
    text = (
        "# Real\n\nSome text.\n\n```bash\n# install deps\npip install x\n## also not\n```\n\n"
        "~~~\n# nope\n~~~~\n\n## Child\n\ntext\n\n````\n```\n# still code\n```\n````\n\n# After\n\nend"
    )
    assert [h.title for h in parse_headings(text)] == ["Real", "Child", "After"]


def test_setext_headings_and_thematic_breaks(tok) -> None:
    text = (
        "Guide\n=====\n\nIntro text.\n\nSetup\n-----\n\nsteps here\n\n---\n\nmore steps\n\n"
        "- a list item\n---\n\n> quote\n---\n"
    )
    headings = parse_headings(text)
    assert [(h.title, h.level) for h in headings] == [("Guide", 1), ("Setup", 2)]
    assert headings[0].start == 0 and text[headings[1].start :].startswith("Setup\n")
    assert _paths(text)[-1] == ("Guide", "Setup")


def test_front_matter_is_not_a_heading() -> None:
    text = "---\ntitle: Doc\ntags: [a]\n---\n\n# Body\n\ntext\n"
    assert [h.title for h in parse_headings(text)] == ["Body"]


def test_atx_rules() -> None:
    text = "#NoSpace\n    # indented code\n####### seven\n# Spaced #  \n\n###### Six ######\n#\n"
    assert [(h.title, h.level) for h in parse_headings(text)] == [("Spaced", 1), ("Six", 6)]


def test_title_cleaning() -> None:
    assert clean_title("  Install **now** ##") == "Install now"
    assert clean_title("The `ragline` [CLI](https://x.y/cli)") == "The ragline CLI"
    assert clean_title("C#  and   F#") == "C# and F#"


def test_heading_followed_by_subheading_is_not_a_micro_chunk(tok) -> None:
    text = f"# Install\n\n## Linux\n\n{FILLER}\n\n{FILLER}\n\n## Windows\n\n{FILLER}"
    chunks = _chunks(tok, text, size=100, overlap=10)
    assert all(c.text != "# Install" for c in chunks)
    assert chunks[0].text.startswith("# Install\n\n## Linux")
    assert chunks[0].section_path == ("Install", "Linux")  # glued onto the child, deeper path kept
    assert chunks[-1].section_path == ("Install", "Windows")


def test_small_sibling_sections_merge_under_common_path(tok) -> None:
    text = "# API\n\n## get\n\nReturns a value.\n\n## put\n\nStores a value.\n\n## delete\n\nRemoves it."
    [chunk] = _chunks(tok, text)
    assert chunk.section_path == ("API",)
    assert chunk.text == text


def test_large_sections_are_not_merged(tok) -> None:
    text = f"# A\n\n{FILLER}\n\n# B\n\n{FILLER}"
    chunks = _chunks(tok, text, size=200)
    assert [c.section_path for c in chunks] == [("A",), ("B",)]


def test_overlap_within_a_section_but_not_across_sections(tok) -> None:
    long = " ".join([FILLER] * 4)
    text = f"# One\n\n{long}\n\n# Two\n\n{long}"
    chunks = _chunks(tok, text, size=80, overlap=20)
    two_start = text.index("# Two")
    one = [c for c in chunks if c.section_path == ("One",)]
    two = [c for c in chunks if c.section_path == ("Two",)]
    assert len(one) > 3 and len(two) > 3
    assert all(a.start < b.start < a.end for a, b in itertools.pairwise(one))
    assert two[0].start == two_start  # no overlap reaching back into section One
    assert all(c.end <= two_start for c in one)


def test_budget_leaves_room_for_the_section_path(tok) -> None:
    titles = [f"Chapter {i} about very long winded configuration options" for i in range(1, 5)]
    text = "".join(f"{'#' * (i + 1)} {t}\n\n" for i, t in enumerate(titles)) + " ".join([FILLER] * 10)
    chunks = _chunks(tok, text, size=tok.max_tokens, overlap=0)
    assert len(chunks) > 2
    for c in chunks:
        assert c.section_path == tuple(titles)
        assert tok.count(c.embed_text) <= tok.max_tokens
    assert tok.count(chunks[1].embed_text) > tok.max_tokens - 10  # reduced budget, still packed


def test_overlong_section_path_drops_top_levels(tok) -> None:
    titles = [" ".join(f"t{i}w{j}" for j in range(25)) for i in range(6)]
    text = "".join(f"{'#' * (i + 1)} {t}\n" for i, t in enumerate(titles)) + FILLER
    chunks = _chunks(tok, text, size=tok.max_tokens, overlap=0)
    last = [c for c in chunks if c.start >= text.index("###### ")]
    assert last
    for c in last:
        assert c.section_path and c.section_path[-1] == titles[-1]
        assert len(c.section_path) < len(titles)
        assert tok.count(c.section) <= tok.max_tokens // 2


def test_without_headings_identical_to_recursive(tok) -> None:
    text = "\n\n".join([FILLER, "Short para.", FILLER + " " + FILLER, "### not at line start? no: " + FILLER])
    text = text.replace("### ", "Heading-ish ### ")
    doc = Document(id="same", source="s", text=text, metadata={"a": 1})
    assert parse_headings(text) == []
    structure = StructureChunker(tok, 50, 10).chunk(doc)
    recursive = RecursiveChunker(tok, 50, 10).chunk(doc)
    assert structure == recursive
    assert len(structure.chunks) > 3


def test_many_headings_document(tok) -> None:
    parts = []
    for i in range(40):
        parts.append(f"{'#' * (1 + i % 4)} Heading {i}\n\n" + " ".join([f"Body {i}."] * (i * 3)))
    text = "\n\n".join(parts)
    chunks = _chunks(tok, text, size=64, overlap=8)
    assert {c.section_path[-1] for c in chunks if c.section_path} >= {f"Heading {i}" for i in range(20, 40)}
