"""The compact stored forms (issue 26) on a real LanceDB collection: float16 sentence vectors
(``store.sentence_vector_dtype``) and product-quantised token states
(``chunking.token_state_format``), and collections written in the older forms (float32 sentence
vectors, int8 token states) opening, searching and taking new writes in their own form."""

from __future__ import annotations

from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa
import pytest

from ragline.embedding.tokens import Codebook, PackedTokens, codebook_for, token_state_format, unpack_tokens
from ragline.store import lance
from ragline.store.base import SourceBatch
from ragline.store.lance import LanceStore
from ragline.testing.store_contract import make_chunks, maxsim_reference, units_for, vectors_for
from ragline.types import Chunk

DIM = 384
MODEL = "all-MiniLM-L6-v2@dbc58fdc8d65"  # the packaged model, whose codebook ships


def unit_type(root: Path) -> pa.DataType:
    field = lancedb.connect(str(root)).open_table("chunks").schema.field("unit_vectors")
    return field.type.value_type.value_type


def states_for(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for k in rng.integers(1, 9, size=n):
        m = rng.normal(size=(int(k), DIM)).astype(np.float32)
        out.append(m / np.linalg.norm(m, axis=1, keepdims=True))
    return out


def pq_batch(
    source: str, chunks: list[Chunk], seed: int, states: list[np.ndarray], book: Codebook
) -> SourceBatch:
    """A source's chunks with their token states packed as today's ingest does (pq)."""
    return SourceBatch(
        source,
        "h",
        chunks,
        vectors_for(chunks, seed, DIM),
        token_states=[PackedTokens.of(m, book) for m in states],
    )


def test_float16_sentence_vectors_rank_as_float32_does(tmp_path: Path) -> None:
    chunks = make_chunks(20, "/s.jsonl", seed=3)
    vecs, units = vectors_for(chunks, 3, DIM), units_for(chunks, 3, DIM)
    stores = {}
    for dtype in ("float32", "float16"):
        store = LanceStore(tmp_path / dtype, dimension=DIM, model_id="m", sentence_vector_dtype=dtype)
        store.upsert([SourceBatch("/s.jsonl", "h", chunks, vecs, sentence_vectors=units)])
        stores[dtype] = store
        assert unit_type(tmp_path / dtype) == (pa.float16() if dtype == "float16" else pa.float32())
    q = np.random.default_rng(0).normal(size=DIM).astype(np.float32)
    ref = maxsim_reference(chunks, units, q)
    half = stores["float16"].sentence_candidates(q, len(chunks))
    assert [c.chunk_id for c in stores["float32"].sentence_candidates(q, len(chunks))] == [i for i, _ in ref]
    # float16 keeps ~3 significant digits: scores within 1e-3, so only near-ties may swap.
    got = {c.chunk_id: c.score for c in half}
    assert set(got) == {i for i, _ in ref}
    assert max(abs(got[i] - s) for i, s in ref) < 1e-3
    assert half[0].chunk_id == ref[0][0]


def test_a_float32_collection_keeps_its_column_and_takes_new_writes(tmp_path: Path) -> None:
    root = tmp_path / "old"
    a = make_chunks(5, "/a.jsonl", seed=1)
    LanceStore(root, dimension=DIM, model_id="m", sentence_vector_dtype="float32").upsert(
        [SourceBatch("/a.jsonl", "h", a, vectors_for(a, 1, DIM), sentence_vectors=units_for(a, 1, DIM))]
    )
    # Reopened with today's default (float16): the existing column type is kept.
    store = LanceStore(root, dimension=DIM, model_id="m")
    b = make_chunks(5, "/b.jsonl", seed=2)
    b_units = units_for(b, 2, DIM)
    store.upsert([SourceBatch("/b.jsonl", "h", b, vectors_for(b, 2, DIM), sentence_vectors=b_units)])
    assert unit_type(root) == pa.float32()
    i = next(j for j, u in enumerate(b_units) if len(u))
    top = store.sentence_candidates(b_units[i][0], 1)
    assert top[0].chunk_id == b[i].id and abs(top[0].score - 1.0) < 1e-5


def test_int8_and_pq_token_states_read_back_side_by_side(tmp_path: Path) -> None:
    book = codebook_for(MODEL)
    assert book is not None
    root = tmp_path / "mixed"
    a, b = make_chunks(3, "/a.jsonl", seed=1), make_chunks(3, "/b.jsonl", seed=2)
    sa, sb = states_for(len(a), 1), states_for(len(b), 2)
    # /a written before the pq form (int8 blobs), /b by today's ingest (pq blobs).
    LanceStore(root, dimension=DIM, model_id=MODEL).upsert(
        [SourceBatch("/a.jsonl", "h", a, vectors_for(a, 1, DIM), token_states=sa)]
    )
    store = LanceStore(root, dimension=DIM, model_id=MODEL)
    store.upsert([pq_batch("/b.jsonl", b, 2, sb, book)])
    blobs = lancedb.connect(str(root)).open_table("chunks").to_arrow().column("token_states").to_pylist()
    assert sorted(token_state_format(x) for x in blobs) == ["int8"] * len(a) + ["pq"] * len(b)
    got = store.fetch_token_states([c.id for c in a + b])
    for m, g in zip(sa, got[: len(a)], strict=True):
        assert g is not None and np.allclose(g, m, atol=0.01)
    for m, g in zip(sb, got[len(a) :], strict=True):
        assert g is not None and np.array_equal(g, unpack_tokens(PackedTokens.of(m, book).blob, DIM))
        assert np.allclose(np.linalg.norm(g, axis=1), 1.0, atol=1e-5)
    # pq blobs are a twelfth of int8's (32 bytes a token instead of 388, plus a 12-byte header).
    pq_sizes = [len(x) for x in blobs if token_state_format(x) == "pq"]
    assert pq_sizes == [12 + 32 * len(m) for m in sb]
    assert np.array_equal(unpack_tokens(blobs[-1], DIM), got[-1])


@pytest.mark.parametrize("cap", [lance._TOKENS_IN_MEMORY, 0])
def test_token_states_held_in_memory_read_as_rows_do(tmp_path: Path, monkeypatch, cap: int) -> None:
    # cap 0: the column is too large to hold, so every call reads rows (the path of an int8 or an
    # indexed collection); both must give the stored states, new writes included.
    monkeypatch.setattr(lance, "_TOKENS_IN_MEMORY", cap)
    book = codebook_for(MODEL)
    assert book is not None
    a, b = make_chunks(6, "/a.jsonl", seed=1), make_chunks(2, "/b.jsonl", seed=2)
    sa, sb = states_for(len(a), 1), states_for(len(b), 2)
    store = LanceStore(tmp_path / "c", dimension=DIM, model_id=MODEL)
    store.upsert([pq_batch("/a.jsonl", a, 1, sa, book)])
    ids = [a[4].id, "no-such-chunk", a[0].id, a[4].id]
    got = store.fetch_token_states(ids)
    assert got[1] is None
    for i, g in zip((4, 0, 4), (got[0], got[2], got[3]), strict=True):
        assert g is not None and np.array_equal(g, unpack_tokens(PackedTokens.of(sa[i], book).blob, DIM))
    view = store._view()
    assert view is not None and view.tokens_held is (cap > 0)
    # A write makes a new view: the chunks it added are found, from memory again when held.
    store.upsert([pq_batch("/b.jsonl", b, 2, sb, book)])
    new = store.fetch_token_states([b[1].id, a[4].id])
    assert new[0] is not None and np.array_equal(
        new[0], unpack_tokens(PackedTokens.of(sb[1], book).blob, DIM)
    )
    assert new[1] is not None and np.array_equal(new[1], got[0])
    view = store._view()
    assert view is not None and view.tokens_held is (cap > 0)
    assert (view.tokens is not None and b[1].id in view.tokens) is (cap > 0)
