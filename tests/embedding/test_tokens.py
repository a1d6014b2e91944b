"""Token states: the int8 codec, and the packaged model's token embeddings from one run."""

from __future__ import annotations

import numpy as np
import pytest

from ragline.embedding.cache import CachedEmbedder, EmbeddingCache
from ragline.embedding.sentence_vectors import embed_chunks, sentence_layout
from ragline.embedding.tokens import TokenEmbedder, pack_tokens, token_states, unpack_tokens
from ragline.errors import EmbeddingError
from ragline.testing.doubles import HashEmbedder  # pooled vectors only, as an OpenAI endpoint gives
from ragline.types import Chunk


def test_pack_round_trip_is_within_half_a_step_per_row():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(7, 24)).astype(np.float32)
    m[3] = 0.0  # an all-zero row must survive (its scale would be 0)
    blob = pack_tokens(m)
    assert len(blob) == 7 * (4 + 24)  # one float32 scale and 24 int8 values per token
    back = unpack_tokens(blob, 24)
    assert back.shape == m.shape and back.dtype == np.float32
    step = np.abs(m).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(back - m) <= step / 2 + 1e-7)
    # Each row's largest component is exact: the scale is chosen from it.
    rows = np.arange(7)
    cols = np.abs(m).argmax(axis=1)
    assert np.allclose(back[rows, cols], m[rows, cols], rtol=1e-6)
    assert np.all(back[3] == 0.0)


def test_pack_empty_and_bad_input():
    assert pack_tokens(np.zeros((0, 8), np.float32)) == b""
    assert unpack_tokens(b"", 8).shape == (0, 8)
    with pytest.raises(EmbeddingError, match=r"\(tokens, dim\)"):
        pack_tokens(np.zeros(8, np.float32))
    with pytest.raises(EmbeddingError, match="re-ingest"):
        unpack_tokens(pack_tokens(np.ones((2, 8), np.float32)), 16)


def test_token_states_need_a_token_embedder(tmp_path):
    with pytest.raises(EmbeddingError, match=r"chunking\.token_states"):
        token_states(HashEmbedder(), ["a"])
    cached = CachedEmbedder(HashEmbedder(), EmbeddingCache(tmp_path / "c.sqlite"))
    with pytest.raises(EmbeddingError, match=r"embedding\.backend = 'onnx'"):
        cached.embed_with_tokens(["a"])


@pytest.mark.integration
def test_tokens_come_from_the_same_run_as_the_vectors(onnx_embedder):
    texts = ["Error E4021 means the disk quota is exceeded.", "disk full", ""]
    assert isinstance(onnx_embedder, TokenEmbedder)
    vectors, tokens = onnx_embedder.embed_with_tokens(texts)
    np.testing.assert_allclose(vectors, onnx_embedder.embed_documents(texts), atol=1e-5)
    for text, m in zip(texts, tokens, strict=True):
        wordpieces = onnx_embedder._tokenizer.encode(text).ids
        assert m.shape == (len(wordpieces) - 2, 384)  # [CLS] and [SEP] left out
        if len(m):
            assert np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
    # A text's tokens do not depend on what it was batched with (padding is masked out).
    alone = onnx_embedder.embed_with_tokens([texts[1]])[1][0]
    np.testing.assert_allclose(alone, tokens[1], atol=1e-4)


@pytest.mark.integration
def test_cached_embedder_runs_the_model_and_caches_the_vectors(onnx_embedder, tmp_path):
    cached = CachedEmbedder(onnx_embedder, EmbeddingCache(tmp_path / "c.sqlite"))
    vectors, tokens = cached.embed_with_tokens(["disk quota", "password expired"])
    assert cached.embedded == 2 and len(tokens) == 2
    again = cached.embed_documents(["disk quota"])  # served from the cache
    assert cached.embedded == 2
    np.testing.assert_allclose(again[0], vectors[0], atol=1e-6)
    # A text repeated inside one batch goes through the model once and comes back twice.
    vectors, tokens = cached.embed_with_tokens(["disk full", "port 8443", "disk full"])
    assert cached.embedded == 4
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert tokens[0] is tokens[2] and tokens[1].shape[0] == 3


@pytest.mark.integration
@pytest.mark.parametrize("sentences", ["off", "separate", "late"])
def test_embed_chunks_combines_sentence_vectors_and_token_states(onnx_embedder, sentences):
    chunks = [
        Chunk("c1", "d", "Disk is full. Delete old snapshots.", 0, 0, 35, section_path=("Ops",)),
        Chunk("c2", "d", "Passwords expire after 90 days.", 1, 36, 67, section_path=("Ops",)),
    ]
    layout = sentence_layout(chunks)
    with_tokens = embed_chunks(onnx_embedder, *layout, sentence_vectors=sentences, token_states=True)
    without = embed_chunks(onnx_embedder, *layout, sentence_vectors=sentences, token_states=False)
    np.testing.assert_allclose(with_tokens.vectors, without.vectors, atol=1e-5)
    assert without.tokens is None
    assert with_tokens.tokens is not None and [len(t) for t in with_tokens.tokens] == [
        len(onnx_embedder._tokenizer.encode(t).ids) - 2 for t in layout[0]
    ]
    if sentences == "off":
        assert with_tokens.sentence_vectors is None
    else:
        assert with_tokens.sentence_vectors is not None and without.sentence_vectors is not None
        assert [len(u) for u in with_tokens.sentence_vectors] == [2, 1]
        for a, b in zip(with_tokens.sentence_vectors, without.sentence_vectors, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.integration
def test_query_tokens_come_from_the_query_embedding_run(onnx_embedder, monkeypatch):
    query = "which error code means the quota is exceeded"
    onnx_embedder.embed_query(query)
    calls = []
    monkeypatch.setattr(onnx_embedder, "embed_with_tokens", lambda texts: calls.append(texts))
    kept = onnx_embedder.query_tokens(query)
    assert calls == []  # no second model run
    monkeypatch.undo()
    np.testing.assert_allclose(kept, onnx_embedder.embed_with_tokens([query])[1][0], atol=1e-5)
    other = onnx_embedder.query_tokens("a query never embedded")  # computed on demand
    assert other.shape == (4, 384) and not other.flags.writeable


@pytest.mark.integration
def test_late_sentence_vectors_and_token_states_take_one_model_run(onnx_embedder, monkeypatch):
    chunks = [
        Chunk("c1", "d", "Disk is full. Delete old snapshots.", 0, 0, 35, section_path=("Ops",)),
        Chunk("c2", "d", "Passwords expire after 90 days.", 1, 36, 67, section_path=("Ops",)),
    ]
    layout = sentence_layout(chunks)
    runs = []
    hidden = onnx_embedder._hidden
    monkeypatch.setattr(onnx_embedder, "_hidden", lambda enc: runs.append(len(enc)) or hidden(enc))
    got = embed_chunks(
        onnx_embedder, *layout, sentence_vectors="late", token_states=True, content_tokens=True
    )
    assert runs == [2]  # the two chunk texts, once: no second pass for the sentences
    spans, states = (
        onnx_embedder.embed_spans(*layout)[1],
        onnx_embedder.embed_with_tokens(layout[0], content_only=True)[1],
    )
    assert got.sentence_vectors is not None and got.tokens is not None
    for a, b in zip(got.sentence_vectors, spans, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    for a, b in zip(got.tokens, states, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
