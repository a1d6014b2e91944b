"""Haystack: ``InMemoryDocumentStore`` (defaults: BM25L, dot product on normalised vectors) with
``InMemoryBM25Retriever`` and ``InMemoryEmbeddingRetriever`` joined by a ``DocumentJoiner`` in
``reciprocal_rank_fusion`` mode, in one query ``Pipeline``.

Ingest: a ``CacheChecker`` on a content-hash meta field (Haystack's component for skipping what is
already indexed), then a pipeline ``DocumentSplitter`` -> ``SentenceTransformersDocumentEmbedder``
-> ``DocumentWriter``. Haystack's splitter counts tokens only with tiktoken (whose encodings are a
download, impossible here), so it runs with ``split_by="function"`` and a function that cuts
256-token windows (overlap 32) of the same MiniLM tokenizer. The store persists with
``save_to_disk`` / ``load_from_disk`` (one JSON file).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
from peerbench.data import Doc, minilm_tokenizer, model_dir

from systems.base import CANDIDATES, CHUNK_OVERLAP, CHUNK_SIZE, EMBED_MAX_TOKENS, System


class HaystackSystem(System):
    name = "haystack"
    description = (
        "InMemoryDocumentStore + InMemoryBM25Retriever (BM25L) + InMemoryEmbeddingRetriever, "
        "DocumentJoiner(reciprocal_rank_fusion)"
    )

    def __init__(self) -> None:
        self.store = None
        self._local = threading.local()

    def embed_max_tokens(self) -> int:
        return int(self.doc_embedder.embedding_backend.model.max_seq_length)

    def load_model(self) -> None:
        from haystack_integrations.components.embedders.sentence_transformers import (
            SentenceTransformersDocumentEmbedder,
        )

        self.model = str(model_dir())
        self.doc_embedder = SentenceTransformersDocumentEmbedder(
            model=self.model,
            batch_size=32,
            progress_bar=False,
            local_files_only=True,
            tokenizer_kwargs={"model_max_length": EMBED_MAX_TOKENS},
        )
        self.doc_embedder.warm_up()
        tok = minilm_tokenizer()
        self.tok = tok
        self._text_embedder()  # loads the query-side component too

    def _split(self, text: str) -> list[str]:
        """256-token windows with a 32-token overlap, cut at MiniLM token boundaries."""
        offs = self.tok.encode(text, add_special_tokens=False).offsets
        if len(offs) <= CHUNK_SIZE:
            return [text]
        out = []
        step = CHUNK_SIZE - CHUNK_OVERLAP
        for i in range(0, len(offs), step):
            j = min(i + CHUNK_SIZE, len(offs))
            out.append(text[offs[i][0] : offs[j - 1][1]])
            if j == len(offs):
                break
        return out

    @staticmethod
    def _documents(docs: list[Doc]):
        from haystack import Document

        return [
            Document(
                content=d.full,
                meta={"doc_id": d.id, "source_hash": hashlib.sha1(d.full.encode()).hexdigest()},
            )
            for d in docs
        ]

    def _index(self, docs: list[Doc]) -> int:
        from haystack import Pipeline
        from haystack.components.caching import CacheChecker
        from haystack.components.preprocessors import DocumentSplitter
        from haystack.components.writers import DocumentWriter
        from haystack.document_stores.types import DuplicatePolicy

        documents = self._documents(docs)
        misses = set(
            CacheChecker(self.store, cache_field="source_hash").run(
                items=[d.meta["source_hash"] for d in documents]
            )["misses"]
        )
        todo = [d for d in documents if d.meta["source_hash"] in misses]
        if not todo:
            return 0
        p = Pipeline()
        p.add_component("splitter", DocumentSplitter(split_by="function", splitting_function=self._split))
        p.add_component("embedder", self.doc_embedder)
        p.add_component("writer", DocumentWriter(self.store, policy=DuplicatePolicy.OVERWRITE))
        p.connect("splitter", "embedder")
        p.connect("embedder", "writer")
        out = p.run({"splitter": {"documents": todo}})
        return int(out["writer"]["documents_written"])

    def build(self, docs: list[Doc], workdir: Path) -> dict:
        from haystack.document_stores.in_memory import InMemoryDocumentStore

        self.store = InMemoryDocumentStore()
        n = self._index(docs)
        self.store.save_to_disk(str(workdir / "store.json"))
        self._local = threading.local()
        return {"chunks": self.store.count_documents(), "chunks_embedded": n}

    def reingest(self, docs: list[Doc], workdir: Path) -> dict:
        from haystack.document_stores.in_memory import InMemoryDocumentStore

        self.store = InMemoryDocumentStore.load_from_disk(str(workdir / "store.json"))
        n = self._index(docs)
        if n:
            self.store.save_to_disk(str(workdir / "store.json"))
        self._local = threading.local()
        return {"chunks_embedded": n}

    def disk_paths(self, workdir: Path) -> list[Path]:
        return [workdir / "store.json"]

    def _text_embedder(self):
        from haystack_integrations.components.embedders.sentence_transformers import (
            SentenceTransformersTextEmbedder,
        )

        e = SentenceTransformersTextEmbedder(
            model=self.model,
            progress_bar=False,
            local_files_only=True,
            tokenizer_kwargs={"model_max_length": EMBED_MAX_TOKENS},
        )
        e.warm_up()
        return e

    def _pipeline(self, with_embedder: bool):
        from haystack import Pipeline
        from haystack.components.joiners import DocumentJoiner
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever

        p = Pipeline()
        if with_embedder:
            p.add_component("text_embedder", self._text_embedder())
        p.add_component("embedding_retriever", InMemoryEmbeddingRetriever(self.store))
        p.add_component("bm25_retriever", InMemoryBM25Retriever(self.store))
        p.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion"))
        if with_embedder:
            p.connect("text_embedder.embedding", "embedding_retriever.query_embedding")
        p.connect("bm25_retriever", "joiner")
        p.connect("embedding_retriever", "joiner")
        return p

    def _get_pipeline(self, with_embedder: bool = True):
        # One query pipeline per client thread (the model itself is shared by Haystack's backend cache).
        p = getattr(self._local, "pipeline", None)
        if p is None:
            p = self._local.pipeline = self._pipeline(with_embedder)
        return p

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        out = self._get_pipeline().run(
            {
                "text_embedder": {"text": query},
                "embedding_retriever": {"top_k": CANDIDATES * k},
                "bm25_retriever": {"query": query, "top_k": CANDIDATES * k},
                "joiner": {"top_k": k},
            }
        )
        return [(d.meta["doc_id"], float(d.score or 0.0)) for d in out["joiner"]["documents"]]

    # -- scale -----------------------------------------------------------------------------------

    def build_synthetic(self, ids: list[str], texts: list[str], vectors: np.ndarray, workdir: Path) -> dict:
        from haystack import Document
        from haystack.document_stores.in_memory import InMemoryDocumentStore

        self.store = InMemoryDocumentStore()
        step = 50_000
        for b in range(0, len(ids), step):
            self.store.write_documents(
                [
                    Document(id=i, content=t, embedding=v, meta={"doc_id": i})
                    for i, t, v in zip(
                        ids[b : b + step], texts[b : b + step], vectors[b : b + step].tolist(), strict=True
                    )
                ]
            )
        self._local = threading.local()
        return {}

    def search_synthetic(self, text: str, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        out = self._get_pipeline(with_embedder=False).run(
            {
                "embedding_retriever": {"query_embedding": vector.tolist(), "top_k": CANDIDATES * k},
                "bm25_retriever": {"query": text, "top_k": CANDIDATES * k},
                "joiner": {"top_k": k},
            }
        )
        return [(d.meta["doc_id"], float(d.score or 0.0)) for d in out["joiner"]["documents"]]
