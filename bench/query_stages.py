"""The full default's query stages timed one by one, for this checkout and others, interleaved.

Each stage is the call the pipeline makes (store searches, fusion, the rows and token states read
after it, MaxSim), run alone on the calling thread for the first ``--queries`` test queries, each
version in turn query by query; then the whole search. The pipeline overlaps some stages (the
keyword side on the pool), so the stages do not add up to the whole: they give each stage's cost.

    RAGLINE_DATA_DIR=<copy of the compact collections> .venv/bin/python bench/query_stages.py \\
        --version before=../main/src/ragline ../shared/datasets/scifact ../shared/datasets/nfcorpus
    .venv/bin/python bench/query_stages.py --synthetic /tmp/b100k   # bench/latency.py --full --dir

Above ``store.ann_threshold`` (a synthetic collection) the searches ask the ANN indexes, and the
rows, vectors and token states are read from disk; the feedback searches (RM3, Rocchio) are timed
on the queries they apply to.

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
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from latency import queries as synthetic_queries  # noqa: E402
from latency_ab import load_versions, synthetic_retriever  # noqa: E402

from ragline.eval.beir import load_beir  # noqa: E402

_RETRIEVERS: dict[tuple[int, str], Any] = {}


def stages(
    pkg: Any, engine: Any, coll: str, query: str, times: dict[str, list[float]], *, all_stages: bool = False
) -> None:
    """Time each stage of ``query`` through ``pkg``'s modules, adding to ``times``."""
    retriever = _RETRIEVERS.get((id(engine), coll))
    if retriever is None:
        retriever = _RETRIEVERS[(id(engine), coll)] = engine.retriever(None, coll)
    emb = engine.embedder_for(coll)
    pipeline_stages(pkg, retriever, emb.inner, emb._queries, query, times, all_stages=all_stages)


def pipeline_stages(
    pkg: Any,
    retriever: Any,
    model: Any,
    query_cache: Any,
    query: str,
    times: dict[str, list[float]],
    *,
    all_stages: bool = False,
) -> None:
    """Each stage of the default pipeline ``retriever`` runs for ``query``, timed alone on this
    thread (``model`` embeds; ``query_cache``, when not None, is emptied before the whole search;
    ``all_stages`` also times the index searches the default does not run above the threshold)."""
    s, store = retriever.settings, retriever.store
    pool, depth = s.rerank.candidates, s.rerank.candidates * s.candidate_multiplier
    mods = sys.modules
    fuse_lists = mods[f"{pkg.__name__}.retrieval.retrievers"].fuse_lists
    fuse = mods[f"{pkg.__name__}.retrieval.retrievers"].fuse
    maxsim_batch = mods[f"{pkg.__name__}.rerank.late_interaction"].maxsim_batch
    rocchio = mods[f"{pkg.__name__}.query.vector_prf"].rocchio
    content_words = mods[f"{pkg.__name__}.text.words"].content_words
    exact = store.searches_in_memory() if hasattr(store, "searches_in_memory") else True
    how = "exact" if exact else "ANN"

    def timed(name: str, fn: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args)
        times[name].append((time.perf_counter() - t0) * 1000)
        return out

    vector = timed("query embedding", model.embed_query, query)
    keyword = timed("keyword BM25", store.keyword_candidates, query, depth)
    terms = len(content_words(query))
    rm3 = s.feedback.keyword
    if rm3.enabled and keyword and (rm3.max_query_terms is None or terms <= rm3.max_query_terms):
        expanded = timed(
            "RM3: texts + expanded BM25 (when applied)",
            retriever._rm3_candidates,
            query,
            keyword,
            depth,
            None,
        )
    else:
        expanded = None
    dense = timed(f"dense ({how})", store.dense_candidates, vector, depth)
    if exact:
        sentences = timed("sentence MaxSim (exact)", store.sentence_candidates, vector, depth)
    else:
        among = hasattr(retriever, "_sentences_among")
        if not among or getattr(s, "sentence_search", "index") == "index" or all_stages:
            # Not in the default's path (retrieval.sentence_search = "candidates"), and slow at
            # 1M chunks (the HNSW walk of 4M sentence vectors): timed only when asked for.
            sentences = timed("sentence search (ANN index)", store.sentence_candidates, vector, depth)
        if among:
            sentences = timed(
                "sentence MaxSim of the candidates", retriever._sentences_among, vector, dense, keyword, depth
            )
    fb = s.feedback.dense
    moved = None
    if fb.enabled and dense and (fb.max_query_terms is None or terms <= fb.max_query_terms):
        f = s.fusion
        if exact or getattr(fb, "search", "index") == "index" or all_stages:
            t0 = time.perf_counter()
            first = fuse(dense, keyword, fb.docs, f.method, f.rrf_k, f.alpha)
            vectors = store.fetch_vectors([x.candidate for x in first])
            moved = store.dense_candidates(rocchio(vector, vectors, fb.beta), depth)
            times[f"Rocchio: vectors + dense again ({how}, when applied)"].append(
                (time.perf_counter() - t0) * 1000
            )
        if not exact and hasattr(retriever, "_rocchio_among"):
            # feedback.dense.search = "candidates": one read of the candidates' vectors, exact cosine.
            t0 = time.perf_counter()
            first = fuse(dense, keyword, fb.docs, f.method, f.rrf_k, f.alpha)
            moved = retriever._rocchio_among(store, vector, dense, keyword, first, depth)
            times["Rocchio: vectors of the candidates + exact cosine (when applied)"].append(
                (time.perf_counter() - t0) * 1000
            )
    sides = [("dense", dense, 0.25 / (1 + (moved is not None))), ("dense_sentences", sentences, 0.25)]
    sides += [("keyword", keyword, 0.5 / (1 + (expanded is not None)))]
    if moved is not None:
        sides.append(("dense_prf", moved, 0.125))
    if expanded is not None:
        sides.append(("keyword_prf", expanded, 0.25))
    fused = timed("fusion", fuse_lists, sides, depth, "zscore", 60)
    window = [f.candidate for f in fused[: 3 * s.smoothing.docs]]
    t0 = time.perf_counter()
    if hasattr(store, "fetch_doc_ids"):
        docs = store.fetch_doc_ids(window)
        seen: set[str] = set()
        firsts = [i for i, d in enumerate(docs) if d is not None and d not in seen and not seen.add(d)]
        store.fetch_vectors([window[i] for i in firsts[: s.smoothing.docs]])
        times["smoothing: doc ids of the window + vectors"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        store.fetch_chunks(window[:pool])
        times["rows of the head"].append((time.perf_counter() - t0) * 1000)
    else:
        store.fetch_chunks(window)
        times["rows (smoothing window, head)"].append((time.perf_counter() - t0) * 1000)
    # The pipeline reads the head's states ahead: the head + 10 as fused when smoothing follows
    # (before fix/reads100k), exactly the smoothed head when smoothing on document ids runs first.
    # A version with fetch_token_states_of reads them by row reference.
    ahead = [f.candidate.chunk_id for f in fused[: pool + 10]]
    timed("token states of the head + 10 (40)", store.fetch_token_states, ahead)
    if hasattr(store, "fetch_token_states_of"):
        head = [f.candidate for f in fused[:pool]]
        states = timed(f"token states of the head ({pool})", store.fetch_token_states_of, head)
    else:
        states = timed(f"token states of the head ({pool})", store.fetch_token_states, ahead[:pool])
    tokens = model.query_tokens(query)
    timed("MaxSim over the head", maxsim_batch, tokens, [m for m in states[:pool] if m is not None])
    if query_cache is not None:
        query_cache.clear()  # a user's new question is not in the query-embedding LRU
    timed("whole search", retriever.run, query, 10)


def report(
    name: str, labels: list[str], times: dict[str, dict[str, list[float]]], loads: list[float]
) -> None:
    n = len(times[labels[-1]]["whole search"])
    print(f"\n{name}, {n} queries, mean load {np.mean(loads):.1f}: p50 ms\n")
    print("| stage | " + " | ".join(labels) + " |\n|---|" + "---:|" * len(labels))
    stages = list(dict.fromkeys(st for label in labels for st in times[label]))
    for stage in stages:
        cells = [
            f"{np.median(times[label][stage]):.2f}" if times[label].get(stage) else "-" for label in labels
        ]
        print(f"| {stage} | " + " | ".join(cells) + " |", flush=True)


def interleaved(runs: list[tuple[str, Any]], queries: list[str], name: str) -> None:
    """``runs`` (label, one query's stages) query by query, rotating which goes first."""
    times: dict[str, dict[str, list[float]]] = {label: defaultdict(list) for label, _ in runs}
    loads = []
    for i, q in enumerate(queries[:5] + queries):
        k = i % len(runs)
        for label, run in runs[k:] + runs[:k]:
            run(q, times[label] if i >= 5 else defaultdict(list))
        loads.append(os.getloadavg()[0])
    report(name, [label for label, _ in runs], times, loads)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="*", type=Path)
    ap.add_argument("--version", action="append", default=[], help="LABEL=path/to/other/src/ragline")
    ap.add_argument("--synthetic", type=Path, action="append", default=[], help="bench/latency.py --dir")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--all-stages", action="store_true", help="also the index searches the default skips")
    args = ap.parse_args(argv)
    packages, tmp = load_versions(ap, args.version)
    try:
        for path in args.datasets:
            ds = load_beir(path, "test")
            coll = f"beir-{ds.name}"
            runs = []
            for label, pkg in packages:
                engine = pkg.open()  # type: ignore[attr-defined]
                runs.append((label, partial(stages, pkg, engine, coll, all_stages=args.all_stages)))
            interleaved(runs, list(ds.queries.values())[: args.queries], ds.name)
        for root in args.synthetic:
            runs = []
            for label, pkg in packages:
                retriever, _ = synthetic_retriever(pkg, root)
                runs.append(
                    (
                        label,
                        partial(
                            pipeline_stages,
                            pkg,
                            retriever,
                            retriever.embedder,
                            None,
                            all_stages=args.all_stages,
                        ),
                    )
                )
            interleaved(runs, synthetic_queries(args.queries), root.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
