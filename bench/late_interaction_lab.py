"""Late-interaction lab: MaxSim over the first 30 hits of the configured pipeline, interpolated with
the fused score. Tuning splits only (SciFact train, NFCorpus dev).

For every query, the configured retriever's hits and the late-interaction (MaxSim) scores of its
first 30 are cached once (the model runs at query time: ~1 s a query here), then each weight
``lam`` ranks those 30 by ``(1 - lam) * z(fused) + lam * z(MaxSim)``; deeper hits keep their order.

    RAGLINE_DATA_DIR=/tmp/evaldata .venv/bin/python bench/late_interaction_lab.py \\
        ../shared/datasets/nfcorpus:dev ../shared/datasets/scifact:train
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
from benchlib import lab_collections, lab_parser

import ragline
from ragline.eval.metrics import evaluate
from ragline.eval.runner import collapse_to_documents
from ragline.settings import RetrievalSettings

DEPTH = 30
Row = tuple[str, list[str], list[float], list[float]]  # qid, doc ids, fused head, MaxSim head


def z(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return (a - a.mean()) / (a.std() or 1.0)


def main(argv: list[str] | None = None) -> int:
    ap = lab_parser(__doc__, Path("/tmp/late_interaction_lab"))
    args = ap.parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    eng = ragline.open()
    for ds, split, name in lab_collections(eng, args.datasets):
        out = args.cache_dir / f"{ds.name}-{split}.pkl"
        rows: list[Row]
        if out.exists():
            with out.open("rb") as f:
                rows = pickle.load(f)  # our own cache file, written below
        else:
            # The pipeline before late interaction joined the default (its first 30 hits are reranked here).
            r = eng.settings.retrieval.overridden(RetrievalSettings(rerank={"stages": []}))
            retriever = eng.retriever("hybrid", name, r)
            late = r.overridden(RetrievalSettings(rerank={"stages": ["late-interaction"]}))
            reranker = eng.rerankers(late)[0]
            rows = []
            queries = [(q, t) for q, t in ds.queries.items() if q in ds.qrels]
            for i, (qid, text) in enumerate(queries):
                hits = retriever.run(text, 300)
                head = hits[:DEPTH]
                maxsim = reranker.scores(text, head)  # type: ignore[attr-defined]
                rows.append((qid, [h.chunk.doc_id for h in hits], [h.score for h in head], maxsim))
                if i % 50 == 0:
                    print(f"  {ds.name}:{split} {i}/{len(queries)}", flush=True)
            with out.open("wb") as f:
                pickle.dump(rows, f)
        qrels = {q: ds.qrels[q] for q, *_ in rows}
        print(f"\n{ds.name}:{split} (nDCG@10; lam 0 is the configured pipeline, 1 is MaxSim alone)")
        for lam in (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0):
            run = {}
            for qid, docs, fused, maxsim in rows:
                order = np.argsort(-((1 - lam) * z(fused) + lam * z(maxsim)), kind="stable")
                ranked = [docs[j] for j in order] + docs[DEPTH:]
                run[qid] = collapse_to_documents([d for d in ranked if d != qid])
            print(
                f"  lam {lam:.1f}: {evaluate(run, qrels, ignore_identical_ids=True).ndcg_at_10:.4f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
