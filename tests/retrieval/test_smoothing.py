"""Score regularization (Diaz 2005): the arithmetic against a hand-computed case, the edge cases,
and the hit-level wrapper keeping each document's chunks together."""

from __future__ import annotations

import numpy as np
import pytest

from ragline.errors import ConfigError
from ragline.retrieval.smoothing import best_per_document, regularize, smooth_hits, smooth_scores
from ragline.types import Chunk, Hit


def _unit(*rows: list[float]) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_each_score_moves_towards_its_nearest_neighbours_weighted_by_cosine() -> None:
    vecs = _unit([1, 0, 0], [0.8, 0.6, 0], [0, 0, 1], [0, 0.6, 0.8])
    scores = np.array([3.0, 1.0, 2.0, 0.5])
    out = regularize(scores, vecs, neighbours=2, weight=0.5)
    sims = vecs @ vecs.T
    for d in range(4):
        others = [j for j in np.argsort(-sims[d]) if j != d][:2]
        a = np.clip(sims[d, others], 0, None)
        pulled = (a * scores[others]).sum() / a.sum()
        assert out[d] == pytest.approx(0.5 * scores[d] + 0.5 * pulled)
    # Document 1 sits next to the top document 0 and gains; 0 loses some of its lead.
    assert out[1] > scores[1] and out[0] < scores[0]


def test_weight_zero_single_document_and_orthogonal_neighbours_keep_scores() -> None:
    vecs = _unit([1, 0], [0, 1])
    scores = np.array([2.0, 1.0])
    assert regularize(scores, vecs, 3, 0.0) == pytest.approx(scores)
    assert regularize(np.array([5.0]), _unit([1, 0]), 3, 0.5) == pytest.approx([5.0])
    # Orthogonal documents have no positively similar neighbour: nothing to pull towards.
    assert regularize(scores, vecs, 1, 0.5) == pytest.approx(scores)


def test_bad_arguments_are_refused_with_the_fix() -> None:
    vecs = _unit([1, 0], [0, 1])
    with pytest.raises(ConfigError, match="one vector per document"):
        regularize(np.array([1.0, 2.0, 3.0]), vecs, 2, 0.2)
    with pytest.raises(ConfigError, match="at least one neighbour"):
        regularize(np.array([1.0, 2.0]), vecs, 0, 0.2)
    with pytest.raises(ConfigError, match=r"lie in \[0, 1\]"):
        regularize(np.array([1.0, 2.0]), vecs, 1, 1.5)


def _hit(doc: str, pos: int, score: float) -> Hit:
    return Hit(Chunk(id=f"{doc}-{pos}", doc_id=doc, text="t", position=pos, start=0, end=1), score)


def test_hits_of_a_document_shift_together_and_the_list_is_resorted() -> None:
    hits = [_hit("a", 0, 3.0), _hit("b", 0, 2.0), _hit("a", 1, 1.9), _hit("c", 0, 1.8), _hit("d", 0, 0.1)]
    firsts = best_per_document(hits, 3)
    assert firsts == [0, 1, 3]  # d is beyond the three documents smoothed
    # b and c are alike and far from a: c is pulled up towards b, b down towards c.
    vecs = _unit([1, 0, 0], [0, 1, 0.1], [0, 1, 0])
    out = smooth_hits(hits, firsts, vecs, neighbours=1, weight=0.5)
    new = regularize(np.array([3.0, 2.0, 1.8]), vecs, 1, 0.5)
    scores = {h.chunk.id: h.score for h in out}
    assert scores["a-0"] == pytest.approx(new[0]) and scores["c-0"] == pytest.approx(new[2])
    assert scores["a-1"] - scores["a-0"] == pytest.approx(1.9 - 3.0)  # a's chunks keep their gap
    assert scores["d-0"] == 0.1  # not among the smoothed documents
    assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)
    assert len(out) == len(hits)


def test_smooth_scores_is_smooth_hits_on_ids_and_scores() -> None:
    hits = [_hit("a", 0, 3.0), _hit("b", 0, 2.0), _hit("a", 1, 1.9), _hit("c", 0, 1.8), _hit("d", 0, 0.1)]
    firsts = best_per_document(hits, 3)
    vecs = _unit([1, 0, 0], [0, 1, 0.1], [0, 1, 0])
    order = smooth_scores([h.chunk.doc_id for h in hits], [h.score for h in hits], firsts, vecs, 1, 0.5)
    expected = smooth_hits(hits, firsts, vecs, neighbours=1, weight=0.5)
    assert [(hits[i].chunk.id, score) for i, score in order] == [(h.chunk.id, h.score) for h in expected]
    assert sorted(s for _, s in order) != sorted(h.score for h in hits)  # scores moved
