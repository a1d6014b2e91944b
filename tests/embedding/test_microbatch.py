"""Micro-batching of query embeddings: concurrent queries share model runs and get the vectors
they would get alone; a failing batch reaches every waiter."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ragline.embedding.cache import CachedEmbedder, EmbeddingCache
from ragline.embedding.microbatch import MicroBatcher
from ragline.embedding.onnx import OnnxEmbedder


def _concurrently(fn, texts: list[str]) -> list[np.ndarray]:
    out: list[np.ndarray] = [np.zeros(0)] * len(texts)
    start = threading.Barrier(len(texts))

    def run(i: int) -> None:
        start.wait()
        out[i] = fn(texts[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_concurrent_queries_share_batches_and_keep_their_own_vectors() -> None:
    sizes: list[int] = []

    def embed_batch(texts: Sequence[str]) -> np.ndarray:
        sizes.append(len(texts))
        return np.array([[len(t), ord(t[-1])] for t in texts], dtype=np.float32)

    # A long window so that all 12 threads land in it however loaded the machine is.
    batcher = MicroBatcher(embed_batch, window_s=0.5, max_batch=8)
    texts = [f"query number {i}{chr(97 + i)}" for i in range(12)]
    vectors = _concurrently(batcher.embed, texts)
    for t, v in zip(texts, vectors, strict=True):
        assert v.tolist() == [len(t), ord(t[-1])]
    assert sum(sizes) == 12
    assert max(sizes) <= 8
    assert batcher.batches == len(sizes) < 12


def test_a_failing_batch_raises_in_every_caller() -> None:
    def boom(texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError(f"model died on {len(texts)}")

    batcher = MicroBatcher(boom, window_s=0.2, max_batch=4)
    errors: list[str] = []

    def call(text: str) -> np.ndarray:
        try:
            return batcher.embed(text)
        except RuntimeError as exc:
            errors.append(str(exc))
            return np.zeros(0)

    _concurrently(call, ["a", "b", "c"])
    assert len(errors) == 3 and all(e.startswith("model died") for e in errors)


def test_bad_window_is_refused() -> None:
    with pytest.raises(ValueError, match="window_s"):
        MicroBatcher(lambda t: np.zeros((len(t), 2)), window_s=0, max_batch=4)


@pytest.mark.integration
def test_batched_onnx_queries_equal_single_ones(tmp_path: Path) -> None:
    model = OnnxEmbedder()
    texts = ["how do I rotate keys?", "backups", "what does the quota of a tenant limit per day and per key?"]
    alone = np.stack([model.embed_query(t) for t in texts])
    together = model.embed_queries(texts)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    # Through the engine's cached embedder with the setting on: the same vectors, fewer model runs.
    cached = CachedEmbedder(OnnxEmbedder(), EmbeddingCache(tmp_path / "c.sqlite"), query_window_ms=300)
    got = _concurrently(cached.embed_query, texts)
    np.testing.assert_allclose(np.stack(got), alone, atol=1e-5)
    assert cached.batcher is not None and cached.batcher.batches < len(texts)
