"""Mine hard negatives for the reader from the answerer's own candidates (SQuAD *calibration* only).

For each training question (calibration articles but the last ``--holdout``, as
bench/train_reader.py holds out), the shipped answerer retrieves and assembles its context on the
full index and scores the answer units; of the best ``--k`` units (those the reader is asked to
rank), up to ``--per-question`` that hold no gold answer become negatives ("Title: unit", answer
""): the units that share the question's words and that the reader must rank below the answer.
Units from test-split articles are never kept (their text stays unseen by training).

    PYTHONPATH=src .venv/bin/python bench/mine_reader_negatives.py --data-dir /tmp/reader3/qa-mine \
        --out /tmp/reader3/mined.jsonl --k 6 --per-question 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import ragline
from ragline.eval.qa import FULL_COLLECTION, ensure_collections
from ragline.eval.squad import contains_answer, load_squad, split_of
from ragline.generation.extractive import _head

DATASET = Path("/work/shared/datasets/squad-v1.1-dev")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--holdout", type=int, default=4)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--per-question", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="first N training questions only")
    ap.add_argument(
        "--heldout-only",
        action="store_true",
        help="mine the held-out articles' questions instead (to evaluate the answer head on them)",
    )
    args = ap.parse_args()
    engine = ragline.open(args.data_dir)
    ds = load_squad(DATASET)
    ensure_collections(engine, ds)
    article_of = {p.id: p.article for p in ds.paragraphs}
    cal = sorted({q.article for q in ds.questions_in("calibration")})
    held = set(cal[-args.holdout :]) if args.holdout else set()
    questions = [q for q in ds.questions_in("calibration") if (q.article in held) == args.heldout_only]
    if args.limit:
        questions = questions[: args.limit]
    answerer = engine.extractive
    t0, kept, rows = time.perf_counter(), 0, []
    for i, q in enumerate(questions):
        ctx = engine.assemble(
            engine.retrieve_for_answer(q.text, collection=FULL_COLLECTION), collection=FULL_COLLECTION
        )
        scored, _ = answerer.score(q.text, ctx)
        n = 0
        for s in scored[: args.k]:
            p = ctx.passages[s.passage]
            art = article_of.get(p.doc_id)
            if art is None or split_of(art) != "calibration" or (art in held) != args.heldout_only:
                continue
            if contains_answer(s.text, q.answers) or n >= args.per_question:
                continue
            rows.append({"question": q.text, "context": _head(p.title) + s.text, "answer": ""})
            n += 1
        kept += n
        if (i + 1) % 200 == 0:
            print(
                f"{i + 1}/{len(questions)} questions, {kept} negatives, {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(questions)} questions -> {kept} negatives in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
