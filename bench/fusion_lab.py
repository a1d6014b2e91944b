"""Fusion and feedback lab: cache each query's candidates once, then compare ranking functions.

For every query of a tuning split (SciFact train, NFCorpus dev) this caches, from the collection
``ragline eval beir`` built: the query embedding, every chunk's vector (exact dense search is done
here in numpy, so dense pseudo-relevance feedback costs nothing to try), and the BM25 candidates
for the plain and the RM3-expanded query. Variants are then pure functions of that cache, scored
with ragline's own nDCG@10 after collapsing chunks to documents, as the evaluator does.

Run it on the tuning splits only; whatever it picks is frozen and measured once on test with
``ragline eval ablate``::

    RAGLINE_DATA_DIR=/tmp/evaldata .venv/bin/python bench/fusion_lab.py \
        ../shared/datasets/scifact:train ../shared/datasets/nfcorpus:dev

Datasets or collections that are absent are skipped with a message.
"""

from __future__ import annotations

import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from benchlib import dataset_splits, lab_parser

import ragline
from ragline.engine import Engine
from ragline.eval.beir import load_beir
from ragline.eval.metrics import evaluate
from ragline.eval.runner import collapse_to_documents
from ragline.query.prf import PRFKeywordExpander
from ragline.query.vector_prf import rocchio
from ragline.retrieval.fusion import reciprocal_rank_fusion, zscore_fusion_many

N = 300  # candidates per list (the evaluator fetches 1,200: its 300 chunks x candidate_multiplier 4)


@dataclass
class Cache:
    chunk_ids: list[str]
    doc_of: np.ndarray  # chunk row -> doc id (object array)
    vectors: np.ndarray  # (chunks, dim), unit length
    qids: list[str]
    qvecs: np.ndarray  # (queries, dim)
    bm25: list[dict[str, float]]  # per query: chunk id -> BM25 score
    rm3: list[dict[str, float]]
    qrels: dict[str, dict[str, int]]
    row: dict[str, int] | None = None
    texts: list[str] | None = None  # the query texts, in qids order


def build_cache(engine: Engine, path: Path, split: str, out: Path) -> Cache | None:
    if out.exists():
        with out.open("rb") as f:
            cached: Cache = pickle.load(f)  # our own cache file, written below
            return cached
    ds = load_beir(path, split)
    name = f"beir-{ds.name}"
    if name not in engine.collections():
        print(f"skip {path}:{split}: collection {name} not found; run `ragline eval beir {path}` first")
        return None
    store = engine.store(name, must_exist=True)
    t = store.chunks_table.to_arrow().select(["id", "doc_id", "vector"])
    vectors = np.asarray(t.column("vector").combine_chunks().flatten().to_numpy(), dtype=np.float32)
    vectors = vectors.reshape(t.num_rows, -1)
    qids = [q for q in ds.queries if q in ds.qrels]
    emb = engine.embedder_for(name)
    qvecs = np.asarray([emb.embed_query(ds.queries[q]) for q in qids], dtype=np.float32)
    expander = PRFKeywordExpander(store, fb_docs=10, fb_terms=10, original_weight=0.5)
    bm25, rm3 = [], []
    for i, q in enumerate(qids):
        text = ds.queries[q]
        bm25.append({c.chunk_id: c.score for c in store.keyword_candidates(text, N)})
        rm3.append({c.chunk_id: c.score for c in store.keyword_candidates(expander.run(text, None), N)})
        if i % 100 == 0:
            print(f"  {ds.name}:{split} keyword {i}/{len(qids)}", flush=True)
    cache = Cache(
        chunk_ids=t.column("id").to_pylist(),
        doc_of=np.asarray(t.column("doc_id").to_pylist(), dtype=object),
        vectors=vectors,
        qids=qids,
        qvecs=qvecs,
        bm25=bm25,
        rm3=rm3,
        qrels={q: ds.qrels[q] for q in qids},
        texts=[ds.queries[q] for q in qids],
    )
    with out.open("wb") as f:
        pickle.dump(cache, f)
    return cache


def dense_top(cache: Cache, qv: np.ndarray, n: int = N) -> dict[str, float]:
    """Exact top-``n`` chunks by cosine (vectors are unit length), best first."""
    sims = cache.vectors @ qv
    idx = np.argpartition(-sims, n)[:n]
    idx = idx[np.argsort(-sims[idx])]
    return {cache.chunk_ids[i]: float(sims[i]) for i in idx}


def fused(lists: list[dict[str, float]], weights: list[float], how: str = "zscore") -> list[str]:
    """ragline's own fusion functions, so the lab measures the engine's arithmetic."""
    if how == "rrf":
        return [c for c, _ in reciprocal_rank_fusion([list(x) for x in lists], k=60)]
    return [c for c, _ in zscore_fusion_many(lists, weights)]


def to_docs(cache: Cache, scores: dict[str, float]) -> dict[str, float]:
    """Chunk scores -> document scores (each document's best chunk), for doc-level fusion."""
    out: dict[str, float] = {}
    for c, s in scores.items():
        d = cache.doc_of[cache.row[c]]
        out[d] = max(s, out.get(d, -np.inf))
    return out


def mean_ndcg(cache: Cache, rankings: list[list[str]], chunks: bool = True) -> float:
    """Mean nDCG@10; chunk rankings are collapsed to documents at their best rank first."""
    run = {}
    for q, ranked in zip(cache.qids, rankings, strict=True):
        docs = [cache.doc_of[cache.row[c]] for c in ranked] if chunks else ranked
        run[q] = collapse_to_documents([d for d in docs if d != q])
    return evaluate(run, cache.qrels, ignore_identical_ids=True).ndcg_at_10


def run_variants(cache: Cache, label: str) -> None:
    cache.row = {c: i for i, c in enumerate(cache.chunk_ids)}
    nq = len(cache.qids)
    dense = [dense_top(cache, cache.qvecs[i]) for i in range(nq)]
    bm25, rm3 = cache.bm25, cache.rm3
    first = [fused([dense[i], bm25[i]], [0.5, 0.5]) for i in range(nq)]

    def moved(k: int, beta: float) -> list[dict[str, float]]:
        """Dense search again from the query moved towards the fused first pass's top k."""
        out = []
        for i in range(nq):
            fb = cache.vectors[[cache.row[c] for c in first[i][:k]]]
            out.append(dense_top(cache, rocchio(cache.qvecs[i], fb, beta)))
        return out

    def show(name: str, rankings: list[list[str]], chunks: bool = True) -> None:
        print(f"  {name:58s} {mean_ndcg(cache, rankings, chunks):.4f}", flush=True)

    def each(
        lists: list[list[dict[str, float]]], weights: list[float], how: str = "zscore"
    ) -> list[list[str]]:
        return [fused([lst[i] for lst in lists], weights, how) for i in range(nq)]

    print(f"\n{label} ({nq} queries, {N} candidates per list)")
    show("dense only", [list(d) for d in dense])
    show("BM25 only", [list(k) for k in bm25])
    show("RRF k=60 (dense, BM25)", each([dense, bm25], [1, 1], "rrf"))
    show("z-score (dense, BM25)", first)
    show("z-score (dense, BM25 + RM3 replacing BM25)", each([dense, rm3], [0.5, 0.5]))
    for k in (3, 5, 10):
        for beta in (0.5, 1.0, 2.0):
            show(
                f"z-score (Rocchio k={k} beta={beta} replacing dense, BM25)",
                each([moved(k, beta), bm25], [0.5, 0.5]),
            )
    rocchio5 = moved(5, 1.0)
    show("z-score (dense, Rocchio, BM25), 1/4 1/4 1/2", each([dense, rocchio5, bm25], [0.25, 0.25, 0.5]))
    show("z-score (dense, BM25, RM3), 1/2 1/4 1/4", each([dense, bm25, rm3], [0.5, 0.25, 0.25]))
    four = [dense, rocchio5, bm25, rm3]
    show("z-score (dense, Rocchio, BM25, RM3), 1/4 each  <- default", each(four, [0.25] * 4))
    for w in ([0.3, 0.2, 0.3, 0.2], [0.2, 0.3, 0.3, 0.2], [0.3, 0.3, 0.2, 0.2], [0.25, 0.25, 0.3, 0.2]):
        show(f"z-score (dense, Rocchio, BM25, RM3), {w}", each(four, w))
    show("RRF (dense, Rocchio, BM25, RM3)", each(four, [1] * 4, "rrf"))
    docs = [[to_docs(cache, x[i]) for i in range(nq)] for x in four]
    show("z-score over documents (dense, BM25)", each([docs[0], docs[2]], [0.5, 0.5]), chunks=False)
    show("z-score over documents (dense, Rocchio, BM25, RM3)", each(docs, [0.25] * 4), chunks=False)


def main(argv: list[str] | None = None) -> int:
    ap = lab_parser(__doc__, Path("/tmp/fusion_lab"))
    args = ap.parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    engine = ragline.open()
    for path, split in dataset_splits(args.datasets):
        cache = build_cache(engine, path, split, args.cache_dir / f"{path.name}-{split}.pkl")
        if cache is None:
            continue
        run_variants(cache, f"{path.name}:{split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
