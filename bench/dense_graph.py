"""The dense graph (store.ann_engine = "faiss", ragline.store.hnsw) against LanceDB's ANN index.

``--collection DIR``: a finalized collection above its ANN threshold (bench/latency.py --dir, a
COPY: ``--build`` runs finalize on it, which writes the graph); for each engine the time of one
dense search for 120 candidates and its recall@10 / @120 against exact search, real SciFact
questions through the real model; then the graph's recall and time at other ``ef`` values.

``--vectors N --dir DIR``: N synthetic chunk vectors as bench/latency.py makes them (256 centres
plus noise), the graph built by the code finalize runs (build time, file size, peak memory), then
the same queries' time and recall against exact search; no LanceDB collection is needed.

    .venv/bin/python bench/dense_graph.py --collection /tmp/annmem-100k --build
    .venv/bin/python bench/dense_graph.py --vectors 1000000 --dir /tmp/annmem-1m

numpy's BLAS on one thread, as the engine runs it. Prints Markdown rows with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from latency import queries as synthetic_queries  # noqa: E402

from ragline.embedding.onnx import OnnxEmbedder  # noqa: E402
from ragline.store.hnsw import build_graph, load_graph  # noqa: E402
from ragline.store.lance import LanceStore  # noqa: E402

DEPTH = 120


def query_vectors(n: int) -> np.ndarray:
    emb = OnnxEmbedder()
    emb.warm_up()
    v = np.array([emb.embed_query(q) for q in synthetic_queries(n)], dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def recall(found: list[list[int]], exact: np.ndarray, k: int) -> float:
    return float(
        np.mean([len(set(f[:k]) & set(e[:k].tolist())) / k for f, e in zip(found, exact, strict=True)])
    )


def ef_sweep(graph: object, queries: np.ndarray, exact: np.ndarray, to_rows: np.ndarray | None) -> None:
    for ef in (240, 480, 960):
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            labels, _ = graph.search(q, DEPTH, ef)  # type: ignore[attr-defined]
            times.append((time.perf_counter() - t0) * 1000)
            found.append((labels if to_rows is None else to_rows[labels]).tolist())
        print(
            f"| graph alone, ef {ef} | {np.median(times):.2f} | {recall(found, exact, 10):.4f} | "
            f"{recall(found, exact, DEPTH):.4f} | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )


def collection(root: Path, build: bool, n_queries: int) -> None:
    meta = json.loads((root / "collection.json").read_text())
    stores = {
        e: LanceStore(root, meta["dimension"], meta["model_id"], ann_engine=e) for e in ("lance", "faiss")
    }
    if build:
        t0, load = time.perf_counter(), os.getloadavg()[0]
        stores["faiss"].finalize()
        size = sum(p.stat().st_size for p in (root / "dense_hnsw").iterdir())
        print(
            f"finalize with the graph: {time.perf_counter() - t0:.1f} s (load {load:.1f}), "
            f"{size / 1e6:.0f} MB"
        )
    view = stores["lance"]._view()
    assert view is not None
    t = view.ds.to_table(columns=["vector"], with_row_id=True)
    matrix = np.asarray(t.column("vector").combine_chunks().flatten().to_numpy(), dtype=np.float32)
    matrix = matrix.reshape(t.num_rows, -1)
    matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    rowids = np.asarray(t.column("_rowid").to_numpy(), dtype=np.uint64)
    queries = query_vectors(n_queries)
    exact = rowids[np.argsort(-(queries @ matrix.T), axis=1)[:, :DEPTH]]
    print("| search (120 candidates) | p50 ms | recall@10 | recall@120 | load |\n|---|---:|---:|---:|---:|")
    for engine, store in stores.items():
        for q in queries[:10]:
            store.dense_candidates(q, DEPTH)  # warm: the graph loaded, the index pages read
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            got = store.dense_candidates(q, DEPTH)
            times.append((time.perf_counter() - t0) * 1000)
            found.append([c.ref & ((1 << 64) - 1) for c in got])
        print(
            f"| dense_candidates, {engine} | {np.median(times):.2f} | {recall(found, exact, 10):.4f} | "
            f"{recall(found, exact, DEPTH):.4f} | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )
    graph = stores["faiss"]._graph
    if graph is not None:
        ef_sweep(graph, queries, exact, graph.rowids)


def synthetic(n: int, root: Path, n_queries: int, dim: int = 384) -> None:
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(256, dim))
    matrix = np.empty((n, dim), np.float32)
    for b in range(0, n, 50_000):
        m = min(50_000, n - b)
        v = centers[rng.integers(0, 256, m)] + 0.6 * rng.normal(size=(m, dim))
        matrix[b : b + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    step = 65_536
    batches = (
        (
            pa.array([f"c{i}" for i in range(b, min(n, b + step))]),
            np.arange(b, min(n, b + step), dtype=np.uint64),
            matrix[b : b + step],
        )
        for b in range(0, n, step)
    )
    t0, load = time.perf_counter(), os.getloadavg()[0]
    build_graph(root, version=1, dimension=dim, batches=batches, ef_construction=100)
    size = sum(p.stat().st_size for p in (root / "dense_hnsw").iterdir())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{n} vectors: build {time.perf_counter() - t0:.0f} s (load {load:.1f} -> {os.getloadavg()[0]:.1f}), "
        f"files {size / 1e6:.0f} MB, peak RSS {rss:.0f} MB ({rss0:.0f} MB before the build)",
        flush=True,
    )
    t0 = time.perf_counter()
    graph, why = load_graph(root, version=1, dimension=dim)
    assert graph is not None, why
    print(f"load {time.perf_counter() - t0:.2f} s", flush=True)
    queries = query_vectors(n_queries)
    exact = np.argsort(-(queries @ matrix.T), axis=1)[:, :DEPTH]
    print("| search (120 candidates) | p50 ms | recall@10 | recall@120 | load |\n|---|---:|---:|---:|---:|")
    ef_sweep(graph, queries, exact, None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--collection", type=Path)
    ap.add_argument("--build", action="store_true", help="finalize the collection first (writes the graph)")
    ap.add_argument("--vectors", type=int)
    ap.add_argument("--dir", type=Path, help="where --vectors writes its graph")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args(argv)
    threadpool_limits(limits=1, user_api="blas")
    if args.collection:
        collection(args.collection, args.build, args.queries)
    elif args.vectors and args.dir:
        synthetic(args.vectors, args.dir, args.queries)
    else:
        ap.error("give --collection DIR, or --vectors N --dir DIR")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
