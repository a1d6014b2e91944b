"""The ingest pipeline: discover -> load -> clean -> dedup -> chunk -> embed -> atomic upsert.

May import every stage package (loaders, cleaning, chunking, embedding, store).
"""
