"""Answer metrics against values computed by hand on small made-up cases."""

from __future__ import annotations

import numpy as np
import pytest

from ragline.errors import ConfigError
from ragline.eval import answer_metrics as m
from ragline.types import SentenceSupport


def _s(cited: tuple[int, ...], supported: bool, precise: tuple[int, ...]) -> SentenceSupport:
    return SentenceSupport(
        "s", 0, 1, cited, float(supported), supported, cited[0] if cited else None, precise, "offline"
    )


def test_citation_recall_and_precision_as_alce() -> None:
    answer = [
        _s((1,), True, (1,)),  # supported, its one citation precise
        _s((1, 2), True, (2,)),  # supported, [1] irrelevant
        _s((3,), False, ()),  # unsupported: its citation imprecise
        _s((), False, ()),  # cites nothing: unsupported, no citation counted
    ]
    # Recall: 2 of 4 sentences. Precision: 2 precise of 4 citations.
    assert m.citation_recall(answer) == 0.5
    assert m.citation_precision(answer) == 0.5
    assert m.citation_recall([]) == 0.0 and m.citation_precision([_s((), False, ())]) == 0.0


def test_faithfulness_and_context_recall_are_shares() -> None:
    assert m.faithfulness([True, True, False]) == pytest.approx(2 / 3)
    assert m.faithfulness([]) == 0.0
    assert m.context_recall([True, False, False, True]) == 0.5


def test_context_precision_as_ragas() -> None:
    # Relevant at ranks 1 and 3: (1/1 + 2/3) / 2.
    assert m.context_precision([True, False, True]) == pytest.approx((1 + 2 / 3) / 2)
    # Relevant at rank 2 only: (1/2) / 1.
    assert m.context_precision([False, True, False]) == 0.5
    assert m.context_precision([False, False]) == 0.0


def test_hit_and_precision_at_k() -> None:
    flags = [False, True, False, True]
    assert [m.hit_at_k(flags, k) for k in (1, 2, 5)] == [0.0, 1.0, 1.0]
    # k in the denominator even past the end of the list (trec_eval's P.k).
    assert [m.precision_at_k(flags, k) for k in (1, 2, 4, 8)] == [0.0, 0.5, 0.5, 0.25]
    with pytest.raises(ConfigError, match="k=0"):
        m.hit_at_k(flags, 0)


def test_answer_relevance_is_mean_cosine() -> None:
    q = np.array([1.0, 0.0])
    # cos 1 and cos 0 -> 0.5; a zero vector counts 0.
    assert m.answer_relevance(q, [np.array([2.0, 0.0]), np.array([0.0, 3.0])]) == 0.5
    assert m.answer_relevance(q, [np.array([1.0, 1.0])]) == pytest.approx(2**-0.5)
    assert m.cosine(q, np.zeros(2)) == 0.0 and m.answer_relevance(q, []) == 0.0


def test_mean_skips_missing_values() -> None:
    assert m.mean([1.0, None, 0.0]) == 0.5 and m.mean([None]) is None
