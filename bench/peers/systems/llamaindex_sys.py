"""LlamaIndex: ``VectorStoreIndex`` (default in-memory SimpleVectorStore) + ``BM25Retriever``
(bm25s, English stemmer and stop words, its defaults) fused by ``QueryFusionRetriever`` in
``reciprocal_rerank`` mode with one query (no LLM query generation).

Ingest runs an ``IngestionPipeline`` (SentenceSplitter at 256/32 MiniLM tokens, then
``HuggingFaceEmbedding`` on the packaged model files) with a docstore attached, LlamaIndex's
documented way to skip unchanged documents on the next run; everything is persisted with
``storage_context.persist``, ``BM25Retriever.persist`` and ``IngestionPipeline.persist``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
from peerbench.data import Doc, minilm_tokenizer, model_dir

from systems.base import CANDIDATES, CHUNK_OVERLAP, CHUNK_SIZE, DIM, EMBED_MAX_TOKENS, System


class LlamaIndexSystem(System):
    name = "llamaindex"
    description = (
        "VectorStoreIndex (SimpleVectorStore) + BM25Retriever (bm25s) in QueryFusionRetriever, "
        "mode=reciprocal_rerank"
    )

    def __init__(self) -> None:
        logging.getLogger("bm25s").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message=".*docstore_strategy.*")
        self.index = None
        self.bm25 = None

    def embed_max_tokens(self) -> int:
        return int(self.embed._model.max_seq_length)

    def load_model(self) -> None:
        from llama_index.core import Settings
        from llama_index.core.llms import MockLLM
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        self.embed = HuggingFaceEmbedding(
            model_name=str(model_dir()), device="cpu", embed_batch_size=32, max_length=EMBED_MAX_TOKENS
        )
        self.embed.get_query_embedding("warm up")
        Settings.embed_model = self.embed
        Settings.llm = MockLLM()  # never called: num_queries=1 generates no extra queries
        tok = minilm_tokenizer()
        self.tokenize = lambda s: tok.encode(s, add_special_tokens=False).ids

    def _pipeline(self):
        from llama_index.core.ingestion import IngestionPipeline
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.core.storage.docstore import SimpleDocumentStore

        splitter = SentenceSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, tokenizer=self.tokenize
        )
        # The pipeline's own transformation cache is off: the docstore does the skipping, and the
        # cache would persist every embedding a second time.
        return IngestionPipeline(
            transformations=[splitter, self.embed], docstore=SimpleDocumentStore(), disable_cache=True
        )

    @staticmethod
    def _documents(docs: list[Doc]):
        from llama_index.core import Document

        return [Document(text=d.full, id_=d.id) for d in docs]

    def _bm25(self, nodes):
        from llama_index.retrievers.bm25 import BM25Retriever

        return BM25Retriever.from_defaults(nodes=nodes)

    def _persist(self, workdir: Path, pipeline) -> None:
        self.index.storage_context.persist(persist_dir=str(workdir / "index"))
        self.bm25.persist(str(workdir / "bm25"))
        pipeline.persist(str(workdir / "pipeline"))

    def build(self, docs: list[Doc], workdir: Path) -> dict:
        from llama_index.core import VectorStoreIndex

        pipeline = self._pipeline()
        nodes = pipeline.run(documents=self._documents(docs))
        self.index = VectorStoreIndex(nodes, embed_model=self.embed)  # nodes carry their embeddings
        self.bm25 = self._bm25(nodes)
        self._persist(workdir, pipeline)
        return {"chunks": len(nodes), "chunks_embedded": len(nodes)}

    def reingest(self, docs: list[Doc], workdir: Path) -> dict:
        from llama_index.core import StorageContext, load_index_from_storage
        from llama_index.retrievers.bm25 import BM25Retriever

        pipeline = self._pipeline()
        pipeline.load(str(workdir / "pipeline"))
        index = load_index_from_storage(
            StorageContext.from_defaults(persist_dir=str(workdir / "index")), embed_model=self.embed
        )
        new = pipeline.run(documents=self._documents(docs))
        self.index = index
        if new:
            for ref in {n.ref_doc_id for n in new if n.ref_doc_id}:
                index.delete_ref_doc(ref, delete_from_docstore=True)
            index.insert_nodes(new)
            self.bm25 = self._bm25(list(index.docstore.docs.values()))
            self._persist(workdir, pipeline)
        else:
            self.bm25 = BM25Retriever.from_persist_dir(str(workdir / "bm25"))
        return {"chunks_embedded": len(new)}

    def disk_paths(self, workdir: Path) -> list[Path]:
        return [workdir / "index", workdir / "bm25", workdir / "pipeline"]

    def _fusion(self, k: int):
        from llama_index.core.llms import MockLLM
        from llama_index.core.retrievers import QueryFusionRetriever

        vec = self.index.as_retriever(similarity_top_k=CANDIDATES * k)
        # bm25s needs k <= corpus size; the retriever is shared, so set its depth per call.
        self.bm25.similarity_top_k = min(CANDIDATES * k, int(self.bm25.bm25.scores["num_docs"]))
        return QueryFusionRetriever(
            [vec, self.bm25],
            mode="reciprocal_rerank",
            similarity_top_k=k,
            num_queries=1,
            use_async=False,
            llm=MockLLM(),
        )

    def thread_safe(self) -> bool:
        return True

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        nodes = self._fusion(k).retrieve(query)
        return [(n.node.ref_doc_id or n.node.node_id, float(n.score or 0.0)) for n in nodes]

    # -- scale -----------------------------------------------------------------------------------

    def build_synthetic(self, ids: list[str], texts: list[str], vectors: np.ndarray, workdir: Path) -> dict:
        from llama_index.core import Settings, VectorStoreIndex
        from llama_index.core.embeddings import MockEmbedding
        from llama_index.core.llms import MockLLM
        from llama_index.core.schema import TextNode

        Settings.llm = MockLLM()
        mock = MockEmbedding(embed_dim=DIM)  # never called: nodes and queries carry vectors
        nodes = [
            TextNode(text=t, id_=i, embedding=v) for i, t, v in zip(ids, texts, vectors.tolist(), strict=True)
        ]
        self.bm25 = self._bm25(nodes)
        self.index = VectorStoreIndex(nodes, embed_model=mock)
        del nodes
        return {}

    def search_synthetic(self, text: str, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        from llama_index.core.schema import QueryBundle

        # A QueryBundle with an embedding skips the embedding model; the fusion retriever hands
        # the same bundle to both retrievers.
        nodes = self._fusion(k).retrieve(QueryBundle(query_str=text, embedding=vector.tolist()))
        return [(n.node.node_id, float(n.score or 0.0)) for n in nodes]
