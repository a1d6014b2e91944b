"""Micro-batching of query embeddings: queries that arrive within a few milliseconds of each other
(concurrent requests of a server) go through the model as one batch.

Off by default (``embedding.query_batch_window_ms = 0``): on a 2-core machine shared with other jobs
it raised throughput under 8-16 concurrent clients by 15-100 % in every run, but the machine's own
noise was of that order, and light traffic pays up to the window per query (bench/microbatch.py,
docs/benchmarks.md). Worth turning on for a server with many concurrent clients.

Example::

    batcher = MicroBatcher(model.embed_queries, window_s=0.003, max_batch=16)
    vector = batcher.embed("how do I rotate keys?")    # from any thread
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Protocol, runtime_checkable

import numpy as np

from ragline.embedding.base import Vectors


@runtime_checkable
class QueryBatchEmbedder(Protocol):
    """An embedder that embeds several queries in one model run, as ``embed_query`` would each."""

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...


class MicroBatcher:
    """Collects queries for ``window_s`` after the first one waiting (or until ``max_batch``) and
    embeds them with one ``embed_batch`` call on a worker thread, started on first use."""

    def __init__(
        self, embed_batch: Callable[[Sequence[str]], Vectors], window_s: float, max_batch: int
    ) -> None:
        if window_s <= 0 or max_batch < 1:
            raise ValueError(f"window_s must be > 0 and max_batch >= 1, got {window_s} and {max_batch}")
        self.embed_batch, self.window_s, self.max_batch = embed_batch, window_s, max_batch
        self.batches = 0  # model calls made, for tests and benchmarks
        self._cv = threading.Condition()
        self._pending: list[tuple[str, Future[Vectors]]] = []
        self._worker: threading.Thread | None = None

    def embed(self, text: str) -> Vectors:
        """The query's vector; raises what the batch's model call raised."""
        fut: Future[Vectors] = Future()
        with self._cv:
            if self._worker is None:
                self._worker = threading.Thread(target=self._loop, name="ragline-query-batcher", daemon=True)
                self._worker.start()
            self._pending.append((text, fut))
            self._cv.notify()
        return fut.result()

    def _loop(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: bool(self._pending))
                first = time.monotonic()
                while len(self._pending) < self.max_batch:
                    left = self.window_s - (time.monotonic() - first)
                    if left <= 0:
                        break
                    self._cv.wait(left)
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            self.batches += 1
            try:
                vectors = self.embed_batch([t for t, _ in batch])
            except Exception as exc:  # every waiter of the batch hears it
                for _, f in batch:
                    f.set_exception(exc)
                continue
            for (_, f), v in zip(batch, vectors, strict=True):
                f.set_result(np.array(v, dtype=np.float32))
