"""Embedders: text -> vectors, batched and cached. One backend per module; ``sentence_vectors``
adds the per-sentence vectors stored beside each chunk's, ``tokens`` the token-state codec.

May import: ``ragline.types``, ``ragline.errors``, ``ragline.settings``, ``ragline.locks``,
``ragline.text`` (the tokenizer, and the sentence splitter for sentence vectors).
"""
