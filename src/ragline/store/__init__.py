"""Stores: hold chunks, vectors, text and metadata; dense, keyword and filtered search.

``base`` has the :class:`Store` protocol, ``filters`` the filter language, ``lance`` the embedded
LanceDB backend. May import: ``ragline.types``, ``ragline.errors``, ``ragline.settings``, and from
``ragline.embedding`` the vector type (``base``) and the token-state codec (``tokens``).
"""
