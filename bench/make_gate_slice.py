"""Write the quality gate's small BEIR slice (bench/gate/scifact-slice) from SciFact.

The first 20 test queries (in qrels order) with their relevant abstracts, plus the 40 corpus
abstracts after them in file order as distractors: ~65 documents, so `ragline eval gate` runs
in CI in seconds. Deterministic: rerunning writes the same files.

    python bench/make_gate_slice.py [../shared/datasets/scifact] [bench/gate/scifact-slice]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

QUERIES = 20
DISTRACTORS = 40


def main(src: Path, dst: Path) -> None:
    qrels: dict[str, dict[str, int]] = {}
    for line in (src / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(score)
    chosen = list(qrels)[:QUERIES]
    relevant = {d for q in chosen for d in qrels[q]}
    corpus, extra = [], 0
    for line in (src / "corpus.jsonl").read_text().splitlines():
        doc = json.loads(line)
        if doc["_id"] in relevant:
            corpus.append(line)
        elif extra < DISTRACTORS:
            corpus.append(line)
            extra += 1
    queries = [
        line for line in (src / "queries.jsonl").read_text().splitlines() if json.loads(line)["_id"] in chosen
    ]
    (dst / "qrels").mkdir(parents=True, exist_ok=True)
    (dst / "corpus.jsonl").write_text("\n".join(corpus) + "\n")
    (dst / "queries.jsonl").write_text("\n".join(queries) + "\n")
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q in chosen for d, s in qrels[q].items()]
    (dst / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n")
    (dst / "SOURCE.md").write_text(
        "A slice of BEIR SciFact (CC BY-NC 2.0, Wadden et al. 2020) for the quality gate: "
        f"{len(chosen)} test queries, {len(corpus)} abstracts. Written by bench/make_gate_slice.py.\n"
    )


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent.parent / "shared" / "datasets" / "scifact",
        Path(sys.argv[2]) if len(sys.argv) > 2 else here / "gate" / "scifact-slice",
    )
