"""Embedders: text -> vectors, batched and cached. One backend per module; ``units`` adds the
per-sentence vectors stored beside each chunk's.

May import: ``ragline.types``, ``ragline.errors``, ``ragline.settings``, ``ragline.text.tokenizer``,
``ragline.text.sentences`` (the sentence splitter, for sentence vectors).
"""
