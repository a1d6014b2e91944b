"""Where hybrid search time goes, stage by stage, on a collection built by ``bench/latency.py``.

    .venv/bin/python bench/latency.py --dir /tmp/bench100k      # builds the collection once
    .venv/bin/python bench/breakdown.py /tmp/bench100k

Runs each stage of ``HybridRetriever.run`` in sequence (query embedding, dense candidates, keyword
candidates, fusion, row fetch), then the real concurrent ``run``, over the same real questions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from latency import queries  # noqa: E402

from ragline.embedding.onnx import OnnxEmbedder  # noqa: E402
from ragline.retrieval.retrievers import HybridRetriever, fuse  # noqa: E402
from ragline.store.lance import LanceStore  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("collection", type=Path)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--candidates", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads for the query")
    args = ap.parse_args()
    if not (args.collection / "collection.json").is_file():
        print(f"skipped: no collection at {args.collection}; build one with bench/latency.py --dir")
        return 0
    meta = json.loads((args.collection / "collection.json").read_text())
    store = LanceStore(args.collection, meta["dimension"], meta["model_id"])
    emb = OnnxEmbedder(threads=args.threads)
    emb.warm_up()
    hybrid = HybridRetriever(store, emb)
    qs = queries(args.queries)
    for q in qs[:10]:
        hybrid.run(q, 10)
    stages: dict[str, list[float]] = {
        k: [] for k in ("embed", "dense", "keyword", "fuse", "fetch", "sequential", "run")
    }
    n = args.candidates
    for q in qs:
        t0 = time.perf_counter()
        v = emb.embed_query(q)
        t1 = time.perf_counter()
        dense = store.dense_candidates(v, n)
        t2 = time.perf_counter()
        keyword = store.keyword_candidates(q, n)
        t3 = time.perf_counter()
        fused = fuse(dense, keyword, 10)
        t4 = time.perf_counter()
        store.fetch_chunks([f.candidate for f in fused])
        t5 = time.perf_counter()
        hybrid.run(q, 10)
        t6 = time.perf_counter()
        for name, a, b in (
            ("embed", t0, t1), ("dense", t1, t2), ("keyword", t2, t3), ("fuse", t3, t4),
            ("fetch", t4, t5), ("sequential", t0, t5), ("run", t5, t6),
        ):  # fmt: skip
            stages[name].append(b - a)
    print("| stage | p50 ms |\n|---|---|")
    for name, xs in stages.items():
        print(f"| {name} | {np.median(xs) * 1000:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
