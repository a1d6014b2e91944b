"""ANN index build time against recall, for the HNSW build beam width (``store.ann_ef_construction``).

Builds the store's vector index (IVF_HNSW_SQ, as ``LanceStore.finalize`` does above the ANN
threshold) over clustered synthetic 384-d vectors for each ``ef_construction`` value, then
measures recall@10 of the store's dense search against exact search (numpy over all vectors)
and the dense search p50. Queries are stored vectors plus small noise: the only queries with
meaningful neighbours among synthetic vectors. Texts are one word per chunk so the full-text
index costs nothing; the timing is the vector index.

    .venv/bin/python bench/ann_build.py --chunks 100000 --ef-construction 300,150,100
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

from ragline.store.base import SourceBatch  # noqa: E402
from ragline.store.lance import LanceStore  # noqa: E402
from ragline.types import Chunk  # noqa: E402

DIM = 384


def vectors(n: int, seed: int = 0) -> np.ndarray:
    """256 Gaussian centres plus noise, L2-normalised (plain random vectors defeat any ANN index)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(256, DIM))
    out = np.empty((n, DIM), np.float32)
    for b in range(0, n, 50_000):
        m = min(50_000, n - b)
        v = centers[rng.integers(0, 256, m)] + 0.6 * rng.normal(size=(m, DIM))
        out[b : b + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def build(root: Path, vecs: np.ndarray, ef_construction: int) -> tuple[LanceStore, float, float]:
    store = LanceStore(root, dimension=DIM, model_id="bench-synthetic", ann_ef_construction=ef_construction)
    t0 = time.perf_counter()
    step = 50_000
    for b in range(0, len(vecs), step):
        chunks = [
            Chunk(id=f"c{i}", doc_id=f"c{i}", text="w", position=0, start=0, end=1, source=f"/s/{b}")
            for i in range(b, min(b + step, len(vecs)))
        ]
        store.upsert([SourceBatch(f"/s/{b}", "h", chunks, vecs[b : b + step])])
    t1 = time.perf_counter()
    store.finalize()
    return store, t1 - t0, time.perf_counter() - t1


def measure(store: LanceStore, vecs: np.ndarray, n_queries: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    idx = rng.choice(len(vecs), size=n_queries, replace=False)
    recalls, times = [], []
    for i in idx:
        q = vecs[i] + 0.05 * rng.normal(size=DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        exact = {f"c{j}" for j in np.argpartition(-(vecs @ q), 10)[:10]}
        t0 = time.perf_counter()
        got = {c.id for c in store.fetch_chunks(store.dense_candidates(q, 10))}
        times.append(time.perf_counter() - t0)
        recalls.append(len(exact & got) / 10)
    return {
        "recall@10": round(float(np.mean(recalls)), 4),
        "dense_p50_ms": round(float(np.percentile(np.asarray(times) * 1000, 50)), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--ef-construction", default="300,150,100")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--out", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args()
    try:
        efs = [int(x) for x in args.ef_construction.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--ef-construction {args.ef_construction!r}: give comma-separated integers, e.g. 300,100")
    vecs = vectors(args.chunks)
    rows = []
    print("| chunks | ef_construction | insert (s) | index build (s) | recall@10 | dense p50 (ms) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for ef in efs:
        root = Path(tempfile.mkdtemp(prefix="ragline-annbuild-"))
        try:
            store, insert_s, build_s = build(root, vecs, ef)
            m = measure(store, vecs, args.queries)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        row = {
            "chunks": args.chunks,
            "ef_construction": ef,
            "insert_s": round(insert_s, 1),
            "build_s": round(build_s, 1),
            **m,
        }
        rows.append(row)
        print(
            f"| {args.chunks:,} | {ef} | {row['insert_s']} | {row['build_s']} | {m['recall@10']} | "
            f"{m['dense_p50_ms']} |",
            flush=True,
        )
    if args.out:
        args.out.write_text(
            json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
