"""Late interaction: MaxSim as a pure function, and the reranker on the packaged model."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ragline.embedding.tokens import Codebook
from ragline.errors import ConfigError
from ragline.rerank.base import Reranker
from ragline.rerank.late_interaction import LateInteractionReranker, maxsim, maxsim_batch, standardize

from . import make_hits, texts


def _m(*rows: tuple[float, ...]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32)


def test_maxsim_by_hand():
    q = _m((1, 0), (0, 1))
    d = _m((1, 0), (0.6, 0.8))
    # q0 best matches d0 (1.0), q1 best matches d1 (0.8): mean 0.9.
    assert maxsim(q, d) == pytest.approx(0.9)
    # One query token: its best match alone.
    assert maxsim(_m((0.6, 0.8)), d) == pytest.approx(1.0)
    # Every document token opposite the query token: the max is still the best of bad options.
    assert maxsim(_m((1, 0)), _m((-1, 0), (0, -1))) == pytest.approx(0.0)
    assert maxsim(_m((1, 0)), _m((-1, 0))) == pytest.approx(-1.0)


def test_maxsim_is_a_mean_over_query_tokens_not_over_document_tokens():
    d = _m((1, 0))
    # Repeating a query token does not change the mean; extra document tokens can only raise a max.
    assert maxsim(_m((1, 0), (1, 0)), d) == pytest.approx(maxsim(_m((1, 0)), d))
    assert maxsim(_m((1, 0)), _m((1, 0), (0, 1), (0, -1))) == pytest.approx(1.0)


def test_maxsim_of_empty_matrices_is_zero():
    empty = np.zeros((0, 2), dtype=np.float32)
    assert maxsim(empty, _m((1, 0))) == 0.0
    assert maxsim(_m((1, 0)), empty) == 0.0


def test_maxsim_batch_equals_maxsim_per_document():
    rng = np.random.default_rng(5)
    q = rng.normal(size=(4, 8)).astype(np.float32)
    docs = [rng.normal(size=(n, 8)).astype(np.float32) for n in (3, 1, 0, 7)]
    assert maxsim_batch(q, docs) == pytest.approx([maxsim(q, d) for d in docs], abs=1e-5)
    assert maxsim_batch(q, docs)[2] == 0.0  # the empty document
    assert maxsim_batch(np.zeros((0, 8), dtype=np.float32), docs) == [0.0] * 4
    assert maxsim_batch(q, []) == []


def test_constructor_checks_arguments_and_loads_nothing():
    from ragline.embedding.onnx import OnnxEmbedder

    embedder = OnnxEmbedder()
    reranker = LateInteractionReranker(embedder)
    assert isinstance(reranker, Reranker)
    assert reranker.run("anything", [], top_k=3) == []
    assert "_session" not in embedder.__dict__  # nothing loaded for an empty candidate list
    with pytest.raises(ConfigError, match="cache_size"):
        LateInteractionReranker(embedder, cache_size=-1)
    with pytest.raises(ConfigError, match="batch_size"):
        LateInteractionReranker(embedder, batch_size=0)
    with pytest.raises(ConfigError, match=r"weight must be in \[0, 1\]"):
        LateInteractionReranker(embedder, weight=1.5)
    with pytest.raises(ConfigError, match="top_k"):
        reranker.run("q", make_hits("a"), top_k=0)


@pytest.fixture(scope="module")
def embedder():
    from ragline.embedding.onnx import OnnxEmbedder

    emb = OnnxEmbedder()  # default cache dir: the exported graph is reused across sessions
    emb.warm_up()
    return emb


ERRORS = [
    "Errors are logged to the system journal and shown in the dashboard.",
    "Error E4012 means the password has expired.",
    "Error E4021 means the disk quota is exceeded; delete old snapshots.",
    "Disk usage warnings appear when storage runs low.",
]


@pytest.mark.integration
def test_exact_term_passage_wins_where_the_pooled_embedding_does_not(embedder):
    query = "error code E4021"
    dense = embedder.embed_documents(ERRORS) @ embedder.embed_query(query)
    # The pooled embedding cannot tell E4021 from E4012 (it prefers the wrong one)...
    assert int(np.argmax(dense)) == 1
    # ...token-level matching can.
    ranked = LateInteractionReranker(embedder).run(query, make_hits(*ERRORS), top_k=4)
    assert texts(ranked)[0] == ERRORS[2]
    assert texts(ranked)[1] == ERRORS[1]
    scores = [h.score for h in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in scores)


@pytest.mark.integration
def test_another_exact_term_query(embedder):
    passages = [
        "Configure the reverse proxy for TLS termination.",
        "Open port 8080 for the admin console.",
        "Allow inbound TCP traffic on port 8443 in the firewall rules.",
        "Firewalls block unsolicited network connections.",
    ]
    ranked = LateInteractionReranker(embedder).run("open port 8443 on the firewall", make_hits(*passages), 2)
    assert texts(ranked) == [passages[2], passages[1]]


@pytest.mark.integration
def test_special_tokens_are_left_out_and_rows_are_unit_length(embedder):
    reranker = LateInteractionReranker(embedder)
    q = reranker.query_tokens("error code E4021")
    wordpieces = embedder._tokenizer.encode("error code E4021").ids
    assert q.shape == (len(wordpieces) - 2, embedder.dimension)  # [CLS] and [SEP] dropped
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    assert reranker.query_tokens("").shape[0] == 0
    # Padding never leaks in: a short passage batched with a long one keeps its own token count.
    short, long = reranker.document_tokens(make_hits("disk full", ERRORS[2] * 5))
    assert short.shape[0] == len(embedder._tokenizer.encode("disk full").ids) - 2
    assert long.shape[0] > short.shape[0]


@pytest.mark.integration
def test_scores_match_maxsim_and_do_not_depend_on_the_cache(embedder):
    reranker = LateInteractionReranker(embedder)
    hits = make_hits(*ERRORS)
    first = {h.chunk.id: h.score for h in reranker.run("disk quota", hits, top_k=4)}
    again = {h.chunk.id: h.score for h in reranker.run("disk quota", hits, top_k=4)}
    assert first == again  # the second run reads every passage from the cache
    info = reranker.cache_info()
    assert (info.entries, info.hits, info.misses) == (4, 4, 4)
    q = reranker.query_tokens("disk quota")
    d = reranker.document_tokens(hits[:1])[0]
    assert first[hits[0].chunk.id] == pytest.approx(maxsim(q, d))


@pytest.mark.integration
def test_cache_is_a_bounded_lru(embedder):
    reranker = LateInteractionReranker(embedder, cache_size=2)
    hits = make_hits(*ERRORS)
    reranker.run("q", hits, top_k=1)
    assert reranker.cached_ids() == [hits[2].chunk.id, hits[3].chunk.id]
    reranker.run("q", [hits[2], hits[0]], top_k=1)  # hits[2] used again, hits[0] added
    assert reranker.cached_ids() == [hits[2].chunk.id, hits[0].chunk.id]
    off = LateInteractionReranker(embedder, cache_size=0)
    off.run("q", hits, top_k=1)
    assert off.cached_ids() == []


@pytest.mark.integration
def test_top_k_and_first_stage_evidence(embedder):
    hits = make_hits(*ERRORS)
    ranked = LateInteractionReranker(embedder).run("disk", hits, top_k=2)
    assert len(ranked) == 2
    original = {h.chunk.id: h.retrievers for h in hits}
    assert all(h.retrievers == original[h.chunk.id] for h in ranked)


def test_standardize_by_hand():
    assert np.allclose(standardize([1.0, 2.0, 3.0]), [-1.224745, 0.0, 1.224745])
    assert np.all(standardize([5.0, 5.0]) == 0.0)  # no spread: no opinion, not a division by 0


@pytest.mark.integration
def test_interpolation_mixes_z_scores_of_both_stages(embedder):
    hits = make_hits(*ERRORS)  # first-stage scores 1, 1/2, 1/3, 1/4
    query = "error code E4021"
    late = LateInteractionReranker(embedder).scores(query, hits)
    mixed = LateInteractionReranker(embedder, weight=0.3).run(query, hits, top_k=4)
    want = 0.7 * standardize([h.score for h in hits]) + 0.3 * standardize(late)
    by_id = {h.chunk.id: float(w) for h, w in zip(hits, want, strict=True)}
    assert [h.score for h in mixed] == pytest.approx(sorted(by_id.values(), reverse=True))
    assert all(h.score == pytest.approx(by_id[h.chunk.id]) for h in mixed)
    # MaxSim alone puts ERRORS[2] first; at 0.3 the first stage's strong lead on ERRORS[0] holds.
    assert texts(mixed)[0] == ERRORS[0]
    assert texts(LateInteractionReranker(embedder, weight=0.0).run(query, hits, 4)) == ERRORS


@pytest.mark.integration
def test_stored_token_states_are_read_instead_of_computed(embedder, tmp_path):
    from ragline.embedding.tokens import pack_tokens, unpack_tokens
    from ragline.store.base import SourceBatch
    from ragline.store.lance import LanceStore

    hits = make_hits(*ERRORS)
    chunks = [h.chunk for h in hits[:3]]
    # Each stored chunk holds the token states of the *next* passage, so the scores show which
    # matrices were used: stored ones, not ones computed from the hit's text.
    vectors, tokens = embedder.embed_with_tokens([ERRORS[(i + 1) % 4] for i in range(3)])
    store = LanceStore(tmp_path / "c", dimension=embedder.dimension, model_id="m")
    store.upsert([SourceBatch("/errors.txt", "h", chunks, vectors, token_states=tokens)])
    reranker = LateInteractionReranker(embedder).with_states(store)
    q = reranker.query_tokens("disk quota")
    got = reranker.scores("disk quota", hits)
    stored = [maxsim(q, unpack_tokens(pack_tokens(t), embedder.dimension)) for t in tokens]
    computed = reranker.document_tokens(hits[3:])[0]  # hits[3] is not in the store
    assert got[:3] == pytest.approx(stored, abs=1e-6)
    assert got[3] == pytest.approx(maxsim(q, computed), abs=1e-6)
    assert got[0] != pytest.approx(maxsim(q, embedder.embed_with_tokens([ERRORS[0]])[1][0]), abs=1e-3)
    info = reranker.cache_info()
    assert (info.stored, info.misses) == (3, 1)  # hits[3] encoded once, then cached


class _CountingStates:
    """A real store's token states, recording which chunk ids each read asked for."""

    def __init__(self, store):
        self.store = store
        self.reads: list[list[str]] = []

    def fetch_token_states(self, chunk_ids):
        self.reads.append(list(chunk_ids))
        return self.store.fetch_token_states(chunk_ids)


def test_read_ahead_serves_the_stores_states_and_reads_only_the_unexpected_later(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from ragline.rerank.late_interaction import ReadAhead
    from ragline.store.base import SourceBatch
    from ragline.store.memory import MemoryStore
    from ragline.types import Chunk

    rng = np.random.default_rng(0)
    chunks = [Chunk(id=f"c{i}", doc_id=f"d{i}", text=f"t{i}", position=0, start=0, end=2) for i in range(5)]
    tokens = [rng.normal(size=(i + 2, 8)).astype(np.float32) for i in range(5)]
    store = MemoryStore(tmp_path, dimension=8, model_id="m", persist=False)
    store.upsert(
        [SourceBatch("/s", "h", chunks, rng.normal(size=(5, 8)).astype(np.float32), token_states=tokens)]
    )
    states = _CountingStates(store)
    with ThreadPoolExecutor(1) as pool:
        ahead = ReadAhead(states, ["c0", "c1", "c2", "c1"], pool)
        # Asked in another order, with one unexpected chunk and one the store does not hold.
        got = ahead.fetch_token_states(["c2", "c4", "c0", "gone", "c4"])
    want = store.fetch_token_states(["c2", "c4", "c0", "gone", "c4"])
    assert got[3] is None and want[3] is None
    for g, w in zip(got[:3] + got[4:], want[:3] + want[4:], strict=True):
        assert np.array_equal(g, w)
    # One read ahead (duplicates once), then one read of only what was not expected.
    assert states.reads == [["c0", "c1", "c2"], ["c4", "gone"]]
    # A read the pool has not started when the states are needed is cancelled and done here,
    # for the asked chunks only.
    states.reads.clear()
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait)  # the only worker is busy
        ahead = ReadAhead(states, ["c0", "c1", "c2"], pool)
        got = ahead.fetch_token_states(["c1", "c3"])
        release.set()
    assert states.reads == [["c1", "c3"]]
    assert all(np.array_equal(g, w) for g, w in zip(got, store.fetch_token_states(["c1", "c3"]), strict=True))
    # With a read of its own (a store's by row reference), the expected chunks are read by it,
    # on the pool or, when cancelled, here; only the unexpected ones by id.
    for busy in (False, True):
        states.reads.clear()
        by_ref: list[int] = []

        def read(calls: list[int] = by_ref) -> list[np.ndarray | None]:
            calls.append(1)
            return store.fetch_token_states(["c0", "c1", "c2"])

        release = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            if busy:
                pool.submit(release.wait)
            ahead = ReadAhead(states, ["c0", "c1", "c2", "c1"], pool, read)
            got = ahead.fetch_token_states(["c2", "c4", "c0"])
            release.set()
        assert by_ref == [1] and states.reads == [["c4"]], busy
        want = store.fetch_token_states(["c2", "c4", "c0"])
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_maxsim_batch_reads_consecutive_slices_in_place_and_scores_alike():
    from ragline.rerank.late_interaction import _stacked, maxsim_batch

    rng = np.random.default_rng(7)
    whole = rng.normal(size=(40, 16)).astype(np.float32)
    parts = np.split(whole, [5, 5, 17, 30])  # one empty part, as a chunk with no states
    query = rng.normal(size=(3, 16)).astype(np.float32)
    present = [p for p in parts if len(p)]
    assert _stacked(present).base is whole  # the decoded head, read without a copy
    swapped = _stacked([present[1], present[0]])
    assert swapped.base is None and np.array_equal(swapped, np.concatenate([present[1], present[0]]))
    # A pq decode's rows are a view of its (tokens, groups, sub) gather: read in place too.
    book = Codebook(rng.normal(size=(4, 256, 4)).astype(np.float32))
    decoded = book.decode_unit(rng.integers(0, 256, size=(30, 4)).astype(np.uint8))
    pieces = np.split(decoded, [12, 20])
    assert decoded.base is not None and decoded.base.ndim == 3
    assert np.shares_memory(_stacked(pieces), decoded) and np.array_equal(_stacked(pieces), decoded)
    copies = [p.copy() for p in parts]
    assert maxsim_batch(query, parts) == maxsim_batch(query, copies)
    assert maxsim_batch(query, parts[::-1]) == maxsim_batch(query, copies[::-1])
