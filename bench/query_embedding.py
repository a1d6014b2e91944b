"""Query embedding alone, fp32 against int8 (``embedding.precision``), interleaved query by query.

Each of the first N SciFact queries is embedded by both graphs in turn (alternating which goes
first; each text once per graph, so no cache answers), numpy's BLAS on one thread as the engine
runs it. Reports p50 / p95 ms per precision.

    .venv/bin/python bench/query_embedding.py [--queries 200] [--dataset ../shared/datasets/scifact]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ragline.embedding.onnx import OnnxEmbedder  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "datasets" / "scifact")
    args = ap.parse_args()
    path = args.dataset / "queries.jsonl"
    if not path.is_file():
        print(f"skipped: {path} not found (the benchmark reads BEIR data from ../shared/datasets)")
        return 0
    with path.open() as f:
        qs = [json.loads(line)["text"] for line in f][: args.queries]
    threadpool_limits(limits=1, user_api="blas")
    models = [(p, OnnxEmbedder(precision=p)) for p in ("fp32", "int8")]
    for _, m in models:
        m.embed_query("warm up")
    times: dict[str, list[float]] = {p: [] for p, _ in models}
    for i, q in enumerate(qs):
        for p, m in models if i % 2 else models[::-1]:
            t0 = time.perf_counter()
            m.embed_query(q)
            times[p].append((time.perf_counter() - t0) * 1000)
    print("| precision | query embedding p50 ms | p95 ms | queries |\n|---|---:|---:|---:|")
    for p, ts in times.items():
        p50, p95 = np.percentile(ts, [50, 95])
        print(f"| {p} | {p50:.2f} | {p95:.2f} | {len(ts)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
