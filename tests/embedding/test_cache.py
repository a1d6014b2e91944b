"""CachedEmbedder + EmbeddingCache, with a deterministic counting embedder as the collaborator."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from ragline.embedding.base import Embedder, l2_normalize
from ragline.embedding.cache import CachedEmbedder, EmbeddingCache, TransientEmbedder

DIM = 8


class HashEmbedder:
    """Deterministic hash-based vectors; records every text it is asked to embed."""

    def __init__(self, model_id: str = "fake@000000000000", fail_on: str | None = None) -> None:
        self._model_id = model_id
        self.fail_on = fail_on
        self.doc_calls: list[list[str]] = []
        self.query_calls: list[str] = []

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return DIM

    @property
    def embedded_texts(self) -> list[str]:
        return [t for call in self.doc_calls for t in call]

    @staticmethod
    def vector(text: str, salt: str = "") -> np.ndarray:
        digest = hashlib.sha256((salt + text).encode("utf-8")).digest()
        raw = np.frombuffer(digest[: DIM * 4], dtype=np.uint32).astype(np.float64)
        return l2_normalize((raw / 2**31 - 1.0).astype(np.float32)[None, :])[0]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError(f"model crashed on {self.fail_on!r}")
        self.doc_calls.append(list(texts))
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([self.vector(t, self._model_id) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        self.query_calls.append(text)
        return self.vector(text, self._model_id)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "sub" / "embeddings.sqlite"


def _expected(texts, model_id="fake@000000000000"):
    return np.stack([HashEmbedder.vector(t, model_id) for t in texts])


def test_fake_is_an_embedder():
    assert isinstance(HashEmbedder(), Embedder)


def test_results_equal_inner_embedder(db):
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(db))
    texts = ["alpha", "beta", "gamma", "ünïcode ✓", ""]
    first = cached.embed_documents(texts)
    second = cached.embed_documents(texts)  # now entirely from sqlite
    assert first.dtype == second.dtype == np.float32
    assert first.shape == (5, DIM)
    np.testing.assert_array_equal(first, _expected(texts))
    np.testing.assert_array_equal(second, _expected(texts))
    assert cached.model_id == inner.model_id
    assert cached.dimension == DIM


def test_each_unique_text_embedded_once_across_calls(db):
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(db))
    cached.embed_documents(["a", "b", "c"])
    out = cached.embed_documents(["c", "d", "a", "e"])
    np.testing.assert_array_equal(out, _expected(["c", "d", "a", "e"]))
    assert inner.doc_calls == [["a", "b", "c"], ["d", "e"]]
    assert cached.embedded == 5
    cached.embed_documents(["e", "b"])
    assert len(inner.doc_calls) == 2  # nothing new: the model is not called at all
    assert cached.embedded == 5


def test_duplicates_within_a_batch_embedded_once(db):
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(db))
    texts = ["x", "y", "x", "x", "z", "y"]
    out = cached.embed_documents(texts)
    assert inner.doc_calls == [["x", "y", "z"]]
    assert cached.embedded == 3
    np.testing.assert_array_equal(out, _expected(texts))
    assert cached.cache.count() == 3


def test_instances_sharing_a_file_share_entries(db):
    inner1, inner2 = HashEmbedder(), HashEmbedder()
    c1 = CachedEmbedder(inner1, EmbeddingCache(db))
    c2 = CachedEmbedder(inner2, EmbeddingCache(db))
    c1.embed_documents(["one", "two"])
    out = c2.embed_documents(["two", "three", "one"])
    assert inner2.embedded_texts == ["three"]
    np.testing.assert_array_equal(out, _expected(["two", "three", "one"]))
    c1.embed_documents(["three"])
    assert inner1.embedded_texts == ["one", "two"]


def test_model_ids_do_not_share_entries(db):
    cache = EmbeddingCache(db)
    a = HashEmbedder("model-a@111111111111")
    b = HashEmbedder("model-b@222222222222")
    out_a = CachedEmbedder(a, cache).embed_documents(["same text", "other"])
    out_b = CachedEmbedder(b, cache).embed_documents(["same text", "other"])
    assert b.embedded_texts == ["same text", "other"]
    assert not np.allclose(out_a, out_b)
    np.testing.assert_array_equal(out_b, _expected(["same text", "other"], "model-b@222222222222"))
    assert cache.count("model-a@111111111111") == 2
    assert cache.count("model-b@222222222222") == 2
    assert cache.count() == 4
    assert cache.get_many("model-c@333333333333", ["same text"]) == [None]


def test_persisted_after_reopen(db):
    cache = EmbeddingCache(db)
    CachedEmbedder(HashEmbedder(), cache).embed_documents(["persist me", "and me"])
    cache.close()
    assert db.is_file()
    reopened = EmbeddingCache(db)
    assert reopened.count() == 2
    inner = HashEmbedder()
    out = CachedEmbedder(inner, reopened).embed_documents(["and me", "persist me"])
    assert inner.doc_calls == []
    np.testing.assert_array_equal(out, _expected(["and me", "persist me"]))
    reopened.close()


def test_more_than_900_texts_uses_chunked_lookups(db):
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(db))
    texts = [f"text number {i}" for i in range(2000)]
    first = cached.embed_documents(texts)
    assert cached.embedded == 2000
    # every one of them is found again, across all the 900-key lookup chunks
    got = cached.cache.get_many(inner.model_id, texts)
    assert all(v is not None for v in got)
    again = cached.embed_documents(texts[::-1])
    assert cached.embedded == 2000
    assert len(inner.doc_calls) == 1
    np.testing.assert_array_equal(again, first[::-1])
    # a mix of 1500 known and 500 new texts embeds only the new ones, in place
    mixed = texts[500:] + [f"new {i}" for i in range(500)]
    out = cached.embed_documents(mixed)
    assert inner.doc_calls[-1] == [f"new {i}" for i in range(500)]
    assert cached.embedded == 2500
    np.testing.assert_array_equal(out, _expected(mixed))


def test_empty_input(db):
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(db))
    out = cached.embed_documents([])
    assert out.shape == (0, DIM)
    assert cached.embedded == 0


def test_queries_use_a_bounded_memory_lru_not_the_disk_cache(db):
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(db))
    cached.QUERY_CACHE_SIZE = 2
    q1 = cached.embed_query("what is ragline?")
    q2 = cached.embed_query("what is ragline?")
    assert inner.query_calls == ["what is ragline?"]
    np.testing.assert_array_equal(q1, q2)
    np.testing.assert_array_equal(q1, HashEmbedder.vector("what is ragline?", inner.model_id))
    assert not q1.flags.writeable
    cached.embed_query("b")
    cached.embed_query("c")  # evicts the least recently used question
    cached.embed_query("what is ragline?")
    assert inner.query_calls == ["what is ragline?", "b", "c", "what is ragline?"]
    assert cached.cache.count() == 0


def test_finished_batches_survive_a_failed_one(db):
    inner = HashEmbedder(fail_on="boom")
    cached = CachedEmbedder(inner, EmbeddingCache(db))
    cached.embed_documents(["ok 1", "ok 2"])
    with pytest.raises(RuntimeError, match="boom"):
        cached.embed_documents(["ok 3", "boom"])
    assert cached.cache.count() == 2
    retry = HashEmbedder()
    out = CachedEmbedder(retry, EmbeddingCache(db)).embed_documents(["ok 1", "ok 2", "ok 3"])
    assert retry.embedded_texts == ["ok 3"]
    np.testing.assert_array_equal(out, _expected(["ok 1", "ok 2", "ok 3"]))


def test_concurrent_threads_share_one_cache(db):
    cache = EmbeddingCache(db)
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, cache)
    texts = [f"t{i}" for i in range(200)]
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            part = texts[k * 50 : k * 50 + 100]  # overlapping slices
            results[k] = cached.embed_documents(part)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    for k, out in results.items():
        np.testing.assert_array_equal(out, _expected(texts[k * 50 : k * 50 + 100]))
    assert cache.count() == 200
    assert set(inner.embedded_texts) == set(texts)


def test_transient_embedder_keeps_sentences_in_memory_only(db):
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(db))
    transient = TransientEmbedder(cached, size=2)
    v = transient.embed_documents(["a", "b", "a"])
    np.testing.assert_array_equal(v[0], v[2])
    np.testing.assert_array_equal(v[1], HashEmbedder.vector("b", inner.model_id))
    assert transient.embedded == 2 and cached.cache.count() == 0  # nothing written to disk
    transient.embed_documents(["b"])
    assert transient.embedded == 2  # a memory hit
    transient.embed_documents(["c"])  # evicts "a", the least recently used
    transient.embed_documents(["a"])
    assert transient.embedded == 4
    q = transient.embed_query("question")
    np.testing.assert_array_equal(q, cached.embed_query("question"))
    assert transient.model_id == inner.model_id and transient.dimension == inner.dimension


def test_threads_opening_a_new_cache_file_at_once_do_not_fail(tmp_path):
    # Switching a new SQLite file to WAL takes a lock SQLite does not wait for; without the setup
    # lock about one thread in sixteen failed with "database is locked" here.
    errors: list[BaseException] = []
    for i in range(40):
        cache = EmbeddingCache(tmp_path / f"c{i}.sqlite")
        start = threading.Barrier(3)

        def open_and_count(c: EmbeddingCache = cache, b: threading.Barrier = start) -> None:
            b.wait()
            try:
                c.count()
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=open_and_count) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert not errors
