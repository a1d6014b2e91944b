"""nDCG@10 of a built BEIR collection as it stands, after a no-op re-ingest, and after an optimise
(issue 26's acceptance: the answer must not depend on how often an unchanged collection was
ingested or optimised, and a run that changes nothing writes nothing).

The collection must exist (``ragline eval beir`` or ``bench/compact_collection.py`` built it);
each step reports nDCG@10 and whether any file of the data directory changed.

    RAGLINE_DATA_DIR=/tmp/compact-data .venv/bin/python bench/states_ndcg.py \\
        ../shared/datasets/scifact ../shared/datasets/nfcorpus [--split test] [--json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import print_result

import ragline
from ragline.eval.beir import load_beir
from ragline.eval.metrics import evaluate
from ragline.eval.runner import CHUNK_DEPTH, collapse_to_documents


def files(data: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(data)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in data.rglob("*")
        if p.is_file() and not p.name.endswith(".lock")
    }


def ndcg(engine: Any, ds: Any, collection: str) -> float:
    retriever = engine.retriever("hybrid", collection)
    run = {}
    for qid, text in ds.queries.items():
        if qid not in ds.qrels:
            continue
        ranked = [h.chunk.doc_id for h in retriever.run(text, CHUNK_DEPTH)]
        run[qid] = collapse_to_documents([d for d in ranked if d != qid])
    return round(evaluate(run, ds.qrels, ignore_identical_ids=True).ndcg_at_10, 4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--fresh-only", action="store_true", help="only the collection as it stands")
    args = ap.parse_args(argv)
    for path in args.datasets:
        ds = load_beir(path, args.split)
        name = f"beir-{ds.name}"
        engine = ragline.open()
        data = engine.settings.data_dir
        if name not in engine.collections():
            print(f"skip {path}: collection {name} not found in {data}")
            continue
        out: dict[str, Any] = {"dataset": ds.name, "split": args.split}
        out["date"] = time.strftime("%Y-%m-%d %H:%M")
        out["ndcg_fresh"] = ndcg(engine, ds, name)
        if args.fresh_only:
            print_result(out, args.json)
            continue
        before = files(data)
        report = engine.ingest([ds.corpus_path], collection=name, dedup=False)
        out["reingest_embedded"] = report.chunks_embedded
        out["reingest_wrote_files"] = files(data) != before
        out["ndcg_after_noop_reingest"] = ndcg(engine, ds, name)
        before = files(data)
        store = engine.store(name)
        store.finalize()
        store.chunks_table.optimize()  # type: ignore[attr-defined]
        out["optimize_wrote_files"] = files(data) != before
        out["ndcg_after_optimize"] = ndcg(ragline.open(), ds, name)  # a new engine, as a new process
        print_result(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
