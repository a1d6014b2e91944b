"""Stores: hold chunks, vectors, text and metadata; dense, keyword and filtered search.

``base`` has the core :class:`Store` protocol and the search capability protocols, ``factory``
the one place stores are made from settings, ``filters`` the filter language, ``exact`` pure
exact search, ``keyword`` LanceDB's keyword analysis and BM25, ``rows`` what every backend does
with a row, ``meta`` ``collection.json``; backends: ``lance`` (embedded LanceDB), ``memory``
(the exact in-process twin) and ``milvus`` (a Milvus server or Milvus Lite file, through pymilvus).
May import: ``ragline.types``, ``ragline.errors``,
``ragline.settings``, and from ``ragline.embedding`` the vector type (``base``) and the
token-state codec (``tokens``).
"""
