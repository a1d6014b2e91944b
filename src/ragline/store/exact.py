"""Exact search over vectors held in memory, as small pure functions: cosine top-n, MaxSim over
sentence vectors, and filter masks from the reference evaluator.

:class:`~ragline.store.lance.LanceStore` serves searches below its ANN threshold with these (its
filter masks come from SQL on the table), and :class:`~ragline.store.memory.MemoryStore` serves
every search with them, so the two agree to the last bit on the same rows.

Example::

    unit = unit_rows(matrix)
    best = top_n(cosine_scores(unit, query), 10)          # row indices, best first
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from ragline.store.filters import Filter, Scalar, matches
from ragline.types import Access

Floats = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]
Indices = npt.NDArray[np.intp]


def unit_rows(matrix: Floats) -> Floats:
    """Each row scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    out: Floats = matrix / np.maximum(norms, 1e-12)
    return out


def _unit_query(vector: npt.ArrayLike) -> Floats:
    q = np.asarray(vector, dtype=np.float32).reshape(-1)
    out: Floats = q / max(float(np.linalg.norm(q)), 1e-12)
    return out


# A product over at least this many rows is split in two: a helper thread multiplies the second
# half while the calling thread does the first (the scan is memory-bound, and a second core adds
# bandwidth). A half the helper has not started by then is done by the caller, so on a busy
# machine the split costs a submit and nothing more.
_SPLIT_ROWS = 8192
# The split falls on a multiple of this many rows: every row then sits at the same position in
# BLAS's blocks as in one product, so each dot product is the same to the last bit with BLAS on one
# thread, the engine's default ``blas_threads = 1`` (tests/store/test_exact.py).
_SPLIT_ALIGN = 64
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _helper() -> ThreadPoolExecutor:
    global _pool  # one helper thread per process, started on the first large scan
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragline-scan")
        return _pool


def row_products(unit: Floats, q: Floats) -> Floats:
    """``unit @ q``, the halves of a large ``unit`` on two threads (:data:`_SPLIT_ROWS`)."""
    n = len(unit)
    if n < _SPLIT_ROWS:
        small: Floats = unit @ q
        return small
    out = np.empty(n, dtype=np.result_type(unit, q))
    mid = n // 2 // _SPLIT_ALIGN * _SPLIT_ALIGN
    job = _helper().submit(np.matmul, unit[mid:], q, out=out[mid:])
    try:
        np.matmul(unit[:mid], q, out=out[:mid])
    finally:
        if job.cancel():
            np.matmul(unit[mid:], q, out=out[mid:])
        else:
            job.result()
    return out


def cosine_scores(unit: Floats, vector: npt.ArrayLike) -> Floats:
    """Cosine of ``vector`` with each row of ``unit`` (rows already unit length)."""
    return row_products(unit, _unit_query(vector))


def maxsim_scores(unit: Floats, starts: Indices, vector: npt.ArrayLike) -> Floats:
    """Per group of rows, the best cosine with ``vector``: ``unit[starts[j]:starts[j + 1]]`` is
    group ``j`` (the sentence vectors of one chunk; every group non-empty)."""
    out: Floats = np.maximum.reduceat(row_products(unit, _unit_query(vector)), starts)
    return out


def top_n(scores: Floats, n: int, keep: Mask | None = None) -> Indices:
    """Indices of the ``n`` best ``scores`` among the rows ``keep`` allows (all without it), best
    first."""
    if keep is not None:
        scores = np.where(keep, scores, -np.inf)
        n = min(n, int(keep.sum()))
    n = min(n, len(scores))
    if n < 1:
        return np.zeros(0, dtype=np.intp)
    top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    out: Indices = top[np.argsort(-scores[top], kind="stable")]
    return out


def filter_mask(f: Filter | None, rows: Sequence[tuple[Mapping[str, Scalar | None], Access]]) -> Mask | None:
    """Which of ``rows`` (each a row's filterable values and its access) pass ``f``, by the
    reference evaluator; None for no filter."""
    if f is None:
        return None
    return np.fromiter(
        (matches(f, values, access) for values, access in rows), dtype=np.bool_, count=len(rows)
    )
