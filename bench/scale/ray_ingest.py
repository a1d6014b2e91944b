"""Ingest throughput (chunks/s) in-process and on Ray with one and two embedding workers, this machine.

Takes the first N documents of a BEIR corpus (SciFact by default) and writes them as several JSONL
files (parse tasks are per file). Each run is a cold ingest (fresh data directory, empty embedding
cache) of the same files with the default pipeline (chunk vectors, separate sentence vectors,
token states); the Ray runs share one local Ray (``ray.init(num_cpus=2)``, no dashboard, no usage
reports, loopback) and differ in ``ingest.ray_workers``. The ONNX threads per worker default to
the machine's cores divided by the workers, so every run may use the whole machine; a worker's
model load (about 1 s) counts in its run, as it does in a real ingest.

    .venv/bin/python bench/scale/ray_ingest.py [--docs 300] [--files 10] [--workers 1 2] [--json]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# Loopback only and no usage reports; read when ray is imported.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import print_result  # noqa: E402

import ragline  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--files", type=int, default=10, help="JSONL files the documents are split into")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray embedding workers per run")
    ap.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "datasets" / "scifact")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    corpus = args.dataset / "corpus.jsonl"
    if not corpus.is_file():
        print(f"skipped: {corpus} not found (the benchmark reads BEIR data from ../shared/datasets)")
        return 0
    import ray

    tmp = Path(tempfile.mkdtemp(prefix="ragline-ray-bench-"))
    folder = tmp / "corpus"
    folder.mkdir()
    with corpus.open() as src:
        lines = [line for _, line in zip(range(args.docs), src, strict=False)]
    for f in range(args.files):
        (folder / f"part-{f:02d}.jsonl").write_text("".join(lines[f :: args.files]))
    cores = os.cpu_count() or 1

    def run(name: str, workers: int | None) -> dict[str, object]:
        threads = max(1, cores // (workers or 1))
        settings: dict[str, object] = {"embedding": {"threads": threads}}
        if workers:
            settings["ingest"] = {"ray_address": "auto", "ray_workers": workers}
        load_before = os.getloadavg()[0]
        report = ragline.open(tmp / name, **settings).ingest([folder])
        assert not report.errors, report.errors
        return {
            "run": name,
            "workers": workers or 0,
            "threads_per_worker": threads,
            "chunks": report.chunks_indexed,
            "seconds": round(report.seconds_total, 1),
            "chunks_per_s": round(report.chunks_per_second, 2),
            "chunks_per_s_per_worker": round(report.chunks_per_second / (workers or 1), 2),
            # The machine is shared: the 1-minute load average before and after says how much.
            "load_avg_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        }

    results = [run("in-process", None)]
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    try:
        results += [run(f"ray-{w}", w) for w in args.workers]
    finally:
        ray.shutdown()
    out = {
        "docs": len(lines),
        "files": args.files,
        "cores": cores,
        "runs": results,
        "date": time.strftime("%Y-%m-%d"),
    }
    print_result(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
