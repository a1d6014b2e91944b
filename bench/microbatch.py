"""Micro-batching of query embeddings: does gathering concurrent queries for a few milliseconds
and running them through the ONNX model as one batch raise throughput on this machine?

N threads each embed distinct queries back to back for a fixed time, through the embedder's own
``embed_query`` (off) or through :class:`ragline.embedding.microbatch.MicroBatcher`, which collects
queries for ``--window-ms`` (or until ``--max-batch``) and runs them with the ONNX embedder's
``embed_queries`` in one model call (on: what ``embedding.query_batch_window_ms`` turns on). Reports queries
per second and p50/p95 latency per query for each.

    .venv/bin/python bench/microbatch.py --threads 8 --seconds 10 --window-ms 3
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable

import numpy as np

from ragline.embedding.microbatch import MicroBatcher
from ragline.embedding.onnx import OnnxEmbedder
from ragline.settings import load_settings

_TEXT = (
    "how do I rotate api keys backups restore postgres index latency tenant quota limit answer "
    "citation ingest pdf table chunk embed model cache replica deploy kubernetes probe metrics"
)
WORDS = _TEXT.split(" ")


def run(embed: Callable[[str], np.ndarray], threads: int, seconds: float) -> tuple[float, list[float]]:
    stop = time.monotonic() + seconds
    lat: list[list[float]] = [[] for _ in range(threads)]

    def worker(i: int) -> None:
        n = 0
        while time.monotonic() < stop:
            q = " ".join(WORDS[(i * 7 + n * k) % len(WORDS)] for k in range(1, 8)) + f" {i}-{n}"
            t0 = time.perf_counter()
            embed(q)
            lat[i].append(time.perf_counter() - t0)
            n += 1

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - t0
    flat = [x for xs in lat for x in xs]
    return len(flat) / elapsed, flat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--window-ms", type=float, default=3.0)
    ap.add_argument("--max-batch", type=int, default=16)
    args = ap.parse_args()
    s = load_settings()
    emb = OnnxEmbedder(threads=s.embedding.threads)
    emb.embed_queries(["warm up"] * 4)
    batcher = MicroBatcher(emb.embed_queries, args.window_ms / 1000, args.max_batch)
    print(f"# {platform.node()} {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    w = f"window {args.window_ms:g} ms, max batch {args.max_batch}"
    print(f"# {args.threads} threads x {args.seconds:g} s, {w}")
    for name, fn in (("off", emb.embed_query), ("on", batcher.embed), ("off again", emb.embed_query)):
        qps, lat = run(fn, args.threads, args.seconds)
        q = statistics.quantiles(lat, n=20)
        p50, p95 = 1000 * statistics.median(lat), 1000 * q[18]
        print(f"{name:10s} {qps:7.1f} queries/s  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")


if __name__ == "__main__":
    main()
