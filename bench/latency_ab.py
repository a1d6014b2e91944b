"""Interactive latency of the full default, before and after a change, interleaved query by query.

On a shared machine the load moves by several times within minutes, so two runs one after the
other compare the load as much as the code. This loads the other checkout's ``ragline`` package as
a renamed copy (``ragline_<label>``, its imports rewritten) into the same process, then times each
query on every version in turn (rotating which goes first), with the query-embedding LRU emptied
before each run, and checks that every version returns the same top-10 ids and scores.

    RAGLINE_DATA_DIR=/tmp/evaldata .venv/bin/python bench/latency_ab.py \\
        --version before=../main/src/ragline ../shared/datasets/scifact ../shared/datasets/nfcorpus
    .venv/bin/python bench/latency_ab.py --version before=../main/src/ragline \\
        --synthetic /tmp/bench100k        # a collection built by bench/latency.py --full --dir
    .venv/bin/python bench/latency_ab.py --settings 'onnx1={"embedding": {"threads": 1}}' \\
        ../shared/datasets/scifact        # this checkout with other settings, on BEIR collections

This checkout's package is always timed, as ``after``. BEIR collections are the ones
``ragline eval beir`` builds (``beir-<dataset>``; copy them first: opening one may write).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from latency import queries as synthetic_queries  # noqa: E402

from ragline.eval.beir import load_beir  # noqa: E402
from ragline.text.words import content_words  # noqa: E402


def renamed_copy(src: Path, label: str, into: Path) -> str:
    """``src`` (a ``ragline`` package directory) copied under ``into`` as ``ragline_<label>``."""
    name = f"ragline_{label}"
    shutil.copytree(src, into / name, ignore=shutil.ignore_patterns("__pycache__"))
    for path in (into / name).rglob("*.py"):
        text = path.read_text()
        text = re.sub(r"\bragline\.(?=[a-z_])", f"{name}.", text)
        text = re.sub(r"(from|import) ragline\b(?!_)", rf"\1 {name}", text)
        path.write_text(text)
    return name


def synthetic_retriever(pkg: ModuleType, root: Path, settings: dict[str, Any] | None = None) -> Any:
    """The default pipeline over a bench/latency.py collection, built from ``pkg``'s modules; its
    embedder and retrieval are the ones ``settings`` (``{"embedding": {...}, "retrieval": {...}}``,
    default: none) configure, and its store's ``ann_*`` search settings."""
    meta = json.loads((root / "collection.json").read_text())

    def mod(name: str) -> Any:
        return importlib.import_module(f"{pkg.__name__}.{name}")

    # numpy's BLAS on one thread, as the engine sets it (``blas_threads = 1``) and bench/latency.py does.
    threadpool_limits(limits=1, user_api="blas")
    config = mod("settings").Settings(**(settings or {}))
    emb = mod("embedding.factory").make_embedder(config.embedding, config.cache_dir)
    emb.warm_up()
    knobs = ("ann_engine", "ann_ef", "ann_refine_factor", "ann_refine_max_rows", "held_columns_mb")
    store = mod("store.lance").LanceStore(
        root,
        meta["dimension"],
        meta["model_id"],
        **{k: getattr(config.store, k) for k in knobs if hasattr(config.store, k)},
    )
    if config.store.ann_engine == "faiss":
        store._build_graph()  # once per collection version; a no-op when its graph is on disk
    factory = mod("retrieval.factory").RetrieverFactory(emb, chat=lambda: None, cache_dir=None)
    return factory.retriever(store, emb, config.retrieval), None


def short(qs: list[str], max_terms: int | None) -> list[str]:
    """``qs``, or those of at most ``max_terms`` content words."""
    return qs if max_terms is None else [q for q in qs if len(content_words(q)) <= max_terms]


def interleave(name: str, runs: list[tuple[str, Any, Any]], qs: list[str], top_k: int) -> None:
    for q in qs[:10]:
        for _, r, _ in runs:
            r.run(q, top_k)
    times: dict[str, list[float]] = {label: [] for label, _, _ in runs}
    # CPU time of the whole process (every thread) per query: the work a version does, which the
    # machine's load moves much less than the wall clock.
    cpu: dict[str, list[float]] = {label: [] for label, _, _ in runs}
    loads, same = [], 0
    for i, q in enumerate(qs):
        k = i % len(runs)
        found = []
        for label, r, query_cache in runs[k:] + runs[:k]:
            if query_cache is not None:
                query_cache.clear()  # a user's new question is not in the query-embedding LRU
            t0, c0 = time.perf_counter(), time.process_time()
            hits = r.run(q, top_k)
            times[label].append((time.perf_counter() - t0) * 1000)
            cpu[label].append((time.process_time() - c0) * 1000)
            found.append([(h.chunk.id, h.score) for h in hits])
        same += all(f == found[0] for f in found)
        loads.append(os.getloadavg()[0])
    for label, ts in times.items():
        p50, p95 = np.percentile(ts, [50, 95])
        row = f"| {name} | {label} | {p50:.1f} | {p95:.1f} | {np.median(cpu[label]):.1f} | {len(ts)} |"
        print(f"{row} {np.mean(loads):.1f} |", flush=True)
    print(f"\n{name}: identical top-{top_k} ids and scores on {same}/{len(qs)} queries\n", flush=True)


def parse_settings(ap: argparse.ArgumentParser, specs: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The ``--settings LABEL=JSON`` variants as ``(label, settings)``; a usage error otherwise."""
    variants: list[tuple[str, dict[str, Any]]] = []
    for spec in specs:
        label, _, body = spec.partition("=")
        try:
            variants.append((label, json.loads(body)))
        except json.JSONDecodeError as exc:
            ap.error(f"--settings {spec!r}: {exc}")
    return variants


def load_versions(ap: argparse.ArgumentParser, specs: list[str]) -> tuple[list[tuple[str, ModuleType]], Path]:
    """The ``--version LABEL=path`` packages as renamed copies, then this checkout's as "after";
    and the folder holding the copies (the caller removes it)."""
    tmp = Path(tempfile.mkdtemp(prefix="ragline-ab-"))
    sys.path.insert(0, str(tmp))
    packages: list[tuple[str, ModuleType]] = []
    for spec in specs:
        label, _, path = spec.partition("=")
        if not label.isidentifier() or not (Path(path) / "__init__.py").is_file():
            ap.error(f"--version {spec!r}: expected LABEL=path/to/a/ragline/package")
        packages.append((label, importlib.import_module(renamed_copy(Path(path), label, tmp))))
    import ragline

    packages.append(("after", ragline))
    return packages, tmp


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="*", type=Path)
    ap.add_argument("--version", action="append", default=[], help="LABEL=path/to/other/src/ragline")
    ap.add_argument("--synthetic", type=Path, action="append", default=[], help="bench/latency.py --dir")
    ap.add_argument(
        "--settings",
        action="append",
        default=[],
        help='LABEL={"embedding": {"threads": 1}}: this checkout with those settings, as one more version',
    )
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument(
        "--max-terms",
        type=int,
        help="only the queries (of the first --queries) with at most this many content words: "
        "those the feedback searches apply to (6 by default)",
    )
    args = ap.parse_args(argv)
    variants = parse_settings(ap, args.settings)
    packages, tmp = load_versions(ap, args.version)
    print(
        "| collection | version | p50 ms | p95 ms | CPU ms p50 | queries | mean load |\n"
        "|---|---|---:|---:|---:|---:|---:|"
    )
    for path in args.datasets:
        ds = load_beir(path, "test")
        qs = short(list(ds.queries.values())[: args.queries], args.max_terms)
        runs = []
        coll = f"beir-{ds.name}"
        for label, pkg, settings in [(lb, p, {}) for lb, p in packages] + [
            (lb, packages[-1][1], kw) for lb, kw in variants
        ]:
            engine = pkg.open(**settings)  # type: ignore[attr-defined]
            runs.append((label, engine.retriever(None, coll), engine.embedder_for(coll)._queries))
        interleave(ds.name, runs, qs, args.top_k)
    for root in args.synthetic:
        runs = [(label, *synthetic_retriever(pkg, root)) for label, pkg in packages] + [
            (label, *synthetic_retriever(packages[-1][1], root, kw)) for label, kw in variants
        ]
        interleave(root.name, runs, short(synthetic_queries(args.queries), args.max_terms), args.top_k)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
