"""``embedding.precision = "int8"``: the quantised copy of the packaged model, against the fp32 one."""

from __future__ import annotations

import numpy as np
import pytest

from ragline.embedding import onnx as onnx_mod
from ragline.embedding.factory import make_embedder
from ragline.embedding.onnx import OnnxEmbedder
from ragline.errors import EmbeddingError
from ragline.settings import EmbeddingSettings

from .conftest import SAMPLE_TEXTS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def int8_embedder() -> OnnxEmbedder:
    emb = OnnxEmbedder(precision="int8")  # default cache dir, as production quantises once there
    emb.warm_up()
    return emb


def test_int8_graph_sits_beside_the_fp32_export_and_is_smaller(int8_embedder, onnx_embedder):
    assert int8_embedder.onnx_path.parent == onnx_embedder.onnx_path.parent
    assert int8_embedder.onnx_path.name == "model-int8.onnx"
    fp32, int8 = onnx_embedder.onnx_path.stat().st_size, int8_embedder.onnx_path.stat().st_size
    # int8 weights (the fused embedding node keeps its fp32 tables: 35 of 90 MB)
    assert int8 < 0.45 * fp32, (int8, fp32)


def test_int8_vectors_are_close_to_fp32_but_not_the_same(int8_embedder, onnx_embedder):
    texts = [t for t in SAMPLE_TEXTS if t.strip()]
    a = onnx_embedder.embed_documents(texts)
    b = int8_embedder.embed_documents(texts)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    cos = np.sum(a * b, axis=1)
    assert cos.min() > 0.98, cos.tolist()
    assert not np.allclose(a, b, atol=1e-4)  # it is another graph, not the fp32 one again
    # queries and documents go through the same int8 graph
    np.testing.assert_allclose(int8_embedder.embed_query(texts[0]), b[0], atol=1e-5)


def test_int8_ranks_like_fp32(int8_embedder, onnx_embedder):
    docs = [
        "Rotate API keys by issuing a new key, deploying it, then revoking the old one.",
        "The cafeteria serves lunch between noon and two.",
        "Chunk overlap keeps a sentence that straddles a boundary in both chunks.",
        "Tokyo Tower is 333 metres tall.",
    ]
    queries = ["how do I rotate api keys", "how tall is tokyo tower", "why do chunks overlap"]
    for model in (onnx_embedder, int8_embedder):
        d = model.embed_documents(docs)
        best = [int(np.argmax(d @ model.embed_query(q))) for q in queries]
        assert best == [0, 3, 2], (model.precision, best)


def test_model_id_names_the_precision_and_keeps_the_weights_fingerprint(int8_embedder, onnx_embedder):
    name, _, fingerprint = onnx_embedder.model_id.partition("@")
    assert int8_embedder.model_id == f"{name}-int8@{fingerprint}"
    assert make_embedder(EmbeddingSettings(precision="int8"), int8_embedder.cache_dir).model_id == (
        int8_embedder.model_id
    )


def test_quantised_graph_is_reused(int8_embedder, monkeypatch):
    before = int8_embedder.onnx_path.stat()

    def _no_quantise(*args, **kwargs):
        raise AssertionError("quantize_int8 must not run when the int8 graph exists")

    monkeypatch.setattr("ragline.embedding.quantize.quantize_int8", _no_quantise)
    monkeypatch.setattr(onnx_mod, "export_onnx", _no_quantise)
    again = OnnxEmbedder(precision="int8")
    np.testing.assert_allclose(again.embed_query("reuse"), int8_embedder.embed_query("reuse"), atol=1e-6)
    assert int8_embedder.onnx_path.stat().st_mtime_ns == before.st_mtime_ns


def test_int8_is_quantised_from_an_existing_fp32_export(tmp_path, onnx_embedder, monkeypatch):
    import shutil

    fresh = OnnxEmbedder(cache_dir=tmp_path, precision="int8")
    fresh.onnx_path.parent.mkdir(parents=True)
    shutil.copyfile(onnx_embedder.onnx_path, fresh.onnx_path.with_name("model.onnx"))
    monkeypatch.setattr(onnx_mod, "export_onnx", lambda *a, **k: pytest.fail("fp32 export exists"))
    vec = fresh.embed_query("quantised once")
    assert fresh.onnx_path.is_file() and vec.shape == (384,)
    assert not list(fresh.onnx_path.parent.glob("tmp*")), "no staging folder left behind"


def test_unknown_precision_is_rejected():
    with pytest.raises(EmbeddingError, match="'fp32' or 'int8'"):
        OnnxEmbedder(precision="int4")  # type: ignore[arg-type]


def test_int8_needs_the_onnx_backend():
    with pytest.raises(ValueError, match=r"precision = 'int8' needs embedding.backend = 'onnx'"):
        EmbeddingSettings(backend="sentence-transformers", precision="int8")
    # the default ("auto") is int8 for onnx and leaves other backends' models as they are
    assert EmbeddingSettings(backend="sentence-transformers").precision == "auto"


def test_the_default_settings_embed_at_int8_and_fp32_is_a_setting(tmp_path):
    assert make_embedder(EmbeddingSettings(), tmp_path).precision == "int8"  # type: ignore[attr-defined]
    assert make_embedder(EmbeddingSettings(precision="fp32"), tmp_path).precision == "fp32"  # type: ignore[attr-defined]


def test_split_sentence_vectors_run_at_int8(int8_embedder, onnx_embedder):
    from ragline.embedding.sentence_vectors import sentence_layout
    from ragline.types import Chunk

    text = (
        "Statins are associated with lower breast cancer mortality. The cohort included 31,236 "
        "Finnish patients. Heat pumps replaced the gas boiler in the basement."
    )
    chunk = Chunk(id="c1", doc_id="d1", text=text, position=0, start=0, end=len(text), title="Statins")
    texts, heads, spans = sentence_layout([chunk])
    v8, got8 = int8_embedder.split_pass(texts, heads, spans, [1])
    v32, got32 = onnx_embedder.split_pass(texts, heads, spans, [1])
    assert got8[1][0].shape == got32[1][0].shape == (3, 384)
    cos = (got8[1][0] * got32[1][0]).sum(axis=1)
    assert cos.min() > 0.97, cos.tolist()
    assert float(v8[0] @ v32[0]) > 0.98
    # the chunk vector of the split pass is the int8 graph's own
    np.testing.assert_allclose(v8[0], int8_embedder.embed_documents([texts[0]])[0], atol=1e-5)
