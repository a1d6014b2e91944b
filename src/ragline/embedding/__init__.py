"""Embedders: text -> vectors, batched and cached. One backend per module.

May import: ``ragline.types``, ``ragline.errors``, ``ragline.settings``, ``ragline.chunking.tokenizer``.
"""
