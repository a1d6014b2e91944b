"""Coverage and size properties over seeded random documents, for every chunker."""

from __future__ import annotations

import pytest

from ragline.chunking.parent_child import ParentChildChunker
from ragline.chunking.recursive import RecursiveChunker
from ragline.chunking.spans import TokenizedText
from ragline.chunking.structure import StructureChunker
from tests.chunking.gen import check_invariants, random_docs

SIZES = [(16, 0), (64, 16), (200, 32), (1000, 300), (60, 59)]


def _make(kind: str, tok, size: int, overlap: int):
    if kind == "recursive":
        return RecursiveChunker(tok, size, overlap)
    if kind == "structure":
        return StructureChunker(tok, size, overlap)
    return ParentChildChunker(tok, size, overlap, parent_size=max(size, 300))


@pytest.mark.parametrize("kind", ["recursive", "structure", "parent-child"])
@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_random_documents_keep_the_contract(tok, kind: str, size: int, overlap: int) -> None:
    chunker = _make(kind, tok, size, overlap)
    docs = random_docs(seed=size * 1000 + overlap, n=12)
    assert any(d.page_starts for d in docs) and any("```" in d.text for d in docs)
    for doc in docs:
        out = chunker.chunk(doc)
        check_invariants(doc, out, tok, size)
        if doc.text.strip():
            assert out.chunks


@pytest.mark.parametrize("kind", ["recursive", "structure", "parent-child"])
def test_plain_prose_without_markdown(tok, kind: str) -> None:
    chunker = _make(kind, tok, 128, 16)
    for doc in random_docs(seed=7, n=15, markdown=False):
        check_invariants(doc, chunker.chunk(doc), tok, 128)


@pytest.mark.parametrize("kind", ["recursive", "structure", "parent-child"])
def test_tiny_budgets_still_cover_everything(tok, kind: str) -> None:
    # One token per chunk: a word piece re-tokenized alone may count 2, so only coverage is checked.
    chunker = _make(kind, tok, 1, 0)
    for doc in random_docs(seed=3, n=3):
        out = chunker.chunk(doc)
        tt = TokenizedText.of(doc.text, tok)
        covered = bytearray(len(doc.text))
        for c in out.chunks:
            assert c.text == doc.text[c.start : c.end] and c.text == c.text.strip()
            assert tt.count(c.start, c.end) <= 1 or len(set(tt.starts)) < len(tt.starts)
            covered[c.start : c.end] = b"\x01" * (c.end - c.start)
        assert all(covered[i] or ch.isspace() for i, ch in enumerate(doc.text))


@pytest.mark.parametrize("kind", ["recursive", "structure", "parent-child"])
def test_chunking_is_deterministic(tok, kind: str) -> None:
    docs = random_docs(seed=11, n=6)
    first = [_make(kind, tok, 64, 8).chunk(d) for d in docs]
    second = [_make(kind, tok, 64, 8).chunk(d) for d in docs]
    assert first == second
    ids = [c.id for out in first for c in out.chunks]
    assert len(ids) == len(set(ids))
