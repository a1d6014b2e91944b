"""Tune how the extractive answerer uses the reader, on SQuAD's *calibration* split only.

1. Full index: for each question, the answerer's sentence scores pick candidate units; the reader
   reads the best K. Grid over K and the share of the sentence score in the rank
   (``ReaderMix.candidates``, ``ReaderMix.score``): how often the top unit holds a gold answer, and
   the F1 of its span (the short answer).
2. Partial index (even articles only; half the questions cannot be answered from it, and their
   wrong-article contexts share words with them: near misses): a logistic confidence over the
   chosen unit's reader logit, embedding similarity and coverage, fitted by Newton's method; the
   bias is shifted so that the best-F1 threshold lands on 0.5 (``answer.abstain_threshold``).
   With ``--mix default`` the features are the chosen unit's as the answerer ranks with the shipped
   ``ReaderMix`` (``reread``: the follow-on pairs, a unit read with the one after it, included).

    PYTHONPATH=src .venv/bin/python bench/tune_reader_mix.py --data-dir /tmp/reader-qa \
        --reader src/ragline/generation/models/reader --questions 300
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from benchlib import auc, fit_logistic

import ragline
from ragline.eval.qa import FULL_COLLECTION, PARTIAL_COLLECTION, SEED, ensure_collections
from ragline.eval.squad import contains_answer, f1, in_partial_index, load_squad, sample_questions
from ragline.generation.extractive import (
    ConfidenceModel,
    ExtractiveAnswerer,
    ReaderMix,
    _entry_evidence,
    _head,
)
from ragline.generation.reader import OnnxReader

DATASET = Path("/work/shared/datasets/squad-v1.1-dev")
MAX_K = 8


@dataclass
class Read:
    golds: tuple[str, ...]
    texts: list[str]
    old: np.ndarray  # sentence scores, best first
    sim: np.ndarray
    cov: np.ndarray
    logit: np.ndarray
    prob: np.ndarray
    spans: list[str]
    margin: np.ndarray
    # The chosen unit's [logit, margin, similarity, coverage] as the answerer ranks with the
    # shipped ReaderMix (its follow-on pairs included): what its confidence reads.
    shipped: list[float] | None = None


def read_all(engine, reader, answerer, questions, collection) -> list[Read]:
    out = []
    for q in questions:
        ctx = engine.assemble(
            engine.retrieve_for_answer(q.text, collection=collection), collection=collection
        )
        scored, vecs = answerer.score(q.text, ctx)
        top = scored[:MAX_K]
        if not top:
            out.append(Read(q.answers, [], *(np.zeros(0),) * 6, [], np.zeros(0)))  # type: ignore[arg-type]
            continue
        chosen = _entry_evidence(answerer.reread(q.text, ctx, scored, vecs)[0][0], scored)
        shipped = [
            max(-20.0, chosen.reader_logit if chosen.reader_logit is not None else -20.0),
            max(-20.0, chosen.reader_margin if chosen.reader_margin is not None else -20.0),
            chosen.similarity,
            chosen.coverage,
        ]
        heads = [_head(ctx.passages[s.passage].title) for s in top]
        spans = reader.read(q.text, [h + s.text for h, s in zip(heads, top, strict=True)])
        out.append(
            Read(
                q.answers,
                [s.text for s in top],
                np.array([s.score for s in top]),
                np.array([s.similarity for s in top]),
                np.array([s.coverage for s in top]),
                np.array([sp.logit if sp else -50.0 for sp in spans]),
                np.array([sp.probability if sp else 0.0 for sp in spans]),
                [sp.text if sp else "" for sp in spans],
                np.array([sp.margin if sp else -50.0 for sp in spans]),
                shipped,
            )
        )
    return out


def verdict(r: Read, k: int, signal: float) -> np.ndarray:
    """The reader's verdict per unit: ``signal`` of the answer head's probability, the rest the
    span head's (sigmoid of its margin over the no-answer span)."""
    m = 1 / (1 + np.exp(-np.clip(r.margin[:k], -50, 50)))
    return signal * r.prob[:k] + (1 - signal) * m


def choose(r: Read, k: int, mix: float, signal: float) -> int:
    k = min(k, len(r.texts))
    rank = verdict(r, k, signal) + mix * r.old[:k] / (r.old[0] or 1.0)
    return int(np.argmax(rank))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--reader", type=Path, required=True)
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument(
        "--mix",
        help="K,score,signal to fit the confidence for (default: the grid's best; "
        "'default' for ReaderMix's shipped values)",
    )
    args = ap.parse_args()
    engine = ragline.open(args.data_dir)
    ds = load_squad(DATASET)
    ensure_collections(engine, ds)
    reader = OnnxReader(args.reader, threads=2)
    answerer = ExtractiveAnswerer(engine.extractive.embedder, abstain_threshold=0.0, reader=reader)
    pool = ds.questions_in("calibration")
    t = time.perf_counter()
    full = read_all(
        engine, reader, answerer, sample_questions(pool, args.questions, SEED + 1), FULL_COLLECTION
    )
    print(f"read {len(full)} full-index questions in {time.perf_counter() - t:.0f} s")
    base = np.mean([bool(r.texts) and contains_answer(r.texts[0], r.golds) for r in full])
    print(f"sentence scores alone: top unit holds gold {base:.3f}")
    results = []
    for k, mix, signal in itertools.product([4, 6, 8], [0.0, 0.1, 0.25, 0.5, 1.0], [0.0, 0.5, 1.0]):
        hold, f1s = [], []
        for r in full:
            if not r.texts:
                hold.append(False)
                f1s.append(0.0)
                continue
            j = choose(r, k, mix, signal)
            hold.append(contains_answer(r.texts[j], r.golds))
            f1s.append(f1(r.spans[j], r.golds))
        results.append((float(np.mean(hold)), float(np.mean(f1s)), k, mix, signal))
    results.sort(reverse=True)
    for hold, sf1, k, mix, signal in results[:12]:
        print(f"  K={k} mix={mix} signal={signal}: top unit holds gold {hold:.3f}, span F1 {sf1:.3f}")
    _, _, k, mix, signal = results[0]
    shipped = ReaderMix()
    if args.mix == "default":
        k, mix, signal = shipped.candidates, shipped.score, shipped.signal
    elif args.mix:
        k_, mix_, signal_ = args.mix.split(",")
        k, mix, signal = int(k_), float(mix_), float(signal_)
    print(f"confidence fitted for K={k} mix={mix} signal={signal}")

    answerable = [q for q in pool if in_partial_index(q.article)]
    unanswerable = [q for q in pool if not in_partial_index(q.article)]
    n = min(args.questions // 2, len(answerable), len(unanswerable))
    asked = sample_questions(answerable, n, SEED + 1) + sample_questions(unanswerable, n, SEED + 1)
    labels = np.array([1.0] * n + [0.0] * n)
    part = read_all(engine, reader, answerer, asked, PARTIAL_COLLECTION)
    feats = []
    for r in part:
        if not r.texts:
            feats.append([-20.0, -20.0, 0.0, 0.0])
            continue
        if args.mix == "default" and r.shipped is not None:
            # The unit the answerer itself chooses (a follow-on pair among them).
            feats.append(r.shipped)
            continue
        j = choose(r, k, mix, signal)
        feats.append([max(-20.0, r.logit[j]), max(-20.0, r.margin[j]), r.sim[j], r.cov[j]])
    x = np.array(feats)
    for i, name in enumerate(["logit", "margin", "similarity", "coverage"]):
        print(f"  AUC {name} alone: {auc(x[:, i], labels):.3f}")
    w = fit_logistic(x, labels, 1e-3)
    z = np.hstack([np.ones((len(x), 1)), x]) @ w
    p = 1 / (1 + np.exp(-np.clip(z, -50, 50)))
    print(
        f"  fitted bias {w[0]:.3f} w_logit {w[1]:.3f} w_margin {w[2]:.3f} w_similarity {w[3]:.3f} "
        f"w_coverage {w[4]:.3f}; AUC {auc(p, labels):.3f}"
    )
    best = (0.0, 0.5, 0.0, 0.0)
    for t in np.arange(0.05, 0.96, 0.01):
        abst = p < t
        tp = float(np.sum(abst & (labels == 0)))
        prec = tp / max(1.0, float(abst.sum()))
        rec = tp / max(1.0, float((labels == 0).sum()))
        fs = 2 * prec * rec / max(1e-9, prec + rec)
        if fs > best[0]:
            best = (fs, float(t), prec, rec)
    fs, t, prec, rec = best
    # The shipped weights on the same features (is a refit needed for this model?), alone and
    # averaged with the sentence score's confidence as the answerer does.
    ws = np.array([shipped.bias, shipped.w_logit, shipped.w_margin, shipped.w_similarity, shipped.w_coverage])
    p_old = 1 / (1 + np.exp(-np.clip(np.hstack([np.ones((len(x), 1)), x]) @ ws, -50, 50)))
    p_new = 1 / (1 + np.exp(-np.clip(z - math.log(t / (1 - t)), -50, 50)))
    sent = np.array([ConfidenceModel()(float(row[2]), float(row[3])) for row in x])
    for name, conf in [("shipped", p_old), ("refit", p_new)]:
        for how, c in [("alone", conf), ("mean with sentence", 0.5 * (conf + sent))]:
            abst = c < 0.5
            tp = float(np.sum(abst & (labels == 0)))
            print(
                f"  {name} weights, {how}: AUC {auc(c, labels):.3f}; at 0.5 abstention "
                f"P {tp / max(1.0, float(abst.sum())):.3f} R {tp / max(1.0, float((labels == 0).sum())):.3f}"
            )
    # The answerer averages the reader's confidence with the sentence score's: the bias that puts
    # that mean's best-F1 threshold at 0.5 (ties: the smallest move).
    zz = np.hstack([np.ones((len(x), 1)), x]) @ w
    fits = []
    for d in np.arange(-3.0, 3.01, 0.05):
        mean = 0.5 * (1 / (1 + np.exp(-np.clip(zz + d, -50, 50))) + sent)
        abst = mean < 0.5
        tp = float(np.sum(abst & (labels == 0)))
        p_ = tp / max(1.0, float(abst.sum()))
        r_ = tp / max(1.0, float((labels == 0).sum()))
        fits.append((2 * p_ * r_ / max(1e-9, p_ + r_), -abs(d), d, p_, r_))
    mf, _, d, mp, mr = max(fits)
    print(f"  refit, mean with sentence: bias {w[0] + d:.3f} -> at 0.5 P {mp:.3f} R {mr:.3f} F1 {mf:.3f}")
    shift = math.log(t / (1 - t))
    print(
        f"  best threshold {t:.2f}: abstention P {prec:.3f} R {rec:.3f} F1 {fs:.3f}; "
        f"as ReaderMix(candidates={k}, score={mix}, signal={signal}, bias={w[0] - shift:.3f}, "
        f"w_logit={w[1]:.3f}, w_margin={w[2]:.3f}, w_similarity={w[3]:.3f}, w_coverage={w[4]:.3f}) "
        "at threshold 0.5"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
