"""Token states in product-quantised form (``chunking.token_state_format = "pq"``): the codebook
codec, the blob header that tells the two stored forms apart, and the codebook shipped for the
packaged model, whose MaxSim ranks passages as the int8 form does."""

from __future__ import annotations

import numpy as np
import pytest

from ragline.embedding.tokens import (
    CODEBOOK_DIR,
    Codebook,
    PackedTokens,
    codebook_for,
    content_tokens,
    pack_tokens,
    token_state_format,
    unpack_many,
    unpack_tokens,
)
from ragline.errors import EmbeddingError
from ragline.rerank.late_interaction import maxsim_batch

MODEL_ID = "all-MiniLM-L6-v2@dbc58fdc8d65"


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    m = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def small_book(dim: int = 24, groups: int = 4, seed: int = 1) -> Codebook:
    rng = np.random.default_rng(seed)
    return Codebook(rng.normal(size=(groups, 256, dim // groups)).astype(np.float32) * 0.3)


def test_encode_picks_the_nearest_centroid_of_every_group() -> None:
    book, m = small_book(), unit_rows(9, 24, seed=2)
    codes = book.encode(m)
    assert codes.shape == (9, 4) and codes.dtype == np.uint8
    parts = m.reshape(9, 4, 6)
    for g in range(4):
        dist = ((parts[:, g, None, :] - book.centroids[g][None]) ** 2).sum(-1)  # brute force
        assert np.array_equal(codes[:, g], dist.argmin(1))
    back = book.decode(codes)
    assert back.shape == (9, 24) and back.dtype == np.float32
    np.testing.assert_array_equal(back.reshape(9, 4, 6)[:, 1], book.centroids[1][codes[:, 1]])
    # Decoding a decoded matrix again changes nothing: a re-packed chunk keeps its states.
    assert np.array_equal(book.encode(back), codes)


def test_codebook_shape_and_dimension_are_checked() -> None:
    with pytest.raises(EmbeddingError, match=r"\(groups, 256, dim/groups\)"):
        Codebook(np.zeros((4, 16, 6), np.float32))
    with pytest.raises(EmbeddingError, match=r"\(tokens, 24\)"):
        small_book().encode(np.zeros((3, 16), np.float32))


def test_the_shipped_codebook_packs_32_bytes_a_token_and_reads_back() -> None:
    book = codebook_for(MODEL_ID)
    assert book is not None and book.dimension == 384 and book.groups == 32
    assert (CODEBOOK_DIR / f"{MODEL_ID}.npy").is_file()
    m = unit_rows(5, 384, seed=3)
    blob = pack_tokens(m, book)
    assert len(blob) == 4 + 8 + 5 * 32  # header (format, codebook id), then one byte per group
    assert token_state_format(blob) == "pq" and token_state_format(pack_tokens(m)) == "int8"
    back = unpack_tokens(blob, 384)
    approx = book.decode(book.encode(m))
    np.testing.assert_allclose(back, approx / np.linalg.norm(approx, axis=1, keepdims=True), atol=1e-6)
    assert np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-5)  # unit rows, as packed
    # Re-packing what was read (ingest does, for a chunk kept across a re-index) keeps the codes.
    assert pack_tokens(back, book) == blob
    assert PackedTokens.of(m, book) == PackedTokens(blob, 384)
    assert codebook_for("no-such-model@000000000000") is None
    with pytest.raises(EmbeddingError, match="re-ingest"):
        unpack_tokens(blob, 768)  # states of another model's width


def test_old_int8_blobs_still_read_and_unknown_forms_are_refused() -> None:
    m = unit_rows(4, 384, seed=4)
    legacy = pack_tokens(m)  # what every collection before the pq form holds
    assert token_state_format(legacy) == "int8"
    np.testing.assert_allclose(unpack_tokens(legacy, 384), m, atol=0.01)
    with pytest.raises(EmbeddingError, match="does not ship; re-ingest"):
        unpack_tokens(b"RLT\x02" + b"\x00" * 8 + bytes(32), 384)  # a codebook this ragline lacks
    with pytest.raises(EmbeddingError, match="upgrade ragline or re-ingest"):
        unpack_tokens(b"RLT\x09" + bytes(40), 384)


def test_decode_gathers_each_groups_centroid() -> None:
    book = small_book()
    codes = np.random.default_rng(5).integers(0, 256, size=(9, book.groups)).astype(np.uint8)
    expected = np.concatenate([book.centroids[g][codes[:, g]] for g in range(book.groups)], axis=1)
    assert np.array_equal(book.decode(codes), expected)


def test_decode_unit_is_decode_scaled_to_unit_rows() -> None:
    book = small_book()
    codes = np.random.default_rng(6).integers(0, 256, size=(50, book.groups)).astype(np.uint8)
    plain = book.decode(codes)
    unit = book.decode_unit(codes)
    assert np.allclose(unit, plain / np.linalg.norm(plain, axis=1, keepdims=True), rtol=0, atol=1e-6)
    assert np.allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-6)
    # A row whose centroids are all zero stays zero instead of dividing by 0.
    zero = Codebook(np.zeros((book.groups, 256, 24 // book.groups), dtype=np.float32))
    assert not zero.decode_unit(codes[:3]).any()


def test_unpack_many_gives_what_unpack_tokens_gives_blob_by_blob() -> None:
    book = codebook_for(MODEL_ID)
    assert book is not None
    blobs: list[bytes | None] = [
        pack_tokens(unit_rows(3, 384, seed=1), book),
        None,
        pack_tokens(unit_rows(4, 384, seed=2)),  # an int8 blob among pq ones (an older chunk)
        b"",  # a chunk with no token states
        pack_tokens(unit_rows(7, 384, seed=3), book),
        pack_tokens(unit_rows(1, 384, seed=4), book),
    ]
    got = unpack_many(blobs, 384)
    assert got[1] is None
    for blob, m in zip(blobs, got, strict=True):
        if blob is not None:
            assert m is not None and np.array_equal(m, unpack_tokens(blob, 384))  # to the last bit
    assert [None if m is None else m.shape[0] for m in got] == [3, None, 4, 0, 7, 1]
    with pytest.raises(EmbeddingError, match="re-ingest"):
        unpack_many([blobs[0]], 768)


@pytest.mark.integration
def test_pq_maxsim_ranks_passages_as_int8_does(onnx_embedder) -> None:
    passages = [
        "Vitamin D deficiency is associated with higher risk of respiratory infections in children.",
        "The mitochondrial genome encodes thirteen proteins of the electron transport chain.",
        "Statins lower LDL cholesterol by inhibiting HMG-CoA reductase in the liver.",
        "Regular aerobic exercise improves insulin sensitivity in adults with type 2 diabetes.",
        "CRISPR-Cas9 introduces double-strand breaks at sites matched by a guide RNA.",
        "Smoking cessation reduces the risk of lung cancer over the following decade.",
        "Antibiotic resistance spreads between bacteria through plasmids carrying resistance genes.",
        "Sleep deprivation impairs memory consolidation in the hippocampus.",
    ]
    queries = [
        "does vitamin d prevent infections",
        "how do statins reduce cholesterol",
        "gene editing with guide rna",
        "exercise and insulin resistance",
        "sleep loss and memory",
    ]
    answers = dict(zip(queries, [0, 2, 4, 3, 7], strict=True))
    book = codebook_for(onnx_embedder.model_id)
    assert book is not None
    states = onnx_embedder.embed_with_tokens(passages)[1]
    int8 = [unpack_tokens(pack_tokens(s), 384) for s in states]
    pq = [unpack_tokens(pack_tokens(s, book), 384) for s in states]
    # Round-trip error bound: decoded tokens point where the originals do.
    cos = np.concatenate(
        [(a * b).sum(1) / np.linalg.norm(b, axis=1) for a, b in zip(states, pq, strict=True)]
    )
    # (12 dimensions to one of 256 centroids keeps ~0.73 of a token's direction on average.)
    assert cos.mean() > 0.65 and cos.min() > 0.4
    for q in queries:
        qt = onnx_embedder.query_tokens(q)
        a, b = np.asarray(maxsim_batch(qt, int8)), np.asarray(maxsim_batch(qt, pq))
        # The passage written for the query is first under both; the unrelated rest score close
        # together (MaxSim 0.1-0.3) and may shuffle, so the scores agree linearly (Pearson).
        assert np.argmax(a) == np.argmax(b) == answers[q], (q, a, b)
        assert np.corrcoef(a, b)[0, 1] > 0.9, (q, a, b)


def test_content_tokens_leave_out_stop_words_and_punctuation() -> None:
    words = ["the", "statin", "##s", "lower", "ldl", ",", "and", "(", "hmg", "-", "coa", ")", "."]
    keep = content_tokens(words)
    assert [w for w, k in zip(words, keep, strict=True) if k] == [
        "statin",
        "##s",
        "lower",
        "ldl",
        "hmg",
        "coa",
    ]
    # A text of nothing but stop words keeps its tokens: late interaction still has rows to match.
    assert content_tokens(["the", "of", "."]).all()
    assert len(content_tokens([])) == 0


@pytest.mark.integration
def test_content_only_states_are_the_content_rows_of_the_full_run(onnx_embedder) -> None:
    texts = ["The statins, as a class, lower LDL cholesterol.", "and the"]
    vectors, full = onnx_embedder.embed_with_tokens(texts)
    same_vectors, content = onnx_embedder.embed_with_tokens(texts, content_only=True)
    np.testing.assert_allclose(same_vectors, vectors, atol=1e-6)  # the chunk vector is unchanged
    for text, f, c in zip(texts, full, content, strict=True):
        enc = onnx_embedder._tokenizer.encode(text)
        words = [w for w, s in zip(enc.tokens, enc.special_tokens_mask, strict=True) if not s]
        np.testing.assert_allclose(c, f[content_tokens(words)], atol=1e-6)
    assert len(content[0]) < len(full[0]) and len(content[1]) == len(full[1])


def test_the_codebook_follows_the_weights_not_the_folder_name() -> None:
    copied, shipped = codebook_for("model@dbc58fdc8d65"), codebook_for(MODEL_ID)
    assert copied is not None and shipped is not None and copied.id == shipped.id  # same weights
    assert codebook_for("all-MiniLM-L6-v2@000000000000") is None  # other weights, same name
    assert codebook_for("text-embedding-3-small") is None  # no fingerprint: an endpoint's model


def test_encode_of_no_tokens_is_empty_and_float64_input_gives_the_same_codes() -> None:
    book, m = small_book(), unit_rows(5, 24, seed=3)
    empty = book.encode(np.zeros((0, 24), np.float32))
    assert empty.shape == (0, 4) and empty.dtype == np.uint8
    assert np.array_equal(book.encode(m.astype(np.float64)), book.encode(m))
