"""Rocchio feedback on query vectors: the formula, its edge cases and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from ragline.errors import ConfigError
from ragline.query.vector_prf import rocchio


def test_moves_the_query_towards_the_feedback_mean_and_normalises() -> None:
    q = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    fb = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    got = rocchio(q, fb, beta=2.0)
    want = np.array([1.0, 1.0, 1.0]) / np.sqrt(3.0)  # q + 2 * (0, .5, .5)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got.dtype == np.float32
    # A smaller beta stays closer to the query.
    assert float(rocchio(q, fb, beta=0.5) @ q) > float(got @ q)


def test_no_feedback_returns_the_normalised_query() -> None:
    q = np.array([3.0, 4.0], dtype=np.float32)
    np.testing.assert_allclose(rocchio(q, np.zeros((0, 2), dtype=np.float32), 1.0), [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(rocchio(q, np.array([[1.0, 0.0]]), 0.0), [0.6, 0.8], rtol=1e-6)


def test_feedback_opposite_the_query_falls_back_to_the_query() -> None:
    q = np.array([1.0, 0.0], dtype=np.float32)
    np.testing.assert_allclose(rocchio(q, np.array([[-1.0, 0.0]]), 1.0), [1.0, 0.0])


def test_bad_beta_and_mismatched_dimensions_are_refused() -> None:
    q = np.ones(4, dtype=np.float32)
    with pytest.raises(ConfigError, match="beta=-1"):
        rocchio(q, np.ones((1, 4)), -1.0)
    with pytest.raises(ConfigError, match="beta=nan"):
        rocchio(q, np.ones((1, 4)), float("nan"))
    with pytest.raises(ConfigError, match=r"shape \(2, 3\).*dimension 4"):
        rocchio(q, np.ones((2, 3)), 1.0)
