"""Retrieval: dense, keyword and hybrid search over a store, and the fusion functions.

May import: ``ragline.types``, ``ragline.errors``, ``ragline.settings``, ``ragline.store``,
``ragline.embedding``.
"""
