"""Chunkers: cut a :class:`~ragline.types.Document` into retrievable :class:`~ragline.types.Chunk` objects.

Sizes are counted in the embedding model's tokens (a :class:`~ragline.text.tokenizer.Tokenizer`).
Strategies: recursive, structure-aware, parent-child, semantic (boundaries where neighbouring
sentences' embeddings diverge) and sentence (one sentence per chunk, for sentence-window retrieval).
May import: ``ragline.types``, ``ragline.errors``, ``ragline.settings``, ``ragline.text`` (the
tokenizer and the sentence splitter) and ``ragline.embedding.base`` (the semantic chunker's
embedder protocol).
"""
