"""Span decoding rules for the reader, on the held-out calibration articles' answer units (issue 23).

The reader's span is the best start + end logit pair within ``MAX_ANSWER_TOKENS`` (reader.py,
``best_span``). This scores other rules on the same logits: a shorter maximum length, a length
penalty per token, and SQuAD's heuristic that an answer rarely repeats the question's words (a
penalty per question word inside the span: "count", per share of the span: "share", or on its first
and last token: "edges"). Each answerable held-out unit is read once; spans are tidied as the
answerer tidies them (``short.tidy_span``); F1 / EM as ``ragline eval qa`` computes them.

    PYTHONPATH=src:bench .venv/bin/python bench/span_decoding.py src/ragline/generation/models/reader
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

import numpy as np
from train_reader import build

from ragline.eval.squad import exact_match, f1, normalize_answer
from ragline.generation.reader import OnnxReader
from ragline.generation.short import tidy_span
from ragline.text.words import STOPWORDS


def _word(text: str, a: int, b: int) -> str:
    while a > 0 and text[a - 1].isalnum():
        a -= 1
    while b < len(text) and text[b].isalnum():
        b += 1
    return normalize_answer(text[a:b])


def read_all(reader: OnnxReader) -> list[tuple[Any, Any, np.ndarray, np.ndarray, np.ndarray]]:
    """(example, window, start logits, end logits, question-word flag per token) per unit."""
    _, dev = build(4)
    rows = []
    for e in (e for e in dev if e.answer):
        windows = reader.featurizer.windows(e.question, [e.context])
        start, end, answer = reader.logits(windows)
        r = int(np.argmax(answer))
        w = windows[r]
        asked = {normalize_answer(x) for x in e.question.split()} - STOPWORDS - {""}
        flags = np.array([a >= 0 and _word(e.context, a, b) in asked for a, b in w.offsets], dtype=np.float64)
        n = len(w.ids)
        rows.append((e, w, start[r][:n].astype(np.float64), end[r][:n].astype(np.float64), flags))
    return rows


def decode(rows: list[Any], longest: int, per_token: float, asked: float, mode: str) -> tuple[float, float]:
    ems, f1s = [], []
    for e, w, start, end, flags in rows:
        ctx = np.array([o[0] >= 0 for o in w.offsets])
        n = len(start)
        i, j = np.indices((n, n))
        length = (j - i).astype(np.float64)
        inside = np.concatenate([[0.0], np.cumsum(flags)])
        penalty = {
            "count": asked * (inside[j + 1] - inside[i]),
            "share": asked * (inside[j + 1] - inside[i]) / np.maximum(1.0, length + 1),
            "edges": asked * (flags[:, None] + flags[None, :]),
        }[mode]
        score = np.where(ctx, start, -np.inf)[:, None] + np.where(ctx, end, -np.inf)[None, :]
        score = np.where((j >= i) & (j < i + longest), score - per_token * length - penalty, -np.inf)
        a, b = divmod(int(np.argmax(score)), n)
        x, y = tidy_span(e.context, w.offsets[a][0], w.offsets[b][1])
        ems.append(exact_match(e.context[x:y], [e.answer]))
        f1s.append(f1(e.context[x:y], [e.answer]))
    return float(np.mean(ems)), float(np.mean(f1s))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reader", type=Path)
    args = ap.parse_args()
    rows = read_all(OnnxReader(args.reader, threads=2))
    print(f"{len(rows)} answerable held-out units")
    results = []
    for longest, per_token, asked, mode in itertools.product(
        [30, 15, 10], [0.0, 0.1, 0.2, 0.4], [0.0, 0.5, 1.0, 2.0, 4.0], ["count", "share", "edges"]
    ):
        if asked == 0 and mode != "count":
            continue
        em, score = decode(rows, longest, per_token, asked, mode)
        results.append(
            (score, em, f"max {longest} tokens, {per_token} a token, {asked} a question word ({mode})")
        )
    base = next(r for r in results if r[2].startswith("max 30 tokens, 0.0 a token, 0.0"))
    print(f"shipped rule: F1 {base[0]:.3f} EM {base[1]:.3f}")
    for score, em, label in sorted(results, reverse=True)[:10]:
        print(f"F1 {score:.3f} EM {em:.3f}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
