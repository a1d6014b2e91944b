from __future__ import annotations

import itertools

import pytest

from ragline.chunking.base import Chunker
from ragline.chunking.recursive import RecursiveChunker
from ragline.chunking.spans import TokenizedText
from ragline.errors import ConfigError
from ragline.types import Document, content_hash, stable_id

PROSE = " ".join(
    f"Sentence number {i} talks about retrieval, indexing and chunking of documents." for i in range(80)
)


def test_is_a_chunker(tok) -> None:
    assert isinstance(RecursiveChunker(tok), Chunker)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \r\n"])
def test_blank_document_gives_no_chunks(tok, text: str) -> None:
    out = RecursiveChunker(tok).chunk(Document(id="d", source="s", text=text))
    assert out.chunks == [] and out.sections == []


def test_short_document_is_one_stripped_chunk(tok) -> None:
    doc = Document(id="d", source="a.txt", text="\n  Hello world.  \n", metadata={"lang": "en"})
    [chunk] = RecursiveChunker(tok).chunk(doc).chunks
    assert chunk.text == "Hello world."
    assert (chunk.start, chunk.end) == (3, 15)
    assert chunk.id == stable_id("d", "0", content_hash("Hello world."))
    assert chunk.metadata == {"lang": "en"}
    assert chunk.source == "a.txt" and chunk.doc_id == "d" and chunk.position == 0
    assert chunk.section_path == () and chunk.parent_id is None


def test_chunks_respect_size_and_cut_at_sentences(tok) -> None:
    doc = Document(id="d", source="s", text=PROSE)
    chunks = RecursiveChunker(tok, chunk_size=60, chunk_overlap=0).chunk(doc).chunks
    assert len(chunks) > 5
    for c in chunks:
        assert tok.count(c.text) <= 60
        assert c.text.endswith(".") and c.text.startswith("Sentence")
    # Greedy packing: all but the last chunk are reasonably full.
    assert all(tok.count(c.text) > 30 for c in chunks[:-1])


def test_overlap_is_present_between_consecutive_chunks(tok) -> None:
    doc = Document(id="d", source="s", text=PROSE)
    chunks = RecursiveChunker(tok, chunk_size=60, chunk_overlap=15).chunk(doc).chunks
    tt = TokenizedText.of(PROSE, tok)
    assert len(chunks) > 5
    for a, b in itertools.pairwise(chunks):
        assert a.start < b.start < a.end, "the next chunk must start inside the previous one"
        assert PROSE[b.start - 1] == " "  # on a word boundary
        assert 8 <= tt.count(b.start, a.end) <= 15


def test_no_overlap_means_disjoint_chunks(tok) -> None:
    chunks = RecursiveChunker(tok, chunk_size=60, chunk_overlap=0).chunk(Document("d", "s", PROSE)).chunks
    assert all(a.end < b.start for a, b in itertools.pairwise(chunks))


def test_chunk_size_is_clamped_to_the_model_limit(tok) -> None:
    chunks = RecursiveChunker(tok, chunk_size=5000, chunk_overlap=0).chunk(Document("d", "s", PROSE)).chunks
    counts = [tok.count(c.text) for c in chunks]
    assert max(counts) <= tok.max_tokens
    assert counts[0] > tok.max_tokens - 20  # still packed close to the limit


def test_long_word_is_cut_between_tokens_and_never_inside_one(tok) -> None:
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 2  # 90 chars, many word pieces
    text = f"Start {word} end."
    chunks = RecursiveChunker(tok, chunk_size=6, chunk_overlap=0).chunk(Document("d", "s", text)).chunks
    spans = tok.token_spans(text)
    boundaries = {s for s, _ in spans} | {e for _, e in spans}
    assert len(chunks) > 3
    for c in chunks:
        assert c.start in boundaries and c.end in boundaries
        assert tok.count(c.text) <= 6
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")


def test_page_metadata_from_page_starts(tok) -> None:
    pages = ["Page one text. " * 30, "Page two text. " * 30, "Page three text. " * 30]
    text = "".join(pages)
    starts = (0, len(pages[0]), len(pages[0]) + len(pages[1]))
    doc = Document(id="d", source="x.pdf", text=text, metadata={"title": "T"}, page_starts=starts)
    chunks = RecursiveChunker(tok, chunk_size=50, chunk_overlap=0).chunk(doc).chunks
    assert {c.metadata["page"] for c in chunks} == {1, 2, 3}
    for c in chunks:
        assert c.metadata["page"] == doc.page_at(c.start)
        assert c.metadata["page_end"] == doc.page_at(c.end - 1)
        assert c.metadata["title"] == "T"
    assert any(c.metadata["page_end"] > c.metadata["page"] for c in chunks)


def test_ids_are_stable_and_depend_on_text_and_position(tok) -> None:
    doc = Document(id="doc-1", source="s", text=PROSE)
    a = RecursiveChunker(tok, 60, 10).chunk(doc).chunks
    b = RecursiveChunker(tok, 60, 10).chunk(doc).chunks
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    assert all(c.id == stable_id("doc-1", str(c.position), content_hash(c.text)) for c in a)
    changed = RecursiveChunker(tok, 60, 10).chunk(Document("doc-1", "s", PROSE.replace("80", "eighty")))
    assert changed.chunks[0].id == a[0].id  # untouched first chunk keeps its id


def test_cjk_text_without_spaces(tok) -> None:
    text = "检索增强生成系统把文档切成小块然后嵌入向量" * 20 + "。结束"
    chunks = RecursiveChunker(tok, chunk_size=30, chunk_overlap=5).chunk(Document("d", "s", text)).chunks
    assert len(chunks) > 5
    assert all(tok.count(c.text) <= 30 for c in chunks)
    # No spaces means no word boundary to start an overlap on: the pieces tile the text exactly.
    assert "".join(c.text for c in chunks) == text


@pytest.mark.parametrize(
    ("size", "overlap", "needle"),
    [
        (0, 0, "chunk_size"),
        (-5, 0, "chunk_size"),
        (10, 10, "chunk_overlap"),
        (10, 20, "chunk_overlap"),
        (10, -1, "chunk_overlap"),
    ],
)
def test_invalid_sizes_raise_config_error(tok, size: int, overlap: int, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        RecursiveChunker(tok, chunk_size=size, chunk_overlap=overlap)
