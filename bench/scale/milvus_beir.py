"""nDCG@10 of the default pipeline on BEIR with the Milvus backend next to LanceDB, and its query
latency per query, without re-embedding anything.

A LanceDB BEIR collection built by ``ragline eval beir`` (e.g. /work/evalbase's prebuilt ones) is
copied to ``--work``, evaluated there (its ingest embeds nothing: vectors come from the copied cache,
and re-chunked chunks keep their token states), then copied chunk by
chunk through the store boundary (``LanceStore.export_batches`` -> ``MilvusStore.upsert``: the same
chunks, vectors, token states and source hash; Milvus keeps no sentence vectors) into a data
directory whose ``store.backend`` is ``milvus`` (Milvus Lite file ``<work>/milvus-<ds>/lite.db``),
and evaluated again. ``ragline import`` cannot do that copy: the Milvus backend does not declare
the export/import capability. Each step writes its figures to ``<work>/milvus_beir.json``.

    .venv/bin/python bench/scale/milvus_beir.py --source /work/evalbase/collections \
        --datasets /work/shared/datasets/scifact /work/shared/datasets/nfcorpus --work /tmp/scale-eval
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import ragline  # noqa: E402
from ragline.eval.runner import run_beir  # noqa: E402
from ragline.store.lance import LanceStore  # noqa: E402


def load() -> float:
    return round(os.getloadavg()[0], 2)


def evaluate(engine: Any, dataset: Path) -> dict[str, Any]:
    before = load()
    t0 = time.perf_counter()
    r = run_beir(engine, dataset)
    return {
        **{k: round(v, 4) for k, v in r.metrics.items()},
        "queries": r.queries,
        "search_p50_ms": round(r.search_p50_ms, 1),
        "search_p95_ms": round(r.search_p95_ms, 1),
        "chunks_embedded_at_ingest": r.ingest.chunks_embedded,
        "files_unchanged": r.ingest.files_unchanged,
        "seconds": round(time.perf_counter() - t0, 1),
        "load_before": before,
        "load_after": load(),
    }


def copy_to_milvus(lance_dir: Path, data: Path, name: str, cache: Path | None) -> dict[str, Any]:
    """The LanceDB collection's rows upserted into a fresh Milvus-backed collection ``name``."""
    data.mkdir(parents=True, exist_ok=True)
    if cache is not None and not (data / cache.name).exists():
        shutil.copy(cache, data / cache.name)
    engine = ragline.open(data, store={"backend": "milvus", "uri": str(data / "lite.db")})
    meta = json.loads((lance_dir / "collection.json").read_text())
    src = LanceStore(lance_dir, dimension=int(meta["dimension"]), model_id=str(meta["model_id"]))
    coll = engine.collection(name)
    before = load()
    t0 = time.perf_counter()
    rows = 0
    with engine.write_lock(coll.store):
        for batch in src.export_batches():
            coll.store.upsert([batch])
            rows += len(batch.chunks)
        coll.store.finalize()
    seconds = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file() and p.name != cache_name(cache))
    return {
        "chunks": rows,
        "insert_s": round(seconds, 1),
        "chunks_per_s": round(rows / seconds, 1),
        "disk_mib": round(size / 2**20, 1),
        "disk_bytes_per_chunk": round(size / max(rows, 1)),
        "load_before": before,
        "load_after": load(),
    }


def cache_name(cache: Path | None) -> str:
    return "" if cache is None else cache.name


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, required=True, help="folder of beir-<dataset> LanceDB collections")
    ap.add_argument("--datasets", type=Path, nargs="+", required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache to copy (query embeddings)")
    ap.add_argument("--skip-lance", action="store_true", help="only the Milvus side")
    args = ap.parse_args()
    out_file = args.work / "milvus_beir.json"
    out: dict[str, Any] = json.loads(out_file.read_text()) if out_file.exists() else {}
    out["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    def save() -> None:
        out_file.write_text(json.dumps(out, indent=1))

    for ds in args.datasets:
        name = f"beir-{ds.name}"
        res = out.setdefault(ds.name, {})
        lance_data = args.work / "lance"
        lance_dir = lance_data / "collections" / name
        if not lance_dir.exists():
            shutil.copytree(args.source / name, lance_dir)
        if args.cache is not None and not (lance_data / args.cache.name).exists():
            shutil.copy(args.cache, lance_data / args.cache.name)
        if not args.skip_lance:
            res["lancedb"] = evaluate(ragline.open(lance_data), ds)
            save()
            print(ds.name, "lancedb", res["lancedb"], file=sys.stderr)
        data = args.work / f"milvus-{ds.name}"
        res["milvus_copy"] = copy_to_milvus(lance_dir, data, name, args.cache)
        save()
        print(ds.name, "copy", res["milvus_copy"], file=sys.stderr)
        engine = ragline.open(data, store={"backend": "milvus", "uri": str(data / "lite.db")})
        res["milvus-lite"] = evaluate(engine, ds)
        save()
        print(ds.name, "milvus-lite", res["milvus-lite"], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
