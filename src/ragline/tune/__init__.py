"""Corpus-adapted embeddings: label-free training pairs built from a collection's own text, and
fine-tuning of the embedding model on them (``ragline tune embeddings``).

May import types, errors, text; torch and sentence-transformers are imported only when training
runs (the ``export`` extra).
"""
