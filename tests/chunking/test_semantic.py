"""SemanticChunker: boundaries at topic shifts (real model), sizes, headings, the chunker contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragline.chunking.base import Chunker
from ragline.chunking.factory import make_chunker
from ragline.chunking.semantic import SemanticChunker, gap_windows
from ragline.embedding.base import Embedder, l2_normalize
from ragline.embedding.factory import make_embedder
from ragline.errors import ConfigError
from ragline.settings import ChunkingSettings, EmbeddingSettings
from ragline.testing.doubles import HashEmbedder
from ragline.text.sentences import sentence_spans
from ragline.types import Document
from tests.chunking.gen import check_invariants, random_docs
from tests.chunking.test_properties import SIZES

COOKING = [
    "Dice the onions finely and fry them in olive oil until they turn golden.",
    "Add the garlic and the chopped tomatoes, then let the sauce simmer for twenty minutes.",
    "Season the sauce with salt, black pepper and a handful of fresh basil leaves.",
    "Meanwhile, boil the pasta in plenty of salted water until it is al dente.",
]
ASTRONOMY = [
    "The Andromeda galaxy is the nearest large spiral galaxy to the Milky Way.",
    "Astronomers measure the distance to stars by observing their parallax over a year.",
    "A neutron star forms when a massive star collapses at the end of its life.",
    "Telescopes in orbit avoid the blurring caused by the Earth's atmosphere.",
]
FOOTBALL = [
    "The striker scored twice in the second half to win the match for his team.",
    "The goalkeeper saved a penalty in the final minute of extra time.",
    "The coach changed the formation to four defenders and two wingers.",
    "Fans filled the stadium to watch the league final on Saturday evening.",
]
TOPICS = [COOKING, ASTRONOMY, FOOTBALL]
PARAGRAPHS = [" ".join(t) for t in TOPICS]


class TopicEmbedder(HashEmbedder):
    """One axis per topic of TOPICS: a text's vector counts the topic sentences it holds."""

    def embed_documents(self, texts):
        self.calls.append(list(texts))
        out = np.array([[sum(s in text for s in topic) for topic in TOPICS] for text in texts], np.float32)
        return l2_normalize(out)


def _chunk(tok, embedder, text: str, size: int = 200, **kwargs) -> list:
    doc = Document(id="d", source="s.md", text=text)
    out = SemanticChunker(tok, embedder, chunk_size=size, **kwargs).chunk(doc)
    check_invariants(doc, out, tok, size)
    return out.chunks


# -- with the real packaged model --


@pytest.fixture(scope="module")
def real_embedder() -> Embedder:
    # The default cache dir, as production uses: the exported ONNX graph is reused across sessions.
    return make_embedder(EmbeddingSettings(), Path.home() / ".cache" / "ragline")


@pytest.mark.integration
@pytest.mark.parametrize("sep", ["\n\n", " "])
def test_boundaries_fall_on_the_topic_shifts(tok, real_embedder, sep: str) -> None:
    # With sep=" " there is no paragraph break to help: only the meaning changes.
    text = sep.join(PARAGRAPHS)
    chunks = _chunk(tok, real_embedder, text)
    assert [c.text for c in chunks] == PARAGRAPHS


@pytest.mark.integration
def test_small_chunks_never_straddle_a_topic_shift(tok, real_embedder) -> None:
    text = "\n\n".join(PARAGRAPHS)
    chunks = _chunk(tok, real_embedder, text, size=40)
    assert len(chunks) > 3
    assert all(any(c.text in p for p in PARAGRAPHS) for c in chunks), [c.text for c in chunks]


@pytest.mark.integration
def test_random_documents_with_the_real_model(tok, real_embedder) -> None:
    chunker = SemanticChunker(tok, real_embedder, chunk_size=64)
    for doc in random_docs(seed=21, n=4):
        check_invariants(doc, chunker.chunk(doc), tok, 64)


# -- fast, with stand-in embedders --


def test_one_batched_embedding_call_per_document(tok) -> None:
    emb = HashEmbedder()
    text = " ".join(PARAGRAPHS)
    _chunk(tok, emb, text, buffer=1)
    n = len(sentence_spans(text))
    assert len(emb.calls) == 1
    # Left windows end at each gap, right windows start after it; distinct spans are embedded once.
    assert len(emb.calls[0]) == len({w for pair in gap_windows(tuple(sentence_spans(text)), 1) for w in pair})
    assert n < len(emb.calls[0]) <= 2 * n


def test_without_buffer_each_sentence_is_embedded_once(tok) -> None:
    emb = HashEmbedder()
    text = " ".join(PARAGRAPHS)
    _chunk(tok, emb, text, buffer=0)
    assert emb.calls == [[text[s:e] for s, e in sentence_spans(text)]]


def test_single_sentences_are_not_embedded(tok) -> None:
    emb = HashEmbedder()
    assert [c.text for c in _chunk(tok, emb, "Only one sentence here.")] == ["Only one sentence here."]
    # One sentence per section: no gap to compare, so no embedding at all.
    assert len(_chunk(tok, emb, "# A\n\nFirst.\n\n# B\n\nSecond.")) == 2
    assert emb.calls == []


def test_uniform_text_is_not_cut(tok) -> None:
    text = " ".join(["The same sentence again."] * 8)
    assert [c.text for c in _chunk(tok, HashEmbedder(), text)] == [text]


def test_oversized_groups_are_cut_at_their_weakest_link(tok) -> None:
    # Topic shifts are 2 of 11 gaps, all others tie at 1.0: at the 10th percentile the threshold
    # is the shift similarity itself and nothing falls below it, so only the size limit cuts.
    text = " ".join(PARAGRAPHS)
    assert [c.text for c in _chunk(tok, TopicEmbedder(), text, percentile=10, buffer=0)] == [text]
    # Each paragraph is 55-67 tokens: one fits in 72, two do not.
    chunks = _chunk(tok, TopicEmbedder(), text, size=72, percentile=10, buffer=0)
    assert [c.text for c in chunks] == PARAGRAPHS


def test_even_forced_cuts_avoid_one_sentence_slivers(tok) -> None:
    # All similarities tie, so no percentile cut: every cut is forced by the size, and a forced cut
    # keeps at least a third of a chunk (21 tokens) on each side rather than the first tied gap.
    text = " ".join(COOKING * 3)
    chunks = _chunk(tok, TopicEmbedder(), text, size=64)
    assert len(chunks) >= 4
    assert all(tok.count(c.text) >= 64 // 3 for c in chunks), [tok.count(c.text) for c in chunks]


def test_long_sentences_are_split_recursively(tok) -> None:
    sentence = ", ".join(f"clause number {i} of a very long sentence" for i in range(30)) + "."
    text = f"{PARAGRAPHS[0]} {sentence} {PARAGRAPHS[1]}"
    chunks = _chunk(tok, TopicEmbedder(), text, size=32)
    assert len(chunks) > 4
    assert all(tok.count(c.text) <= 32 for c in chunks)


def test_headings_start_chunks_and_set_section_paths(tok) -> None:
    text = "# Kitchen\n\n## Sauce\n\n" + PARAGRAPHS[0] + "\n\n# Sky\n\n" + PARAGRAPHS[1] + " " + PARAGRAPHS[2]
    doc = Document(id="d", source="s.md", text=text, title="Notes")
    out = SemanticChunker(tok, TopicEmbedder(), chunk_size=200).chunk(doc)
    check_invariants(doc, out, tok, 200)
    chunks = out.chunks
    assert [c.section_path for c in chunks] == [("Kitchen", "Sauce"), ("Sky",), ("Sky",)]
    # A heading-only section joins its subsection; each heading opens its chunk.
    assert chunks[0].text == "# Kitchen\n\n## Sauce\n\n" + PARAGRAPHS[0]
    assert chunks[1].text == "# Sky\n\n" + PARAGRAPHS[1]
    assert chunks[2].text == PARAGRAPHS[2]
    assert chunks[1].header == "Notes > Sky"


@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_random_documents_keep_the_contract(tok, size: int, overlap: int) -> None:
    chunker = SemanticChunker(tok, HashEmbedder(), chunk_size=size)
    for doc in random_docs(seed=size * 1000 + overlap, n=12):
        out = chunker.chunk(doc)
        check_invariants(doc, out, tok, size)
        assert bool(out.chunks) == bool(doc.text.strip())


@pytest.mark.parametrize("buffer", [0, 2])
def test_plain_prose_is_deterministic(tok, buffer: int) -> None:
    docs = random_docs(seed=7, n=10, markdown=False)
    first = [SemanticChunker(tok, HashEmbedder(), 96, buffer=buffer).chunk(d) for d in docs]
    assert first == [SemanticChunker(tok, HashEmbedder(), 96, buffer=buffer).chunk(d) for d in docs]
    for doc, out in zip(docs, first, strict=True):
        check_invariants(doc, out, tok, 96)
    ids = [c.id for out in first for c in out.chunks]
    assert len(ids) == len(set(ids))


def test_factory_needs_an_embedder(tok) -> None:
    settings = ChunkingSettings(strategy="semantic", chunk_size=96, chunk_overlap=0, semantic_percentile=30)
    with pytest.raises(ConfigError, match="embedder"):
        make_chunker(settings, tok)
    emb = HashEmbedder()
    outer = make_chunker(settings, tok, emb)
    assert isinstance(outer, Chunker)
    chunker = outer.inner
    assert isinstance(chunker, SemanticChunker)
    assert (chunker.embedder, chunker.chunk_size, chunker.percentile) == (emb, 96, 30.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"percentile": 0}, "percentile"),
        ({"percentile": 100}, "percentile"),
        ({"percentile": True}, "percentile"),
        ({"buffer": -1}, "buffer"),
        ({"chunk_size": 0}, "chunk_size"),
    ],
)
def test_rejects_bad_arguments(tok, kwargs, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SemanticChunker(tok, HashEmbedder(), **kwargs)
