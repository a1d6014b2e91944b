"""Recall and precision of PII redaction per kind on the generated labelled set (bench/pii_data.py).

A planted value counts as found when one finding of its kind covers it whole; a finding counts as
correct when it overlaps a planted value of its kind. Person names are planted too and reported
apart: ragline has no recognizer for them (no NER model installs from PyPI without a download).
Tune on the dev seed (1); report on another (2).

    PYTHONPATH=src .venv/bin/python bench/pii_quality.py --seed 2 --n 3000
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from pii_data import KINDS, generate  # noqa: E402

from ragline.cleaning.pii import PII_KINDS, find_pii  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--show-errors", type=int, default=0, help="print this many misses/false hits per kind")
    args = ap.parse_args()
    samples = generate(args.seed, args.n)
    gold = dict.fromkeys(KINDS, 0)
    found = dict.fromkeys(KINDS, 0)
    predicted = dict.fromkeys(PII_KINDS, 0)
    correct = dict.fromkeys(PII_KINDS, 0)
    errors: dict[str, list[str]] = {k: [] for k in KINDS}
    negatives = flagged_negatives = 0
    for s in samples:
        spans = find_pii(s.text)
        for kind, start, end in s.spans:
            if kind == "negative":
                negatives += 1
                hit = [p for p in spans if p.start < end and start < p.end]
                flagged_negatives += bool(hit)
                if hit and args.show_errors:
                    print("negative flagged:", s.text[start:end], [p.kind for p in hit])
                continue
            gold[kind] += 1
            if any(p.kind == kind and p.start <= start and p.end >= end for p in spans):
                found[kind] += 1
            elif len(errors[kind]) < args.show_errors:
                errors[kind].append(f"missed {s.text[start:end]!r} in {s.text!r}")
        for p in spans:
            predicted[p.kind] += 1
            if any(kind == p.kind and p.start < end and start < p.end for kind, start, end in s.spans):
                correct[p.kind] += 1
            elif len(errors[p.kind]) < 2 * args.show_errors:
                errors[p.kind].append(f"false {s.text[p.start : p.end]!r} in {s.text!r}")
    rows = {}
    for kind in KINDS:
        recall = found[kind] / gold[kind] if gold[kind] else None
        precision = correct[kind] / predicted[kind] if predicted.get(kind) else None
        rows[kind] = {
            "planted": gold[kind],
            "found": found[kind],
            "predicted": predicted.get(kind, 0),
            "recall": None if recall is None else round(recall, 4),
            "precision": None if precision is None else round(precision, 4),
        }
    out = {"seed": args.seed, "samples": len(samples), "hard_negatives": negatives}
    out["hard_negatives_flagged"] = flagged_negatives
    print(json.dumps({**out, "kinds": rows}, indent=1))
    for kind, errs in errors.items():
        for e in errs:
            print(kind, e)


if __name__ == "__main__":
    main()
