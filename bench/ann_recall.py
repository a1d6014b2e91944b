"""ANN recall@10 on real embeddings: a copy of an ingested BEIR collection, indexed, vs exact search.

Ingest first (``ragline eval beir ../shared/datasets/scifact --data-dir /tmp/evaldata``), then:

    .venv/bin/python bench/ann_recall.py /tmp/evaldata/collections/beir-scifact \\
        ../shared/datasets/scifact/queries.jsonl

The copy is indexed the way ``LanceStore.finalize`` does it above the threshold, and searched
through ``LanceStore.dense_candidates`` (ef, all partitions probed, refine factor), against exact
search on the unindexed original. Queries are the dataset's questions embedded by the real model.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ragline.embedding.onnx import OnnxEmbedder  # noqa: E402
from ragline.settings import StoreSettings  # noqa: E402
from ragline.store.lance import LanceStore  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("collection", type=Path)
    ap.add_argument("queries", type=Path)
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--ef-construction", type=int, default=StoreSettings().ann_ef_construction)
    args = ap.parse_args()
    if not (args.collection / "collection.json").is_file() or not args.queries.is_file():
        print(f"skipped: need an ingested collection at {args.collection} and queries at {args.queries}")
        return 0
    meta = json.loads((args.collection / "collection.json").read_text())
    emb = OnnxEmbedder()
    lines = args.queries.read_text().splitlines()[: args.limit]
    qs = [emb.embed_query(json.loads(line)["text"]) for line in lines if line.strip()]
    exact_store = LanceStore(args.collection, meta["dimension"], meta["model_id"])
    exact = [{c.id for c in exact_store.fetch_chunks(exact_store.dense_candidates(q, 10))} for q in qs]
    copy = Path(tempfile.mkdtemp(prefix="ragline-ann-")) / "c"
    shutil.copytree(args.collection, copy)
    store = LanceStore(
        copy, meta["dimension"], meta["model_id"], ann_threshold=256, ann_ef_construction=args.ef_construction
    )
    t0 = time.perf_counter()
    store.finalize()
    build = time.perf_counter() - t0
    recalls, times = [], []
    for q, e in zip(qs, exact, strict=True):
        t1 = time.perf_counter()
        got = {c.id for c in store.fetch_chunks(store.dense_candidates(q, 10))}
        times.append(time.perf_counter() - t1)
        recalls.append(len(got & e) / 10)
    print(
        f"{store.stats().chunks} chunks, index {store.stats().vector_index} built in {build:.1f}s; "
        f"recall@10 {np.mean(recalls):.3f} over {len(qs)} queries; "
        f"search p50 {np.median(times) * 1000:.2f} ms"
    )
    shutil.rmtree(copy.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
