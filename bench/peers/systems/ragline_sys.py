"""ragline: its default hybrid pipeline (LanceDB vectors + native BM25 full-text index, fused
with its default fusion, z-score since issue 6; RRF k=60, the peers' recipe, as a variant row).

Ingest goes through the public entry point (``engine.ingest`` of the prepared JSONL file, which
ragline's JSONL loader reads as ``_id``/``title``/``text``); search through ``engine.search``.
The only non-default settings are the chunk size (256 tokens, overlap 32, as for every system)
and the result cache, off (the timing passes repeat queries; the peers cache nothing).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np
from peerbench.data import Doc

from systems.base import CHUNK_OVERLAP, CHUNK_SIZE, DIM, EMBED_MAX_TOKENS, System

COLLECTION = "bench"


def _settings() -> dict:
    # The result and answer caches are off: the latency and throughput passes ask the same queries
    # again, and a cache hit (~2 ms) measures no retrieval; the peers have no such cache.
    return {
        "chunking": {"chunk_size": CHUNK_SIZE, "chunk_overlap": CHUNK_OVERLAP},
        "cache": {"enabled": False},
    }


class _LookupEmbedder:
    """Scale part: returns the precomputed query vector instead of running a model."""

    model_id = "bench-synthetic"
    dimension = DIM

    def __init__(self) -> None:
        self.next: np.ndarray | None = None

    def embed_query(self, text: str) -> np.ndarray:
        assert self.next is not None
        return self.next

    def embed_documents(self, texts):  # pragma: no cover - never called at query time
        raise NotImplementedError


class RaglineSystem(System):
    name = "ragline"
    description = (
        "ragline's full default: LanceDB exact/IVF_HNSW_SQ chunk and sentence vectors + LanceDB "
        "FTS (BM25) with gated feedback searches, z-score fusion (RRF k=60 as a variant row), "
        "smoothing over neighbouring documents, late interaction over stored token states"
    )
    variants: ClassVar[dict[str, str]] = {
        "rrf60": '`retrieval.fusion.method = "rrf"` (k = 60), the peers\' fusion, on the same index'
    }

    def __init__(self) -> None:
        self.engine = None
        self.corpus_path: Path | None = None

    def setup(self) -> None:
        # The ONNX export of the packaged weights happens once per machine (~10 s) and is cached
        # in ~/.cache/ragline: like a model download for the peers, it is not part of the timings.
        import ragline

        with tempfile.TemporaryDirectory() as tmp:
            ragline.open(Path(tmp) / "d").embedder.inner.warm_up()

    def load_model(self) -> None:
        import ragline

        self._probe = ragline.open(tempfile.mkdtemp(prefix="ragline-probe-"), **_settings())
        # Only the model's read length: embedding.max_tokens would also shrink ragline's chunks,
        # and every system must index the same one-chunk-per-document text.
        self._probe.embedder.inner.max_tokens = EMBED_MAX_TOKENS
        self._probe.embedder.inner.warm_up()

    def embed_max_tokens(self) -> int:
        return int(self._probe.embedder.inner._tokenizer.truncation["max_length"])

    def _open(self, workdir: Path):
        import ragline

        engine = ragline.open(workdir / "data", **_settings())
        # Reuse the loaded model: model loading is timed separately for every system.
        engine.__dict__["embedder"] = self._probe.embedder
        return engine

    def build(self, docs: list[Doc], workdir: Path) -> dict:
        # ragline ingests files: the prepared corpus file is its input (peers get the same docs).
        self.corpus_path = workdir / "corpus.jsonl"
        from peerbench.data import write_docs

        write_docs(self.corpus_path, docs)
        self.engine = self._open(workdir)
        rep = self.engine.ingest([self.corpus_path], collection=COLLECTION, dedup=False)
        if rep.errors:
            raise RuntimeError(f"ragline ingest failed: {rep.errors[:3]}")
        return {"chunks": rep.chunks_indexed, "chunks_embedded": rep.chunks_embedded}

    def reingest(self, docs: list[Doc], workdir: Path) -> dict:
        assert self.corpus_path is not None
        self.engine = self._open(workdir)
        rep = self.engine.ingest([self.corpus_path], collection=COLLECTION, dedup=False)
        return {"chunks_embedded": rep.chunks_embedded, "files_unchanged": rep.files_unchanged}

    def disk_paths(self, workdir: Path) -> list[Path]:
        return [workdir / "data"]

    def use_variant(self, name: str) -> None:
        if name not in self.variants:
            super().use_variant(name)
        import ragline

        # Same data directory, same index; only the fusion setting differs.
        assert self.engine is not None
        engine = ragline.open(
            self.engine.settings.data_dir, **_settings(), retrieval={"fusion": {"method": "rrf", "rrf_k": 60}}
        )
        engine.__dict__["embedder"] = self._probe.embedder
        self.engine = engine

    def clear_query_cache(self) -> None:
        # ragline keeps the last 256 query vectors in memory; the benchmark measures cold queries.
        if self.engine is not None:
            self.engine.embedder._queries.clear()

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        assert self.engine is not None
        hits = self.engine.search(query, mode="hybrid", top_k=k, collection=COLLECTION)
        return [(h.chunk.doc_id, h.score) for h in hits]

    # -- scale: the store and the hybrid retriever the engine uses, fed precomputed vectors -----

    def build_synthetic(self, ids: list[str], texts: list[str], vectors: np.ndarray, workdir: Path) -> dict:
        from ragline.retrieval.retrievers import HybridRetriever
        from ragline.settings import Settings
        from ragline.store.base import SourceBatch
        from ragline.store.lance import LanceStore
        from ragline.types import Chunk

        s = Settings(data_dir=workdir / "data").store
        store = LanceStore(
            workdir / "data" / "collections" / "scale",
            dimension=DIM,
            model_id="bench-synthetic",
            ann_threshold=s.ann_threshold,
            ann_ef=s.ann_ef,
            ann_partitions=s.ann_partitions,
            ann_refine_factor=s.ann_refine_factor,
            ann_ef_construction=s.ann_ef_construction,
        )
        step = 50_000
        for b in range(0, len(ids), step):
            chunks = [
                Chunk(
                    id=ids[i],
                    doc_id=ids[i],
                    text=texts[i],
                    position=0,
                    start=0,
                    end=len(texts[i]),
                    source=f"/scale/{b}",
                )
                for i in range(b, min(b + step, len(ids)))
            ]
            store.upsert(
                [SourceBatch(f"/scale/{b}", "h", chunks, np.ascontiguousarray(vectors[b : b + step]))]
            )
        store.finalize()
        self._emb = _LookupEmbedder()
        r = Settings().retrieval
        self._retriever = HybridRetriever(
            store, self._emb, r.fusion.method, r.fusion.rrf_k, r.fusion.alpha, r.candidate_multiplier
        )
        self._store = store
        return {"vector_index": store.stats().vector_index}

    def search_synthetic(self, text: str, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        self._emb.next = vector
        return [(h.chunk.id, h.score) for h in self._retriever.run(text, k)]
