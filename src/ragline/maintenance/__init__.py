"""Maintenance of a collection, apart from the query path: re-embedding it with another model,
building its document summaries, fine-tuning its embedding model. The engine holds the write lock
and forgets its cached :class:`~ragline.collection.Collection` afterwards; these do the work."""
