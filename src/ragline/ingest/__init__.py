"""The ingest pipeline: discover -> load -> clean -> dedup -> chunk -> embed -> atomic upsert.

May import every stage package it runs (loaders, cleaning, chunking, embedding, store) and
``ragline.text``, ``ragline.types``, ``ragline.errors``, ``ragline.settings``.
"""
