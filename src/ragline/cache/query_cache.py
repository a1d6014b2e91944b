"""The query caches over one backend: search results, answers, and answers by question similarity.

Example::

    cache = QueryCache(MemoryBackend(), ttl_s=3600)
    hits = cache.get_hits(scope, "how to install")          # None on a miss
    cache.put_hits(scope, "how to install", hits)
    answer, vector = cache.get_answer(scope, question, embed=lambda: embedder.embed_query(question))
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from ragline.cache.base import CacheBackend
from ragline.cache.codec import decode_answer, decode_hits, encode_answer, encode_hits
from ragline.cache.keys import Scope
from ragline.errors import CacheUnavailable
from ragline.types import Answer, CachedFrom, Hit

log = logging.getLogger(__name__)

CacheName = Literal["retrieval", "answer", "semantic"]
Vector = npt.NDArray[np.float32]


def _unit(x: npt.NDArray[np.floating]) -> Vector:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    out: Vector = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return out


def semantic_form(question: str) -> str:
    """The text the semantic cache embeds: lower case, without punctuation, spaces collapsed. The
    model reads a question without its "?" as another sentence (32.8 % of such rewordings were
    hits at 0.97 without this; bench/semantic_cache.py), and neither changes what is asked."""
    return " ".join(re.sub(r"[^\w\s'-]", " ", question.lower()).split())


def stored_vector(vector: npt.NDArray[np.floating]) -> Vector:
    """A question vector as the semantic cache keeps it: float16, renormalised on the way back.
    Calibration (bench/semantic_cache.py) scores vectors through this, as lookups do."""
    return _unit(np.asarray(vector, dtype=np.float16).astype(np.float32))


def question_similarities(query: npt.NDArray[np.floating], cached: npt.NDArray[np.floating]) -> Vector:
    """Cosine similarity of a question vector with each row of ``cached`` (stored vectors)."""
    if len(cached) == 0:
        return np.zeros(0, dtype=np.float32)
    return np.asarray(_unit(np.atleast_2d(cached)) @ stored_vector(query), dtype=np.float32)


def _encode_question(question: str, key: str, vector: Vector) -> bytes:
    header = json.dumps({"q": question, "key": key}).encode()
    return len(header).to_bytes(4, "big") + header + np.asarray(vector, dtype="<f2").tobytes()


def _decode_question(data: bytes) -> tuple[str, str, Vector] | None:
    try:
        n = int.from_bytes(data[:4], "big")
        header = json.loads(data[4 : 4 + n])
        vector = np.frombuffer(data[4 + n :], dtype="<f2").astype(np.float32)
        return str(header["q"]), str(header["key"]), vector
    except (ValueError, KeyError, TypeError):
        return None


class QueryCache:
    """Retrieval results and answers in ``backend`` for ``ttl_s`` seconds. Hits, misses and backend
    errors are counted per cache (:meth:`counts`, exported by the server's /metrics). A backend
    error is a miss, logged once a minute at most: a cache outage never fails a request."""

    def __init__(
        self,
        backend: CacheBackend,
        *,
        ttl_s: float = 3600.0,
        retrieval: bool = True,
        answers: bool = True,
        semantic: bool = False,
        semantic_threshold: float = 0.97,
        semantic_max_per_scope: int = 256,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        self.backend = backend
        self.ttl_s = ttl_s
        self.retrieval = retrieval
        self.answers = answers
        self.semantic = semantic and answers
        self.semantic_threshold = semantic_threshold
        self.semantic_max_per_scope = semantic_max_per_scope
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._last_warning = 0.0

    def counts(self) -> dict[tuple[str, str], int]:
        """Lookups so far by (cache, result): result is "hit", "miss" or "error"."""
        with self._lock:
            return dict(self._counts)

    def _count(self, cache: CacheName, result: str) -> None:
        with self._lock:
            self._counts[cache, result] += 1

    def _failed(self, cache: CacheName, exc: CacheUnavailable) -> None:
        self._count(cache, "error")
        now = time.monotonic()
        if now - self._last_warning > 60:
            self._last_warning = now
            log.warning("query cache skipped: %s", exc)

    # -- search results ----------------------------------------------------------------------------

    def get_hits(self, scope: Scope, query: str) -> list[Hit] | None:
        """The cached hits of ``query`` in ``scope``, or None."""
        if not self.retrieval:
            return None
        try:
            data = self.backend.get(scope.key(query))
        except CacheUnavailable as exc:
            self._failed("retrieval", exc)
            return None
        hits = decode_hits(data) if data is not None else None
        self._count("retrieval", "miss" if hits is None else "hit")
        return hits

    def put_hits(self, scope: Scope, query: str, hits: list[Hit]) -> None:
        if not self.retrieval:
            return
        try:
            self.backend.set(scope.key(query), encode_hits(hits), self.ttl_s)
        except CacheUnavailable as exc:
            self._failed("retrieval", exc)

    # -- answers -----------------------------------------------------------------------------------

    def _cached_answer(self, key: str) -> tuple[Answer, float] | None:
        data = self.backend.get(key)
        return decode_answer(data) if data is not None else None

    def get_answer(
        self,
        scope: Scope,
        question: str,
        embed: Callable[[], npt.NDArray[np.floating]],
        *,
        semantic: bool = True,
    ) -> tuple[Answer | None, npt.NDArray[np.floating] | None]:
        """A cached answer for ``question`` in ``scope`` (marked by ``Answer.cached``), or None;
        and the question's vector when the semantic lookup needed it (pass it to :meth:`put_answer`).
        ``embed`` is called only when the exact lookup misses and the semantic cache is on (and
        ``semantic`` is true)."""
        if not self.answers:
            return None, None
        try:
            found = self._cached_answer(scope.key(question))
        except CacheUnavailable as exc:
            self._failed("answer", exc)
            return None, None
        self._count("answer", "miss" if found is None else "hit")
        if found is not None:
            return self._served(found[0], question, "exact", 1.0, found[1]), None
        if not (self.semantic and semantic):
            return None, None
        vector = embed()
        try:
            answer = self._semantic(scope, question, vector)
        except CacheUnavailable as exc:
            self._failed("semantic", exc)
            return None, vector
        self._count("semantic", "miss" if answer is None else "hit")
        return answer, vector

    def _semantic(self, scope: Scope, question: str, vector: npt.NDArray[np.floating]) -> Answer | None:
        entries = [e for e in map(_decode_question, self.backend.items(scope.semantic_key)) if e is not None]
        entries = [e for e in entries if len(e[2]) == len(vector) and e[0] != question]
        if not entries:
            return None
        sims = question_similarities(vector, np.stack([e[2] for e in entries]))
        for i in np.argsort(-sims, kind="stable"):
            if sims[i] < self.semantic_threshold:
                break
            found = self._cached_answer(entries[i][1])
            if found is not None:  # the answer may have expired or been evicted before its question
                answer, created = found
                return self._served(answer, question, "semantic", float(sims[i]), created)
        return None

    @staticmethod
    def _served(
        answer: Answer, question: str, kind: Literal["exact", "semantic"], sim: float, created: float
    ) -> Answer:
        return replace(
            answer,
            question=question,
            cached=CachedFrom(
                kind=kind, question=answer.question, similarity=sim, age_s=time.time() - created
            ),
        )

    def put_answer(
        self,
        scope: Scope,
        question: str,
        answer: Answer,
        vector: npt.NDArray[np.floating] | None = None,
        embed: Callable[[], npt.NDArray[np.floating]] | None = None,
        *,
        semantic: bool = True,
    ) -> None:
        """Keep ``answer`` to ``question`` in ``scope``; with the semantic cache on, also the
        question's vector (``vector``, or ``embed()`` when it was not computed by the lookup)."""
        if not self.answers:
            return
        key = scope.key(question)
        try:
            self.backend.set(key, encode_answer(answer, time.time()), self.ttl_s)
            if self.semantic and semantic:
                v = vector if vector is not None else embed() if embed is not None else None
                if v is not None:
                    entry = _encode_question(question, key, stored_vector(v))
                    self.backend.push(scope.semantic_key, entry, self.ttl_s, self.semantic_max_per_scope)
        except CacheUnavailable as exc:
            self._failed("answer", exc)
