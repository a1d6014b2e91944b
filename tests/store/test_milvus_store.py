"""MilvusStore on Milvus Lite beyond the contract: congruence with the memory twin (every filter
operator and the access filter, as Milvus expressions), string escaping, the visibility rule while
a source is replaced, recovery from a writer that died, tenants' collections kept apart, settings,
and the engine's search and ask degrading where the backend lacks a capability."""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.errors import ConfigError, FilterError, StoreError
from ragline.settings import load_settings
from ragline.store import factory
from ragline.store.base import SourceBatch
from ragline.store.filters import And, Filter, Visible, parse_filter
from ragline.store.memory import MemoryStore
from ragline.store.milvus import MilvusStore, literal, to_expr
from ragline.testing.store_contract import (
    DIM,
    FILTERS,
    PRINCIPALS,
    make_chunks,
    vectors_for,
)
from ragline.types import Access, Chunk, Document, Principal
from tests.helpers import fast_engine
from tests.store.test_memory_store import VOCABULARY, _corpus

pytestmark = pytest.mark.integration


def _store(root: Path, uri: str) -> MilvusStore:
    return MilvusStore(root, dimension=DIM, model_id="m", uri=uri)


# -- congruence with the memory twin ---------------------------------------------------------------


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory, milvus_uri: str) -> tuple[MemoryStore, MilvusStore]:
    root = tmp_path_factory.mktemp("twins")
    memory = MemoryStore(root / "memory", dimension=DIM, model_id="m", persist=False)
    milvus = _store(root / "milvus", milvus_uri)
    batches = _corpus(seed=40)
    for store in (memory, milvus):
        store.upsert(batches)
        # A second round of writes: a source replaced, documents deleted (one within a filter).
        two = batches[1]
        store.upsert(
            [
                replace(
                    two,
                    source_hash="h1b",
                    chunks=two.chunks[:20],
                    vectors=two.vectors[:20],
                    sentence_vectors=None,
                    token_states=None,
                )
            ]
        )
        store.delete_documents([batches[0].chunks[0].doc_id, batches[2].chunks[4].doc_id])
        store.delete_documents([c.doc_id for c in batches[2].chunks[10:20]], Visible(PRINCIPALS[0]))
        store.finalize()
    assert milvus.all_chunks() == memory.all_chunks() and len(memory.all_chunks()) > 100
    return memory, milvus


# Every operator of the filter language, alone and combined, and the access filter.
CONGRUENCE_FILTERS: list[Filter] = [
    *(parse_filter(f) for f in FILTERS),
    parse_filter({"doc_type": {"$gt": "paper"}}),
    parse_filter({"doc_type": {"$lte": "memo"}, "flag": {"$exists": True}}),
    parse_filter({"section": "Guide > Part"}),
    parse_filter({"section": {"$ne": "Guide > Part"}, "source": {"$in": ["/c/one.jsonl"]}}),
    parse_filter({"source": {"$nin": ["/c/one.jsonl", "/c/two.jsonl"]}}),
    parse_filter({"$not": {"score": {"$nin": [0.5, 0.25]}}}),
    *(Visible(p) for p in PRINCIPALS),
    And((Visible(PRINCIPALS[2]), parse_filter({"$or": [{"year": {"$gte": 2005}}, {"flag": False}]}))),
]


@pytest.mark.parametrize("f", CONGRUENCE_FILTERS, ids=[str(f) for f in CONGRUENCE_FILTERS])
def test_every_operator_selects_what_the_reference_evaluator_selects(
    twins: tuple[MemoryStore, MilvusStore], f: Filter
) -> None:
    memory, milvus = twins
    want = memory.find_chunks(f)
    assert milvus.find_chunks(f) == want
    assert milvus.documents(f, limit=1000) == memory.documents(f, limit=1000)
    keys = [(c.doc_id, c.position) for c in memory.all_chunks()[::3]] + [("nope", 0)]
    assert milvus.chunks_at(keys, f) == memory.chunks_at(keys, f)
    m, s = milvus.stats(f), memory.stats(f)
    assert (m.chunks, m.documents, m.sources, m.sections) == (s.chunks, s.documents, s.sources, s.sections)
    # Searches prefilter with the same expression: dense exactly as the twin, keyword on the same set.
    q = np.random.default_rng(len(want)).normal(size=DIM).astype(np.float32)
    for n in (4, 1000):
        got, ref = milvus.dense_candidates(q, n, f), memory.dense_candidates(q, n, f)
        assert [c.chunk_id for c in got] == [c.chunk_id for c in ref]
        assert [c.score for c in got] == pytest.approx([c.score for c in ref], abs=1e-5)
    words = " ".join(random.Random(len(want)).sample(VOCABULARY, 3))
    got_kw, ref_kw = milvus.keyword_candidates(words, 1000, f), memory.keyword_candidates(words, 1000, f)
    assert {c.chunk_id for c in got_kw} == {c.chunk_id for c in ref_kw}


def test_schema_values_and_hashes_agree(twins: tuple[MemoryStore, MilvusStore]) -> None:
    memory, milvus = twins
    assert milvus.metadata_fields() == memory.metadata_fields()
    assert milvus.field_values() == memory.field_values()
    assert milvus.source_hashes() == memory.source_hashes()
    assert "" in milvus.source_hashes().values()  # a document delete cleared its source's hash
    assert milvus.tenants() == memory.tenants()
    assert milvus.stats().keyword_index
    ids = [c.id for c in memory.all_chunks()]
    texts = [c.embed_text if i % 5 else "changed" for i, c in enumerate(memory.all_chunks())]
    stored = 0
    for got, want in zip(
        milvus.fetch_token_states(ids, texts), memory.fetch_token_states(ids, texts), strict=True
    ):
        assert (got is None) == (want is None)
        if got is not None and want is not None:
            np.testing.assert_array_equal(got, want)
            stored += 1
    assert stored > 10  # the replaced source came back without states; the others kept theirs


def test_keyword_search_stems_and_ranks_like_bm25(twins: tuple[MemoryStore, MilvusStore]) -> None:
    memory, milvus = twins
    for query in ("studies organizations", "running happily", "biologists agreed"):
        got, ref = milvus.keyword_candidates(query, 5), memory.keyword_candidates(query, 1000)
        assert got and all(got[i].score >= got[i + 1].score > 0 for i in range(len(got) - 1))
        # Milvus's BM25 statistics are its own; the best chunks are among the twin's best.
        assert {c.chunk_id for c in got[:2]} <= {c.chunk_id for c in ref[:8]}


# -- strings in expressions ------------------------------------------------------------------------

NASTY = [
    "o'reilly",
    'say "hi"',
    "back\\slash",
    "end\\",
    "new\nline",
    "tab\there",
    "ünï €",
    "%like_",
    '"] or true or ["',
    'a\\"b',
]


def test_string_values_are_escaped_not_interpreted(tmp_path: Path, milvus_uri: str) -> None:
    store = _store(tmp_path / "esc", milvus_uri)
    chunks = [
        Chunk(
            id=f"c{i}",
            doc_id=f"d{i}",
            text="alpha",
            position=0,
            start=0,
            end=5,
            metadata={"label": v},
            source=f"/s{i}",
            section_path=(v,),
        )
        for i, v in enumerate(NASTY)
    ]
    store.upsert([SourceBatch(c.source, "h", [c], vectors_for([c], i)) for i, c in enumerate(chunks)])
    for i, v in enumerate(NASTY):
        for spec in ({"label": v}, {"section": v}, {"label": {"$in": [v, "x"]}}):
            assert [c.id for c in store.find_chunks(parse_filter(spec))] == [f"c{i}"], (
                spec,
                to_expr(parse_filter(spec)),
            )
        assert len(store.find_chunks(parse_filter({"label": {"$ne": v}}))) == len(NASTY) - 1
    with pytest.raises(FilterError, match="control character"):
        literal("bell\x07")


# -- visibility while a source is replaced -------------------------------------------------------


def _version(n: int, tag: str) -> SourceBatch:
    chunks = [
        replace(c, id=f"{c.id}-{tag}", text=f"{c.text} zebra {tag}")
        for c in make_chunks(n, "/v/a.jsonl", seed=3)
    ]
    return SourceBatch("/v/a.jsonl", tag, chunks, vectors_for(chunks, n))


def test_searches_see_old_or_new_chunks_never_a_mix(tmp_path: Path, milvus_uri: str) -> None:
    store = _store(tmp_path / "vis", milvus_uri)
    other = make_chunks(10, "/v/b.jsonl", seed=9)
    old, new = _version(12, "v1"), _version(7, "v2")
    store.upsert([old, SourceBatch("/v/b.jsonl", "hb", other, vectors_for(other, 9))])
    versions = {tag: {c.id for c in b.chunks} for tag, b in (("v1", old), ("v2", new))}
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(6):
                store.upsert([new if i % 2 == 0 else old])
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)
        finally:
            done.set()

    seen: set[str] = set()
    q = old.vectors[0]
    thread = threading.Thread(target=writer)
    thread.start()
    source = parse_filter({"source": "/v/a.jsonl"})
    while not done.is_set() or not seen:
        for ids in (
            {c.chunk_id for c in store.dense_candidates(q, 100, source)},
            {c.chunk_id for c in store.keyword_candidates("zebra", 100)},
            {c.id for c in store.find_chunks(source)},
        ):
            tag = "v1" if ids & versions["v1"] else "v2"
            assert ids == versions[tag], f"a mix (or nothing) of /v/a.jsonl: {sorted(ids)}"
            seen.add(tag)
    thread.join()
    assert not errors
    assert seen == {"v1", "v2"}  # the loop ran while both versions were live
    assert {c.id for c in store.all_chunks()} == versions["v1"] | {c.id for c in other}


def test_a_writer_that_died_leaves_the_old_state_and_the_next_write_cleans_up(
    tmp_path: Path, milvus_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path / "crash", milvus_uri)
    old, new = _version(5, "v1"), _version(3, "v2")
    store.upsert([old])

    def die(self: MilvusStore, state: Any) -> Any:
        raise RuntimeError("killed before the switch")

    with monkeypatch.context() as m:
        m.setattr(MilvusStore, "_put_state", die)
        with pytest.raises(RuntimeError):
            store.upsert([new])
    client, name = store._open()
    assert len(client.query(name, filter="gen > 1", output_fields=["pk"])) == len(new.chunks)  # not switched
    again = _store(tmp_path / "crash", milvus_uri)  # another process opening it
    assert {c.id for c in again.all_chunks()} == {c.id for c in old.chunks}
    assert {c.chunk_id for c in again.keyword_candidates("zebra", 50)} == {c.id for c in old.chunks}
    assert again.delete_documents(["nope"]) == 0  # any write first removes the dead writer's rows
    assert client.query(name, filter="gen > 1", output_fields=["pk"]) == []
    again.upsert([new])
    assert {c.id for c in again.all_chunks()} == {c.id for c in new.chunks}


# -- tenants and collections -------------------------------------------------------------------


def test_two_tenants_same_named_collections_do_not_share_milvus_collections(
    tmp_path: Path, milvus_uri: str
) -> None:
    engine = fast_engine(tmp_path / "data", store={"backend": "milvus", "uri": milvus_uri})
    engine.upsert_documents(
        [Document(id="a", source="n", title="A", text="Acme's heat pump manual.", access=Access("acme"))]
    )
    engine.upsert_documents(
        [Document(id="b", source="n", title="B", text="Globex's heat pump memo.", access=Access("globex"))]
    )
    acme, globex = engine.store(tenant="acme"), engine.store(tenant="globex")
    assert isinstance(acme, MilvusStore) and isinstance(globex, MilvusStore)
    assert acme.root.name == globex.root.name and acme.name != globex.name
    for tenant, doc in (("acme", "a"), ("globex", "b")):
        hits = engine.search("heat pump", top_k=5, principal=Principal(tenant))
        assert [h.chunk.doc_id for h in hits] == [doc]
        assert engine.store(tenant=tenant).tenants() == {tenant}
    # The name is the collection directory's: reopened (another process), it finds the same rows.
    again = MilvusStore(acme.root, dimension=acme.dimension, model_id=acme.model_id, uri=milvus_uri)
    assert again.name == acme.name and again.stats().documents == 1


def test_model_and_backend_mismatches_are_refused(tmp_path: Path, milvus_uri: str) -> None:
    store = _store(tmp_path / "c", milvus_uri)
    store.upsert([_version(2, "v1")])
    with pytest.raises(StoreError, match="m2"):
        MilvusStore(tmp_path / "c", dimension=DIM, model_id="m2", uri=milvus_uri).stats()
    with pytest.raises(
        StoreError, match=r"written by the 'milvus' store backend but store\.backend is 'memory'"
    ):
        MemoryStore(tmp_path / "c", dimension=DIM, model_id="m").stats()
    too_long = [replace(_version(1, "x").chunks[0], text="word " * 14_000)]
    with pytest.raises(StoreError, match="65535-byte VARCHAR limit"):
        store.upsert([SourceBatch("/v/a.jsonl", "h", too_long, vectors_for(too_long, 1))])
    assert store.source_hashes() == {"/v/a.jsonl": "v1"}


# -- settings ------------------------------------------------------------------------------------


def test_settings_check_the_uri_and_credentials(tmp_path: Path) -> None:
    ok = load_settings(store={"backend": "milvus", "uri": "http://milvus:19530", "token": "root:Milvus"})
    assert ok.store.token is not None and "Milvus" not in repr(ok.store)
    for bad, message in [
        ({"backend": "milvus"}, "needs store.uri"),
        ({"backend": "milvus", "uri": "milvus.sqlite"}, "ending in .db"),
        (
            {"backend": "milvus", "uri": "http://h:19530", "token": "t", "user": "u", "password": "p"},
            "not both",
        ),
        ({"backend": "milvus", "uri": "http://h:19530", "user": "u"}, "go together"),
        ({"backend": "milvus", "uri": "x.db", "token": "t"}, "no authentication"),
        ({"uri": "x.db"}, "are for store.backend = 'milvus'"),
        ({"backend": "milvus", "uri": "x.db", "tokn": "t"}, "tokn"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_settings(store=bad)


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAGLINE_STORE__BACKEND", "milvus")
    monkeypatch.setenv("RAGLINE_STORE__URI", "https://in03.example.cloud:19530")
    monkeypatch.setenv("RAGLINE_STORE__USER", "reader")
    monkeypatch.setenv("RAGLINE_STORE__PASSWORD", "s3cret")
    settings = load_settings()
    store = factory.make_store(settings.store, tmp_path / "c", dimension=8, model_id="m")
    assert isinstance(store, MilvusStore) and store.uri == "https://in03.example.cloud:19530"
    assert store._credentials == {"token": None, "user": "reader", "password": "s3cret"}
    assert not (tmp_path / "c").exists()  # lazy: nothing connects until first use


# -- the engine over a Milvus collection -----------------------------------------------------------

DOCS = [
    Document(id="heat", source="notes", title="Heating", text="The heat pump replaced the gas boiler."),
    Document(id="solar", source="notes", title="Energy", text="Solar panels were installed on the roof."),
    Document(id="train", source="notes", title="Travel", text="Trains are preferred over flights in Europe."),
]


def test_engine_search_and_ask_degrade_with_a_logged_reason(
    tmp_path: Path, milvus_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Sentence vectors are on by default: ingest makes them, the store ignores them, and the
    # sentence search stage is skipped with one logged reason.
    engine = fast_engine(tmp_path / "data", store={"backend": "milvus", "uri": milvus_uri})
    assert engine.settings.retrieval.sentences and engine.settings.chunking.sentence_vectors != "off"
    engine.upsert_documents(DOCS)
    with caplog.at_level(logging.INFO, logger="ragline"):
        hits = engine.search("what replaced the gas boiler", top_k=2)
        answer = engine.ask("What replaced the gas boiler?")
        engine.search("solar roof", top_k=2)
    assert hits[0].chunk.doc_id == "heat" and {"dense", "keyword"} <= set(hits[0].retrievers)
    assert "heat pump" in answer.text and answer.citations
    reasons = [r.getMessage() for r in caplog.records if "has no" in r.getMessage()]
    assert len(reasons) == 1 and "has no sentence search (MilvusStore backend)" in reasons[0]


def test_an_unreachable_server_and_a_failing_call_are_store_errors(tmp_path: Path, milvus_uri: str) -> None:
    down = MilvusStore(tmp_path / "down", dimension=DIM, model_id="m", uri="http://127.0.0.1:1")
    with pytest.raises(StoreError, match=r"cannot connect to Milvus at store\.uri 'http://127\.0\.0\.1:1'"):
        down.stats()
    store = _store(tmp_path / "c", milvus_uri)
    client, name = store._open()
    with pytest.raises(StoreError, match="failed in query"):
        client.query(name, filter="no_such_field == 1", output_fields=["pk"])


def test_the_default_pipeline_reranks_with_token_states_stored_in_milvus(
    tmp_path: Path, milvus_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    import ragline
    from ragline.rerank.late_interaction import LateInteractionReranker

    engine = ragline.open(tmp_path / "data", store={"backend": "milvus", "uri": milvus_uri})
    engine.upsert_documents(DOCS)
    store = engine.store()
    assert isinstance(store, MilvusStore)
    states = store.fetch_token_states([c.id for c in store.all_chunks()])
    assert len(states) == len(DOCS) and all(s is not None and s.shape[1] == 384 for s in states)
    with caplog.at_level(logging.INFO, logger="ragline"):
        reranker, _exact_names = engine.rerankers(engine.settings.retrieval, store, engine.embedder)
        hits = engine.search("what replaced the gas boiler", top_k=2)
    assert isinstance(reranker, LateInteractionReranker) and reranker.states is store
    assert hits[0].chunk.doc_id == "heat"
    assert not [r for r in caplog.records if "has no token states" in r.getMessage()]
