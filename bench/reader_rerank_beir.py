"""The extractive reader as a passage reranker on a BEIR dataset (issue 23, build 2).

The reader was trained on SQuAD answer units: does its answer head ("this text answers the
question") also rank whole retrieved documents? Out of domain on BEIR (scientific claims on
SciFact), so report either way. For each query the default retriever's top ``--depth`` documents
(first hit per document) are read by the reader (title + text, windows of its ``max_seq``); a
document's reader score is the answer logit of its best window. Compared by nDCG@10 and
recall@10 on the tuning splits only (SciFact ``train``; never ``test``):

- ``retriever``: the collection's default ranking;
- ``reader``: the top ``--depth`` reordered by the reader's logit alone;
- ``rrf``: reciprocal-rank fusion of the two (k = 60), so the reader only moves near ties.

The collection must already hold the corpus (copy a prebuilt one; this script never ingests)::

    mkdir -p /tmp/rr/collections && cp -a /work/evalbase/collections/beir-scifact /tmp/rr/collections/
    PYTHONPATH=src .venv/bin/python bench/reader_rerank_beir.py ../shared/datasets/scifact \
        --split train --data-dir /tmp/rr --limit 150
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import ragline
from ragline.eval.beir import load_beir
from ragline.eval.metrics import evaluate
from ragline.generation.reader import OnnxReader, packaged_reader_dir

RRF_K = 60


def rrf(*rankings: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for ranking in rankings:
        for r, doc in enumerate(ranking):
            out[doc] = out.get(doc, 0.0) + 1.0 / (RRF_K + r + 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="train")
    ap.add_argument("--data-dir", type=Path, required=True, help="holds collections/beir-<dataset>")
    ap.add_argument("--reader", type=Path, default=packaged_reader_dir())
    ap.add_argument("--depth", type=int, default=20, help="documents reranked per query")
    ap.add_argument("--limit", type=int, default=150, help="queries (the first N of the split)")
    args = ap.parse_args()
    if args.split == "test":
        sys.exit("the test split is kept for the final measurement; use train or dev")
    ds = load_beir(args.dataset, args.split)
    corpus = {}
    with ds.corpus_path.open(encoding="utf-8") as fh:
        for line in fh:
            o = json.loads(line)
            corpus[str(o["_id"])] = (f"{o.get('title', '')}: " if o.get("title") else "") + o["text"]
    engine = ragline.open(args.data_dir)
    retriever = engine.retriever(None, f"beir-{ds.name}")
    reader = OnnxReader(args.reader, threads=2)
    runs: dict[str, dict[str, dict[str, float]]] = {"retriever": {}, "reader": {}, "rrf": {}}
    queries = list(ds.queries.items())[: args.limit]
    t0 = time.perf_counter()
    for qid, text in queries:
        ranked: list[str] = []
        for h in retriever.run(text, 100):
            if h.chunk.doc_id not in ranked and h.chunk.doc_id != qid:
                ranked.append(h.chunk.doc_id)
        head, tail = ranked[: args.depth], ranked[args.depth :]
        spans = reader.read(text, [corpus.get(d, "") for d in head])
        logits = {d: (s.logit if s is not None else -50.0) for d, s in zip(head, spans, strict=True)}
        by_reader = sorted(head, key=lambda d: -logits[d])
        # Documents below the depth keep their order after the reranked ones.
        below = {d: -1.0 - r for r, d in enumerate(tail)}
        runs["retriever"][qid] = {d: float(len(ranked) - r) for r, d in enumerate(ranked)}
        runs["reader"][qid] = {**{d: 100.0 + logits[d] for d in head}, **below}
        runs["rrf"][qid] = {**{d: 10.0 + v for d, v in rrf(head, by_reader).items()}, **below}
    dt = time.perf_counter() - t0
    qrels = {q: ds.qrels[q] for q, _ in queries if q in ds.qrels}
    per_query = dt / len(queries)
    print(f"{ds.name}:{args.split}, {len(queries)} queries, depth {args.depth}, {per_query:.2f} s/query")
    for name, run in runs.items():
        rep = evaluate(run, qrels, ignore_identical_ids=True)
        print(f"  {name:9s} nDCG@10 {rep.ndcg_at_10:.4f}  recall@10 {rep.recall_at_10:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
