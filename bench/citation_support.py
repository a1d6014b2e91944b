"""Calibrate the offline citation-support score on SQuAD v1.1 dev and report it on a held-apart split.

Claims are built per question, the question's paragraph being the cited passage:

* supported: the sentence holding the gold answer with a quarter of its other content words
  dropped (an answer compresses what it cites), and the question followed by its gold answer
  (the crowd worker's own paraphrase of the passage);
* unsupported: a sentence of another paragraph of the same article (same topic and names), the
  gold sentence with its answer swapped for another question's answer from the same article
  that the paragraph lacks (a swapped number or entity), and the question followed by that
  wrong answer.

The logistic weights are fitted (Newton-Raphson) on the calibration split (articles with index
% 4 in {0, 1}); the threshold is the one with the best F1 there. Precision, recall, F1 and AUC are
then reported on the test split (% 4 in {2, 3}), which the fit never saw. The printed
``SupportModel(...)`` is what ``ragline.generation.support_score`` stores.

Usage::

    .venv/bin/python bench/citation_support.py --paragraphs 10
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from benchlib import auc, fit_logistic

import ragline
from ragline.eval.squad import split_of
from ragline.generation.lexical import terms
from ragline.generation.support_score import (
    FEATURES,
    SupportModel,
    evidence_sentences,
    support_features,
    verbatim,
)
from ragline.text.sentences import sentence_spans

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "squad-v1.1-dev"
SEED = 2023


@dataclass
class Example:
    split: str
    kind: str
    claim: str
    passage: str
    label: int


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def compress(sentence: str, keep: str, rng: random.Random) -> str:
    """Drop a quarter of the words that are neither stop words nor part of ``keep``."""
    words = sentence.split()
    keep_words = set(keep.lower().split())
    droppable = [i for i, w in enumerate(words) if terms(w) and w.lower().strip(",.;:") not in keep_words]
    drop = set(rng.sample(droppable, len(droppable) // 4)) if droppable else set()
    return " ".join(w for i, w in enumerate(words) if i not in drop)


def build(dataset: Path, paragraphs_per_article: int) -> list[Example]:
    rng = random.Random(SEED)
    corpus = {p["_id"]: p for p in read_jsonl(dataset / "corpus.jsonl")}
    queries = {q["_id"]: q["text"] for q in read_jsonl(dataset / "queries.jsonl")}
    by_paragraph: dict[str, list[dict]] = {}
    for a in read_jsonl(dataset / "answers.jsonl"):
        by_paragraph.setdefault(a["corpus_id"], []).append(a)
    articles: dict[int, list[str]] = {}
    for pid in corpus:
        articles.setdefault(int(pid.split("-")[0]), []).append(pid)
    out: list[Example] = []
    for article, pids in sorted(articles.items()):
        split = split_of(article)
        answers_of_article = [a["answers"][0] for pid in pids for a in by_paragraph.get(pid, [])]
        for pid in rng.sample(pids, min(paragraphs_per_article, len(pids))):
            qs = by_paragraph.get(pid)
            if not qs:
                continue
            a = rng.choice(qs)
            text = corpus[pid]["text"]
            gold, start = a["answers"][0], a["answer_starts"][0]
            spans = sentence_spans(text)
            sent = next((text[s:e] for s, e in spans if s <= start < e), None)
            if sent is None or gold not in sent:
                continue
            question = queries[a["_id"]]
            wrong = [w for w in answers_of_article if w.lower() not in text.lower() and w != gold]
            others = [
                s
                for other in pids
                if other != pid
                for s in evidence_sentences(corpus[other]["text"])
                if len(terms(s)) >= 4 and not verbatim(s, [text])
            ]
            out.append(Example(split, "compressed gold sentence", compress(sent, gold, rng), text, 1))
            out.append(Example(split, "question + gold answer", f"{question} {gold}.", text, 1))
            if others:
                out.append(Example(split, "other paragraph's sentence", rng.choice(others), text, 0))
            if wrong:
                w = rng.choice(wrong)
                out.append(Example(split, "answer swapped in sentence", sent.replace(gold, w, 1), text, 0))
                out.append(Example(split, "question + wrong answer", f"{question} {w}.", text, 0))
    return out


def cosines(examples: list[Example], embedder) -> np.ndarray:
    """The best cosine between each claim and a sentence of its passage (1 for a verbatim claim)."""
    out = []
    passages = {e.passage: evidence_sentences(e.passage) for e in examples}
    texts = list(dict.fromkeys([e.claim for e in examples] + [s for ss in passages.values() for s in ss]))
    t0 = time.perf_counter()
    vecs = dict(zip(texts, embedder.embed_documents([t[:400] for t in texts]), strict=True))
    print(f"embedded {len(texts)} sentences in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    for e in examples:
        sentences = passages[e.passage]
        if verbatim(e.claim, sentences):
            cos = 1.0
        else:
            cos = float(np.max(np.stack([vecs[s] for s in sentences]) @ vecs[e.claim]))
        out.append(cos)
    return np.asarray(out, dtype=np.float64)


def featurise(examples: list[Example], cos: np.ndarray) -> np.ndarray:
    rows = [
        support_features(e.claim, evidence_sentences(e.passage), float(c)).as_tuple()
        for e, c in zip(examples, cos, strict=True)
    ]
    return np.asarray(rows, dtype=np.float64)




# Evidence can only raise support and missing numbers or names only lower it: a weight of the
# wrong sign would be fitting an accident of the sampled claims, so such a feature is left out
# (weight 0) and the rest refitted.
SIGNS = tuple(-1 if "missing" in f else 1 for f in FEATURES)


def fit_signed(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logistic regression whose weights keep the signs in SIGNS (features dropped until they do)."""
    keep = list(range(x.shape[1]))
    while True:
        w = fit_logistic(x[:, keep], y, 1e-2, tol=1e-9)
        wrong = [j for j, v in zip(keep, w[1:], strict=True) if v * SIGNS[j] < 0]
        if not wrong:
            full = np.zeros(x.shape[1] + 1)
            full[0] = w[0]
            for j, v in zip(keep, w[1:], strict=True):
                full[j + 1] = v
            return full
        worst = min(wrong, key=lambda j: w[1 + keep.index(j)] * SIGNS[j])
        print(f"dropped {FEATURES[worst]} (fitted weight of the wrong sign)", file=sys.stderr)
        keep.remove(worst)




def prf(scores: np.ndarray, labels: np.ndarray, t: float) -> tuple[float, float, float]:
    pred = scores >= t
    tp = float((pred & (labels == 1)).sum())
    p = tp / pred.sum() if pred.sum() else 0.0
    r = tp / (labels == 1).sum() if (labels == 1).sum() else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path, default=DATASET)
    ap.add_argument("--paragraphs", type=int, default=10, help="paragraphs sampled per article")
    ap.add_argument("--cache", type=Path, help="an .npy file keeping the cosines between runs")
    args = ap.parse_args()
    examples = build(args.dataset, args.paragraphs)
    if args.cache and args.cache.is_file():
        cos = np.load(args.cache)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            engine = ragline.open(Path(tmp))
            cos = cosines(examples, engine.embedder.transient())
        if args.cache:
            np.save(args.cache, cos)
    x = featurise(examples, cos)
    y = np.asarray([e.label for e in examples], dtype=np.float64)
    cal = np.asarray([e.split == "calibration" for e in examples])
    w = fit_signed(x[cal], y[cal])
    model = SupportModel(
        bias=round(float(w[0]), 3), weights=tuple(round(float(v), 3) for v in w[1:]), threshold=0.5
    )

    def scores(mask: np.ndarray, m: SupportModel) -> np.ndarray:
        from ragline.generation.support_score import SupportFeatures

        return np.asarray([m(SupportFeatures(*row)) for row in x[mask]])

    cal_scores = scores(cal, model)
    grid = [round(t, 2) for t in np.arange(0.05, 0.96, 0.01)]
    best = max(grid, key=lambda t: (prf(cal_scores, y[cal], t)[2], -abs(t - 0.5)))
    model = SupportModel(bias=model.bias, weights=model.weights, threshold=float(best))
    test = ~cal
    test_scores = scores(test, model)
    print(f"features: {', '.join(FEATURES)}")
    print(
        f"examples: calibration {int(cal.sum())} ({int(y[cal].sum())} supported), "
        f"test {int(test.sum())} ({int(y[test].sum())} supported)"
    )
    print(model)
    print("| split | claims | supported | threshold | precision | recall | F1 | AUC |")
    print("|---|---|---|---|---|---|---|---|")
    for name, mask, s in (("calibration", cal, cal_scores), ("test (held apart)", test, test_scores)):
        p, r, f = prf(s, y[mask], best)
        print(
            f"| {name} | {int(mask.sum())} | {int(y[mask].sum())} | {best:.2f} | {p:.3f} | {r:.3f} "
            f"| {f:.3f} | {auc(s, y[mask]):.3f} |"
        )
    print("\nper claim kind on the test split (share judged supported):")
    kinds = sorted({e.kind for e in examples})
    test_examples = [e for e in examples if e.split != "calibration"]
    for k in kinds:
        idx = [i for i, e in enumerate(test_examples) if e.kind == k]
        print(f"| {k} | {len(idx)} | {float((test_scores[idx] >= best).mean()):.3f} |")
    for j, name in enumerate(FEATURES):
        sign = -1 if "missing" in name else 1
        print(f"AUC of {name} alone (test): {auc(x[test][:, j] * sign, y[test]):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
