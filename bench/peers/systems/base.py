"""The interface every system implements; the worker drives it the same way for all four."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np
from peerbench.data import Doc

# Every hybrid setup fetches CANDIDATES * k candidates from each retriever before fusing with
# reciprocal rank fusion (k = 60) and keeping k: ragline's default candidate_multiplier.
CANDIDATES = 4
RRF_K = 60
# Chunking for all: 256 embedding-model tokens, 32 overlap (prepared docs fit in one chunk).
CHUNK_SIZE = 256
CHUNK_OVERLAP = 32
DIM = 384
# Every system's embedding model reads the first 128 word pieces of a chunk (BM25 still indexes
# the whole chunk): the length all-MiniLM-L6-v2 was trained at, and half the embedding time of
# its 256-position limit. With 256, eight cold ingests (4 systems x 2 datasets) alone took ~40 of
# the 60 minutes on this machine (measured 2026-12-03: ~16 chunks/s), leaving no time to scale.
EMBED_MAX_TOKENS = 128

# No hub access here: every framework must load the packaged model files from disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("LANGCHAIN_TRACING_V2", "false")


class System(ABC):
    name: str = ""
    description: str = ""

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Anything to do once before timing (e.g. a one-time model export)."""

    @abstractmethod
    def load_model(self) -> None:
        """Load the embedding model (timed on its own, not part of ingest)."""

    @abstractmethod
    def build(self, docs: list[Doc], workdir: Path) -> dict:
        """Cold ingest: chunk, embed, index and persist ``docs`` under ``workdir``.

        Returns at least ``{"chunks": number of chunks indexed}``.
        """

    @abstractmethod
    def reingest(self, docs: list[Doc], workdir: Path) -> dict:
        """Open the persisted index from ``workdir`` (model already loaded), ingest the same
        unchanged ``docs`` with the framework's own change detection, persist, and make the new
        index the one :meth:`search` uses. Returns ``{"chunks_embedded": n, ...}``."""

    @abstractmethod
    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Hybrid search: the top ``k`` chunks as (document id, fused score), best first."""

    def embed_max_tokens(self) -> int:
        """Word pieces the loaded embedding model reads, as its runtime reports it (not as set)."""
        raise NotImplementedError

    def thread_safe(self) -> bool:
        return True

    # Quality-only variants: name -> what changes. After the timed passes the worker switches
    # to each in turn (same index, nothing re-ingested) and records one more ranking pass.
    variants: ClassVar[dict[str, str]] = {}

    def use_variant(self, name: str) -> None:
        raise KeyError(f"{self.name} has no variant {name!r}; it has {sorted(self.variants)}")

    # -- scale part: precomputed vectors, no embedding model ------------------------------------

    @abstractmethod
    def build_synthetic(self, ids: list[str], texts: list[str], vectors: np.ndarray, workdir: Path) -> dict:
        """Index chunks with the given texts and vectors (no embedding), in memory or on disk."""

    @abstractmethod
    def search_synthetic(self, text: str, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Hybrid search with a precomputed query vector: (chunk id, fused score), best first."""
