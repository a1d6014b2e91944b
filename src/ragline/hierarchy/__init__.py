"""Hierarchical retrieval support: per-document summaries for documents-first search.

Lives here: summarizers that turn a document's chunks into a short summary (extractive, by
centroid sentences, or by an LLM with the extractive one as fallback), and
:func:`~ragline.hierarchy.summaries.summary_documents`, which wraps the summaries as documents the
engine indexes in a separate summaries store. Searching that store first finds the right
documents; their chunks are searched next.

May import: ragline.types, ragline.errors, ragline.text, ragline.embedding.base,
ragline.generation.base.
"""
