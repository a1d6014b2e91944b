"""Retrieval settings compared through the real pipeline (``run_beir``, as ``ragline eval beir``
runs it) on a tuning split: what the lab scripts pick is confirmed here before it is frozen.

Each variant is a JSON object of retrieval settings on top of the configured ones::

    RAGLINE_DATA_DIR=/tmp/evaldata .venv/bin/python bench/pipeline_variants.py \\
        ../shared/datasets/scifact:train ../shared/datasets/nfcorpus:dev \\
        --variant 'previous={"sentences": false, "prf_max_terms": null, "dense_prf_max_terms": null}' \\
        --variant 'configured={}'

The collections are the ones ``ragline eval beir`` builds (``beir-<dataset>``); absent datasets
or collections are skipped with a message. Use the train/dev splits; test is measured once, with
the settings frozen, by ``ragline eval ablate``.
"""

from __future__ import annotations

import argparse
import sys

from benchlib import dataset_splits, parse_variants
from pydantic import ValidationError

import ragline
from ragline.eval.runner import run_beir
from ragline.settings import RetrievalSettings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="+", help="DATASET_DIR:SPLIT")
    ap.add_argument("--variant", action="append", default=[], help='NAME={"setting": value, ...}')
    args = ap.parse_args(argv)
    engine = ragline.open()
    variants: list[tuple[str, RetrievalSettings]] = []
    for name, updates in parse_variants(ap, args.variant):
        try:
            # Validated like a config file: an unknown or mistyped setting is an error, not ignored.
            settings = engine.settings.retrieval.overridden(RetrievalSettings(**updates))
        except ValidationError as e:
            ap.error(f"--variant {name!r}: {e}")
        variants.append((name, settings))
    print("| dataset:split | variant | nDCG@10 | Recall@100 | p50 ms (300-deep) |\n|---|---|---:|---:|---:|")
    for path, split in dataset_splits(args.datasets):
        if f"beir-{path.name}" not in engine.collections():
            print(f"skip {path}: collection beir-{path.name} not found; run `ragline eval beir {path}` first")
            continue
        for name, settings in variants:
            r = run_beir(engine, path, split=split, retrieval=settings)
            m = r.metrics
            print(
                f"| {path.name}:{split} | {name} | {m['ndcg@10']:.4f} | {m['recall@100']:.4f} "
                f"| {r.search_p50_ms:.1f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
