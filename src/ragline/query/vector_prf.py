"""Pseudo-relevance feedback for the dense side: move the query vector towards its first hits.

Rocchio's formula (Rocchio, "Relevance Feedback in Information Retrieval", in *The SMART Retrieval
System*, 1971) with the top-ranked passages taken as relevant and no negative set::

    q' = normalise(q + beta * mean(d_1 .. d_k))

applied to dense retrievers' query embeddings as in Li et al., "Pseudo Relevance Feedback with Deep
Language Models and Dense Retrievers: Successes and Pitfalls" (ACM TOIS 2023), who found the
vector form helps most when the feedback passages come from a strong first pass; here they are the
fused (dense + keyword) top hits.

Example::

    q2 = rocchio(q, store.fetch_vectors(first_pass[:5]), beta=1.0)
    hits = store.dense_candidates(q2, 40)
"""

from __future__ import annotations

import numpy as np

from ragline.embedding.base import Vectors
from ragline.errors import ConfigError


def rocchio(query: Vectors, feedback: Vectors, beta: float) -> Vectors:
    """``normalise(query + beta * mean(feedback))``, unit length, float32.

    No feedback rows (or ``beta == 0``) returns the query, normalised. A zero-length result
    (feedback exactly opposite the query) also falls back to the query.

    Example::

        rocchio(np.array([1.0, 0.0]), np.array([[0.0, 1.0]]), beta=1.0)  # [0.707, 0.707]
    """
    if not (np.isfinite(beta) and beta >= 0):
        raise ConfigError(f"dense PRF beta={beta!r} is invalid: pass a finite number >= 0 (1.0 is typical)")
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    fb = np.asarray(feedback, dtype=np.float32)
    if fb.size and (fb.ndim != 2 or fb.shape[1] != q.shape[0]):
        raise ConfigError(
            f"feedback vectors have shape {fb.shape}, the query has dimension {q.shape[0]}: "
            "they must come from the same embedding model"
        )
    v = q + beta * fb.mean(axis=0) if fb.size and beta > 0 else q
    norm = float(np.linalg.norm(v))
    if norm < 1e-9:
        v, norm = q, float(np.linalg.norm(q))
    return (v / max(norm, 1e-9)).astype(np.float32)
