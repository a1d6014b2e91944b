"""Tune the extractive answerer on the SQuAD *calibration* split (articles with index % 4 in {0, 1}).

Two steps, both on questions the test split never sees:

1. Sentence weights: on the full index, grid-search the weights of similarity / coverage / rank
   and the relative cut-off; prints mean answer F1 and answer recall (the gold answer appears in
   the answer) for each, and the best per answer length.
2. Abstention: on the partial index (even articles only), take the best sentence's similarity and
   coverage for answerable and unanswerable questions, fit the logistic ConfidenceModel by Newton's
   method, and pick the threshold with the best abstention F1.

Usage::

    .venv/bin/python bench/tune_answerer.py --data-dir /tmp/qa-data --questions 600

It builds (or reuses) the same collections as ``ragline eval qa``. The printed values are what
``SentenceWeights``/``ConfidenceModel`` defaults and ``answer.abstain_threshold`` are set to.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from benchlib import auc, fit_logistic

import ragline
from ragline.eval.qa import FULL_COLLECTION, PARTIAL_COLLECTION, SEED, ensure_collections
from ragline.eval.squad import contains_answer, f1, in_partial_index, load_squad, sample_questions
from ragline.generation.extractive import ConfidenceModel, ExtractiveAnswerer, SentenceWeights

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "squad-v1.1-dev"


@dataclass
class Prepared:
    golds: tuple[str, ...]
    scored: list  # ScoredSentence, scored once; re-weighted per grid point
    vecs: np.ndarray
    ranks: list[int]


def contexts(engine, questions, collection):
    out = []
    for q in questions:
        hits = engine.retrieve_for_answer(q.text, collection=collection)
        out.append((q, engine.assemble(hits, collection=collection)))
    return out


def prepare(engine, asked, title_coverage):
    """Score every question once per title weight; the grid only re-weights the features."""
    w = SentenceWeights(title_coverage=title_coverage)
    ans = ExtractiveAnswerer(engine.extractive.embedder, abstain_threshold=0.0, weights=w)
    out = []
    for q, ctx in asked:
        scored, vecs = ans.score(q.text, ctx)
        out.append(
            Prepared(
                q.answers,
                scored,
                vecs,
                [ctx.passages[s.passage].rank for s in scored],
            )
        )
    return out


def evaluate(engine, prepared, weights, max_sentences):
    ans = ExtractiveAnswerer(engine.extractive.embedder, max_sentences=max_sentences, weights=weights)
    f1s, rec = [], []
    for p in prepared:
        if not p.scored:
            f1s.append(0.0)
            rec.append(False)
            continue
        rescored = [
            replace(
                s,
                score=weights.similarity * s.similarity
                + weights.coverage * s.coverage
                + weights.rank / (1.0 + math.log(r)),
            )
            for s, r in zip(p.scored, p.ranks, strict=True)
        ]
        order = sorted(range(len(rescored)), key=lambda j: -rescored[j].score)
        chosen = ans.select([rescored[j] for j in order], p.vecs[order])
        text = " ".join(s.text for s in chosen)
        f1s.append(f1(text, p.golds))
        rec.append(contains_answer(text, p.golds))
    return float(np.mean(f1s)), float(np.mean(rec))




def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/qa-data"))
    ap.add_argument("--dataset", type=Path, default=DATASET)
    ap.add_argument("--questions", type=int, default=600)
    args = ap.parse_args()
    if not (args.dataset / "corpus.jsonl").is_file():
        print(f"SQuAD dataset not found at {args.dataset}; skipping", file=sys.stderr)
        return 0
    engine = ragline.open(args.data_dir)
    ds = load_squad(args.dataset)
    ensure_collections(engine, ds)
    pool = ds.questions_in("calibration")

    # 1. sentence weights on the full index
    t = time.perf_counter()
    asked_full = contexts(engine, sample_questions(pool, args.questions, SEED + 1), FULL_COLLECTION)
    print(f"assembled {len(asked_full)} contexts in {time.perf_counter() - t:.0f} s")
    results = []
    for title in (0.25, 0.5, 1.0):
        prepared = prepare(engine, asked_full, title)
        grid = itertools.product(
            [0.4, 0.55, 0.7], [0.2, 0.35, 0.5], [0.0, 0.1, 0.2], [0.8, 0.9, 1.0], [1, 2, 3]
        )
        for sim, cov, rank, cut, k in grid:
            if k == 1 and cut != 1.0:
                continue
            w = SentenceWeights(
                similarity=sim, coverage=cov, rank=rank, title_coverage=title, relative_cutoff=cut
            )
            score, rec = evaluate(engine, prepared, w, k)
            results.append((score, rec, w, k))
    results.sort(key=lambda r: (r[0], r[1]), reverse=True)
    print("top sentence settings (f1, answer_recall, weights, max_sentences):")
    for r in results[:8]:
        print(f"  f1={r[0]:.4f} recall={r[1]:.4f} {r[2]} max_sentences={r[3]}")
    print("best per (max_sentences, relative_cutoff): the length trade-off")
    seen = set()
    for r in results:
        key = (r[3], r[2].relative_cutoff)
        if key not in seen:
            seen.add(key)
            print(f"  k={key[0]} cutoff={key[1]}: f1={r[0]:.4f} recall={r[1]:.4f} {r[2]}")
    # The confidence model is fitted for the shipped weights (chosen from the table above).
    best_w, best_k = SentenceWeights(), 3
    print(f"fitting abstention for the defaults: {best_w}, max_sentences={best_k}")

    # 2. abstention on the partial index
    answerable = [q for q in pool if in_partial_index(q.article)]
    unanswerable = [q for q in pool if not in_partial_index(q.article)]
    n = min(args.questions // 2, len(answerable), len(unanswerable))
    asked = [(q, 1) for q in sample_questions(answerable, n, SEED + 1)]
    asked += [(q, 0) for q in sample_questions(unanswerable, n, SEED + 1)]
    ans = ExtractiveAnswerer(
        engine.extractive.embedder, max_sentences=best_k, weights=best_w, abstain_threshold=0.0
    )
    feats, labels = [], []
    for q, label in asked:
        hits = engine.retrieve_for_answer(q.text, collection=PARTIAL_COLLECTION)
        ctx = engine.assemble(hits, collection=PARTIAL_COLLECTION)
        scored, _ = ans.score(q.text, ctx)
        feats.append([scored[0].similarity, scored[0].coverage] if scored else [0.0, 0.0])
        labels.append(label)
    x, y = np.array(feats), np.array(labels, dtype=float)
    w = fit_logistic(x, y, 1e-3, iterations=50)
    model = ConfidenceModel(bias=float(w[0]), w_similarity=float(w[1]), w_coverage=float(w[2]))
    conf = np.array([model(a, b) for a, b in x])
    print(f"\nconfidence model: {model}  AUC={auc(conf, y):.4f}")
    print(f"similarity alone: AUC={auc(x[:, 0], y):.4f}; coverage alone: AUC={auc(x[:, 1], y):.4f}")
    best = (0.0, 0.0, 0.0, 0.0)
    for thr in np.arange(0.0, 1.0001, 0.02):
        abst = conf < thr
        tp = float(np.sum(abst & (y == 0)))
        prec = tp / abst.sum() if abst.sum() else 0.0
        rec = tp / float(np.sum(y == 0))
        f = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        if f > best[0]:
            best = (f, float(thr), prec, rec)
    print(
        f"best threshold {best[1]:.2f}: abstention F1 {best[0]:.4f}, "
        f"precision {best[2]:.4f}, recall {best[3]:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
