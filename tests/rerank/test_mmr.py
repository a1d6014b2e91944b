"""Maximal Marginal Relevance: the pure selection function, the reranker with a hand-made embedder,
and the reranker with the real packaged model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ragline.embedding.base import Embedder
from ragline.errors import ConfigError
from ragline.rerank.base import Reranker
from ragline.rerank.mmr import MMRReranker, mmr_order, mmr_select

from . import make_hits, texts


def _unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


QUERY = _unit(1, 0, 0)
# A and its near-duplicate A2 are the most relevant; B is a little less relevant but different.
VECTORS = {
    "A": _unit(0.9, 0.44, 0),
    "A2": _unit(0.88, 0.47, 0),
    "B": _unit(0.8, 0, 0.6),
    "C": _unit(0.1, 0.5, 0.86),
}


class TableEmbedder:
    """An Embedder whose vectors are looked up in a table (text -> vector); queries map to QUERY."""

    model_id = "table@test"
    dimension = 3

    def __init__(self) -> None:
        self.documents_embedded = 0

    def embed_documents(self, texts):
        self.documents_embedded += len(texts)
        return np.stack([VECTORS[t] for t in texts]) if texts else np.zeros((0, 3), dtype=np.float32)

    def embed_query(self, text):
        return QUERY


def test_table_embedder_is_an_embedder():
    assert isinstance(TableEmbedder(), Embedder)


def test_mmr_order_by_hand():
    docs = np.stack([VECTORS[k] for k in ("A", "A2", "B", "C")])
    # relevance: A .898, A2 .882, B .8, C .1; cos(A, A2) ~ .9995, cos(A, B) ~ .72.
    # lambda 0.5, after A: A2 -> .441 - .500 < 0, B -> .400 - .359 = .041, C -> positive but small.
    assert mmr_order(QUERY, docs, lambda_=0.5, k=4)[:2] == [0, 2]
    assert mmr_order(QUERY, docs, lambda_=1.0, k=4) == [0, 1, 2, 3]
    picks = mmr_select(QUERY, docs, lambda_=0.5, k=4)
    assert picks[0].score == pytest.approx(0.5 * float(VECTORS["A"] @ QUERY))
    assert picks[1].score == pytest.approx(
        0.5 * float(VECTORS["B"] @ QUERY) - 0.5 * float(VECTORS["B"] @ VECTORS["A"]), abs=1e-6
    )


def test_lambda_one_reproduces_relevance_order():
    rng = np.random.default_rng(7)
    docs = rng.normal(size=(30, 16)).astype(np.float32)
    query = rng.normal(size=16).astype(np.float32)
    relevance = (docs / np.linalg.norm(docs, axis=1, keepdims=True)) @ (query / np.linalg.norm(query))
    expected = sorted(range(30), key=lambda i: -relevance[i])
    assert mmr_order(query, docs, lambda_=1.0, k=30) == expected
    assert mmr_order(query, docs, lambda_=1.0, k=5) == expected[:5]


def test_scores_never_increase_and_k_is_capped():
    rng = np.random.default_rng(3)
    docs = rng.normal(size=(12, 8)).astype(np.float32)
    query = rng.normal(size=8).astype(np.float32)
    for lam in (0.0, 0.3, 0.7, 1.0):
        picks = mmr_select(query, docs, lam, k=50)
        assert sorted(p.doc for p in picks) == list(range(12))
        scores = [p.score for p in picks]
        assert all(a >= b - 1e-6 for a, b in itertools.pairwise(scores))
    assert mmr_order(query, docs, 0.5, k=0) == []
    assert mmr_order(query, np.zeros((0, 8), dtype=np.float32), 0.5, k=3) == []


def test_lambda_outside_unit_interval_is_rejected():
    with pytest.raises(ConfigError, match="lambda_"):
        MMRReranker(TableEmbedder(), lambda_=1.5)
    with pytest.raises(ConfigError, match="lambda_"):
        mmr_order(QUERY, np.stack([QUERY]), -0.1, 1)


def test_reranker_separates_near_duplicates():
    embedder = TableEmbedder()
    reranker = MMRReranker(embedder, lambda_=0.5)
    assert isinstance(reranker, Reranker)
    hits = make_hits("A", "A2", "B", "C")
    ranked = reranker.run("query", hits, top_k=3)
    assert texts(ranked)[:2] == ["A", "B"]
    assert "A2" not in texts(ranked)[:2]
    original = {h.chunk.id: h.retrievers for h in hits}
    assert all(h.retrievers == original[h.chunk.id] for h in ranked)
    assert [h.score for h in ranked] == sorted((h.score for h in ranked), reverse=True)
    # lambda 1: plain relevance, the duplicate comes second.
    assert texts(MMRReranker(embedder, lambda_=1.0).run("query", hits, top_k=2)) == ["A", "A2"]


def test_top_k_and_empty_input():
    embedder = TableEmbedder()
    reranker = MMRReranker(embedder)
    assert len(reranker.run("q", make_hits("A", "A2", "B", "C"), top_k=2)) == 2
    assert reranker.run("q", [], top_k=3) == []
    with pytest.raises(ConfigError, match="top_k"):
        reranker.run("q", make_hits("A"), top_k=0)


@pytest.mark.integration
def test_real_model_separates_paraphrases():
    from ragline.embedding.onnx import OnnxEmbedder

    paraphrases = [
        "Rotate your API keys every ninety days to limit the damage of a leaked key.",
        "API keys should be rotated every 90 days so that a leaked key does limited damage.",
        "Rotating API keys every ninety days limits the damage a leaked key can do.",
    ]
    distinct = "How often keys are rotated is configurable per project in the admin console."
    off_topic = "The cafeteria serves lunch from noon until two o'clock."
    embedder = OnnxEmbedder()
    hits = make_hits(*paraphrases, distinct, off_topic)
    query = "how often should API keys be rotated"
    by_relevance = texts(MMRReranker(embedder, lambda_=1.0).run(query, hits, top_k=2))
    assert set(by_relevance) <= set(paraphrases)  # relevance alone: two paraphrases on top
    diverse = texts(MMRReranker(embedder, lambda_=0.7).run(query, hits, top_k=2))
    assert diverse[0] == by_relevance[0]
    assert diverse[1] == distinct  # the second pick brings new information, not a paraphrase
