"""``split`` sentence vectors: the chunk's own run, then its last layers run per sentence block
(chunking.sentence_vectors = "split"), on the real packaged ONNX model."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.embedding.base import Vectors
from ragline.embedding.cache import CachedEmbedder, EmbeddingCache
from ragline.embedding.onnx import OnnxEmbedder, extract_layer
from ragline.embedding.sentence_vectors import (
    SplitEmbedder,
    embed_chunks,
    sentence_layout,
    separate_sentence_vectors,
    splits_spans,
)
from ragline.errors import EmbeddingError
from ragline.types import Chunk

from .test_sentence_vectors import TextOnly

pytestmark = pytest.mark.integration

TITLE = "Statin use and breast cancer survival"
TEXT = (
    "Statins are associated with lower breast cancer mortality. The cohort included 31,236 Finnish "
    "patients. Heat pumps replaced the gas boiler in the basement."
)
MORE = [
    (
        "Vitamin D and bone density",
        "Serum vitamin D was measured in 812 older adults. Bone density fell faster in the lowest "
        "quartile. Supplements did not change the rate of falls over two years.",
    ),
    (
        "Sleep and memory consolidation",
        "Slow-wave sleep supports the transfer of memories to the cortex. Participants deprived of "
        "sleep recalled fewer word pairs. The effect was absent after a nap.",
    ),
]


def _chunk(text: str = TEXT, title: str = TITLE, cid: str = "c1") -> Chunk:
    return Chunk(id=cid, doc_id="d-" + cid, text=text, position=0, start=0, end=len(text), title=title)


def _chunks() -> list[Chunk]:
    return [_chunk(), *(_chunk(t, h, f"c{i + 2}") for i, (h, t) in enumerate(MORE))]


def _cosines(a: Sequence[Vectors], b: Sequence[Vectors]) -> Vectors:
    return np.concatenate([(x * y).sum(axis=1) for x, y in zip(a, b, strict=True)])


class _Counting:
    """The main ONNX session, counting its runs (one model pass over the chunk texts)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.runs = 0

    def run(self, names: Any, feed: Any) -> Any:
        self.runs += 1
        return self.inner.run(names, feed)


@pytest.fixture
def counted(onnx_embedder: OnnxEmbedder) -> tuple[OnnxEmbedder, _Counting]:
    emb = OnnxEmbedder()
    session = _Counting(onnx_embedder._session)
    emb.__dict__["_session"] = session
    return emb, session


def test_each_cut_layer_is_the_main_graphs_layer(onnx_embedder: OnnxEmbedder) -> None:
    import onnx
    import onnxruntime as ort

    enc = onnx_embedder._tokenizer.encode_batch([TEXT, "Heat pumps."])
    names = [f"hidden_{i}" for i in range(onnx_embedder.layers)]
    hidden, mask, states = onnx_embedder._hidden_and(enc, names)
    main = onnx.load(str(onnx_embedder.onnx_path))
    x = states[0]
    for i in range(onnx_embedder.layers):
        layer = ort.InferenceSession(extract_layer(main, i, onnx_embedder.layers).SerializeToString())
        x = layer.run(["out"], {"hidden": x, "mask_index": mask.sum(axis=1).astype(np.int32)})[0]
        want = hidden if i == onnx_embedder.layers - 1 else states[i + 1]
        # Padding rows are garbage either way; the text's rows are the same kernels' output.
        np.testing.assert_allclose(x * mask[:, :, None], want * mask[:, :, None], atol=1e-5)


def test_all_layers_per_sentence_give_the_separately_embedded_sentence(onnx_embedder: OnnxEmbedder) -> None:
    one = _chunk("The cohort included 31,236 Finnish patients.", cid="c9")
    texts, heads, spans = sentence_layout([one, _chunk()])
    separate = separate_sentence_vectors(onnx_embedder, texts, heads, spans)
    vectors, got = onnx_embedder.split_pass(texts, heads, spans, [onnx_embedder.layers])
    split = got[onnx_embedder.layers]
    # A one-sentence chunk's block is the whole chunk, "header + sentence" itself: equal.
    np.testing.assert_allclose(split[0], separate[0], atol=1e-5)
    np.testing.assert_allclose(split[0][0], vectors[0], atol=1e-5)
    # The first sentence's block holds the tokens and positions of "header + sentence" but for
    # [SEP], which keeps the chunk's last position: equal up to that one position id.
    first = float(split[1][0] @ separate[1][0])
    assert 0.995 < first < 1 - 1e-5
    # Later sentences keep their positions inside the chunk, so they differ more, still close.
    assert (split[1] * separate[1]).sum(axis=1).min() > 0.95


def test_one_layer_is_closer_to_separate_than_late_and_farther_from_the_chunk(
    onnx_embedder: OnnxEmbedder,
) -> None:
    texts, heads, spans = sentence_layout(_chunks())
    separate = separate_sentence_vectors(onnx_embedder, texts, heads, spans)
    vectors, late = onnx_embedder.embed_spans(texts, heads, spans)
    _, got = onnx_embedder.split_pass(texts, heads, spans, [1, 2, onnx_embedder.layers])
    to_sep = {k: float(_cosines(got[k], separate).mean()) for k in got}
    late_to_sep = float(_cosines(late, separate).mean())
    assert late_to_sep < to_sep[1] < to_sep[onnx_embedder.layers]
    assert to_sep[1] <= to_sep[2] + 1e-3
    # What fusion needs from a sentence vector: distance from its chunk's vector.
    chunk_rows = [np.repeat(vectors[i : i + 1], len(s), axis=0) for i, s in enumerate(late)]
    assert _cosines(got[1], chunk_rows).mean() < _cosines(late, chunk_rows).mean() - 0.03
    for rows in got[1]:
        np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)


def test_split_vectors_chunk_vectors_and_token_states_come_from_one_model_run(
    counted: tuple[OnnxEmbedder, _Counting], onnx_embedder: OnnxEmbedder
) -> None:
    emb, session = counted
    texts, heads, spans = sentence_layout(_chunks())
    vectors, sentences, tokens = emb.embed_split(
        texts, heads, spans, layers=1, with_tokens=True, content_only=True
    )
    assert session.runs == 1  # three chunks in one batch: one pass of the main graph
    np.testing.assert_allclose(vectors, onnx_embedder.embed_documents(texts), atol=1e-5)
    _, want_tokens = onnx_embedder.embed_with_tokens(texts, content_only=True)
    assert tokens is not None
    for a, b in zip(tokens, want_tokens, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert [len(s) for s in sentences] == [len(s) for s in spans] == [3, 3, 3]
    _, again = emb.split_pass(texts, heads, spans, [1])
    for a, b in zip(sentences, again[1], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_sentences_cut_off_by_truncation_get_no_vector(onnx_embedder: OnnxEmbedder) -> None:
    long = " ".join(f"Sentence {i} says the trial enrolled {i} more patients here." for i in range(40))
    texts, heads, spans = sentence_layout([_chunk(long)])
    assert len(spans[0]) == 40
    _, late = onnx_embedder.embed_spans(texts, heads, spans)
    _, split, _ = onnx_embedder.embed_split(texts, heads, spans, layers=2)
    # The same sentences as late pooling keeps: those whose tokens fit the 256-token window.
    assert 0 < len(split[0]) == len(late[0]) < 40
    assert np.isfinite(split[0]).all()


def test_no_texts_and_a_chunk_without_sentences_give_empty_results(onnx_embedder: OnnxEmbedder) -> None:
    vectors, split, tokens = onnx_embedder.embed_split([], [], [], layers=1, with_tokens=True)
    assert vectors.shape == (0, onnx_embedder.dimension) and split == [] and tokens == []
    # A span that holds no token of its own (past the text) gets no vector, not a header-only one.
    text = "Title\nOne short sentence."
    spans = [[(6, len(text)), (len(text), len(text) + 5)]]
    got, split, _ = onnx_embedder.embed_split([text], [6], spans, layers=1)
    assert got.shape == (1, onnx_embedder.dimension)
    assert split[0].shape == (1, onnx_embedder.dimension)


def test_layers_outside_the_model_are_refused(onnx_embedder: OnnxEmbedder) -> None:
    texts, heads, spans = sentence_layout([_chunk()])
    for bad in (0, onnx_embedder.layers + 1):
        want = f"split_layers = {bad}.*between 1 and {onnx_embedder.layers}"
        with pytest.raises(EmbeddingError, match=want):
            onnx_embedder.embed_split(texts, heads, spans, layers=bad)


def _cls_model(tmp_path: Path) -> Path:
    """The packaged model's folder with CLS pooling configured (same weights)."""
    src = OnnxEmbedder().model_dir
    dst = tmp_path / "cls-model"
    dst.mkdir()
    for p in src.iterdir():
        if p.is_file():
            (dst / p.name).symlink_to(p)
    (dst / "1_Pooling").mkdir()
    (dst / "1_Pooling" / "config.json").write_text(
        '{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}'
    )
    return dst


def test_a_cls_pooling_model_embeds_the_sentences_apart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emb = OnnxEmbedder(model_dir=_cls_model(tmp_path), cache_dir=tmp_path / "cache")
    texts, heads, spans = sentence_layout([_chunk()])
    with caplog.at_level(logging.INFO, logger="ragline.embedding.onnx"):
        vectors, split, tokens = emb.embed_split(texts, heads, spans, layers=1, with_tokens=True)
    assert "pools its [CLS] token" in caplog.text
    np.testing.assert_allclose(split[0], separate_sentence_vectors(emb, texts, heads, spans)[0], atol=1e-5)
    np.testing.assert_allclose(vectors, emb.embed_documents(texts), atol=1e-5)
    assert tokens is not None and len(tokens) == 1


def test_an_embedder_without_hidden_states_stores_separate_vectors(
    onnx_embedder: OnnxEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    text_only = TextOnly(onnx_embedder)
    assert not isinstance(text_only, SplitEmbedder)
    texts, heads, spans = sentence_layout([_chunk()])
    with caplog.at_level(logging.INFO, logger="ragline.embedding.sentence_vectors"):
        got = embed_chunks(text_only, texts, heads, spans, sentence_vectors="split", token_states=False)
    assert "storing separate sentence vectors" in caplog.text
    assert got.sentence_vectors is not None
    np.testing.assert_allclose(
        got.sentence_vectors[0], separate_sentence_vectors(onnx_embedder, texts, heads, spans)[0], atol=1e-5
    )


def test_embed_chunks_stores_split_vectors_with_the_configured_layers(onnx_embedder: OnnxEmbedder) -> None:
    texts, heads, spans = sentence_layout(_chunks())
    got = embed_chunks(
        onnx_embedder, texts, heads, spans, sentence_vectors="split", token_states=True, split_layers=2
    )
    _, want = onnx_embedder.split_pass(texts, heads, spans, [2])
    assert got.sentence_vectors is not None and got.tokens is not None
    for a, b in zip(got.sentence_vectors, want[2], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_cache_over_an_embedder_without_hidden_states_stores_separate_vectors(
    tmp_path: Path, onnx_embedder: OnnxEmbedder
) -> None:
    cached = CachedEmbedder(TextOnly(onnx_embedder), EmbeddingCache(tmp_path / "cache.sqlite"))
    assert isinstance(cached, SplitEmbedder) and not splits_spans(cached)
    texts, heads, spans = sentence_layout([_chunk()])
    got = embed_chunks(cached, texts, heads, spans, sentence_vectors="split", token_states=False)
    assert got.sentence_vectors is not None
    assert cached.sentences_embedded == 3  # the sentence texts, embedded apart
    np.testing.assert_allclose(
        got.sentence_vectors[0], separate_sentence_vectors(onnx_embedder, texts, heads, spans)[0], atol=1e-5
    )


def test_the_cache_keeps_split_vectors_apart_from_late_ones(
    tmp_path: Path, onnx_embedder: OnnxEmbedder
) -> None:
    cached = CachedEmbedder(onnx_embedder, EmbeddingCache(tmp_path / "cache.sqlite"))
    assert splits_spans(cached)
    texts, heads, spans = sentence_layout(_chunks())
    _, late = cached.embed_spans(texts, heads, spans)
    assert cached.embedded == 3
    vectors, split, tokens = cached.embed_split(texts, heads, spans, layers=1)
    # Late vectors of the same spans are cached, but they are not split ones: the model runs.
    assert cached.embedded == 6 and tokens is None
    assert max(np.abs(a - b).max() for a, b in zip(split, late, strict=True)) > 1e-2
    again_vectors, again, _ = cached.embed_split(texts, heads, spans, layers=1)
    assert cached.embedded == 6  # all cached now
    np.testing.assert_allclose(again_vectors, vectors)
    for a, b in zip(again, split, strict=True):
        np.testing.assert_allclose(a, b)
    # Another number of layers is another entry.
    cached.embed_split(texts, heads, spans, layers=2)
    assert cached.embedded == 9
    # With token states every text runs (they are not cached), and the vectors match.
    _, with_tokens, states = cached.embed_split(texts, heads, spans, layers=1, with_tokens=True)
    assert cached.embedded == 12 and states is not None and len(states) == 3
    for a, b in zip(with_tokens, split, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
