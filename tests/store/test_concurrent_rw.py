"""Reads while the collection is written (issue 21, finding 7).

A search hands out row addresses that are only valid in the table version it read; a write or a
compaction (``finalize`` -> ``optimize``) in between used to make the later fetch read another
version (Lance panicked on addresses of fragments compaction removed: 5.4 % of searches failed
under concurrent ingests). Fetches now read the version their candidates came from.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

import ragline
from ragline.store.base import Candidate, SourceBatch
from ragline.store.lance import LanceStore
from ragline.testing.store_contract import DIM, WORDS, dense_hits, keyword_hits, make_chunks, vectors_for
from ragline.types import Document

# Below the threshold search is exact, in memory; "ann" builds the HNSW indexes at the first
# finalize, so LanceDB's query builder serves dense and sentence search.
THRESHOLDS = {"exact": 20_000, "ann": 64}


def batch(source: str, seed: int, n_docs: int) -> SourceBatch:
    """A source with sentence vectors and token states, like the default chunking settings store."""
    chunks = make_chunks(n_docs, source, seed)
    vectors = vectors_for(chunks, seed)
    units = [np.vstack([v, -v]) for v in vectors]
    tokens = [np.vstack([v, v, v]) for v in vectors]
    return SourceBatch(source, f"h{seed}", chunks, vectors, sentence_vectors=units, token_states=tokens)


def seeded_store(root: Path, threshold: int) -> LanceStore:
    store = LanceStore(root, dimension=DIM, model_id="m", ann_threshold=threshold)
    store.upsert([batch(f"/s{i}", i, 5) for i in range(30)])  # 300 chunks
    store.finalize()
    return store


def rewrite(store: LanceStore, round_: int) -> None:
    """One round of what ingest and deletes do: upsert, delete documents and sources, compact."""
    store.upsert([batch(f"/w{round_ % 5}", 1000 + round_, 3)])
    store.delete_documents([f"s{round_ % 30}-d{round_ % 5}"])
    store.delete_sources([f"/w{(round_ + 2) % 5}"])
    store.finalize()


@pytest.mark.parametrize("path", sorted(THRESHOLDS))
def test_candidates_are_fetched_from_the_version_they_came_from(tmp_path: Path, path: str) -> None:
    """Deterministic: search, then writes and a compaction, then fetch the old candidates."""
    store = seeded_store(tmp_path / "c", THRESHOLDS[path])
    q = vectors_for(make_chunks(1, "/q", 99), 99)[0]
    dense = store.dense_candidates(q, 20)
    keyword = store.keyword_candidates("alpha beta", 20)
    units = store.sentence_candidates(q, 20)
    before = {c.id: c for c in store.fetch_chunks(dense + keyword + units)}
    vectors = store.fetch_vectors(dense)
    texts = store.fetch_texts(keyword)
    # Delete the very chunks found, then write and compact (optimize rewrites the fragments).
    store.delete_documents(sorted({c.doc_id for c in before.values()}))
    for r in range(3):
        rewrite(store, r)
    for cands in (dense, keyword, units):
        assert [c.id for c in store.fetch_chunks(cands)] == [c.chunk_id for c in cands]
        assert store.fetch_chunks(cands) == [before[c.chunk_id] for c in cands]
    np.testing.assert_array_equal(store.fetch_vectors(dense), vectors)
    assert store.fetch_texts(keyword) == texts
    # New searches see the writes: nothing deleted comes back.
    assert not {c.chunk_id for c in store.dense_candidates(q, 50)} & before.keys()


def test_candidates_of_a_version_cleaned_up_are_looked_up_by_id(tmp_path: Path) -> None:
    """With the search's version deleted from disk, fetches fall back to the current rows."""
    store = seeded_store(tmp_path / "c", THRESHOLDS["exact"])
    q = vectors_for(make_chunks(1, "/q", 99), 99)[0]
    dense = store.dense_candidates(q, 10)
    keyword = store.keyword_candidates("alpha beta", 10)
    gone = dense[0].chunk_id.rsplit("-", 1)[0]
    store.delete_documents([gone])
    rewrite(store, 0)
    with pytest.warns(UserWarning, match="removes every version"):
        store.chunks_table.optimize(cleanup_older_than=timedelta(0))
    store._changed()
    kept = [c for c in dense if not c.chunk_id.startswith(f"{gone}-")]
    assert [c.id for c in store.fetch_chunks(dense)] == [c.chunk_id for c in kept]
    assert len(store.fetch_vectors(dense)) == len(kept)
    assert all(store.fetch_texts([c for c in keyword if not c.chunk_id.startswith(f"{gone}-")]))


def test_a_replica_fetches_its_candidates_after_another_writer_compacts(tmp_path: Path) -> None:
    """Two processes on one directory: the reader's fetch reads the version its search read."""
    writer = seeded_store(tmp_path / "c", THRESHOLDS["exact"])
    reader = LanceStore(tmp_path / "c", dimension=DIM, model_id="m", read_consistency_s=0)
    q = vectors_for(make_chunks(1, "/q", 99), 99)[0]
    dense = reader.dense_candidates(q, 20)
    before = reader.fetch_chunks(dense)
    writer.delete_documents(sorted({c.doc_id for c in before}))
    rewrite(writer, 1)
    # Another query of the reader's notices the commits before this one fetches.
    after = reader.dense_candidates(q, 20)
    assert not {c.chunk_id for c in after} & {c.id for c in before}
    assert reader.fetch_chunks(dense) == before
    assert [c.id for c in reader.fetch_chunks(after)] == [c.chunk_id for c in after]


def run_concurrently(
    readers: list[Callable[[int], None]], writer: Callable[[int], None], seconds: float
) -> tuple[Counter[str], list[str], Counter[str]]:
    """Readers and one writer in loops for ``seconds``: (calls per role, error samples, errors)."""
    stop = time.monotonic() + seconds
    calls: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    samples: list[str] = []

    def loop(name: str, fn: Callable[[int], None]) -> None:
        i = 0
        while time.monotonic() < stop:
            i += 1
            try:
                fn(i)
                calls[name] += 1
            # Lance's panics arrive as pyo3's PanicException, a BaseException.
            except BaseException as e:
                errors[f"{name}: {type(e).__name__}"] += 1
                samples.append("".join(traceback.format_exception(e))[-1500:])

    threads = [threading.Thread(target=loop, args=(f"reader{k}", fn)) for k, fn in enumerate(readers)]
    threads.append(threading.Thread(target=loop, args=("writer", writer)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return calls, samples, errors


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(THRESHOLDS))
def test_store_reads_never_fail_while_another_thread_writes(tmp_path: Path, path: str) -> None:
    store = seeded_store(tmp_path / "c", THRESHOLDS[path])
    queries = vectors_for(make_chunks(20, "/q", 7), 7)
    short: list[str] = []

    def fetched(cands: list[Candidate], got: int, what: str) -> None:
        if got != len(cands):
            short.append(f"{what}: {got} of {len(cands)}")

    def dense(i: int) -> None:
        q = queries[i % len(queries)]
        cands = store.dense_candidates(q, 20)
        fetched(cands, len(store.fetch_chunks(cands)), "fetch_chunks")
        fetched(cands, len(store.fetch_vectors(cands)), "fetch_vectors")
        states = store.fetch_token_states([c.chunk_id for c in cands])
        assert len(states) == len(cands)
        assert dense_hits(store, q, 5)

    def keyword(i: int) -> None:
        cands = store.keyword_candidates(["alpha beta", "gamma", "sigma kappa"][i % 3], 20)
        fetched(cands, len(store.fetch_chunks(cands)), "fetch_chunks")
        assert all(store.fetch_texts(cands))
        keyword_hits(store, "delta", 5)

    def units(i: int) -> None:
        cands = store.sentence_candidates(queries[i % len(queries)], 20)
        fetched(cands, len(store.fetch_chunks(cands)), "fetch_chunks")

    calls, samples, errors = run_concurrently([dense, keyword, units], lambda i: rewrite(store, i), 8)
    assert not errors, f"{dict(errors)}\n" + "\n".join(samples[:3])
    assert not short, short[:5]
    assert calls["writer"] >= 2 and min(calls[f"reader{k}"] for k in range(3)) >= 3, calls
    # After the last write, searches see it (a reader between a write's start and its commit must
    # not leave a stale cache behind).
    last = calls["writer"]
    added = {c.id for c in batch(f"/w{last % 5}", 1000 + last, 3).chunks}
    assert added <= {c.id for c in store.all_chunks()}
    found = {c.chunk_id for c in store.keyword_candidates(" ".join(WORDS), 10_000)}
    assert added <= found


@pytest.mark.integration
@pytest.mark.slow
def test_engine_search_and_ask_never_fail_during_upserts_and_deletes(tmp_path: Path) -> None:
    """The staged pipeline (sentence vectors and token states on, as by default) end to end."""
    engine = ragline.open(tmp_path / "data")
    topics = ["lighthouse", "sourdough", "glacier", "violin", "orchard", "comet"]

    def doc(i: int) -> Document:
        t = topics[i % len(topics)]
        return Document(
            id=f"doc-{i}",
            source=f"notes-{i % 10}",
            text=f"Note {i} about the {t}. The {t} was studied in year {1900 + i}. It is well known.",
        )

    engine.upsert_documents([doc(i) for i in range(200)])
    questions = [f"When was the {t} studied?" for t in topics]

    def search(i: int) -> None:
        hits = engine.search(questions[i % len(questions)], top_k=5)
        assert hits and all(h.chunk.text for h in hits)

    def keyword(i: int) -> None:
        engine.search(topics[i % len(topics)], mode="keyword", top_k=5)

    def ask(i: int) -> None:
        assert engine.ask(questions[i % len(questions)]).text

    def write(i: int) -> None:
        engine.upsert_documents([doc(200 + i), doc(i % 200)])
        engine.delete([f"doc-{200 + i - 1}"])

    calls, samples, errors = run_concurrently([search, keyword, ask], write, 12)
    assert not errors, f"{dict(errors)}\n" + "\n".join(samples[:3])
    assert calls["writer"] >= 2 and min(calls[f"reader{k}"] for k in range(3)) >= 2, calls
