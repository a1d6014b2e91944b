"""The full default's query stages timed one by one, for this checkout and others, interleaved.

Each stage is the call the pipeline makes (store searches, fusion, the rows and token states read
after it, MaxSim), run alone on the calling thread for the first ``--queries`` test queries, each
version in turn query by query; then the whole search. The pipeline overlaps some stages (the
keyword side on the pool), so the stages do not add up to the whole: they give each stage's cost.

    RAGLINE_DATA_DIR=<copy of the compact collections> .venv/bin/python bench/query_stages.py \\
        --version before=../main/src/ragline ../shared/datasets/scifact ../shared/datasets/nfcorpus

Rows: a version whose store has ``fetch_doc_ids`` reads the document ids of the smoothing window
and the rows of the rerank head; an older one reads every row of the window.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from latency_ab import load_versions  # noqa: E402

from ragline.eval.beir import load_beir  # noqa: E402

_RETRIEVERS: dict[tuple[int, str], Any] = {}


def stages(pkg: Any, engine: Any, coll: str, query: str, times: dict[str, list[float]]) -> None:
    """Time each stage of ``query`` through ``pkg``'s modules, adding to ``times``."""
    s = engine.retrieval_settings(coll)
    retriever = _RETRIEVERS.get((id(engine), coll))
    if retriever is None:
        retriever = _RETRIEVERS[(id(engine), coll)] = engine.retriever(None, coll)
    store, emb = retriever.store, engine.embedder_for(coll)
    model = emb.inner
    pool, depth = s.rerank.candidates, s.rerank.candidates * s.candidate_multiplier
    fuse_lists = sys.modules[f"{pkg.__name__}.retrieval.retrievers"].fuse_lists
    maxsim_batch = sys.modules[f"{pkg.__name__}.rerank.late_interaction"].maxsim_batch

    def timed(name: str, fn: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args)
        times[name].append((time.perf_counter() - t0) * 1000)
        return out

    vector = timed("query embedding", model.embed_query, query)
    keyword = timed("keyword BM25", store.keyword_candidates, query, depth)
    dense = timed("dense (exact)", store.dense_candidates, vector, depth)
    sentences = timed("sentence MaxSim (exact)", store.sentence_candidates, vector, depth)
    sides = [("dense", dense, 0.25), ("dense_sentences", sentences, 0.25), ("keyword", keyword, 0.5)]
    fused = timed("fusion of 3 lists", fuse_lists, sides, depth, "zscore", 60)
    window = [f.candidate for f in fused[: 3 * s.smoothing.docs]]
    t0 = time.perf_counter()
    if hasattr(store, "fetch_doc_ids"):
        store.fetch_doc_ids(window)
        head = store.fetch_chunks(window[:pool])
    else:
        head = store.fetch_chunks(window)[:pool]
    times["rows (smoothing window, head)"].append((time.perf_counter() - t0) * 1000)
    states = timed("token states of the head", store.fetch_token_states, [c.id for c in head])
    tokens = model.query_tokens(query)
    timed("MaxSim over the head", maxsim_batch, tokens, [m for m in states if m is not None])
    emb._queries.clear()  # a user's new question is not in the query-embedding LRU
    timed("whole search", retriever.run, query, 10)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--version", action="append", default=[], help="LABEL=path/to/other/src/ragline")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args(argv)
    packages, tmp = load_versions(ap, args.version)
    try:
        for path in args.datasets:
            ds = load_beir(path, "test")
            coll = f"beir-{ds.name}"
            engines = [(label, pkg, pkg.open()) for label, pkg in packages]  # type: ignore[attr-defined]
            queries = list(ds.queries.values())[: args.queries]
            times: dict[str, dict[str, list[float]]] = {label: defaultdict(list) for label, _, _ in engines}
            loads = []
            for i, q in enumerate(queries[:5] + queries):
                k = i % len(engines)
                for label, pkg, engine in engines[k:] + engines[:k]:
                    stages(pkg, engine, coll, q, times[label] if i >= 5 else defaultdict(list))
                loads.append(os.getloadavg()[0])
            labels = [label for label, _, _ in engines]
            print(f"\n{ds.name}, {len(queries)} queries, mean load {np.mean(loads):.1f}: p50 ms\n")
            print("| stage | " + " | ".join(labels) + " |\n|---|" + "---:|" * len(labels))
            for stage in times[labels[-1]]:
                cells = [f"{np.median(times[label][stage]):.2f}" for label in labels]
                print(f"| {stage} | " + " | ".join(cells) + " |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
