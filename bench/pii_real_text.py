"""PII findings in real text that holds almost none: the BEIR and SQuAD corpora in shared/datasets
(scientific abstracts, health articles, Wikipedia paragraphs full of numbers, dates and codes).
Each finding is printed with its context so it can be judged by eye: the real personal data these
corpora do hold (authors' contact lines) against false findings.

    PYTHONPATH=src .venv/bin/python bench/pii_real_text.py --datasets ../shared/datasets
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ragline.cleaning.pii import find_pii  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--names", default="scifact,nfcorpus,squad-v1.1-dev")
    args = ap.parse_args()
    for name in args.names.split(","):
        counts: Counter[str] = Counter()
        chars = docs = 0
        t0 = time.perf_counter()
        with (args.datasets / name / "corpus.jsonl").open(encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                text = f"{d.get('title', '')}\n{d.get('text', '')}"
                chars += len(text)
                docs += 1
                for s in find_pii(text):
                    counts[s.kind] += 1
                    context = text[max(0, s.start - 40) : s.end + 10].replace("\n", " ")
                    print(f"  {name} {s.kind}: {text[s.start : s.end]!r} in ...{context}...")
        seconds = time.perf_counter() - t0
        print(
            json.dumps(
                {
                    "corpus": name,
                    "documents": docs,
                    "characters": chars,
                    "seconds": round(seconds, 1),
                    "findings": dict(counts),
                }
            )
        )


if __name__ == "__main__":
    main()
