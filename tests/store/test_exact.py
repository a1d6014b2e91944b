"""The exact scans of ``store.exact``: a large product split over two threads is the one product."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from ragline.store import exact
from ragline.store.exact import cosine_scores, maxsim_scores, row_products, unit_rows


@pytest.mark.parametrize("rows", [10, exact._SPLIT_ROWS - 1, exact._SPLIT_ROWS, 20_011])
def test_row_products_equal_one_product_to_the_last_bit(rows: int) -> None:
    rng = np.random.default_rng(rows)
    unit = unit_rows(rng.standard_normal((rows, 384)).astype(np.float32))
    q = rng.standard_normal(384).astype(np.float32)
    # BLAS on one thread, as the engine runs it (``blas_threads = 1``): a BLAS on two threads
    # splits the single product itself at its own row boundary.
    with threadpool_limits(limits=1, user_api="blas"):
        got = row_products(unit, q)
        want = unit @ q
    assert got.dtype == np.float32
    # Bitwise, not approximately: a split must not move a score, or rankings could change.
    assert np.array_equal(got, want)


def test_a_split_scan_ranks_as_the_single_product_does() -> None:
    rng = np.random.default_rng(7)
    rows = 3 * exact._SPLIT_ROWS + 5
    unit = unit_rows(rng.standard_normal((rows, 64)).astype(np.float32))
    starts = np.arange(0, rows, 3, dtype=np.intp)
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(5):
            v = rng.standard_normal(64).astype(np.float32)
            q = v / np.float32(np.linalg.norm(v))
            scores = cosine_scores(unit, v)
            assert np.array_equal(scores, unit @ q)
            assert np.array_equal(maxsim_scores(unit, starts, v), np.maximum.reduceat(unit @ q, starts))
            assert np.array_equal(np.argsort(-scores, kind="stable"), np.argsort(-(unit @ q), kind="stable"))
