"""Precision and recall of near-duplicate detection on generated edited copies vs distinct-but-
similar documents (bench/near_dup_data.py), per threshold, through the real index
(``ragline.cleaning.near_dup.NearDupIndex``: MinHash, LSH bands in SQLite, signature check).

Every original is indexed; then each variant is looked up (and not added). An edited copy found
as a duplicate of its own original is a true positive; a distinct document found as a duplicate
of anything is a false positive. Tune the threshold on the dev seed (1), report on another (2).

    PYTHONPATH=src .venv/bin/python bench/near_dup_quality.py --seed 2 --thresholds 0.4,0.5,0.6,0.7
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from near_dup_data import generate  # noqa: E402

from ragline.cleaning.near_dup import NearDupEntry, NearDupIndex  # noqa: E402


def sig(index: NearDupIndex, text: str) -> np.ndarray:
    got = index.signature(text)
    assert got is not None, "generated documents are longer than min_words"
    return got


def evaluate(threshold: float, seed: int, originals: int, shingle_words: int) -> dict[str, object]:
    data = generate(seed, originals)
    with tempfile.TemporaryDirectory() as tmp:
        index = NearDupIndex(Path(tmp) / "nd.sqlite", threshold=threshold, shingle_words=shingle_words)
        t0 = time.perf_counter()
        index.add(
            NearDupEntry(doc_id, "src", "a", sig(index, text)) for doc_id, text in data.originals.items()
        )
        index.commit()
        t_index = time.perf_counter() - t0
        tp = fp = fn = 0
        by_how: Counter[str] = Counter()
        total_how: Counter[str] = Counter()
        t0 = time.perf_counter()
        for text, original, how in data.variants:
            match = index.find(sig(index, text), "a")
            total_how[how] += 1
            if original is None:
                if match is not None:
                    fp += 1
                    by_how[how] += 1
            elif match is not None and match[0] == original:
                tp += 1
                by_how[how] += 1
            else:
                fn += 1
        t_query = time.perf_counter() - t0
        index.close()
    return {
        "threshold": threshold,
        "copies": tp + fn,
        "distinct": sum(1 for _, o, _ in data.variants if o is None),
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "flagged_by_kind": {h: f"{by_how[h]}/{total_how[h]}" for h in sorted(total_how)},
        "ms_per_document": round(1000 * (t_index + t_query) / (len(data.originals) + len(data.variants)), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--originals", type=int, default=400)
    ap.add_argument("--thresholds", default="0.5,0.6,0.7,0.8,0.9")
    ap.add_argument("--shingle-words", type=int, default=2)
    args = ap.parse_args()
    for t in (float(x) for x in args.thresholds.split(",")):
        print(json.dumps(evaluate(t, args.seed, args.originals, args.shingle_words)))


if __name__ == "__main__":
    main()
