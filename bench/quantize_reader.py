"""Quantisation schemes for the extractive reader: span quality on the held-out calibration articles
and reading time, from one fp32 export (issue 23; docs/benchmarks.md, "Span quality at int8 speed").

    PYTHONPATH=src .venv/bin/python bench/train_reader.py --out /tmp/span/fp32 --no-quantize \
        --checkpoint /tmp/reader3/train/ckpt-250.pt --export-checkpoint --eval-limit 400
    PYTHONPATH=src:bench .venv/bin/python bench/quantize_reader.py /tmp/span/fp32 --out /tmp/span/q

Each scheme is written to ``--out/<name>`` and evaluated as ``bench/train_reader.py --eval-limit
400`` does (span EM / F1 given the right unit, answer-head AUC); then every model reads 4 units per
question for the same 150 questions, interleaved in random order (one thread; wall and CPU p50).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import QuantType, quantize_dynamic
from train_reader import build, evaluate

from ragline.generation.reader import MODEL_FILE, OnnxReader
from ragline.tune.reader import quantize_reader

HEADS = ["/span/MatMul", "/answer/Gemm"]
WORD = "/encoder/embeddings/word_embeddings/Gather"
SCHEMES: dict[str, dict[str, Any]] = {
    "per-tensor (before)": {"weight_type": QuantType.QInt8},
    "per-tensor QUInt8": {"weight_type": QuantType.QUInt8},
    "per-channel": {"weight_type": QuantType.QInt8, "per_channel": True},
    "per-channel reduce_range": {"weight_type": QuantType.QInt8, "per_channel": True, "reduce_range": True},
    "per-channel, heads fp32": {
        "weight_type": QuantType.QInt8,
        "per_channel": True,
        "nodes_to_exclude": HEADS,
    },
    "per-channel, word embeddings fp32": {
        "weight_type": QuantType.QInt8,
        "per_channel": True,
        "nodes_to_exclude": [WORD],
    },
}


def timing(models: dict[str, Path], questions: list[Any]) -> None:
    readers = {name: OnnxReader(d, threads=1) for name, d in models.items()}
    for r in readers.values():
        r.warm_up()
    wall: dict[str, list[float]] = {n: [] for n in readers}
    cpu: dict[str, list[float]] = {n: [] for n in readers}
    rng = random.Random(0)
    for i, q in enumerate(questions):
        units = [questions[(i + j) % len(questions)].context for j in range(4)]
        order = list(readers)
        rng.shuffle(order)
        for name in order:
            t0, c0 = time.perf_counter(), time.process_time()
            readers[name].read(q.question, units)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    for name in readers:
        print(
            f"{name}: 4 units, wall p50 {np.median(wall[name]) * 1000:.1f} ms, "
            f"CPU p50 {np.median(cpu[name]) * 1000:.1f} ms",
            flush=True,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fp32", type=Path, help="an unquantised reader directory (train_reader.py --no-quantize)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--eval-limit", type=int, default=400)
    args = ap.parse_args()
    _, dev = build(4)
    random.Random(1).shuffle(dev)
    models = {"fp32": args.fp32}
    for name, options in [*SCHEMES.items(), ("shipped: per-channel, word embeddings per row", None)]:
        d = args.out / name.replace(" ", "_").replace(",", "").replace(":", "")
        d.mkdir(parents=True, exist_ok=True)
        for f in args.fp32.iterdir():
            if f.name != MODEL_FILE:
                shutil.copyfile(f, d / f.name)
        if options is None:
            quantize_reader(args.fp32 / MODEL_FILE, d / MODEL_FILE)
        else:
            quantize_dynamic(str(args.fp32 / MODEL_FILE), str(d / MODEL_FILE), **options)
        models[name] = d
    for name, d in models.items():
        print(f"{name} ({(d / MODEL_FILE).stat().st_size / 1e6:.0f} MB):", end=" ")
        evaluate(d, dev, args.eval_limit)
    timing(models, [e for e in dev if e.answer][:150])
    return 0


if __name__ == "__main__":
    sys.exit(main())
