"""OnnxEmbedder against the real packaged all-MiniLM-L6-v2 model."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ragline.embedding import onnx as onnx_mod
from ragline.embedding.base import Embedder
from ragline.embedding.factory import make_embedder
from ragline.embedding.onnx import OnnxEmbedder, weights_fingerprint
from ragline.errors import EmbeddingError
from ragline.settings import EmbeddingSettings
from ragline.text.tokenizer import packaged_model_dir

from .conftest import LONG_TEXT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def st_reference(sample_texts):
    """Reference vectors from sentence-transformers on torch (the model's own implementation)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(packaged_model_dir()), device="cpu")
    vecs = model.encode(sample_texts, normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(vecs, dtype=np.float32)


def test_is_an_embedder(onnx_embedder):
    assert isinstance(onnx_embedder, Embedder)
    assert onnx_embedder.dimension == 384


def test_matches_sentence_transformers(onnx_embedder, sample_texts, st_reference):
    got = onnx_embedder.embed_documents(sample_texts)
    assert got.shape == (len(sample_texts), 384)
    assert got.dtype == np.float32
    cos = np.sum(got * st_reference, axis=1)
    assert cos.min() >= 0.9999, dict(zip(sample_texts, cos.tolist(), strict=True))
    # and queries go through the same path
    for text, ref in zip(sample_texts, st_reference, strict=True):
        assert float(onnx_embedder.embed_query(text) @ ref) >= 0.9999


def test_long_text_is_truncated_to_max_tokens(onnx_embedder):
    from tokenizers import Tokenizer

    untruncated = Tokenizer.from_file(str(packaged_model_dir() / "tokenizer.json"))
    untruncated.no_truncation()
    assert len(untruncated.encode(LONG_TEXT).ids) > 400
    a, b = onnx_embedder.embed_documents([LONG_TEXT, LONG_TEXT + " A completely different ending."])
    # Everything after token 256 is cut, so the tail cannot change the vector.
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_max_tokens_setting_shortens_the_window(onnx_embedder):
    short = OnnxEmbedder(max_tokens=16)
    assert short.max_tokens == 16
    head = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi"  # 14 words
    a = short.embed_query(head + " omicron pi rho sigma tau")
    b = short.embed_query(head + " completely unrelated words here")
    np.testing.assert_allclose(a, b, atol=1e-6)
    # the default 256-token window does see the difference
    full_a = onnx_embedder.embed_query(head + " omicron pi rho sigma tau")
    full_b = onnx_embedder.embed_query(head + " completely unrelated words here")
    assert float(full_a @ full_b) < 0.999


def test_batched_documents_equal_rowwise_queries(sample_texts):
    emb = OnnxEmbedder(batch_size=2)
    lengths = [len(e.ids) for e in emb._tokenizer.encode_batch(sample_texts)]
    # precondition: sorting by length really reorders the texts, and batches mix in padding
    assert sorted(range(len(lengths)), key=lengths.__getitem__) != list(range(len(lengths)))
    docs = emb.embed_documents(sample_texts)
    rows = np.stack([emb.embed_query(t) for t in sample_texts])
    np.testing.assert_allclose(docs, rows, atol=1e-5)
    # one big padded batch gives the same rows too
    big = OnnxEmbedder(batch_size=64).embed_documents(sample_texts)
    np.testing.assert_allclose(big, rows, atol=1e-5)


def test_distinct_texts_get_distinct_vectors(onnx_embedder):
    v = onnx_embedder.embed_documents(["cats purr", "stock market crash", "kittens meow"])
    sim = v @ v.T
    assert sim[0, 2] > sim[0, 1]
    assert sim[0, 1] < 0.9


def test_empty_input(onnx_embedder):
    out = onnx_embedder.embed_documents([])
    assert out.shape == (0, 384)
    assert out.dtype == np.float32


def test_vectors_are_l2_normalised(onnx_embedder, sample_texts):
    out = onnx_embedder.embed_documents(sample_texts)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert abs(float(np.linalg.norm(onnx_embedder.embed_query("hello world"))) - 1.0) < 1e-5


def test_model_id_stable_and_fingerprinted(onnx_embedder):
    fp = weights_fingerprint(packaged_model_dir())
    assert len(fp) == 12
    assert onnx_embedder.model_id == OnnxEmbedder().model_id == f"all-MiniLM-L6-v2@{fp}"
    assert fp in onnx_embedder.onnx_path.parts[-2]


def test_fingerprint_changes_with_the_model(tmp_path):
    """A different config (or weights) gives a different model id and ONNX cache path."""
    src = packaged_model_dir()
    copy = tmp_path / "my-model"
    copy.mkdir()
    for p in src.iterdir():
        if p.name != "config.json":
            (copy / p.name).symlink_to(p)
    cfg = (src / "config.json").read_text(encoding="utf-8")
    (copy / "config.json").write_text(cfg.replace("{", '{\n  "_edited": true,', 1), encoding="utf-8")
    other = OnnxEmbedder(copy, cache_dir=tmp_path / "cache")
    base = OnnxEmbedder(cache_dir=tmp_path / "cache")
    assert other.model_id.startswith("my-model@")
    assert other.model_id.split("@")[1] != base.model_id.split("@")[1]
    assert other.onnx_path != base.onnx_path


def test_model_dir_without_config_is_rejected(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{}", encoding="utf-8")
    with pytest.raises(EmbeddingError, match=r"embedding\.model_path") as info:
        OnnxEmbedder(tmp_path)
    assert "config.json" in str(info.value)


def test_cached_graph_is_reused_without_export(onnx_embedder, monkeypatch):
    path = onnx_embedder.onnx_path
    assert path.is_file()
    assert path.stat().st_size > 1_000_000
    before = path.stat()

    def _no_export(*args, **kwargs):
        raise AssertionError("export_onnx must not run when the cached graph exists")

    monkeypatch.setattr(onnx_mod, "export_onnx", _no_export)
    second = OnnxEmbedder()
    assert second.onnx_path == path
    vec = second.embed_query("reuse the cached graph")
    assert vec.shape == (384,)
    after = path.stat()
    assert (after.st_mtime_ns, after.st_ino, after.st_size) == (
        before.st_mtime_ns,
        before.st_ino,
        before.st_size,
    )
    np.testing.assert_allclose(vec, onnx_embedder.embed_query("reuse the cached graph"), atol=1e-6)


def test_corrupt_cached_graph_says_to_delete_it(tmp_path, monkeypatch):
    emb = OnnxEmbedder(cache_dir=tmp_path)
    emb.onnx_path.parent.mkdir(parents=True)
    emb.onnx_path.write_bytes(b"\x00not an onnx graph\xff" * 64)
    monkeypatch.setattr(onnx_mod, "export_onnx", lambda *a, **k: pytest.fail("must not re-export"))
    with pytest.raises(EmbeddingError, match="delete") as info:
        emb.embed_query("hello")
    assert str(emb.onnx_path) in str(info.value)
    # deleting it (as the message says) and restoring a good graph makes it work again
    emb.onnx_path.unlink()
    shutil.copyfile(OnnxEmbedder().onnx_path, emb.onnx_path)
    assert emb.embed_query("hello").shape == (384,)


def test_make_embedder_builds_onnx_with_settings(tmp_path):
    emb = make_embedder(EmbeddingSettings(batch_size=7, threads=1, max_tokens=64), tmp_path)
    assert isinstance(emb, OnnxEmbedder)
    assert (emb.batch_size, emb.threads, emb.max_tokens) == (7, 1, 64)
    assert emb.cache_dir == tmp_path
    assert emb.model_dir == packaged_model_dir()
    # the default settings run the int8 copy (embedding.precision "auto"); fp32 is a setting
    assert emb.model_id == OnnxEmbedder(precision="int8").model_id != OnnxEmbedder().model_id
    fp32 = make_embedder(EmbeddingSettings(precision="fp32"), tmp_path)
    assert fp32.model_id == OnnxEmbedder().model_id


def test_session_threads_sleep_between_runs(onnx_embedder):
    # Busy-waiting ONNX threads starve the vector and BM25 searches that follow each query
    # embedding (bench/query_latency.py: SciFact top-10 p50 30.8 -> 20.6 ms when they sleep).
    onnx_embedder.embed_query("warm up")
    opts = onnx_embedder._session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert opts.intra_op_num_threads == onnx_embedder.threads
