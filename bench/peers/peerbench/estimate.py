"""Will a system hold N synthetic chunks in memory, and in how long? Decided before attempting it.

Two estimates, the larger wins:

* a model of what each system keeps per chunk (below), from how it stores vectors and text;
* a linear extrapolation of the peak RSS measured at a smaller point of the same run.

Per-chunk bytes, with ``dim`` = 384 and ~60-word synthetic texts (~420 characters):

* input held by the benchmark worker itself: float32 vector (4 * dim) + text (~470 B) + id;
* ragline: rows go to LanceDB on disk in 50k batches; in memory only the batch and index build
  buffers, ~1.5 KB per chunk of page cache and index structures;
* LlamaIndex: SimpleVectorStore keeps each embedding as a Python list of floats (32 B per value:
  24 B float object + 8 B pointer) -> ~12.3 KB; TextNode objects in the docstore ~2.5 KB; bm25s
  sparse matrix ~0.5 KB; each query converts all embeddings to one float64 array (8 * dim);
* Haystack: Document.embedding is a list of floats too (~12.3 KB), plus a BM25 term Counter per
  document (~3.5 KB) and the Document (~1 KB); each query copies all embeddings into float64;
* LangChain: FAISS IndexFlatL2 float32 (4 * dim), InMemoryDocstore Document (~1.2 KB),
  rank_bm25 term-frequency dict per document (~3.5 KB), the default tokenised copy (~1 KB).
"""

from __future__ import annotations

GIB = 2**30

PY_FLOAT_LIST = 32  # bytes per value of a Python list of floats
WORKER_INPUT_PER_CHUNK = 4 * 384 + 600
BASE_RSS = {"ragline": 0.35 * GIB, "llamaindex": 0.6 * GIB, "langchain": 0.6 * GIB, "haystack": 0.5 * GIB}


def per_chunk_bytes(system: str, dim: int = 384) -> float:
    """Modelled resident bytes per indexed chunk (see the module docstring)."""
    lists = PY_FLOAT_LIST * dim + 56
    model = {
        "ragline": 1500.0,
        "llamaindex": lists + 2500 + 500 + 8 * dim,
        "haystack": lists + 3500 + 1000 + 8 * dim,
        "langchain": 4 * dim + 1200 + 3500 + 1000,
    }
    if system not in model:
        raise ValueError(f"no memory model for system {system!r}")
    return model[system] + WORKER_INPUT_PER_CHUNK


def model_ram_bytes(system: str, n: int, dim: int = 384) -> float:
    return BASE_RSS.get(system, 0.5 * GIB) + n * per_chunk_bytes(system, dim)


def extrapolate(n0: int, y0: float, n1: int, base: float = 0.0) -> float:
    """Linear in the number of chunks: ``base`` at zero chunks, ``y0`` at ``n0``."""
    if n0 <= 0:
        raise ValueError("n0 must be positive")
    return base + (y0 - base) * (n1 / n0)


def estimate_ram_bytes(
    system: str, n: int, measured: tuple[int, float] | None = None, dim: int = 384
) -> float:
    """The larger of the per-chunk model and the extrapolated measured peak RSS ``(n0, bytes)``."""
    est = model_ram_bytes(system, n, dim)
    if measured is not None:
        n0, peak = measured
        est = max(est, extrapolate(n0, peak, n, BASE_RSS.get(system, 0.5 * GIB)))
    return est


def estimate_seconds(
    n0: int,
    build_s: float,
    query_s: float,
    n1: int,
    *,
    max_queries: int,
    min_queries: int,
    warmup: int,
    query_cap_s: float,
    overhead_s: float = 20.0,
    superlinear: float = 1.1,
) -> float:
    """Seconds to run a scale point of ``n1`` chunks, from one measured at ``n0``.

    Build time scales linearly (times ``superlinear`` for index builds that grow faster than N;
    ragline measured 921 s at 1M after 88 s at 100k, 1.05x linear, 2026-12-03);
    each query scales linearly (brute-force search is linear; ANN search is cheaper, so this errs
    high). The query loop stops after ``max_queries`` or once ``query_cap_s`` has passed with at
    least ``min_queries`` done, warm-ups included, and may overshoot by one query.
    """
    build = extrapolate(n0, build_s, n1) * superlinear
    q = extrapolate(n0, query_s, n1)
    loop = max(min(query_cap_s, (warmup + max_queries) * q), (warmup + min_queries) * q) + q
    return overhead_s + build + loop


def fits(est_bytes: float, limit_bytes: float) -> bool:
    return est_bytes <= limit_bytes
