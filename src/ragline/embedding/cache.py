"""An on-disk embedding cache keyed by model id and text hash, so unchanged text is never re-embedded.

SQLite in WAL mode: each :meth:`EmbeddingCache.put_many` is one transaction, so an ingest killed
mid-way keeps every batch it finished and the next run picks up from there.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ragline.embedding.base import Embedder, Vectors
from ragline.embedding.microbatch import MicroBatcher, QueryBatchEmbedder
from ragline.embedding.sentence_vectors import (
    Span,
    SpanEmbedder,
    SpanTokenEmbedder,
    SplitEmbedder,
    separate_sentence_vectors,
)
from ragline.embedding.tokens import TokenMatrix, TokenModel, token_model, token_states


def _span_key(text: str, head: int, spans: Sequence[Span]) -> str:
    """The cache key of one text's sentence vectors: its spans named ("units" is their old name;
    the key keeps it so existing caches still hit)."""
    return f"\x00units\x00{head}:{list(spans)}\x00{text}"


def _split_key(text: str, head: int, spans: Sequence[Span], layers: int) -> str:
    """The cache key of one text's ``split`` sentence vectors (with ``layers`` run per sentence):
    apart from its ``late`` ones, which the same spans give."""
    return f"\x00split{layers}\x00{head}:{list(spans)}\x00{text}"


def _text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class EmbeddingCache:
    """Maps (model id, sha256(text)) to a float32 vector.

    Example::

        cache = EmbeddingCache(Path(".ragline/embeddings.sqlite"))
        cached = CachedEmbedder(embedder, cache)
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._setup_lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60)
            # Switching to WAL takes an exclusive lock that SQLite does not wait for (the busy
            # timeout does not apply), so threads opening a new file at once would see "database
            # is locked": set up one connection at a time, and retry against other processes.
            with self._setup_lock:
                for attempt in range(50):
                    try:
                        conn.execute("PRAGMA journal_mode=WAL")
                        break
                    except sqlite3.OperationalError:
                        if attempt == 49:
                            raise
                        time.sleep(0.1)
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS emb (model TEXT NOT NULL, key BLOB NOT NULL, "
                    "vec BLOB NOT NULL, PRIMARY KEY (model, key)) WITHOUT ROWID"
                )
            self._local.conn = conn
        return conn

    def get_many(self, model_id: str, texts: Sequence[str]) -> list[Vectors | None]:
        keys = [_text_key(t) for t in texts]
        found: dict[bytes, Vectors] = {}
        conn = self._conn()
        # SQLite limits bound parameters; 900 stays under every build's default of 999.
        for i in range(0, len(keys), 900):
            part = keys[i : i + 900]
            rows = conn.execute(
                f"SELECT key, vec FROM emb WHERE model = ? AND key IN ({','.join('?' * len(part))})",
                [model_id, *part],
            ).fetchall()
            for key, vec in rows:
                found[key] = np.frombuffer(vec, dtype=np.float32)
        return [found.get(k) for k in keys]

    def put_many(self, model_id: str, texts: Sequence[str], vectors: Vectors | Sequence[Vectors]) -> None:
        conn = self._conn()
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO emb (model, key, vec) VALUES (?, ?, ?)",
                [
                    (model_id, _text_key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes())
                    for t, v in zip(texts, vectors, strict=True)
                ],
            )

    def count(self, model_id: str | None = None) -> int:
        conn = self._conn()
        if model_id is None:
            return int(conn.execute("SELECT COUNT(*) FROM emb").fetchone()[0])
        return int(conn.execute("SELECT COUNT(*) FROM emb WHERE model = ?", (model_id,)).fetchone()[0])

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class CachedEmbedder:
    """Wraps an :class:`Embedder`; documents already in the cache are not embedded again.

    ``embedded`` counts the texts that really went through the model (for reports and tests),
    ``sentences_embedded`` the sentence texts embedded apart from them (``embed_sentence_texts``).
    Queries are kept in a small in-memory LRU only: ``ask`` embeds the question for retrieval and
    again for sentence scoring, and a service sees the same question repeated.
    """

    QUERY_CACHE_SIZE = 256

    def __init__(
        self, inner: Embedder, cache: EmbeddingCache, query_window_ms: float = 0.0, query_batch_max: int = 16
    ) -> None:
        self.inner = inner
        self.cache = cache
        # Concurrent queries embedded in one model run (embedding.query_batch_window_ms; off at 0).
        self.batcher = (
            MicroBatcher(inner.embed_queries, query_window_ms / 1000, query_batch_max)
            if query_window_ms > 0 and isinstance(inner, QueryBatchEmbedder)
            else None
        )
        self.embedded = 0
        self.sentences_embedded = 0
        self._queries: OrderedDict[str, Vectors] = OrderedDict()
        self._query_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        vectors, fresh = self._embed_cached(texts)
        self.embedded += fresh
        return vectors

    def embed_sentence_texts(self, texts: Sequence[str]) -> Vectors:
        """As :meth:`embed_documents`, for sentence texts: counted in ``sentences_embedded``."""
        vectors, fresh = self._embed_cached(texts)
        self.sentences_embedded += fresh
        return vectors

    def _embed_cached(self, texts: Sequence[str]) -> tuple[Vectors, int]:
        """Vectors of ``texts`` and how many went through the model."""
        fresh = 0
        cached = self.cache.get_many(self.model_id, texts)
        missing = [i for i, v in enumerate(cached) if v is None]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, v in enumerate(cached):
            if v is not None:
                out[i] = v
        if missing:
            # Identical texts inside one batch are embedded once.
            unique = list(dict.fromkeys(texts[i] for i in missing))
            vecs = self.inner.embed_documents(unique)
            fresh = len(unique)
            self.cache.put_many(self.model_id, unique, vecs)
            by_text = dict(zip(unique, vecs, strict=True))
            for i in missing:
                out[i] = by_text[texts[i]]
        return out, fresh

    def _cached_with_sentences(
        self,
        texts: Sequence[str],
        keys: Sequence[str],
        embed: Callable[[list[int]], tuple[Vectors, list[Vectors]]],
    ) -> tuple[Vectors, list[Vectors]]:
        """Each text's vector and sentence vectors (one cache entry per text under ``keys[i]``,
        naming its spans and form): cached ones read, the rest from ``embed(indices)`` and cached."""
        vectors = self.cache.get_many(self.model_id, texts)
        cached_sentences = self.cache.get_many(self.model_id, list(keys))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        sentence_out: list[Vectors] = []
        # Identical texts (with identical spans) inside one batch are embedded once.
        todo: dict[str, list[int]] = {}
        for i, (v, u) in enumerate(zip(vectors, cached_sentences, strict=True)):
            if v is None or u is None:
                todo.setdefault(keys[i], []).append(i)
                sentence_out.append(np.zeros((0, self.dimension), np.float32))
            else:
                out[i] = v
                sentence_out.append(u.reshape(-1, self.dimension))
        if todo:
            first = [rows[0] for rows in todo.values()]
            vecs, fresh = embed(first)
            self.embedded += len(first)
            self.cache.put_many(self.model_id, [texts[i] for i in first], vecs)
            self.cache.put_many(self.model_id, list(todo), [f.reshape(-1) for f in fresh])
            for j, rows in enumerate(todo.values()):
                for i in rows:
                    out[i] = vecs[j]
                    sentence_out[i] = fresh[j]
        return out, sentence_out

    def embed_spans(
        self, texts: Sequence[str], heads: Sequence[int], spans: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        """As :meth:`SpanEmbedder.embed_spans`, through the cache: a text whose vector and sentence
        vectors are both cached is not embedded again. Without token states in the inner model,
        sentences are embedded as separate texts (each cached as usual)."""
        if not isinstance(self.inner, SpanEmbedder):
            return self.embed_documents(texts), separate_sentence_vectors(self, texts, heads, spans)
        # One cache entry holds all of a text's sentence vectors, under a key naming its spans.
        keys = [_span_key(t, heads[i], spans[i]) for i, t in enumerate(texts)]
        inner = self.inner

        def embed(idx: list[int]) -> tuple[Vectors, list[Vectors]]:
            return inner.embed_spans(
                [texts[i] for i in idx], [heads[i] for i in idx], [spans[i] for i in idx]
            )

        return self._cached_with_sentences(texts, keys, embed)

    def embed_spans_with_tokens(
        self,
        texts: Sequence[str],
        heads: Sequence[int],
        spans: Sequence[Sequence[Span]],
        *,
        content_only: bool = False,
    ) -> tuple[Vectors, list[Vectors], list[TokenMatrix]]:
        """As :meth:`SpanTokenEmbedder.embed_spans_with_tokens`: token states are not cached, so
        every text goes through the model once; its vector and sentence vectors are cached as
        :meth:`embed_spans` caches them."""
        if not isinstance(self.inner, SpanTokenEmbedder):
            vectors, tokens = self.embed_with_tokens(texts, content_only=content_only)
            return vectors, self.embed_spans(texts, heads, spans)[1], tokens
        vectors, sentences, tokens = self.inner.embed_spans_with_tokens(
            texts, heads, spans, content_only=content_only
        )
        self.embedded += len(texts)
        self.cache.put_many(self.model_id, list(texts), vectors)
        keys = [_span_key(t, heads[i], spans[i]) for i, t in enumerate(texts)]
        self.cache.put_many(self.model_id, keys, [s.reshape(-1) for s in sentences])
        return vectors, sentences, tokens

    def embed_split(
        self,
        texts: Sequence[str],
        heads: Sequence[int],
        spans: Sequence[Sequence[Span]],
        *,
        layers: int,
        with_tokens: bool = False,
        content_only: bool = False,
    ) -> tuple[Vectors, list[Vectors], list[TokenMatrix] | None]:
        """As :meth:`SplitEmbedder.embed_split`, through the cache: without token states a text
        whose vector and split sentence vectors are both cached is not embedded again; token
        states are not cached, so with them every text goes through the model once. Without
        hidden states in the inner model, sentences are embedded as separate texts (cached)."""
        if not isinstance(self.inner, SplitEmbedder):
            if with_tokens:
                vectors, states = self.embed_with_tokens(texts, content_only=content_only)
                return vectors, separate_sentence_vectors(self, texts, heads, spans), states
            return self.embed_documents(texts), separate_sentence_vectors(self, texts, heads, spans), None
        keys = [_split_key(t, heads[i], spans[i], layers) for i, t in enumerate(texts)]
        if with_tokens:
            vectors, sentences, tokens = self.inner.embed_split(
                texts, heads, spans, layers=layers, with_tokens=True, content_only=content_only
            )
            self.embedded += len(texts)
            self.cache.put_many(self.model_id, list(texts), vectors)
            self.cache.put_many(self.model_id, keys, [s.reshape(-1) for s in sentences])
            return vectors, sentences, tokens
        inner = self.inner

        def embed(idx: list[int]) -> tuple[Vectors, list[Vectors]]:
            vecs, fresh, _ = inner.embed_split(
                [texts[i] for i in idx], [heads[i] for i in idx], [spans[i] for i in idx], layers=layers
            )
            return vecs, fresh

        vectors, sentences = self._cached_with_sentences(texts, keys, embed)
        return vectors, sentences, None

    def transient(self) -> TransientEmbedder:
        """Query-time texts (answer sentences) embedded through an in-memory LRU, not the disk cache."""
        return TransientEmbedder(self)

    def token_model(self) -> TokenModel | None:
        """The wrapped model, when it gives token states (late interaction runs it directly)."""
        return token_model(self.inner)

    def embed_with_tokens(
        self, texts: Sequence[str], *, content_only: bool = False
    ) -> tuple[Vectors, list[TokenMatrix]]:
        """As :meth:`TokenEmbedder.embed_with_tokens`; token states are too large to cache, so every
        text goes through the model (its vector is cached as usual)."""
        # Identical texts inside one batch go through the model once.
        unique = list(dict.fromkeys(texts))
        vectors, tokens = token_states(self.inner, unique, content_only=content_only)
        self.embedded += len(unique)
        self.cache.put_many(self.model_id, unique, vectors)
        if len(unique) == len(texts):
            return vectors, tokens
        at = {t: i for i, t in enumerate(unique)}
        return vectors[[at[t] for t in texts]], [tokens[at[t]] for t in texts]

    def embed_query(self, text: str) -> Vectors:
        with self._query_lock:
            hit = self._queries.get(text)
            if hit is not None:
                self._queries.move_to_end(text)
                return hit
        vec = self.batcher.embed(text) if self.batcher is not None else self.inner.embed_query(text)
        vec.setflags(write=False)
        with self._query_lock:
            self._queries[text] = vec
            if len(self._queries) > self.QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return vec


class TransientEmbedder:
    """Embeds query-time texts (answer sentences) through a bounded in-memory LRU.

    They are not written to the disk cache: that would grow it with every question and make
    queries wait on its write lock while an ingest runs. Questions go through ``base``, whose
    query LRU already holds the one retrieval just embedded.
    """

    def __init__(self, base: CachedEmbedder, size: int = 50_000) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.base = base
        self.size = size
        self.embedded = 0
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.base.model_id

    @property
    def dimension(self) -> int:
        return self.base.dimension

    def embed_query(self, text: str) -> Vectors:
        return self.base.embed_query(text)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        missing: list[int] = []
        with self._lock:
            for i, t in enumerate(texts):
                v = self._vectors.get(t)
                if v is None:
                    missing.append(i)
                else:
                    self._vectors.move_to_end(t)
                    out[i] = v
        if missing:
            unique = list(dict.fromkeys(texts[i] for i in missing))
            vecs = self.base.inner.embed_documents(unique)
            self.embedded += len(unique)
            by_text = dict(zip(unique, vecs, strict=True))
            for i in missing:
                out[i] = by_text[texts[i]]
            with self._lock:
                for t, v in by_text.items():
                    self._vectors[t] = v
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return out
