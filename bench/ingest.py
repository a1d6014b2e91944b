"""Ingest throughput (chunks/s) next to the raw batch throughput of the embedding model, same run.

Takes the first N documents of a BEIR corpus (SciFact by default), writes them to a temporary
JSONL file, then (1) chunks them and embeds the chunk texts straight through the model, batched,
with no cache and no store: the raw model throughput; (2) runs a full cold ingest of the file
into a fresh data directory (load, clean, chunk, embed, write, index). The ratio is the share of
the model's throughput the whole pipeline keeps.

    .venv/bin/python bench/ingest.py [--docs 1000] [--dataset ../shared/datasets/scifact] [--json]
        [--sentence-vectors separate|late|mapped|split|off] [--token-states auto|on|off] [--repeat 3]
        [--precision fp32|int8]

The raw model is always the fp32 graph (the baseline issue 26 set); with ``--precision int8`` the
ingest runs the int8 copy and the int8 graph's own raw rate is reported beside it.

Also reported: the collection's size on disk and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
from benchlib import print_result, raw_model_rate  # noqa: E402

import ragline  # noqa: E402
from ragline.embedding.factory import make_embedder  # noqa: E402
from ragline.loaders.registry import load_file  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "datasets" / "scifact")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="cold ingests, each between two raw passes")
    ap.add_argument(
        "--sentence-vectors",
        choices=["separate", "late", "mapped", "split", "off"],
        default=None,
        help="chunking.sentence_vectors for the ingest (default: the configured one); the raw model "
        "figure embeds the chunk texts only, so 'separate' shows the cost of its sentence texts",
    )
    ap.add_argument("--split-layers", type=int, default=None, help="chunking.split_layers (with split)")
    ap.add_argument(
        "--token-states",
        choices=["auto", "on", "off"],
        default=None,
        help="chunking.token_states for the ingest (default: the configured one)",
    )
    ap.add_argument(
        "--precision",
        choices=["fp32", "int8"],
        default=None,
        help="embedding.precision for the ingest (default: the configured one); the ratio is "
        "always over the fp32 model's raw rate",
    )
    args = ap.parse_args()
    embedding = {"precision": args.precision} if args.precision else {}
    chunking = {"sentence_vectors": args.sentence_vectors} if args.sentence_vectors else {}
    if args.token_states:
        chunking["token_states"] = args.token_states
    if args.split_layers:
        chunking["split_layers"] = args.split_layers
    corpus = args.dataset / "corpus.jsonl"
    if not corpus.is_file():
        print(f"skipped: {corpus} not found (the benchmark reads BEIR data from ../shared/datasets)")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="ragline-ingest-bench-"))
    sample = tmp / "sample.jsonl"
    with corpus.open() as src, sample.open("w") as dst:
        for i, line in enumerate(src):
            if i >= args.docs:
                break
            dst.write(line)

    engine = ragline.open(tmp / "data", chunking=chunking, embedding=embedding)
    docs = load_file(sample, engine.settings.loaders)
    texts = [c.embed_text for d in docs for c in engine.chunker.chunk(d).chunks]
    fp32 = engine.settings.embedding.model_copy(update={"precision": "fp32"})
    raw_rate = raw_model_rate(make_embedder(fp32, engine.settings.cache_dir), texts)
    own = engine.embedder.inner
    own_rate = None if getattr(own, "precision", "fp32") == "fp32" else raw_model_rate(own, texts)
    # The machine is shared and its speed drifts: measure the model before and after each ingest
    # and compare with the mean; with --repeat, raw and cold ingests alternate (each ingest into a
    # fresh data directory) and the median ratio is reported.
    raws = [raw_rate()]
    ratios, rates = [], []
    for r in range(args.repeat):
        report = ragline.open(tmp / f"data{r + 2}", chunking=chunking, embedding=embedding).ingest([sample])
        rates.append(report.chunks_per_second)
        raws.append(raw_rate())
        ratios.append(rates[-1] / ((raws[-2] + raws[-1]) / 2))
    before, after = raws[0], raws[-1]
    ingest_rate = float(np.median(rates))
    again = ragline.open(tmp / "data2", chunking=chunking, embedding=embedding).ingest([sample])
    disk = sum(f.stat().st_size for f in (tmp / "data2" / "collections").rglob("*") if f.is_file())
    out = {
        "precision": getattr(own, "precision", "fp32"),
        "sentence_vectors": engine.settings.chunking.sentence_vectors,
        "split_layers": engine.settings.chunking.split_layers,
        "token_states": engine.settings.stores_token_states,
        "docs": len(docs),
        "chunks": report.chunks_indexed,
        "raw_model_chunks_per_s_before": round(before, 1),
        "raw_model_chunks_per_s_after": round(after, 1),
        "raw_own_precision_chunks_per_s": None if own_rate is None else round(own_rate(), 1),
        "ingest_chunks_per_s": round(ingest_rate, 1),
        "ratio": round(float(np.median(ratios)), 3),
        "ratios": [round(x, 3) for x in ratios],
        "raw_model_chunks_per_s_each": [round(x, 1) for x in raws],
        "ingest_seconds": round(report.seconds_total, 1),
        "embedding_seconds": round(report.seconds_embedding, 1),
        "reingest_unchanged_seconds": round(again.seconds_total, 2),
        "reingest_embedded": again.chunks_embedded,
        "collection_mb": round(disk / 1e6, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    print_result(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
