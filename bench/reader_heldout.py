"""The extractive answerer on cached SQuAD contexts: the 4 held-out calibration articles (the reader
never trained on them) or a calibration sample, for comparing readers and ReaderMix settings.

Each question is retrieved once with the engine's defaults (``ask(debug=True)``: the assembled
context) and cached in ``--cache``; every variant then answers the same contexts, so a difference
is the answerer's alone. Figures as ``ragline eval qa`` computes them (EM / F1 of the short answer
when there is one, else of the answer text; gold in the answer text; abstention precision / recall
on the partial index, half near misses), plus F1 where the answer text holds gold (the short
answer's quality given the right unit was quoted).

    PYTHONPATH=src .venv/bin/python bench/reader_heldout.py --data-dir /tmp/span-qa \
        --cache /tmp/span/heldout.pkl --reader old=/tmp/span/old-model --reader new=/tmp/span/new-int8
    PYTHONPATH=src .venv/bin/python bench/reader_heldout.py --data-dir /tmp/span-qa \
        --cache /tmp/span/heldout.pkl --mix "" --mix follow=1,candidates=6
"""

from __future__ import annotations

import argparse
import copy
import pickle
import sys
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

import ragline
from ragline.eval.qa import FULL_COLLECTION, PARTIAL_COLLECTION, SEED
from ragline.eval.squad import (
    contains_answer,
    exact_match,
    f1,
    in_partial_index,
    load_squad,
    sample_questions,
    strip_citations,
)
from ragline.generation.extractive import ExtractiveAnswerer, ReaderMix
from ragline.generation.reader import OnnxReader
from ragline.types import Answer, Final

# ../shared beside the project, as every benchmark reads the evaluation data.
SQUAD = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "squad-v1.1-dev"


def contexts(engine: Any, split: str, full_n: int, part_n: int) -> dict[str, list[Any]]:
    """(question, golds, context) on the full index and (..., answerable) on the partial one."""
    if not SQUAD.is_dir():
        raise SystemExit(f"SQuAD v1.1 dev not found at {SQUAD}: put ../shared/datasets beside the project")
    ds = load_squad(SQUAD)
    pool = ds.questions_in("calibration")
    if split == "heldout":
        cal = sorted({q.article for q in pool})
        held = set(cal[-4:])
        pool = [q for q in pool if q.article in held]
    full = sample_questions(pool, full_n, SEED)
    ans = [q for q in pool if in_partial_index(q.article)]
    una = [q for q in pool if not in_partial_index(q.article)]
    part = [(q, True) for q in sample_questions(ans, part_n // 2, SEED)]
    part += [(q, False) for q in sample_questions(una, part_n // 2, SEED)]
    out: dict[str, list[Any]] = {"full": [], "part": []}
    for q in full:
        a = engine.ask(q.text, collection=FULL_COLLECTION, debug=True)
        out["full"].append((q.text, q.answers, a.debug.context))
    for q, ok in part:
        a = engine.ask(q.text, collection=PARTIAL_COLLECTION, debug=True)
        out["part"].append((q.text, q.answers, a.debug.context, ok))
    return out


def answer(answerer: ExtractiveAnswerer, question: str, context: Any) -> Answer:
    final = None
    for ev in answerer.stream(question, context):
        if isinstance(ev, Final):
            final = ev.answer
    assert final is not None
    return final


def evaluate(
    pair: tuple[ExtractiveAnswerer, ExtractiveAnswerer], data: dict[str, list[Any]], label: str
) -> None:
    t0 = time.perf_counter()
    hold, f1s, ems, given, abstained, shorts = [], [], [], [], 0, 0
    for q, golds, ctx in data["full"]:
        a = answer(pair[0], q, ctx)
        text = "" if a.abstained else strip_citations(a.text)
        pred = a.short.text if a.short is not None and not a.abstained else text
        hold.append(contains_answer(text, golds))
        f1s.append(f1(pred, golds))
        ems.append(exact_match(pred, golds))
        if hold[-1]:
            given.append(f1s[-1])
        abstained += a.abstained
        shorts += a.short is not None and not a.abstained
    tp = fp = fn = 0
    for q, _golds, ctx, ok in data["part"]:
        a = answer(pair[1], q, ctx)
        tp += a.abstained and not ok
        fp += a.abstained and ok
        fn += not a.abstained and not ok
    n = len(data["full"])
    print(
        f"{label}: n={n} gold in text {np.mean(hold):.3f} EM {np.mean(ems):.3f} F1 {np.mean(f1s):.3f} "
        f"F1 given gold in text {np.mean(given):.3f} short {shorts / n:.2f} abstained {abstained / n:.3f} | "
        f"abstention P {tp / max(1, tp + fp):.3f} R {tp / max(1, tp + fn):.3f} "
        f"({len(data['part'])}) | {time.perf_counter() - t0:.0f} s",
        flush=True,
    )


def variant(a: ExtractiveAnswerer, reader: OnnxReader | None, spec: str) -> ExtractiveAnswerer:
    """``a`` with another reader and ReaderMix fields set from ``spec`` ("name=value,...")."""
    b = copy.copy(a)
    if reader is not None:
        b.reader = reader
    kinds = {f.name: type(getattr(a.mix, f.name)) for f in fields(ReaderMix)}
    changes: dict[str, Any] = {}
    for item in filter(None, spec.split(",")):
        key, value = item.split("=", 1)
        if key not in kinds:
            raise SystemExit(f"unknown ReaderMix field {key!r}; fields: {', '.join(kinds)}")
        # A set of kinds is given as "a|b" ("" for none).
        kind = kinds[key]
        changes[key] = frozenset(filter(None, value.split("|"))) if kind is frozenset else kind(value)
    b.mix = replace(a.mix, **changes)
    return b


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True, help="a copy of a `ragline eval qa` data dir")
    ap.add_argument("--cache", type=Path, required=True, help="pickle of the retrieved contexts")
    ap.add_argument("--split", choices=["heldout", "calibration"], default="heldout")
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--partial", type=int, default=150)
    ap.add_argument("--reader", action="append", default=[], help="label=model dir (default: packaged)")
    ap.add_argument("--mix", action="append", default=[], help="ReaderMix fields, e.g. follow=1,candidates=6")
    args = ap.parse_args()
    engine = ragline.open(args.data_dir)
    if args.cache.exists():
        data = pickle.loads(args.cache.read_bytes())
    else:
        data = contexts(engine, args.split, args.questions, args.partial)
        args.cache.write_bytes(pickle.dumps(data))
    full, part = engine.collection(FULL_COLLECTION), engine.collection(PARTIAL_COLLECTION)
    base = (
        engine.answering.extractive_for(full.answer, full.store),
        engine.answering.extractive_for(part.answer, part.store),
    )
    readers: list[tuple[str, OnnxReader | None]] = [("packaged", None)]
    if args.reader:
        readers = [(lab, OnnxReader(Path(p), threads=2)) for lab, p in (r.split("=", 1) for r in args.reader)]
    for label, reader in readers:
        for spec in args.mix or [""]:
            pair = (variant(base[0], reader, spec), variant(base[1], reader, spec))
            evaluate(pair, data, f"{args.split} {label} {spec or 'default'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
