"""Time and size of `ragline export` and `ragline import` on a synthetic LanceDB collection.

Builds a collection of N chunks straight through the store (random unit vectors of the default
model's dimension, 3 sentence vectors and T packed token states per chunk, 20 chunks a source,
two metadata fields), so nothing is embedded, then times ``engine.export_collection`` and
``engine.import_collection`` into a fresh data directory, and reports the export's size next to
the collection's size on disk and the process's peak resident memory.

    .venv/bin/python bench/export.py [--chunks 5000] [--tokens 64] [--json]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from benchlib import print_result  # noqa: E402

import ragline  # noqa: E402
from ragline.store.base import SourceBatch  # noqa: E402
from ragline.types import Chunk  # noqa: E402


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    v = rng.normal(size=shape).astype(np.float32)
    out: np.ndarray = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=5000)
    ap.add_argument("--tokens", type=int, default=64, help="token states per chunk")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    work = Path(tempfile.mkdtemp(prefix="ragline-export-bench-"))
    try:
        engine = ragline.open(work / "a")
        dim = engine.embedder.dimension
        store = engine.store("bench")
        batches = []
        for s in range(0, args.chunks, 20):
            n = min(20, args.chunks - s)
            chunks = [
                Chunk(
                    id=f"c{s + i}",
                    doc_id=f"d{(s + i) // 4}",
                    text=" ".join(f"w{rng.integers(0, 5000)}" for _ in range(120)),
                    position=(s + i) % 4,
                    start=0,
                    end=10,
                    metadata={"year": int(rng.integers(2000, 2025)), "kind": "memo"},
                    source=f"/src/{s // 20}.md",
                )
                for i in range(n)
            ]
            batches.append(
                SourceBatch(
                    f"/src/{s // 20}.md",
                    "h",
                    chunks,
                    _unit(rng, (n, dim)),
                    sentence_vectors=list(_unit(rng, (n, 3, dim))),
                    token_states=list(_unit(rng, (n, args.tokens, dim))),
                )
            )
            if len(batches) == 50:
                store.upsert(batches)
                batches = []
        store.upsert(batches)
        store.finalize()
        t0 = time.perf_counter()
        report = engine.export_collection("bench", work / "export")
        t_export = time.perf_counter() - t0
        other = ragline.open(work / "b")
        t0 = time.perf_counter()
        imported = other.import_collection(work / "export")
        t_import = time.perf_counter() - t0
        assert imported.counts == report.counts
        out = {
            "chunks": report.counts.chunks,
            "dimension": dim,
            "tokens_per_chunk": args.tokens,
            "collection_mb": round(_size(engine.collection_path("bench")) / 1e6, 1),
            "export_mb": round(_size(work / "export") / 1e6, 1),
            "export_s": round(t_export, 2),
            "import_s": round(t_import, 2),
            "export_chunks_per_s": round(report.counts.chunks / t_export),
            "import_chunks_per_s": round(report.counts.chunks / t_import),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        print_result(out, args.json)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
