"""LangChain: FAISS (langchain-community, default IndexFlatL2) + ``BM25Retriever`` (rank_bm25
BM25Okapi, default ``str.split`` preprocessing) in an ``EnsembleRetriever`` (weighted RRF, equal
weights, c=60).

Ingest: ``RecursiveCharacterTextSplitter.from_huggingface_tokenizer`` at 256/32 MiniLM tokens,
``HuggingFaceEmbeddings`` on the packaged model files, written through LangChain's indexing API
(``index()`` with a ``SQLRecordManager`` in a SQLite file, ``cleanup="incremental"``), which skips
unchanged chunks on the next run. FAISS persists with ``save_local``; LangChain's BM25Retriever
has no persistence, so it is rebuilt from the stored chunks whenever the index is opened.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import numpy as np
from peerbench.data import Doc, model_dir

from systems.base import CANDIDATES, CHUNK_OVERLAP, CHUNK_SIZE, DIM, EMBED_MAX_TOKENS, RRF_K, System

_WORD = re.compile(r"\w+")


def lowercase_words(text: str) -> list[str]:
    """A tokenizer a user might pass instead of the default ``str.split`` (quality-only variant)."""
    return _WORD.findall(text.lower())


class LangChainSystem(System):
    name = "langchain"
    description = (
        "FAISS (IndexFlatL2) + BM25Retriever (rank_bm25, default str.split) in EnsembleRetriever (RRF c=60)"
    )

    def __init__(self) -> None:
        self.vs = None
        self.bm25 = None
        self.preprocess = None  # None: LangChain's default (str.split)

    def embed_max_tokens(self) -> int:
        return int(self.embed._client.max_seq_length)

    def load_model(self) -> None:
        from langchain_huggingface import HuggingFaceEmbeddings
        from transformers import AutoTokenizer

        self.embed = HuggingFaceEmbeddings(
            model_name=str(model_dir()), model_kwargs={"device": "cpu"}, encode_kwargs={"batch_size": 32}
        )
        self.embed._client.max_seq_length = EMBED_MAX_TOKENS  # no constructor argument for it
        self.embed.embed_query("warm up")
        self.hf_tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))

    def _chunks(self, docs: list[Doc]):
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
            self.hf_tokenizer, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP
        )
        return splitter.split_documents(
            [Document(page_content=d.full, metadata={"doc_id": d.id}) for d in docs]
        )

    def _record_manager(self, workdir: Path):
        from langchain_classic.indexes import SQLRecordManager

        rm = SQLRecordManager("bench", db_url=f"sqlite:///{workdir / 'records.sqlite'}")
        rm.create_schema()
        return rm

    def _bm25(self, chunks, k: int = 10):
        from langchain_community.retrievers import BM25Retriever

        kw = {"preprocess_func": self.preprocess} if self.preprocess else {}
        return BM25Retriever.from_documents(chunks, k=k, **kw)

    def _stored_chunks(self):
        return list(self.vs.docstore._dict.values())

    def build(self, docs: list[Doc], workdir: Path) -> dict:
        import faiss
        from langchain_community.docstore.in_memory import InMemoryDocstore
        from langchain_community.vectorstores import FAISS
        from langchain_core.indexing import index

        chunks = self._chunks(docs)
        self.vs = FAISS(
            embedding_function=self.embed,
            index=faiss.IndexFlatL2(DIM),
            docstore=InMemoryDocstore(),
            index_to_docstore_id={},
        )
        res = index(
            chunks, self._record_manager(workdir), self.vs, cleanup="incremental", source_id_key="doc_id"
        )
        self.vs.save_local(str(workdir / "faiss"))
        self.bm25 = self._bm25(self._stored_chunks())
        return {"chunks": len(chunks), "chunks_embedded": res["num_added"]}

    def reingest(self, docs: list[Doc], workdir: Path) -> dict:
        from langchain_community.vectorstores import FAISS
        from langchain_core.indexing import index

        vs = FAISS.load_local(str(workdir / "faiss"), self.embed, allow_dangerous_deserialization=True)
        res = index(
            self._chunks(docs),
            self._record_manager(workdir),
            vs,
            cleanup="incremental",
            source_id_key="doc_id",
        )
        if res["num_added"] or res["num_updated"] or res["num_deleted"]:
            vs.save_local(str(workdir / "faiss"))
        self.vs = vs
        self.bm25 = self._bm25(self._stored_chunks())  # no BM25 persistence in LangChain
        return {"chunks_embedded": res["num_added"] + res["num_updated"], "skipped": res["num_skipped"]}

    def disk_paths(self, workdir: Path) -> list[Path]:
        return [workdir / "faiss", workdir / "records.sqlite"]

    variants: ClassVar[dict[str, str]] = {
        "lowercase_bm25": "`BM25Retriever(preprocess_func=...)` on lowercased word tokens instead of "
        "its default `str.split`"
    }

    def use_variant(self, name: str) -> None:
        if name not in self.variants:
            super().use_variant(name)
        self.preprocess = lowercase_words
        self.bm25 = self._bm25(self._stored_chunks())

    def _ensemble(self, k: int, vec_retriever):
        from langchain_classic.retrievers import EnsembleRetriever

        self.bm25.k = CANDIDATES * k
        return EnsembleRetriever(retrievers=[vec_retriever, self.bm25], weights=[0.5, 0.5], c=RRF_K)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        ens = self._ensemble(k, self.vs.as_retriever(search_kwargs={"k": CANDIDATES * k}))
        docs = ens.invoke(query)[:k]
        return [(d.metadata["doc_id"], 1.0 / (i + 1)) for i, d in enumerate(docs)]

    # -- scale -----------------------------------------------------------------------------------

    def build_synthetic(self, ids: list[str], texts: list[str], vectors: np.ndarray, workdir: Path) -> dict:
        from langchain_community.vectorstores import FAISS
        from langchain_core.embeddings import Embeddings

        class Lookup(Embeddings):
            """Returns the precomputed query vector; the store is built from given vectors."""

            next: list[float] | None = None

            def embed_documents(self, texts):
                raise NotImplementedError

            def embed_query(self, text):
                return self.next

        self.lookup = Lookup()
        metas = [{"doc_id": i} for i in ids]
        self.vs = FAISS.from_embeddings(list(zip(texts, vectors, strict=True)), self.lookup, metadatas=metas)
        from langchain_community.retrievers import BM25Retriever

        self.bm25 = BM25Retriever.from_texts(texts, metadatas=metas)
        return {}

    def search_synthetic(self, text: str, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        self.lookup.next = vector.tolist()
        return self.search(text, k)
