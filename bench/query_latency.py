"""Interactive query latency (top-10, one client) on the BEIR collections, per retrieval setting.

``ragline eval ablate`` times the evaluation search (300 chunks deep); this times what a user
waits for: ``engine.search(question, top_k=10)`` with the query embedded on every call, after a
warm-up, over the first ``--queries`` test queries of each dataset, the variants interleaved
query by query. Each variant is a JSON object
of retrieval settings on top of the configured ones.

    RAGLINE_DATA_DIR=/tmp/evaldata .venv/bin/python bench/query_latency.py \\
        ../shared/datasets/scifact ../shared/datasets/nfcorpus \\
        --variant 'plain={"feedback": {"keyword": {"enabled": false}, "dense": {"enabled": false}}}' \\
        --variant 'configured={}'

The collections are the ones ``ragline eval beir`` builds (``beir-<dataset>``); absent datasets
or collections are skipped with a message.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from benchlib import parse_variants

import ragline
from ragline.eval.beir import load_beir
from ragline.settings import RetrievalSettings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--variant", action="append", default=[], help='NAME={"setting": value, ...}')
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--top-k", type=int, default=10)
    args = ap.parse_args(argv)
    variants = parse_variants(ap, args.variant)
    engine = ragline.open()
    print("| dataset | variant | p50 ms | p95 ms | queries |\n|---|---|---:|---:|---:|")
    for path in args.datasets:
        if not (path / "corpus.jsonl").exists():
            print(f"skip {path}: corpus.jsonl not found (BEIR datasets live in ../shared/datasets)")
            continue
        ds = load_beir(path, "test")
        collection = f"beir-{ds.name}"
        if collection not in engine.collections():
            print(f"skip {path}: collection {collection} not found; run `ragline eval beir {path}` first")
            continue
        queries = list(ds.queries.values())[: args.queries]
        base = engine.retrieval_settings(collection)
        retrievers = []
        for name, updates in variants:
            settings = base.overridden(RetrievalSettings(**updates))
            retrievers.append((name, engine.retriever(None, collection, settings)))
        for q in queries[:10]:
            for _, r in retrievers:
                r.run(q, args.top_k)
        # Interleaved, rotating which variant goes first: a slow spell of this shared machine then
        # costs every variant alike instead of whichever happened to run during it.
        times: dict[str, list[float]] = {name: [] for name, _ in retrievers}
        query_cache = engine.embedder_for(collection)._queries

        for i, q in enumerate(queries):
            for name, r in retrievers[i % len(retrievers) :] + retrievers[: i % len(retrievers)]:
                # A user's new question is not in the query-embedding LRU: empty it before each run.
                query_cache.clear()
                t0 = time.perf_counter()
                r.run(q, args.top_k)
                times[name].append((time.perf_counter() - t0) * 1000)
        for name, ts in times.items():
            p50, p95 = np.percentile(ts, [50, 95])
            print(f"| {ds.name} | {name} | {p50:.1f} | {p95:.1f} | {len(ts)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
