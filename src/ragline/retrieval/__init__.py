"""Retrieval: dense, keyword and hybrid search over a store, the fusion and smoothing functions,
and the staged pipeline (query processing, documents-first, rerankers).

May import: ``ragline.types``, ``ragline.errors``, ``ragline.settings``, ``ragline.telemetry``,
``ragline.text``, ``ragline.embedding``, ``ragline.store``, ``ragline.query``, ``ragline.rerank``,
``ragline.generation.base`` (the chat-model protocol for LLM query transforms).
"""
