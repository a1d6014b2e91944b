"""The full default's nDCG@10 with its searches forced onto ANN indexes, against exact search.

The BEIR collections are below ``store.ann_threshold`` and searched exactly in memory, so changes
to the ANN path (above the threshold: 100k chunks and more) are checked here on copies indexed as
a large collection would be: ``--build DIR`` runs ``finalize`` with ``store.ann_threshold`` at
``--ann-threshold`` (and ``store.sentence_index``) on every collection of ``DIR`` (a COPY: it
writes indexes). Each
``--variant LABEL DATA_DIR SETTINGS_JSON`` then gives nDCG@10 at the evaluation depth (300 chunks,
as ``ragline eval beir``) and at the interactive one (top 10 chunks), and how many queries have the
first variant's top-10 chunk ids.

    cp -r /tmp/compact-data /tmp/x/exact && cp -r /tmp/compact-data /tmp/x/ann
    .venv/bin/python bench/ann_sentences.py --build /tmp/x/ann ../shared/datasets/scifact:train \\
        ../shared/datasets/nfcorpus:dev --variant exact /tmp/x/exact '{}' \\
        --variant index /tmp/x/ann '{"retrieval": {"sentence_search": "index"}}' \\
        --variant candidates /tmp/x/ann '{"retrieval": {"sentence_search": "candidates"}}'

Tuning splits only (SciFact train, NFCorpus dev): never test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import ragline
from ragline.eval.beir import load_beir
from ragline.eval.metrics import evaluate
from ragline.eval.runner import CHUNK_DEPTH, collapse_to_documents


def build(data: Path, threshold: int) -> None:
    # With the sentence index too, so that ``sentence_search = "index"`` can be compared.
    engine = ragline.open(data, store={"ann_threshold": threshold, "sentence_index": True})
    for name in engine.collections():
        t0 = time.perf_counter()
        engine.store(name).finalize()
        print(f"indexed {name} in {time.perf_counter() - t0:.0f}s", file=sys.stderr)


def run(
    engine: Any, ds: Any, collection: str, depth: int
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Each judged query's documents (collapsed from ``depth`` chunks) and top-10 chunk ids."""
    retriever = engine.retriever("hybrid", collection)
    docs, top = {}, {}
    for qid, text in ds.queries.items():
        if qid not in ds.qrels:
            continue
        hits = retriever.run(text, depth)
        docs[qid] = collapse_to_documents([h.chunk.doc_id for h in hits if h.chunk.doc_id != qid])
        top[qid] = [h.chunk.id for h in hits[:10]]
    return docs, top


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="+", help="DIR:SPLIT (train or dev only)")
    ap.add_argument("--build", type=Path, help="index every collection of this data dir (a copy)")
    ap.add_argument("--ann-threshold", type=int, default=256)
    ap.add_argument("--variant", nargs=3, action="append", default=[], metavar=("LABEL", "DATA_DIR", "JSON"))
    ap.add_argument("--depths", default=f"{CHUNK_DEPTH},10")
    args = ap.parse_args(argv)
    if args.build:
        build(args.build, args.ann_threshold)
    depths = [int(d) for d in args.depths.split(",")]
    print(
        "| dataset | variant | "
        + " | ".join(f"nDCG@10 (depth {d})" for d in depths)
        + " | same top-10 | load |"
    )
    print("|---|---|" + "---:|" * (len(depths) + 2))
    for spec in args.datasets:
        path, _, split = spec.partition(":")
        if split not in ("train", "dev"):
            ap.error(f"{spec}: name a tuning split (train or dev), never test")
        ds = load_beir(Path(path), split)
        collection = f"beir-{ds.name}"
        first: dict[str, list[str]] | None = None
        for label, data, body in args.variant:
            # Once a collection has its indexes it is searched through them whatever the threshold.
            engine = ragline.open(Path(data), **json.loads(body))
            cells, same = [], ""
            for depth in depths:
                docs, top = run(engine, ds, collection, depth)
                cells.append(f"{evaluate(docs, ds.qrels, ignore_identical_ids=True).ndcg_at_10:.4f}")
                if depth == 10:
                    if first is None:
                        first = top
                    same = f"{sum(top[q] == first[q] for q in top)}/{len(top)}"
            row = f"| {ds.name} {split} | {label} | " + " | ".join(cells)
            print(f"{row} | {same} | {os.getloadavg()[0]:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
