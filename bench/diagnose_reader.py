"""Where the extractive answerer loses the gold answer, on SQuAD's *calibration* split only.

Each answerable question is asked on the full index (``engine.ask``, the shipped default) and its
assembled context re-scored, and a miss (the answer text holds no gold answer) is put in the
first bucket that explains it:

(a) no gold answer in the retrieved context;
(b) a unit of the context holds one, but not one of the units the reader reads (the K best by
    sentence score, and the unit after each of the first ``ReaderMix.follow`` of them) (b0: no
    answer unit holds it whole, b1: pre-selection (``_candidates``) left it out of the embedded
    candidates, b2: embedded but ranked below K by the sentence scores, b3: read after the unit
    before it, but the reader's span fell in that one);
(c) the reader read such a unit (alone, or after the unit before it) and ranked another above it
    (and the other chosen sentences missed it too);
(d) abstained although the top unit held a gold answer;
(e) anything else (the top unit held it but the answer text, with its lead, lost it).

    PYTHONPATH=src .venv/bin/python bench/diagnose_reader.py --data-dir /tmp/reader3/qa --questions 300
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import ragline
from ragline.eval.qa import FULL_COLLECTION, SEED, ensure_collections
from ragline.eval.squad import contains_answer, load_squad, sample_questions, strip_citations
from ragline.generation.question import classify
from ragline.text.sentences import answer_units

DATASET = Path("/work/shared/datasets/squad-v1.1-dev")


def bucket(engine: ragline.Engine, question: str, golds: tuple[str, ...]) -> tuple[str, dict[str, object]]:
    """The miss bucket of one question ("hit" when the answer text holds a gold answer)."""
    a = engine.ask(question, collection=FULL_COLLECTION, debug=True)
    assert a.debug is not None
    ctx = a.debug.context
    text = "" if a.abstained else strip_citations(a.text)
    info: dict[str, object] = {"q": question, "gold": golds[0], "conf": round(a.confidence or 0.0, 3)}
    answerer = engine.extractive
    need = classify(question)
    scored, vecs = answerer.score(question, ctx, need)
    k = min(answerer.mix.candidates, len(scored))
    read = scored
    if scored and answerer.reader is not None and need.kind not in answerer.mix.unread:
        read, _, _ = answerer.reread(question, ctx, scored, vecs, need)
    info["top"] = read[0].text[:160] if read else ""
    info["follow_on"] = bool(read) and read[0].follow_on
    if contains_answer(text, golds):
        return "hit", info
    if a.abstained and read and contains_answer(read[0].text, golds):
        return "d", info
    if not contains_answer(ctx.text, golds):
        return "a", info
    # What the reader read: the K best units and the pairs (a unit and the one after it) where
    # its span fell in the second; without a reader, the K best by sentence score.
    seen = [s for s in read if s.reader_logit is not None] or scored[:k]
    read_gold = [j for j, s in enumerate(seen) if contains_answer(s.text, golds)]
    if read_gold:
        info["gold_unit_read_rank"] = read_gold[0]
        return "c", info
    if read and contains_answer(read[0].text, golds):
        return "e", info
    if answerer.reader is not None:
        for s in scored[: min(k, answerer.mix.follow)]:
            if s.after is not None:
                p = next(p for p in ctx.passages if p.start <= s.after[0] and s.after[1] <= p.end)
                if contains_answer(p.text[s.after[0] - p.start : s.after[1] - p.start], golds):
                    # Read after the unit before it, but the reader's span fell in that one.
                    return "b3", info
    units = [
        p.text[x:y]
        for p in ctx.passages
        for x, y in answer_units(p.text)
        if contains_answer(p.text[x:y], golds)
    ]
    if not units:
        return "b0", info
    ranked = [j for j, s in enumerate(scored) if contains_answer(s.text, golds)]
    if not ranked:
        info["unit"] = units[0][:160]
        return "b1", info
    info["gold_unit_sentence_rank"] = ranked[0]
    return "b2", info


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--dump", type=Path, help="write each miss as a JSON line here")
    args = ap.parse_args()
    engine = ragline.open(args.data_dir)
    ds = load_squad(DATASET)
    ensure_collections(engine, ds)
    sample = sample_questions(ds.questions_in("calibration"), args.questions, SEED)
    counts: collections.Counter[str] = collections.Counter()
    misses = []
    for q in sample:
        b, info = bucket(engine, q.text, q.answers)
        counts[b] += 1
        if b != "hit":
            misses.append({"bucket": b, **info})
    n = len(sample)
    print(f"{n} calibration questions (full index): gold in answer text {counts['hit'] / n:.3f}")
    for b in ["a", "b0", "b1", "b2", "b3", "c", "d", "e"]:
        print(f"  {b}: {counts[b]} ({counts[b] / n:.3f})")
    if args.dump:
        args.dump.write_text("".join(json.dumps(m) + "\n" for m in misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
