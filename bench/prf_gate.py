"""Selective RM3: expand only short keyword queries, and pick the length cut-off on train/dev.

Expansion helps when a query is too short to name the vocabulary of the documents it wants, and
drifts a long, specific query towards its neighbours (Cronen-Townsend, Zhou & Croft, "A Framework
for Selective Query Expansion", CIKM 2004; Amati, Carpineto & Romano, ECIR 2004). Query length in
content terms is the cheapest predictor of that. This script searches every query once without
and once with RM3 (per fusion), keeps each query's nDCG@10, and prints the mean nDCG@10 of the
gated run for every cut-off: "expand when the query has at most N content terms".

Run it on the tuning splits only (SciFact train, NFCorpus dev); the chosen cut-off is then frozen
and measured once on test with ``ragline eval ablate``::

    .venv/bin/python bench/prf_gate.py ../shared/datasets/scifact:train ../shared/datasets/nfcorpus:dev \
        --out /tmp/prf_gate.json

Datasets that are absent are skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchlib import dataset_splits

import ragline
from ragline.engine import Engine
from ragline.eval.beir import BeirDataset, load_beir
from ragline.eval.metrics import evaluate
from ragline.eval.runner import run_beir
from ragline.settings import RetrievalSettings
from ragline.text.words import content_words

MAX_CUTOFF = 12


def per_query_ndcg(
    engine: Engine, path: Path, ds: BeirDataset, split: str, settings: RetrievalSettings
) -> dict[str, float]:
    result = run_beir(engine, path, split=split, retrieval=settings, mode="hybrid")
    qrels = {q: ds.qrels[q] for q in result.run if q in ds.qrels}
    report = evaluate(result.run, qrels, ignore_identical_ids=True)
    return {q: m["ndcg@10"] for q, m in report.per_query.items()}


def gated_means(base: dict[str, float], prf: dict[str, float], lengths: dict[str, int]) -> list[float]:
    """Mean nDCG@10 when queries with at most N content terms take the RM3 run, N = 0..MAX_CUTOFF."""
    out = []
    for cutoff in range(MAX_CUTOFF + 1):
        picked = [prf[q] if lengths[q] <= cutoff else base[q] for q in base]
        out.append(sum(picked) / len(picked))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="+", help="DATASET_DIR:SPLIT, e.g. ../shared/datasets/scifact:train")
    ap.add_argument("--fusion", action="append", choices=["rrf", "zscore"], help="default: both")
    ap.add_argument("--out", type=Path, help="write the per-query figures here as JSON")
    args = ap.parse_args(argv)
    engine = ragline.open()
    results: dict[str, dict[str, object]] = {}
    for path, split in dataset_splits(args.datasets):
        ds = load_beir(path, split)
        lengths = {q: len(content_words(t)) for q, t in ds.queries.items()}
        for fusion in args.fusion or ["rrf", "zscore"]:
            base_s = RetrievalSettings(fusion={"method": fusion})
            base = per_query_ndcg(engine, path, ds, split, base_s)
            rm3 = base_s.overridden(RetrievalSettings(feedback={"keyword": {"enabled": True}}))
            prf = per_query_ndcg(engine, path, ds, split, rm3)
            means = gated_means(base, prf, lengths)
            key = f"{ds.name}:{split}:{fusion}"
            used = {q: lengths[q] for q in base}
            results[key] = {"base": base, "prf": prf, "lengths": used, "gated": means}
            print(f"\n{key}  no RM3 {means[0]:.4f}  RM3 on all {sum(prf.values()) / len(prf):.4f}")
            for cutoff, m in enumerate(means):
                share = sum(1 for q in base if lengths[q] <= cutoff) / len(base)
                print(f"  expand if <= {cutoff:2d} terms ({share:5.1%} of queries): {m:.4f}")
            sys.stdout.flush()
    if args.out:
        args.out.write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
