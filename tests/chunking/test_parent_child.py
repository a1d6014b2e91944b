from __future__ import annotations

import pytest

from ragline.chunking.base import ChunkedDocument
from ragline.chunking.parent_child import ParentChildChunker
from ragline.chunking.spans import TokenizedText
from ragline.errors import ConfigError
from ragline.types import Document, content_hash, stable_id
from tests.chunking.gen import check_invariants, random_docs

FILLER = " ".join(f"Line {i} explains one more detail of this part of the guide." for i in range(12))


def _check_parents(doc: Document, out: ChunkedDocument, tok, parent_size: int) -> None:
    text = doc.text
    tt = TokenizedText.of(text, tok)
    by_id = {s.id: s for s in out.sections}
    assert len(by_id) == len(out.sections), "section ids must be unique"
    covered = bytearray(len(text))
    prev_end = -1
    for i, sec in enumerate(out.sections):
        assert sec.doc_id == doc.id
        assert sec.text == text[sec.start : sec.end] and sec.text == sec.text.strip()
        assert sec.id == stable_id(doc.id, "section", str(i), content_hash(sec.text))
        assert sec.start >= prev_end, "parents must not overlap"
        prev_end = sec.end
        assert tt.count(sec.start, sec.end) <= parent_size
        covered[sec.start : sec.end] = b"\x01" * (sec.end - sec.start)
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(text)), "parents must cover the text"
    for c in out.chunks:
        parent = by_id[c.parent_id]  # type: ignore[index]
        assert parent.start <= c.start and c.end <= parent.end


def test_children_live_inside_their_parents(tok) -> None:
    text = f"# Guide\n\n{FILLER}\n\n## Part\n\n{' '.join([FILLER] * 6)}\n\n# Appendix\n\n{FILLER}"
    doc = Document(id="d", source="g.md", text=text)
    out = ParentChildChunker(tok, chunk_size=64, chunk_overlap=8, parent_size=256).chunk(doc)
    check_invariants(doc, out, tok, 64)
    _check_parents(doc, out, tok, 256)
    assert len(out.sections) >= 3
    assert len(out.chunks) > len(out.sections)
    assert all(c.parent_id is not None for c in out.chunks)
    # The long part is split into several parents; every parent gets at least one child.
    assert {c.parent_id for c in out.chunks} == {s.id for s in out.sections}
    assert sum(1 for s in out.sections if s.section_path == ("Guide", "Part")) > 1
    assert out.sections[-1].section_path == ("Appendix",)
    assert out.chunks[-1].section_path == ("Appendix",)


def test_small_sections_share_one_parent_but_keep_child_paths(tok) -> None:
    text = f"# A\n\n{FILLER}\n\n# B\n\n{FILLER}\n\n# C\n\n{FILLER}"
    doc = Document(id="d", source="s", text=text)
    out = ParentChildChunker(tok, chunk_size=200, chunk_overlap=0, parent_size=1024).chunk(doc)
    [parent] = out.sections
    assert parent.text == text and parent.section_path == ()
    assert [c.section_path for c in out.chunks] == [("A",), ("B",), ("C",)]


def test_plain_text_parents_are_split_without_overlap(tok) -> None:
    text = "\n\n".join([FILLER] * 20)
    doc = Document(id="d", source="s", text=text)
    out = ParentChildChunker(tok, chunk_size=100, chunk_overlap=20, parent_size=300).chunk(doc)
    _check_parents(doc, out, tok, 300)
    assert len(out.sections) > 3
    assert all(a.end < b.start for a, b in zip(out.sections, out.sections[1:], strict=False))
    # Children overlap within a parent but never cross into the next one.
    for a, b in zip(out.chunks, out.chunks[1:], strict=False):
        if a.parent_id == b.parent_id:
            assert b.start < a.end
        else:
            assert a.end < b.start


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_documents(tok, seed: int) -> None:
    chunker = ParentChildChunker(tok, chunk_size=48, chunk_overlap=8, parent_size=200)
    for doc in random_docs(seed=seed, n=8):
        out = chunker.chunk(doc)
        check_invariants(doc, out, tok, 48)
        _check_parents(doc, out, tok, 200)


def test_stable_ids(tok) -> None:
    doc = Document(id="d", source="s", text=f"# T\n\n{FILLER}\n\n" * 5)
    a = ParentChildChunker(tok, 64, 8, 200).chunk(doc)
    b = ParentChildChunker(tok, 64, 8, 200).chunk(doc)
    assert a == b
    assert [s.id for s in a.sections] == [s.id for s in b.sections]


def test_blank_document(tok) -> None:
    assert ParentChildChunker(tok).chunk(Document("d", "s", " \n ")) == ChunkedDocument([], [])


@pytest.mark.parametrize(
    ("size", "overlap", "parent", "needle"),
    [(128, 16, 64, "parent_size"), (128, 128, 1024, "chunk_overlap"), (0, 0, 1024, "chunk_size")],
)
def test_invalid_sizes(tok, size: int, overlap: int, parent: int, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        ParentChildChunker(tok, chunk_size=size, chunk_overlap=overlap, parent_size=parent)
