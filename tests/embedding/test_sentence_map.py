"""chunking.sentence_vectors = "mapped": late-pooled sentence vectors put through the model's
shipped linear map, from the chunk's one model run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragline.embedding.cache import CachedEmbedder, EmbeddingCache
from ragline.embedding.onnx import OnnxEmbedder
from ragline.embedding.sentence_map import (
    SentenceMap,
    load_sentence_map,
    save_sentence_map,
    sentence_map_for,
)
from ragline.embedding.sentence_vectors import embed_chunks, pools_spans, sentence_layout
from ragline.errors import ConfigError, EmbeddingError
from ragline.settings import load_settings
from ragline.testing.doubles import HashEmbedder
from ragline.types import Chunk

D = 8


def _map(rng: np.random.Generator) -> SentenceMap:
    return SentenceMap(rng.normal(size=(2 * D + 1, D)).astype(np.float32))


def test_the_map_is_the_ridge_formula_scaled_to_unit_length() -> None:
    rng = np.random.default_rng(0)
    smap = _map(rng)
    late = rng.normal(size=(3, D)).astype(np.float32)
    chunk = rng.normal(size=D).astype(np.float32)
    got = smap.apply(late, chunk)
    w = smap.weights
    want = late @ w[:D] + chunk @ w[D : 2 * D] + w[2 * D]
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    assert got.shape == (3, D) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert smap.apply(np.zeros((0, D), np.float32), chunk).shape == (0, D)


def test_an_identity_map_keeps_the_late_vectors() -> None:
    w = np.zeros((2 * D + 1, D), np.float32)
    w[:D] = np.eye(D)
    late = np.eye(D, dtype=np.float32)[:2]
    np.testing.assert_allclose(SentenceMap(w).apply(late, np.ones(D, np.float32)), late)


def test_bad_shapes_are_refused_with_the_shape_named() -> None:
    with pytest.raises(EmbeddingError, match=r"\(2 \* dim \+ 1, dim\).*\(8, 8\)"):
        SentenceMap(np.zeros((D, D), np.float32))
    smap = _map(np.random.default_rng(1))
    with pytest.raises(EmbeddingError, match=r"\(k, 8\).*\(2, 4\)"):
        smap.apply(np.zeros((2, 4), np.float32), np.zeros(D, np.float32))


def test_the_packaged_model_has_a_map_and_others_none() -> None:
    smap = sentence_map_for("all-MiniLM-L6-v2@dbc58fdc8d65")
    assert smap is not None and smap.dimension == 384
    # Matched by the weights' fingerprint, as the token-state codebooks are.
    copied = sentence_map_for("copied-model-dir@dbc58fdc8d65")
    assert copied is not None and np.array_equal(copied.weights, smap.weights)
    assert sentence_map_for("text-embedding-3-small") is None
    assert sentence_map_for("other@000000000000") is None


def test_the_packaged_map_says_it_was_fitted_on_calibration_articles_only() -> None:
    # The SQuAD test articles (index % 4 in {2, 3}) are what issue 23's answer benchmark reports on.
    smap = sentence_map_for("all-MiniLM-L6-v2@dbc58fdc8d65")
    assert smap is not None
    prov = smap.provenance
    assert prov["articles"].startswith("calibration") and "% 4 in {0, 1}" in prov["articles"]
    assert prov["model_id"] == "all-MiniLM-L6-v2@dbc58fdc8d65"
    assert prov["lambda"] in (0.1, 1.0, 10.0, 100.0) and "held-out" in prov["lambda_choice"]
    assert prov["paragraphs"] > 0 and prov["held_out_cosine_after"] > prov["held_out_cosine_before"]


def test_a_saved_map_loads_with_its_provenance(tmp_path: Path) -> None:
    w = np.random.default_rng(2).normal(size=(2 * D + 1, D)).astype(np.float32)
    path = save_sentence_map(tmp_path, "org/m@abc", w, {"articles": "calibration", "lambda": 0.1})
    assert path.name == "org_m@abc.npz"
    got = load_sentence_map(path)
    np.testing.assert_array_equal(got.weights, w)
    assert got.provenance == {"articles": "calibration", "lambda": 0.1}
    # Loaded without pickle; a file missing the provenance is refused with what it holds.
    np.savez(tmp_path / "bare.npz", weights=w)
    with pytest.raises(EmbeddingError, match=r"bare\.npz holds \['weights'\].*--ship"):
        load_sentence_map(tmp_path / "bare.npz")
    with pytest.raises(EmbeddingError, match=r"\(2 \* dim \+ 1, dim\)"):
        save_sentence_map(tmp_path, "m@abc", w[:-1], {})


def test_without_a_map_mapped_stores_what_late_stores() -> None:
    emb = HashEmbedder()  # no shipped map, no token states: late falls back to sentence texts
    layout = sentence_layout([Chunk("c", "d", "One sentence here. Another one there.", 0, 0, 37)])
    late = embed_chunks(emb, *layout, sentence_vectors="late", token_states=False)
    mapped = embed_chunks(emb, *layout, sentence_vectors="mapped", token_states=False)
    assert late.sentence_vectors is not None and mapped.sentence_vectors is not None
    np.testing.assert_array_equal(late.sentence_vectors[0], mapped.sentence_vectors[0])


def test_an_embedder_without_token_states_stores_separate_vectors_unmapped(tmp_path: Path) -> None:
    # The sentence-transformers backend on the packaged model's folder carries the packaged
    # weights' fingerprint, so a map ships for its model id; it pools no spans, so its "late"
    # vectors are the sentence texts' own, and mapping them would move them off what they are.
    model_id = "st:all-MiniLM-L6-v2@dbc58fdc8d65"
    assert sentence_map_for(model_id) is not None
    emb = CachedEmbedder(HashEmbedder(384, model_id), EmbeddingCache(tmp_path / "cache.sqlite"))
    assert not pools_spans(emb)
    assert pools_spans(CachedEmbedder(OnnxEmbedder(), EmbeddingCache(tmp_path / "onnx.sqlite")))
    layout = sentence_layout([Chunk("c", "d", "One sentence here. Another one there.", 0, 0, 37)])
    separate = embed_chunks(emb, *layout, sentence_vectors="separate", token_states=False)
    mapped = embed_chunks(emb, *layout, sentence_vectors="mapped", token_states=False)
    assert separate.sentence_vectors is not None and mapped.sentence_vectors is not None
    assert mapped.sentence_vectors[0].shape == (2, 384)
    np.testing.assert_array_equal(mapped.sentence_vectors[0], separate.sentence_vectors[0])


@pytest.mark.integration  # the packaged model's token states
@pytest.mark.parametrize("token_states", [True, False], ids=["with token states", "without"])
def test_mapped_vectors_are_the_map_of_the_late_ones(onnx_embedder, token_states: bool) -> None:
    chunks = [
        Chunk("a", "a", "The boiler was replaced. It saves gas in winter.", 0, 0, 48, title="Heat pumps"),
        Chunk("b", "b", "Bikes are lent to staff.", 0, 0, 24),
    ]
    layout = sentence_layout(chunks)
    late = embed_chunks(onnx_embedder, *layout, sentence_vectors="late", token_states=token_states)
    mapped = embed_chunks(onnx_embedder, *layout, sentence_vectors="mapped", token_states=token_states)
    smap = sentence_map_for(onnx_embedder.model_id)
    assert smap is not None and late.sentence_vectors is not None and mapped.sentence_vectors is not None
    np.testing.assert_allclose(mapped.vectors, late.vectors, atol=1e-6)
    assert [len(s) for s in mapped.sentence_vectors] == [2, 1]
    for m, lv, v in zip(mapped.sentence_vectors, late.sentence_vectors, late.vectors, strict=True):
        np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(m, smap.apply(lv, v), atol=1e-5)
        assert np.abs(m - lv).max() > 1e-2  # the map moved them
    if token_states:
        assert mapped.tokens is not None and len(mapped.tokens) == 2


def test_the_setting_takes_mapped_and_names_a_misspelt_form() -> None:
    assert load_settings(chunking={"sentence_vectors": "mapped"}).chunking.sentence_vectors == "mapped"
    with pytest.raises(ConfigError, match=r"chunking\.sentence_vectors: .*'mapped'"):
        load_settings(chunking={"sentence_vectors": "maped"})
