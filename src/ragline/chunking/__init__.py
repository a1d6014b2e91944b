"""Chunkers: cut a :class:`~ragline.types.Document` into retrievable :class:`~ragline.types.Chunk` objects.

Sizes are counted in the embedding model's tokens (a :class:`~ragline.chunking.base.Tokenizer`).
May import: ``ragline.types``, ``ragline.errors``, ``ragline.settings``.
"""
