"""Train the product-quantisation codebook ragline ships for a model's token states
(``chunking.token_state_format = "pq"``, src/ragline/embedding/tokens.py).

The packaged model's token states of the first ``--docs`` distinct passages of an unrelated corpus
(SQuAD's Wikipedia paragraphs, not an evaluation corpus) are sampled; each of the 32 groups of 12
dimensions gets 256 centroids by k-means (Lloyd, seeded). Written as float16 to
``src/ragline/embedding/codebooks/<model_id>.npy``.

    .venv/bin/python bench/train_token_codebook.py ../shared/datasets/squad-v1.1-dev/corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ragline.embedding.onnx import OnnxEmbedder
from ragline.embedding.tokens import CODEBOOK_DIR, Codebook

GROUPS = 32


def kmeans(x: np.ndarray, k: int, iters: int = 12, seed: int = 0) -> np.ndarray:
    """Lloyd's k-means from ``k`` distinct random rows; an emptied cluster takes a random row."""
    rng = np.random.default_rng(seed)
    c = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(iters):
        a = ((c * c).sum(1)[None, :] - 2 * x @ c.T).argmin(1)
        for j in range(k):
            m = a == j
            c[j] = x[m].mean(0) if m.any() else x[rng.integers(len(x))]
    return c.astype(np.float32)


def train_pq(sample: np.ndarray, groups: int) -> np.ndarray:
    """``(groups, 256, dim / groups)`` centroids, one k-means per group of dimensions."""
    sub = sample.shape[1] // groups
    return np.stack([kmeans(sample[:, i * sub : (i + 1) * sub], 256) for i in range(groups)])


def passages(corpus: Path, n: int) -> list[str]:
    texts: list[str] = []
    seen: set[str] = set()
    with corpus.open(encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d["text"] in seen:
                continue
            seen.add(d["text"])
            texts.append(f"{d.get('title', '')}. {d['text']}")  # as the shipped codebook's rows
            if len(texts) >= n:
                break
    return texts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path, help="a BEIR corpus.jsonl of text unrelated to evaluation")
    ap.add_argument("--docs", type=int, default=1500)
    ap.add_argument("--sample", type=int, default=60_000, help="token rows k-means is trained on")
    ap.add_argument("--states", type=Path, help="a saved .npy of token rows (skips the model run)")
    args = ap.parse_args(argv)
    model = OnnxEmbedder()
    if args.states and args.states.is_file():
        rows = np.load(args.states)
    else:
        rows = np.concatenate(model.embed_with_tokens(passages(args.corpus, args.docs))[1])
        if args.states:
            np.save(args.states, rows)
    sample = rows[np.random.default_rng(0).choice(len(rows), min(args.sample, len(rows)), replace=False)]
    books = train_pq(sample, GROUPS).astype(np.float16)
    CODEBOOK_DIR.mkdir(parents=True, exist_ok=True)
    out = CODEBOOK_DIR / f"{model.model_id}.npy"
    np.save(out, books)
    print(
        f"{out}: {books.shape}, id {Codebook(books.astype(np.float32)).id.hex()}, from {len(rows)} token rows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
