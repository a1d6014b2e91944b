"""Train the packaged extractive reader on SQuAD v1.1's calibration articles (issue 23).

Training data (never the test split: articles % 4 in {2, 3}), at the level the answerer reads
(one answer unit of ``text.sentences.answer_units``, after its title: "Title: unit"):
- positives: every calibration question with the unit(s) holding its first gold answer;
- hard negatives: 45% of the questions again with another unit of the same paragraph (one without
  any gold answer), so "shares the question's words" is not "answers it";
- near-miss negatives: 20% with a unit of another paragraph of the same article.
Calibration articles whose index is among the last ``--holdout`` are kept out of training and used
to report the exported (int8) model's EM/F1 and answer-probability separation.

    PYTHONPATH=src .venv/bin/python bench/train_reader.py --out src/ragline/generation/models/reader \
        --checkpoint /tmp/reader.pt
    PYTHONPATH=src .venv/bin/python bench/train_reader.py --eval-only \
        --out src/ragline/generation/models/reader
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from ragline.eval.squad import SquadParagraph, contains_answer, exact_match, f1, load_squad
from ragline.generation.reader import OnnxReader
from ragline.text.sentences import answer_units
from ragline.text.tokenizer import packaged_model_dir
from ragline.tune.reader import ReaderExample, export_checkpoint, read_examples, train_reader

SQUAD = Path("/work/shared/datasets/squad-v1.1-dev")
TRAINED_ON = "SQuAD v1.1 dev, calibration articles (index % 4 in {0, 1}) but the last 4: answer units"


def _units(text: str) -> list[tuple[int, int]]:
    return answer_units(text) or [(0, len(text))]


def titled(title: str, text: str) -> tuple[str, int]:
    """The unit as the answerer shows it to the reader ("Title: unit") and the unit's offset."""
    head = f"{title.replace('_', ' ')}: " if title else ""
    return head + text, len(head)


def build(holdout: int, seed: int = 0) -> tuple[list[ReaderExample], list[ReaderExample]]:
    """Sentence-level examples (the answerer reads its candidate units, not whole passages)."""
    ds = load_squad(SQUAD)
    paras = {p.id: p for p in ds.paragraphs}
    by_article: dict[int, list[str]] = {}
    for p in ds.paragraphs:
        by_article.setdefault(p.article, []).append(p.id)
    cal = sorted(a for a in by_article if a % 4 in (0, 1))
    held = set(cal[-holdout:]) if holdout else set()
    rng = random.Random(seed)
    starts = {}
    for line in (SQUAD / "answers.jsonl").read_text().splitlines():
        o = json.loads(line)
        starts[o["_id"]] = o["answer_starts"][0]
    train: list[ReaderExample] = []
    dev: list[ReaderExample] = []

    def unit(p: SquadParagraph, a: int, b: int) -> tuple[str, int]:
        return titled(p.title, p.text[a:b])

    for q in ds.questions_in("calibration"):
        p = paras[q.paragraph_id]
        out = dev if q.article in held else train
        gold, s0 = q.answers[0], starts[q.id]
        units = _units(p.text)
        inside = [(a, b) for a, b in units if b > s0 and a < s0 + len(gold)]
        a, b = inside[0][0], inside[-1][1]
        text, shift = unit(p, a, b)
        out.append(ReaderExample(q.text, text, gold, s0 - a + shift))
        r = rng.random()
        rest = [(x, y) for x, y in units if (x, y) not in inside]
        if r < 0.45 and rest:
            x, y = rest[rng.randrange(len(rest))]
            if not contains_answer(p.text[x:y], q.answers):
                out.append(ReaderExample(q.text, unit(p, x, y)[0], "", -1))
        elif r < 0.65:
            others = [pid for pid in by_article[q.article] if pid != p.id]
            if others:
                o = paras[rng.choice(others)]
                x, y = rng.choice(_units(o.text))
                if not contains_answer(o.text[x:y], q.answers):
                    out.append(ReaderExample(q.text, unit(o, x, y)[0], "", -1))
    return train, dev


def evaluate(model_dir: Path, dev: list[ReaderExample], limit: int) -> None:
    reader = OnnxReader(model_dir, threads=2)
    ems, f1s, pos_p, neg_p = [], [], [], []
    t0 = time.perf_counter()
    for ex in dev[:limit]:
        span = reader.read(ex.question, [ex.context])[0]
        prob = span.probability if span else 0.0
        if ex.answer:
            pred = span.text if span else ""
            ems.append(exact_match(pred, [ex.answer]))
            f1s.append(f1(pred, [ex.answer]))
            pos_p.append(prob)
        else:
            neg_p.append(prob)
    dt = (time.perf_counter() - t0) / max(1, min(limit, len(dev)))
    pp, nn = np.asarray(pos_p), np.asarray(neg_p)
    auc = float((pp[:, None] > nn[None, :]).mean()) if len(pp) and len(nn) else float("nan")
    print(
        f"held-out calibration: {len(ems)} answerable EM {np.mean(ems):.3f} F1 {np.mean(f1s):.3f}; "
        f"{len(nn)} negatives; answer-prob AUC {auc:.3f}; "
        f"p>0.5: pos {float((pp > 0.5).mean()):.3f} neg {float((nn > 0.5).mean()):.3f}; "
        f"{dt * 1000:.0f} ms/question"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--holdout", type=int, default=4, help="last N calibration articles kept out of training")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--max-seq", type=int, default=128)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--checkpoint-every", type=int, default=50)
    ap.add_argument(
        "--keep-checkpoints", action="store_true", help="keep every checkpoint as <stem>-<step>.pt"
    )
    ap.add_argument("--limit", type=int, default=0, help="train on the first N examples only")
    ap.add_argument("--eval-limit", type=int, default=600)
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument(
        "--export-checkpoint", action="store_true", help="export --checkpoint to --out, then evaluate"
    )
    ap.add_argument("--no-quantize", action="store_true")
    ap.add_argument(
        "--init", type=Path, help="start from this checkpoint's weights (fresh optimizer and schedule)"
    )
    ap.add_argument(
        "--answer-loss", type=float, default=1.0, help="weight of the answer head's loss (0: span only)"
    )
    ap.add_argument(
        "--negatives",
        type=Path,
        help="JSONL of further examples (bench/mine_reader_negatives.py: the answerer's own top units)",
    )
    ap.add_argument(
        "--eval-negatives",
        type=Path,
        help="JSONL of held-out negatives (mine_reader_negatives.py --heldout-only): the answer head's "
        "AUC against the answerer's own top units, too",
    )
    args = ap.parse_args()
    train, dev = build(args.holdout)
    if args.negatives:
        train += read_examples(args.negatives)
    random.Random(1).shuffle(dev)
    print(
        f"{len(train)} training examples ({sum(bool(e.answer) for e in train)} answered), {len(dev)} held out"
    )
    if args.export_checkpoint:
        export_checkpoint(
            packaged_model_dir(),
            args.checkpoint,
            args.out,
            quantize=not args.no_quantize,
            meta={
                "trained_on": TRAINED_ON,
                "train_max_seq": args.max_seq,
                "batch_size": args.batch_size,
                "learning_rate": args.lr,
                "examples": len(train),
            },
        )
    elif not args.eval_only:
        if args.limit:
            train = train[: args.limit]
        t0 = time.perf_counter()
        first: list[int] = []  # the first step of this run (after a resume)

        def progress(step: int, total: int, loss: float) -> None:
            if not first:
                first.append(step)
            if step % 10 == 0 or step == total:
                per_step = (time.perf_counter() - t0) / (step - first[0] + 1)
                print(f"step {step}/{total} loss {loss:.3f} {per_step:.2f} s/step", flush=True)

        report = train_reader(
            packaged_model_dir(),
            train,
            args.out,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            max_seq=args.max_seq,
            max_steps=args.max_steps,
            quantize=not args.no_quantize,
            checkpoint=args.checkpoint,
            checkpoint_every=args.checkpoint_every,
            keep_checkpoints=args.keep_checkpoints,
            init=args.init,
            answer_loss=args.answer_loss,
            progress=progress,
            meta={"trained_on": TRAINED_ON},
        )
        print(report)
    evaluate(args.out, dev, args.eval_limit)
    if args.eval_negatives:
        mined = [e for e in dev if e.answer] + read_examples(args.eval_negatives)
        random.Random(1).shuffle(mined)
        print("against the answerer's own top units:", end=" ")
        evaluate(args.out, mined, args.eval_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
