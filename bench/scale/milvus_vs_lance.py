"""Query latency on Milvus Lite next to LanceDB: the same synthetic collection in both stores.

The collection is bench/latency.py's (clustered synthetic vectors, Zipfian 100-word texts, a
doc_type and a year per chunk); queries are real questions embedded once by the real model, so the
figures are the store's side of a search: candidates (4x top-k, as the retrievers ask) plus the
fetch of the top-k chunks; "hybrid" is both candidate lists fused by ragline's RRF
(``retrieval.retrievers.fuse``) and the fused top-k fetched. Also: insert and build time, disk
per chunk, resident memory, and dense recall@10 against exact numpy search with queries near
stored vectors (real-text queries have no meaningful neighbours among synthetic ones).

Bounded: every case (and the recall check) stops taking new searches once it has used
``--budget-s`` seconds (warm-ups included) and says how many it ran; a case with fewer than 3
timed searches is reported as not finished. Milvus Lite is a pure-Python engine, so run each store
in its own process (``--stores``) with ``--out`` to keep partial results: the JSON file is
rewritten after every case.

    .venv/bin/python bench/scale/milvus_vs_lance.py [--chunks 100000] [--queries 100] \
        [--stores lancedb|milvus-lite] [--budget-s 300] [--out /tmp/scale-x.json] \
        [--milvus-uri http://milvus:19530]   # a real Milvus instead of Milvus Lite (disk: not counted)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from latency import pct, queries, synthetic_batches, vocabulary  # noqa: E402

from ragline.embedding.onnx import OnnxEmbedder  # noqa: E402
from ragline.retrieval.retrievers import fuse  # noqa: E402
from ragline.store.base import Store  # noqa: E402
from ragline.store.filters import parse_filter  # noqa: E402
from ragline.store.lance import LanceStore  # noqa: E402
from ragline.store.milvus import MilvusStore  # noqa: E402

MIN_TIMED = 3


def load() -> float:
    return round(os.getloadavg()[0], 2)


def rss_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def disk_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def synthetic_vectors(n: int, dim: int, seed: int = 0, step: int = 20_000) -> np.ndarray:
    """The vectors of ``synthetic_batches(n, dim, seed, step)`` without building the texts (the
    slow part at 1M chunks): the same random draws in the same order."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary()
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()
    centers = rng.normal(size=(256, dim))
    out = []
    for b in range(0, n, step):
        m = min(step, n - b)
        rng.choice(len(vocab), size=(m, 100), p=zipf)
        vecs = centers[rng.integers(0, 256, m)] + 0.6 * rng.normal(size=(m, dim))
        out.append((vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32))
        for _ in range(m):
            rng.integers(0, 5)
            rng.integers(1990, 2025)
    return np.concatenate(out)


def timed(fn: Callable[[int], object], n: int, warm: int, budget_s: float) -> dict[str, Any]:
    """Up to ``warm`` + ``n`` calls, none started after ``budget_s`` seconds."""
    times: list[float] = []
    start = time.perf_counter()
    cpu0 = time.process_time()
    calls = 0
    for i in range(warm + n):
        if time.perf_counter() - start > budget_s:
            break
        t0 = time.perf_counter()
        fn(i % n)
        calls += 1
        if i >= warm:
            times.append(time.perf_counter() - t0)
    spent = round(time.perf_counter() - start, 1)
    # CPU time of the whole process (every thread) per search: what capacity planning needs, and
    # less sensitive than wall time to other processes on a shared machine.
    cpu_ms = round((time.process_time() - cpu0) / max(calls, 1) * 1000, 2)
    if len(times) < MIN_TIMED:
        return {"finished": False, "calls": calls, "seconds": spent, "cpu_ms_per_search": cpu_ms}
    p50, p95 = pct(times)
    return {
        "finished": True,
        "p50_ms": round(p50, 2),
        "p95_ms": round(p95, 2),
        "cpu_ms_per_search": cpu_ms,
        "timed": len(times),
        "seconds": spent,
    }


def cases(
    store: Store, qvecs: np.ndarray, texts: list[str], top_k: int
) -> dict[str, Callable[[int], object]]:
    assert isinstance(store, LanceStore | MilvusStore)
    filt = parse_filter({"doc_type": "paper", "year": {"$gte": 2015}})
    n = 4 * top_k

    def hybrid(i: int, f: Any = None) -> object:
        fused = fuse(store.dense_candidates(qvecs[i], n, f), store.keyword_candidates(texts[i], n, f), top_k)
        return store.fetch_chunks([x.candidate for x in fused])

    return {
        "dense": lambda i: store.fetch_chunks(store.dense_candidates(qvecs[i], n)[:top_k]),
        "keyword": lambda i: store.fetch_chunks(store.keyword_candidates(texts[i], n)[:top_k]),
        "hybrid": hybrid,
        "filtered dense": lambda i: store.fetch_chunks(store.dense_candidates(qvecs[i], n, filt)[:top_k]),
        "filtered keyword": lambda i: store.fetch_chunks(store.keyword_candidates(texts[i], n, filt)[:top_k]),
        "filtered hybrid": lambda i: hybrid(i, filt),
    }


def recall(
    store: Store, vectors: np.ndarray, ids: list[str], samples: int, budget_s: float
) -> dict[str, Any]:
    assert isinstance(store, LanceStore | MilvusStore)
    rng = np.random.default_rng(1)
    got = []
    start = time.perf_counter()
    for row in rng.choice(len(vectors), samples, replace=False):
        if time.perf_counter() - start > budget_s:
            break
        v = vectors[row] + 0.05 * rng.normal(size=vectors.shape[1]).astype(np.float32)
        v /= np.linalg.norm(v)
        exact = {ids[j] for j in np.argsort(-(vectors @ v))[:10]}
        found = {c.chunk_id for c in store.dense_candidates(v, 10)}
        got.append(len(exact & found) / 10)
    return {"recall@10": round(float(np.mean(got)), 4) if got else None, "samples": len(got)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--warm", type=int, default=10, help="untimed searches before each case")
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--stores", default="lancedb,milvus-lite", help="which of lancedb,milvus-lite to run")
    ap.add_argument("--budget-s", type=float, default=300.0, help="seconds per case before it stops")
    ap.add_argument("--recall-samples", type=int, default=100)
    ap.add_argument(
        "--milvus-uri",
        default=None,
        help="a Milvus server (http://host:19530) instead of a Milvus Lite file in the work directory",
    )
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a new temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the stores on disk afterwards")
    ap.add_argument("--out", type=Path, default=None, help="JSON results, rewritten after every case")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    out: dict[str, Any] = {
        "chunks": args.chunks,
        "queries": args.queries,
        "top_k": args.top_k,
        "budget_s": args.budget_s,
        "stores": {},
        "machine": f"{platform.machine()} {platform.processor() or ''} cores={os.cpu_count()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_start": load(),
    }

    def save() -> None:
        if args.out is not None:
            args.out.write_text(json.dumps(out, indent=1))

    emb = OnnxEmbedder()
    emb.warm_up()
    texts = queries(args.queries)
    qvecs = np.stack([emb.embed_query(q) for q in texts]).astype(np.float32)
    # Only the vectors and ids stay in memory (for recall); the batches are generated again, the
    # same, for each store (Python chunk objects of 1M 100-word texts would take ~3 GB more).
    vectors = synthetic_vectors(args.chunks, emb.dimension)
    ids = [f"c{i}" for i in range(args.chunks)]
    work = args.dir or Path(tempfile.mkdtemp(prefix="ragline-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    makers: dict[str, Callable[[], tuple[Store, list[Path]]]] = {
        "lancedb": lambda: (
            LanceStore(work / "lance", dimension=emb.dimension, model_id="bench", ann_threshold=20_000),
            [work / "lance"],
        ),
        "milvus-lite": lambda: (
            MilvusStore(
                work / "milvus",
                dimension=emb.dimension,
                model_id="bench",
                uri=args.milvus_uri or str(work / "lite.db"),
            ),
            [work / "milvus", work / "lite.db"],
        ),
    }
    for name in args.stores.split(","):
        store, paths = makers[name]()
        res: dict[str, Any] = {"load_before": load()}
        out["stores"][name] = res
        inserting = 0.0  # the upserts alone, not the generation of the batches between them
        for b in synthetic_batches(args.chunks, emb.dimension):
            t0 = time.perf_counter()
            store.upsert([b])
            inserting += time.perf_counter() - t0
        res["insert_s"] = round(inserting, 1)
        t0 = time.perf_counter()
        store.finalize()
        res["build_s"] = round(inserting + time.perf_counter() - t0, 1)
        size = sum(disk_bytes(p) for p in paths if p.exists())
        res["disk_mib"] = round(size / 2**20, 1)
        res["disk_bytes_per_chunk"] = round(size / args.chunks)
        res["rss_peak_gib"] = rss_gib()
        res["load_after_build"] = load()
        print(f"{name}: inserted in {res['insert_s']} s, ready in {res['build_s']} s", file=sys.stderr)
        save()
        res["recall"] = recall(store, vectors, ids, args.recall_samples, args.budget_s)
        res["latency"] = {}
        for case, fn in cases(store, qvecs, texts, args.top_k).items():
            r = timed(fn, args.queries, args.warm, args.budget_s)
            r["load_after"] = load()
            res["latency"][case] = r
            print(f"  {name} {case}: {r}", file=sys.stderr)
            save()
        res["load_after"] = load()
        res["rss_peak_gib"] = rss_gib()
        save()
        del store
        if not args.keep:
            for p in paths:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    if args.json:
        print(json.dumps(out))
    else:
        names = list(out["stores"])

        def cell(r: dict[str, Any]) -> str:
            if r["finished"]:
                return f"{r['p50_ms']} / {r['p95_ms']}"
            return f"not finished: {r['calls']} searches in {r['seconds']} s"

        print(
            f"| {args.chunks} chunks, top-{args.top_k} | "
            + " | ".join(f"{n} p50 / p95 ms" for n in names)
            + " |"
        )
        print("|---|" + "---|" * len(names))
        for case in out["stores"][names[0]]["latency"]:
            print(f"| {case} | " + " | ".join(cell(out["stores"][n]["latency"][case]) for n in names) + " |")
        for key in ("insert_s", "build_s", "disk_bytes_per_chunk", "rss_peak_gib"):
            print(f"| {key} | " + " | ".join(str(out["stores"][n][key]) for n in names) + " |")
        print(
            "| dense recall@10 vs exact | "
            + " | ".join(str(out["stores"][n]["recall"]) for n in names)
            + " |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
