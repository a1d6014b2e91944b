"""Sentence vectors: pooled from the chunk's own run on ONNX, embedded separately
otherwise, cached like chunk vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from ragline.embedding.base import Vectors
from ragline.embedding.cache import CachedEmbedder, EmbeddingCache
from ragline.embedding.onnx import OnnxEmbedder
from ragline.embedding.sentence_vectors import SpanEmbedder, embed_with_sentence_vectors, sentence_layout
from ragline.errors import EmbeddingError
from ragline.types import Chunk

pytestmark = pytest.mark.integration

TEXT = (
    "Statins are associated with lower breast cancer mortality. The cohort included 31,236 Finnish "
    "patients. Heat pumps replaced the gas boiler in the basement."
)


def _chunk(text: str = TEXT, title: str = "Statin use and breast cancer survival") -> Chunk:
    return Chunk(id="c1", doc_id="d1", text=text, position=0, start=0, end=len(text), title=title)


class TextOnly:
    """An embedder with no token states (as an OpenAI-compatible endpoint): the fallback path."""

    def __init__(self, inner: OnnxEmbedder) -> None:
        self.inner = inner

    @property
    def model_id(self) -> str:
        return "text-only@" + self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        return self.inner.embed_query(text)


def test_layout_spans_are_the_chunks_sentences_after_its_header() -> None:
    texts, heads, spans = sentence_layout([_chunk()])
    assert texts[0].startswith("Statin use and breast cancer survival\n")
    assert texts[0][: heads[0]].strip() == "Statin use and breast cancer survival"
    assert [texts[0][a:b] for a, b in spans[0]] == [
        "Statins are associated with lower breast cancer mortality.",
        "The cohort included 31,236 Finnish patients.",
        "Heat pumps replaced the gas boiler in the basement.",
    ]


def test_late_sentence_vectors_come_from_the_same_run(onnx_embedder: OnnxEmbedder) -> None:
    texts, heads, spans = sentence_layout([_chunk()])
    vectors, sentence_vecs = embed_with_sentence_vectors(onnx_embedder, texts, heads, spans, late=True)
    np.testing.assert_allclose(vectors, onnx_embedder.embed_documents(texts), atol=1e-5)
    assert sentence_vecs[0].shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(sentence_vecs[0], axis=1), 1.0, atol=1e-5)
    # Each sentence's vector is closest to a question about that sentence.
    questions = [
        "do statins lower cancer deaths",
        "how many patients were in the cohort",
        "what replaced the boiler",
    ]
    sims = np.stack([sentence_vecs[0] @ onnx_embedder.embed_query(q) for q in questions])
    assert list(sims.argmax(axis=1)) == [0, 1, 2]
    # ...and the chunk's own vector, an average of all three, is less close to the third.
    assert sims[2, 2] > float(vectors[0] @ onnx_embedder.embed_query(questions[2]))


def test_spans_cut_off_by_truncation_get_no_sentence_vector() -> None:
    short = OnnxEmbedder(max_tokens=24)
    texts, heads, spans = sentence_layout([_chunk()])
    _, sentence_vecs = short.embed_spans(texts, heads, spans)
    assert 1 <= len(sentence_vecs[0]) < 3


@pytest.mark.parametrize("late", [False, True], ids=["separate", "late requested"])
def test_separate_sentence_vectors_are_header_plus_sentence_texts(
    onnx_embedder: OnnxEmbedder, late: bool
) -> None:
    plain = TextOnly(onnx_embedder)  # no token states: "late" falls back to separate texts
    assert not isinstance(plain, SpanEmbedder)
    texts, heads, spans = sentence_layout([_chunk()])
    vectors, sentence_vecs = embed_with_sentence_vectors(plain, texts, heads, spans, late=late)
    expected = onnx_embedder.embed_documents([texts[0][: heads[0]] + texts[0][a:b] for a, b in spans[0]])
    np.testing.assert_allclose(sentence_vecs[0], expected, atol=1e-5)
    np.testing.assert_allclose(vectors, onnx_embedder.embed_documents(texts), atol=1e-5)


def test_cached_sentence_vectors_are_not_embedded_twice(tmp_path, onnx_embedder: OnnxEmbedder) -> None:
    cached = CachedEmbedder(onnx_embedder, EmbeddingCache(tmp_path / "cache.sqlite"))
    texts, heads, spans = sentence_layout([_chunk(), _chunk("One sentence only here.", "Other")])
    v1, u1 = cached.embed_spans(texts, heads, spans)
    assert cached.embedded == 2
    v2, u2 = cached.embed_spans(texts, heads, spans)
    assert cached.embedded == 2
    np.testing.assert_array_equal(v1, v2)
    for a, b in zip(u1, u2, strict=True):
        np.testing.assert_array_equal(a, b)
    # Other spans of the same text are a different entry: embedded again, chunk vector unchanged.
    v3, u3 = cached.embed_spans(texts[:1], heads[:1], [spans[0][:1]])
    assert cached.embedded == 3
    np.testing.assert_allclose(v3[0], v1[0], atol=1e-6)
    assert u3[0].shape == (1, 384)


def test_separate_sentence_vectors_are_cached_and_counted_apart(
    tmp_path, onnx_embedder: OnnxEmbedder
) -> None:
    cached = CachedEmbedder(onnx_embedder, EmbeddingCache(tmp_path / "cache.sqlite"))
    texts, heads, spans = sentence_layout([_chunk(), _chunk()])  # the same chunk twice
    _, sentence_vecs = embed_with_sentence_vectors(cached, texts, heads, spans)
    assert (cached.embedded, cached.sentences_embedded) == (1, 3)
    embed_with_sentence_vectors(cached, texts, heads, spans)
    assert (cached.embedded, cached.sentences_embedded) == (1, 3)
    np.testing.assert_array_equal(sentence_vecs[0], sentence_vecs[1])


def test_mismatched_lengths_are_refused(onnx_embedder: OnnxEmbedder) -> None:
    with pytest.raises(EmbeddingError, match="one of each per text"):
        embed_with_sentence_vectors(onnx_embedder, ["a", "b"], [0], [[(0, 1)], [(0, 1)]])
