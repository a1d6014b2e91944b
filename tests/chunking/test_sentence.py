"""SentenceChunker: one sentence per chunk, short sentences merged, the shared chunker contract."""

from __future__ import annotations

import pytest

from ragline.chunking.base import Chunker
from ragline.chunking.factory import make_chunker
from ragline.chunking.sentence import SentenceChunker, sentence_blocks
from ragline.errors import ConfigError
from ragline.settings import ChunkingSettings
from ragline.text.sentences import sentence_spans
from ragline.types import Document
from tests.chunking.gen import check_invariants, random_docs
from tests.chunking.test_properties import SIZES

PROSE = (
    "The lighthouse was built in 1872 by the engineer Maria Okafor. "
    "It stands forty-one metres tall and is painted with red and white bands. "
    "Its lamp was electrified in 1931, replacing the old oil burner."
)


def _chunks(tok, text: str, min_tokens: int = 4, size: int = 200, title: str = ""):
    doc = Document(id="d", source="s.md", text=text, title=title)
    out = SentenceChunker(tok, min_tokens=min_tokens, chunk_size=size).chunk(doc)
    check_invariants(doc, out, tok, size)
    return out.chunks


def test_one_chunk_per_sentence(tok) -> None:
    chunks = _chunks(tok, PROSE)
    assert [c.text for c in chunks] == [PROSE[s:e] for s, e in sentence_spans(PROSE)]
    assert len(chunks) == 3 and chunks[0].text.endswith("Okafor.")


def test_chunks_are_the_sentences_the_window_expansion_counts(tok) -> None:
    # The answer side expands hits by sentence_spans; with no merging the spans agree exactly.
    text = "Dr. Smith came home. He left at 5 p.m. on Friday! Then: e.g. this one.\n\nA new paragraph here."
    chunks = _chunks(tok, text, min_tokens=1)
    assert [(c.start, c.end) for c in chunks] == sentence_spans(text)


def test_short_sentences_join_the_next_one(tok) -> None:
    text = "Yes. No. Maybe. The committee approved the budget for the new harbour bridge."
    # "Yes. No. Maybe." is 6 tokens: under 8 it waits for the next sentence, at 5 it is enough.
    assert [c.text for c in _chunks(tok, text, min_tokens=8)] == [text]
    assert next(c.text for c in _chunks(tok, text, min_tokens=5)) == "Yes. No. Maybe."
    text = "Hello. " + PROSE
    assert _chunks(tok, text, min_tokens=5)[0].text.startswith("Hello. The lighthouse was built")


def test_short_last_sentence_joins_the_chunk_before(tok) -> None:
    text = PROSE + " Done."
    chunks = _chunks(tok, text, min_tokens=5)
    assert len(chunks) == 3
    assert chunks[-1].text == "Its lamp was electrified in 1931, replacing the old oil burner. Done."


def test_short_sentences_that_cannot_fit_with_the_next_stand_alone(tok) -> None:
    long_sentence = "Then " + " ".join(["word"] * 40) + "."
    text = f"Short one. {long_sentence}"
    chunks = _chunks(tok, text, min_tokens=5, size=30)
    assert chunks[0].text == "Short one."
    assert all(tok.count(c.text) <= 30 for c in chunks)


def test_sentences_longer_than_a_chunk_are_split(tok) -> None:
    sentence = ", ".join(f"clause number {i} of a very long sentence" for i in range(30)) + "."
    chunks = _chunks(tok, sentence + " " + PROSE, size=32)
    assert len(chunks) > 3
    assert chunks[-3].text.startswith("The lighthouse")  # the long one never swallows its neighbours
    assert "".join(c.text for c in chunks[:-3]).replace(" ", "") == sentence.replace(" ", "")


def test_headings_set_section_paths_and_join_their_first_sentence(tok) -> None:
    text = "# Lighthouse\n\n## History\n\n" + PROSE + "\n\n## Visiting\n\nTickets cost six euros for adults."
    chunks = _chunks(tok, text, title="Harbor")
    assert chunks[0].text.startswith("# Lighthouse\n\n## History\n\nThe lighthouse was built")
    assert [c.section_path for c in chunks] == [("Lighthouse", "History")] * 3 + [("Lighthouse", "Visiting")]
    assert chunks[-1].text == "## Visiting\n\nTickets cost six euros for adults."
    assert chunks[0].header == "Harbor > Lighthouse > History"


def test_setext_headings_join_their_first_sentence_too(tok) -> None:
    text = (
        "Lighthouse\n==========\n\n" + PROSE + "\n\nVisiting\n--------\n\nTickets cost six euros for adults."
    )
    chunks = _chunks(tok, text, min_tokens=1)
    assert chunks[0].text.startswith("Lighthouse\n==========\n\nThe lighthouse was built")
    assert chunks[-1].text == "Visiting\n--------\n\nTickets cost six euros for adults."
    assert chunks[-1].section_path == ("Lighthouse", "Visiting")


def test_short_sentences_do_not_merge_across_sections(tok) -> None:
    text = "# A\n\nOk.\n\n# B\n\nFine."
    chunks = _chunks(tok, text, min_tokens=50)
    assert [(c.text, c.section_path) for c in chunks] == [("# A\n\nOk.", ("A",)), ("# B\n\nFine.", ("B",))]


def test_sentence_blocks_cover_every_character(tok) -> None:
    for doc in random_docs(seed=5, n=10):
        covered = bytearray(len(doc.text))
        for block in sentence_blocks(doc.text):
            for s, e in block.units:
                assert not any(covered[s:e])
                covered[s:e] = b"\x01" * (e - s)
        assert all(covered[i] or ch.isspace() for i, ch in enumerate(doc.text))


@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_random_documents_keep_the_contract(tok, size: int, overlap: int) -> None:
    chunker = SentenceChunker(tok, min_tokens=8, chunk_size=size)
    for doc in random_docs(seed=size * 1000 + overlap, n=12):
        out = chunker.chunk(doc)
        check_invariants(doc, out, tok, size)
        assert bool(out.chunks) == bool(doc.text.strip())
        assert out.sections == []


def test_plain_prose_is_deterministic(tok) -> None:
    docs = random_docs(seed=7, n=10, markdown=False)
    first = [SentenceChunker(tok, 6, 96).chunk(d) for d in docs]
    assert first == [SentenceChunker(tok, 6, 96).chunk(d) for d in docs]
    for doc, out in zip(docs, first, strict=True):
        check_invariants(doc, out, tok, 96)
    ids = [c.id for out in first for c in out.chunks]
    assert len(ids) == len(set(ids))


def test_factory_builds_it_from_settings(tok) -> None:
    settings = ChunkingSettings(strategy="sentence", chunk_size=96, chunk_overlap=0, sentence_min_tokens=5)
    outer = make_chunker(settings, tok)
    assert isinstance(outer, Chunker)
    chunker = outer.inner
    assert isinstance(chunker, SentenceChunker)
    assert (chunker.min_tokens, chunker.chunk_size) == (5, 96)


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_rejects_bad_min_tokens(tok, bad) -> None:
    with pytest.raises(ConfigError, match="min_tokens"):
        SentenceChunker(tok, min_tokens=bad)
