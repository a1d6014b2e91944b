"""Token-state lab: how far stored token states can be compressed before late interaction loses,
and which weight and depth to interpolate at. Tuning splits only (SciFact train, NFCorpus dev).

For every query, the configured pipeline's first 50 hits (with late interaction off) and the
packaged model's token matrices of those passages are cached once; then each storage form (float32,
float16, int8 per token, PCA to 128-32 dimensions with int8, one bit per dimension) is applied to
the passage matrices, and the first ``depth`` hits are ranked by
``(1 - lam) * z(fused) + lam * z(MaxSim)``; deeper hits keep their order.

    RAGLINE_DATA_DIR=/tmp/evaldata .venv/bin/python bench/token_state_lab.py \\
        ../shared/datasets/nfcorpus:dev ../shared/datasets/scifact:train
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from benchlib import lab_collections, lab_parser

import ragline
from ragline.embedding.tokens import pack_tokens, unpack_tokens
from ragline.eval.metrics import evaluate
from ragline.eval.runner import collapse_to_documents
from ragline.rerank.late_interaction import maxsim_batch, standardize
from ragline.settings import RetrievalSettings

DEPTH = 50
Matrix = np.ndarray
Row = tuple[str, list[str], list[str], list[float]]  # qid, doc ids, head chunk ids, fused head


def storage_forms(sample: Matrix) -> dict[str, tuple[Callable[[Matrix], Matrix], Callable[[Matrix], Matrix]]]:
    """name -> (passage transform, query transform); PCA is fitted on ``sample`` token rows."""
    _, _, vt = np.linalg.svd(sample - sample.mean(0), full_matrices=False)

    def int8(m: Matrix) -> Matrix:
        return unpack_tokens(pack_tokens(m), m.shape[1])

    def pca(k: int) -> tuple[Callable[[Matrix], Matrix], Callable[[Matrix], Matrix]]:
        p = vt[:k].T
        return (lambda m: int8(m @ p)), (lambda q: q @ p)

    same = lambda q: q  # noqa: E731
    return {
        "float32": (lambda m: m, same),
        "float16": (lambda m: m.astype(np.float16).astype(np.float32), same),
        "int8 per token": (int8, same),
        **{f"PCA {k} + int8": pca(k) for k in (128, 96, 64, 32)},
        "1 bit per dimension": ((lambda m: np.sign(m) / np.sqrt(m.shape[1])), same),
    }


def main(argv: list[str] | None = None) -> int:
    ap = lab_parser(__doc__, Path("/tmp/token_state_lab"))
    args = ap.parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    eng = ragline.open()
    for ds, split, name in lab_collections(eng, args.datasets):
        out = args.cache_dir / f"{ds.name}-{split}.pkl"
        if out.exists():
            with out.open("rb") as f:
                rows, tokens, qtokens = pickle.load(f)  # our own cache file, written below
        else:
            r = eng.settings.retrieval.overridden(RetrievalSettings(rerank={"stages": []}))
            retriever = eng.retriever("hybrid", name, r)
            model = eng.embedder.inner
            rows, texts = [], {}
            queries = [(q, t) for q, t in ds.queries.items() if q in ds.qrels]
            for qid, text in queries:
                hits = retriever.run(text, 300)
                texts.update({h.chunk.id: h.chunk.embed_text for h in hits[:DEPTH]})
                rows.append(
                    (
                        qid,
                        [h.chunk.doc_id for h in hits],
                        [h.chunk.id for h in hits[:DEPTH]],
                        [h.score for h in hits[:DEPTH]],
                    )
                )
            qtokens = dict(
                zip([q for q, _ in queries], model.embed_with_tokens([t for _, t in queries])[1], strict=True)
            )
            ids = list(texts)
            print(f"{ds.name}:{split}: encoding {len(ids)} passages", flush=True)
            tokens = dict(zip(ids, model.embed_with_tokens([texts[i] for i in ids])[1], strict=True))
            with out.open("wb") as f:
                pickle.dump((rows, tokens, qtokens), f, protocol=5)
        qrels = {q: ds.qrels[q] for q, *_ in rows}
        every = np.concatenate(list(tokens.values()))
        sample = every[np.random.default_rng(0).choice(len(every), min(200_000, len(every)), replace=False)]
        print(f"\n{ds.name}:{split} (nDCG@10 by storage form, depth/lam)")
        for form, (doc_f, query_f) in storage_forms(sample).items():
            stored = {k: doc_f(v).astype(np.float32) for k, v in tokens.items()}
            late = {
                qid: maxsim_batch(query_f(qtokens[qid]).astype(np.float32), [stored[c] for c in cids])
                for qid, _, cids, _ in rows
            }
            cells = []
            for depth in (20, 30, 50):
                for lam in (0.3, 0.4, 0.5, 1.0):
                    run = {}
                    for qid, docs, _, fused in rows:
                        mixed = (1 - lam) * standardize(fused[:depth]) + lam * standardize(late[qid][:depth])
                        order = np.argsort(-mixed, kind="stable")
                        ranked = [docs[j] for j in order] + docs[depth:]
                        run[qid] = collapse_to_documents([d for d in ranked if d != qid])
                    ndcg = evaluate(run, qrels, ignore_identical_ids=True).ndcg_at_10
                    cells.append(f"{depth}/{lam}: {ndcg:.4f}")
            print(f"  {form:20s} " + "  ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
