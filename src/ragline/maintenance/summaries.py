"""Rebuild a collection's per-document summaries (what ``retrieval.doc_first`` searches).

Example::

    n = rebuild_summaries(coll, summarizer, ingestor_for, open_store)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ragline.collection import Collection
from ragline.embedding.base import Embedder
from ragline.hierarchy.summaries import Summarizer, summary_documents
from ragline.ingest.pipeline import Ingestor
from ragline.store.base import Store


def rebuild_summaries(
    coll: Collection,
    summarizer: Summarizer,
    ingestor_for: Callable[[Store, Embedder], Ingestor],
    open_store: Callable[[Path, Embedder], Store],
) -> int:
    """Summarise every document of ``coll`` into its ``summaries`` store, rebuilt whole so that
    summaries of deleted documents do not linger. Returns the documents summarised. The caller
    holds the collection's write lock."""
    docs = summary_documents(coll.store.all_chunks(), summarizer)
    target = open_store(coll.path / "summaries", coll.embedder)
    target.delete_sources(sorted(target.source_hashes()))
    ingestor_for(target, coll.embedder).upsert_documents(docs)
    return len(docs)
