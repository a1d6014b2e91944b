"""Label-free fine-tuning of the embedding model on a collection's own text.

Training pairs come from the corpus alone, never from evaluation queries or judgements:

* **title → passage**: a document's title is a natural short query for its opening chunk;
* **inverse cloze** (Lee, Chang & Toutanova, ACL 2019): a sentence drawn from a chunk is the query,
  the chunk without that sentence is the passage.

The model is trained with in-batch negatives (MultipleNegativesRankingLoss; Henderson et al. 2017,
"Efficient Natural Language Response Suggestion"): each query must score its own passage above
the other passages of the batch. A held-out slice of the pairs measures retrieval before and after
(nDCG@10 of the true passage among all held-out passages), so the report needs no labels either.

Example::

    pairs = build_pairs(store.all_chunks(), max_pairs=4000)
    report = fine_tune(base_model_dir, pairs, out_dir, epochs=1)
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragline.errors import ConfigError, EmbeddingError
from ragline.text.sentences import sentence_spans
from ragline.types import Chunk

log = logging.getLogger(__name__)
# In-batch softmax temperature: sentence-transformers' MultipleNegativesRankingLoss default.
_SCALE = 20.0
_MIN_SENTENCE_CHARS = 30


@dataclass(frozen=True, slots=True)
class TrainingPair:
    query: str
    passage: str
    kind: str  # "title" or "cloze"


@dataclass(frozen=True, slots=True)
class TuneReport:
    pairs_train: int
    pairs_heldout: int
    steps: int
    seconds: float
    heldout_ndcg_before: float
    heldout_ndcg_after: float
    model_dir: Path


def build_pairs(chunks: Sequence[Chunk], *, max_pairs: int = 4000, seed: int = 0) -> list[TrainingPair]:
    """Title→passage and inverse-cloze pairs from ``chunks`` (at most one of each per chunk)."""
    rng = random.Random(seed)
    pairs: list[TrainingPair] = []
    first_chunk: dict[str, Chunk] = {}
    for c in chunks:
        if c.doc_id not in first_chunk or c.position < first_chunk[c.doc_id].position:
            first_chunk[c.doc_id] = c
    for c in first_chunk.values():
        if c.title and c.title.strip() and c.title.strip() not in c.text[:200]:
            pairs.append(TrainingPair(c.title.strip(), c.text, "title"))
    for c in chunks:
        spans = [(a, b) for a, b in sentence_spans(c.text) if b - a >= _MIN_SENTENCE_CHARS]
        if len(spans) < 3:
            continue
        a, b = spans[rng.randrange(len(spans))]
        rest = (c.text[:a] + c.text[b:]).strip()
        header = f"{c.header}\n" if c.header else ""
        pairs.append(TrainingPair(c.text[a:b], header + rest, "cloze"))
    rng.shuffle(pairs)
    return pairs[:max_pairs]


def _ndcg_at_10(query_vecs: np.ndarray, passage_vecs: np.ndarray) -> float:
    """Mean nDCG@10 when query i's only relevant passage is passage i."""
    sims = query_vecs @ passage_vecs.T
    own = np.diag(sims)
    ranks = (sims > own[:, None]).sum(axis=1)  # 0-based rank of the true passage
    gains = np.where(ranks < 10, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(gains.mean())


def fine_tune(
    base_model: Path,
    pairs: Sequence[TrainingPair],
    out_dir: Path,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    max_seq_length: int = 128,
    heldout: float = 0.1,
    threads: int = 2,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TuneReport:
    """Fine-tune the sentence-transformers model at ``base_model`` and save it to ``out_dir``."""
    if len(pairs) < 2 * batch_size:
        raise ConfigError(
            f"only {len(pairs)} training pairs; need at least {2 * batch_size} (a collection with more "
            "or longer documents, or a smaller --batch-size)"
        )
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ConfigError(
            "fine-tuning needs torch and sentence-transformers: pip install 'ragline[export]'"
        ) from None
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = random.Random(seed)
    n_held = max(batch_size, int(len(pairs) * heldout))
    held, train = list(pairs[:n_held]), list(pairs[n_held:])
    try:
        model = SentenceTransformer(str(base_model), device="cpu", local_files_only=True)
    except Exception as exc:  # any load failure: wrong path, not a sentence-transformers model
        raise EmbeddingError(f"cannot load {base_model} as a sentence-transformers model: {exc}") from exc
    model.max_seq_length = max_seq_length

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        )

    before = _ndcg_at_10(encode([p.query for p in held]), encode([p.passage for p in held]))
    steps_per_epoch = len(train) // batch_size
    total = steps_per_epoch * epochs
    warmup = max(1, total // 10)

    def lr_at(step: int) -> float:
        # Linear warm-up then linear decay, as sentence-transformers' default schedule.
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    model.train()
    started, step = time.perf_counter(), 0
    for _ in range(epochs):
        rng.shuffle(train)
        for i in range(steps_per_epoch):
            batch = train[i * batch_size : (i + 1) * batch_size]
            q = model.preprocess([p.query for p in batch])
            d = model.preprocess([p.passage for p in batch])
            eq = torch.nn.functional.normalize(model(q)["sentence_embedding"], dim=-1)
            ed = torch.nn.functional.normalize(model(d)["sentence_embedding"], dim=-1)
            loss = torch.nn.functional.cross_entropy(eq @ ed.T * _SCALE, torch.arange(len(batch)))
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            if progress is not None:
                progress(step, total)
            if not math.isfinite(float(loss.detach())):
                raise EmbeddingError(
                    f"training diverged at step {step} (loss {float(loss)}); lower the learning rate"
                )
    model.eval()
    after = _ndcg_at_10(encode([p.query for p in held]), encode([p.passage for p in held]))
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    return TuneReport(len(train), len(held), step, time.perf_counter() - started, before, after, out_dir)
