"""The sentence-transformers (torch) backend, built through the factory."""

from __future__ import annotations

import numpy as np
import pytest

from ragline.embedding.base import Embedder
from ragline.embedding.factory import make_embedder
from ragline.embedding.onnx import weights_fingerprint
from ragline.embedding.sentence_transformers import SentenceTransformersEmbedder
from ragline.errors import EmbeddingError
from ragline.settings import EmbeddingSettings
from ragline.text.tokenizer import packaged_model_dir

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def st_embedder(tmp_path_factory):
    settings = EmbeddingSettings(
        backend="sentence-transformers", model_path=packaged_model_dir(), batch_size=4
    )
    emb = make_embedder(settings, tmp_path_factory.mktemp("st-cache"))
    assert isinstance(emb, SentenceTransformersEmbedder)
    return emb


def test_matches_onnx(st_embedder, onnx_embedder, sample_texts):
    assert isinstance(st_embedder, Embedder)
    assert st_embedder.dimension == onnx_embedder.dimension == 384
    got = st_embedder.embed_documents(sample_texts)
    assert got.shape == (len(sample_texts), 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    ref = onnx_embedder.embed_documents(sample_texts)
    cos = np.sum(got * ref, axis=1)
    assert cos.min() >= 0.9999, cos.tolist()
    q = st_embedder.embed_query("how are embeddings cached?")
    assert q.shape == (384,)
    assert float(q @ onnx_embedder.embed_query("how are embeddings cached?")) >= 0.9999


def test_model_id_and_empty_input(st_embedder):
    assert (
        st_embedder.model_id == f"st:{packaged_model_dir().name}@{weights_fingerprint(packaged_model_dir())}"
    )
    out = st_embedder.embed_documents([])
    assert out.shape == (0, 384)
    assert out.dtype == np.float32


def test_default_model_path_is_the_packaged_model(tmp_path):
    emb = make_embedder(EmbeddingSettings(backend="sentence-transformers"), tmp_path)
    assert isinstance(emb, SentenceTransformersEmbedder)
    assert emb.model_dir == packaged_model_dir()


def test_missing_model_path_is_rejected(tmp_path):
    settings = EmbeddingSettings(backend="sentence-transformers", model_path=tmp_path / "no-such-model")
    with pytest.raises(EmbeddingError, match=r"embedding\.model_path"):
        make_embedder(settings, tmp_path)


def test_directory_that_is_not_a_model_is_an_embedding_error(tmp_path):
    not_a_model = tmp_path / "empty-dir"
    not_a_model.mkdir()
    (not_a_model / "config.json").write_text("{}", encoding="utf-8")
    emb = make_embedder(EmbeddingSettings(backend="sentence-transformers", model_path=not_a_model), tmp_path)
    with pytest.raises(EmbeddingError, match=r"embedding\.model_path"):
        emb.embed_query("hello")
