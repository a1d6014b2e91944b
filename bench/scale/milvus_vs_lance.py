"""Query latency on Milvus Lite next to LanceDB: the same synthetic collection in both stores.

The collection is bench/latency.py's (clustered synthetic vectors, Zipfian 100-word texts, a
doc_type and a year per chunk); queries are real questions embedded once by the real model, so the
figures are the store's side of a search: candidates (4x top-k, as the retrievers ask) plus the
fetch of the top-k chunks. Also: build time, and dense recall@10 against exact numpy search with
queries near stored vectors (real-text queries have no meaningful neighbours among synthetic ones).

    .venv/bin/python bench/scale/milvus_vs_lance.py [--chunks 100000] [--queries 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from latency import pct, queries, synthetic_batches  # noqa: E402

from ragline.embedding.onnx import OnnxEmbedder  # noqa: E402
from ragline.store.base import Store  # noqa: E402
from ragline.store.filters import parse_filter  # noqa: E402
from ragline.store.lance import LanceStore  # noqa: E402
from ragline.store.milvus import MilvusStore  # noqa: E402


def timed(fn: Callable[[int], object], n: int, warm: int = 10) -> tuple[float, float]:
    times = []
    for i in range(warm + n):
        t0 = time.perf_counter()
        fn(i % n)
        if i >= warm:
            times.append(time.perf_counter() - t0)
    return pct(times)


def measure(store: Store, qvecs: np.ndarray, texts: list[str], top_k: int) -> dict[str, dict[str, float]]:
    assert isinstance(store, LanceStore | MilvusStore)
    filt = parse_filter({"doc_type": "paper", "year": {"$gte": 2015}})
    n = len(texts)
    cases: dict[str, Callable[[int], object]] = {
        "dense": lambda i: store.fetch_chunks(store.dense_candidates(qvecs[i], 4 * top_k)[:top_k]),
        "keyword": lambda i: store.fetch_chunks(store.keyword_candidates(texts[i], 4 * top_k)[:top_k]),
        "filtered dense": lambda i: store.fetch_chunks(
            store.dense_candidates(qvecs[i], 4 * top_k, filt)[:top_k]
        ),
        "filtered keyword": lambda i: store.fetch_chunks(
            store.keyword_candidates(texts[i], 4 * top_k, filt)[:top_k]
        ),
    }
    out = {}
    for name, fn in cases.items():
        p50, p95 = timed(fn, n)
        out[name] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}
        print(f"  {type(store).__name__} {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", file=sys.stderr)
    return out


def recall(store: Store, vectors: np.ndarray, ids: list[str], samples: int = 100) -> float:
    assert isinstance(store, LanceStore | MilvusStore)
    rng = np.random.default_rng(1)
    got = []
    for row in rng.choice(len(vectors), samples, replace=False):
        v = vectors[row] + 0.05 * rng.normal(size=vectors.shape[1]).astype(np.float32)
        v /= np.linalg.norm(v)
        exact = {ids[j] for j in np.argsort(-(vectors @ v))[:10]}
        found = {c.chunk_id for c in store.dense_candidates(v, 10)}
        got.append(len(exact & found) / 10)
    return round(float(np.mean(got)), 4)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--stores", default="lancedb,milvus-lite", help="which of lancedb,milvus-lite to run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    emb = OnnxEmbedder()
    emb.warm_up()
    texts = queries(args.queries)
    qvecs = np.stack([emb.embed_query(q) for q in texts]).astype(np.float32)
    batches = list(synthetic_batches(args.chunks, emb.dimension))
    vectors = np.concatenate([b.vectors for b in batches])
    ids = [c.id for b in batches for c in b.chunks]
    work = Path(tempfile.mkdtemp(prefix="ragline-scale-"))
    stores: dict[str, Store] = {
        "lancedb": LanceStore(
            work / "lance", dimension=emb.dimension, model_id="bench", ann_threshold=20_000
        ),
        "milvus-lite": MilvusStore(
            work / "milvus", dimension=emb.dimension, model_id="bench", uri=str(work / "lite.db")
        ),
    }
    results = {}
    for name, store in stores.items():
        if name not in args.stores.split(","):
            continue
        t0 = time.perf_counter()
        for b in batches:
            store.upsert([b])
        inserted = time.perf_counter() - t0
        store.finalize()
        built = time.perf_counter() - t0
        print(f"{name}: inserted in {inserted:.1f} s, ready in {built:.1f} s", file=sys.stderr)
        results[name] = {
            "insert_s": round(inserted, 1),
            "build_s": round(built, 1),
            "recall@10": recall(store, vectors, ids),
            "latency": measure(store, qvecs, texts, args.top_k),
        }
    out = {
        "chunks": args.chunks,
        "queries": args.queries,
        "top_k": args.top_k,
        "stores": results,
        "machine": f"{platform.machine()} {platform.processor() or ''} cores={os.cpu_count()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    if args.json:
        print(json.dumps(out))
    else:
        names = list(results)
        print(
            f"| {args.chunks} chunks, top-{args.top_k} | "
            + " | ".join(f"{n} p50 / p95 ms" for n in names)
            + " |"
        )
        print("|---|" + "---|" * len(names))
        for case in results[names[0]]["latency"]:
            cells = [
                f"{results[n]['latency'][case]['p50_ms']} / {results[n]['latency'][case]['p95_ms']}"
                for n in names
            ]
            print(f"| {case} | " + " | ".join(cells) + " |")
        print("| build (insert + index), s | " + " | ".join(str(results[n]["build_s"]) for n in names) + " |")
        print(
            "| dense recall@10 vs exact | " + " | ".join(str(results[n]["recall@10"]) for n in names) + " |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
