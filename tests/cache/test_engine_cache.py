"""The engine's query caches: a repeated query is served from the cache, never across a tenant or
an access boundary, and never after a write (ingest, upsert, delete; also another engine's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.engine import Engine
from ragline.types import Access, Document, Final, Principal, Token, Turn
from tests.helpers import fast_engine, write_markdown_corpus


def _docs(tenant: str = "default", word: str = "falcon", groups: tuple[str, ...] = ()) -> list[Document]:
    return [
        Document(
            id=f"{tenant}-{word}-{i}",
            source="notes",
            text=f"Project {word} note {i}: the {word} budget was approved by the {tenant} board.",
            access=Access(tenant, groups),
        )
        for i in range(4)
    ]


def _ids(engine: Engine, query: str, **kw: object) -> list[str]:
    return [h.chunk.doc_id for h in engine.search(query, **kw)]  # type: ignore[arg-type]


def _counts(engine: Engine) -> dict[tuple[str, str], int]:
    assert engine.cache is not None
    return engine.cache.counts()


def test_a_repeated_search_is_a_hit_with_the_same_hits(tmp_path: Path) -> None:
    e = fast_engine(tmp_path)
    e.upsert_documents(_docs())
    first = e.search("falcon budget", top_k=3)
    assert _counts(e) == {("retrieval", "miss"): 1}
    again = e.search("falcon budget", top_k=3)
    assert again == first and _counts(e)[("retrieval", "hit")] == 1
    # Another top_k, mode or filter is another request.
    e.search("falcon budget", top_k=2)
    e.search("falcon budget", top_k=3, mode="keyword")
    e.search("falcon budget", top_k=3, filters={"source": "notes"})
    assert _counts(e) == {("retrieval", "miss"): 4, ("retrieval", "hit"): 1}


def test_filters_are_normalised_in_the_key(tmp_path: Path) -> None:
    e = fast_engine(tmp_path)
    e.upsert_documents(_docs())
    e.search(
        "falcon", filters={"source": "notes", "doc_id": {"$in": ["default-falcon-1", "default-falcon-2"]}}
    )
    e.search(
        "falcon", filters='{"doc_id": {"$in": ["default-falcon-2", "default-falcon-1"]}, "source": "notes"}'
    )
    assert _counts(e)[("retrieval", "hit")] == 1


@pytest.mark.parametrize("write", ["upsert", "delete", "ingest"])
def test_any_write_invalidates_cached_searches_and_answers(tmp_path: Path, write: str) -> None:
    e = fast_engine(tmp_path)
    e.upsert_documents(_docs())
    query = "falcon budget approved"
    before = _ids(e, query, top_k=10)
    answer = e.ask(query)
    assert _ids(e, query, top_k=10) == before and e.ask(query).cached is not None
    if write == "upsert":
        e.upsert_documents(
            [Document(id="new", source="more", text="Falcon budget approved twice: a new note.")]
        )
    elif write == "delete":
        e.delete([before[0]])
    else:
        folder = tmp_path / "files"
        write_markdown_corpus(folder, n_files=2)
        (folder / "falcon.md").write_text("# Falcon\n\nThe falcon budget was approved again.\n")
        e.ingest([folder])
    after = _ids(e, query, top_k=10)
    fresh = e.ask(query)
    assert fresh.cached is None  # generated again, from the new version
    if write == "delete":
        assert before[0] not in after
        assert all(c.doc_id != before[0] for c in fresh.citations)
    else:
        assert len(after) > len(before) or after != before
    assert answer.cached is None


def test_the_collection_version_changes_with_another_engines_write(tmp_path: Path) -> None:
    # The write token is on disk: it moves even for a store that does not follow other writers.
    reader, writer = fast_engine(tmp_path), fast_engine(tmp_path)
    writer.upsert_documents(_docs())
    coll = reader.collection(must_exist=True)
    before = reader.collection_version(coll)
    assert reader.collection_version(coll) == before
    writer.delete(["default-falcon-0"])
    assert reader.collection_version(coll) != before


@pytest.mark.integration
def test_a_write_by_another_engine_invalidates_this_ones_cache(tmp_path: Path) -> None:
    # LanceDB, following other writers on every read: the second engine stands for another process.
    store = {"backend": "lance", "read_consistency_s": 0}
    reader = fast_engine(tmp_path, store=store)
    writer = fast_engine(tmp_path, store=store)
    writer.upsert_documents(_docs())
    query = "falcon budget approved"
    assert _ids(reader, query, top_k=10) == _ids(reader, query, top_k=10)
    assert _counts(reader)[("retrieval", "hit")] == 1
    writer.upsert_documents([Document(id="late", source="more", text="Falcon budget approved late: new.")])
    assert "late" in _ids(reader, query, top_k=10)
    writer.delete(["late"])
    assert "late" not in _ids(reader, query, top_k=10)
    assert _counts(reader)[("retrieval", "hit")] == 1


def test_two_tenants_asking_the_same_never_share_an_entry(tmp_path: Path) -> None:
    e = fast_engine(tmp_path)
    e.upsert_documents(_docs("acme", "falcon"))
    e.upsert_documents(_docs("globex", "falcon"))
    acme, globex = Principal("acme"), Principal("globex")
    a = _ids(e, "falcon budget board", principal=acme)
    g = _ids(e, "falcon budget board", principal=globex)
    assert a and g and all(d.startswith("acme-") for d in a) and all(d.startswith("globex-") for d in g)
    answer_a = e.ask("falcon budget board", principal=acme)
    answer_g = e.ask("falcon budget board", principal=globex)
    assert answer_a.cached is None and answer_g.cached is None
    assert all(c.doc_id.startswith("globex-") for c in answer_g.citations)
    # Asked again, each is a hit of its own tenant.
    assert all(c.doc_id.startswith("acme-") for c in e.ask("falcon budget board", principal=acme).citations)
    assert _counts(e)[("answer", "hit")] == 1


def test_two_principals_with_other_groups_never_share_an_entry(tmp_path: Path) -> None:
    e = fast_engine(tmp_path)
    e.upsert_documents(_docs("acme", "falcon", groups=("hr",)) + _docs("acme", "orion", groups=("eng",)))
    hr, eng = Principal("acme", ("hr",)), Principal("acme", ("eng",))
    query = "project budget approved board note"
    assert all("falcon" in d for d in _ids(e, query, principal=hr))
    assert all("orion" in d for d in _ids(e, query, principal=eng))
    assert _counts(e) == {("retrieval", "miss"): 2}
    for p, word in ((hr, "falcon"), (eng, "orion")):
        assert e.ask(query, principal=p).cached is None
        cached = e.ask(query, principal=p)
        assert cached.cached is not None and all(word in c.doc_id for c in cached.citations)
    # The same groups in another order are the same access: a hit.
    e.search(query, principal=Principal("acme", ("hr", "hr")))
    assert _counts(e)[("retrieval", "hit")] >= 1


def test_a_cached_answer_is_marked_and_replays_as_a_stream(tmp_path: Path) -> None:
    e = fast_engine(tmp_path)
    e.upsert_documents(_docs())
    first = e.ask("Who approved the falcon budget?", debug=True)
    events = list(e.ask("Who approved the falcon budget?", stream=True, debug=True))
    assert isinstance(events[-1], Final) and all(isinstance(ev, Token) for ev in events[:-1])
    again = events[-1].answer
    assert "".join(ev.text for ev in events[:-1] if isinstance(ev, Token)) == first.text == again.text
    assert again.cached is not None and again.cached.kind == "exact"
    assert again.cached.question == first.question and again.citations == first.citations
    assert again.trace_id != first.trace_id and again.usage.completion_tokens == 0
    assert again.debug is not None and again.debug.hits == first.debug.hits  # type: ignore[union-attr]
    # debug is part of the key: a plain ask is its own entry.
    assert e.ask("Who approved the falcon budget?").cached is None


def test_the_cache_can_be_turned_off(tmp_path: Path) -> None:
    e = fast_engine(tmp_path, cache={"enabled": False})
    e.upsert_documents(_docs())
    e.search("falcon")
    assert e.cache is None and e.ask("falcon budget").cached is None and e.ask("falcon budget").cached is None


def test_a_follow_up_is_cached_per_conversation(tmp_path: Path) -> None:
    e = fast_engine(tmp_path)
    e.upsert_documents(
        [
            Document(id="falcon", source="n", text="The falcon budget was approved by the finance board."),
            Document(id="orion", source="n", text="The orion budget was rejected by the audit board."),
        ]
    )
    about_falcon = [Turn("user", "Tell me about the falcon budget"), Turn("assistant", "It was approved.")]
    about_orion = [Turn("user", "Tell me about the orion budget"), Turn("assistant", "It was rejected.")]
    first = e.ask("Which board decided on it?", history=about_falcon)
    other = e.ask("Which board decided on it?", history=about_orion)
    assert first.cached is None and other.cached is None  # the same words, another question
    again = e.ask("Which board decided on it?", history=about_falcon)
    assert again.cached is not None and again.text == first.text
    assert again.question == "Which board decided on it?"


@pytest.mark.parametrize("backend", ["memory", pytest.param("lance", marks=pytest.mark.integration)])
def test_the_stores_read_version_moves_with_every_write(tmp_path: Path, backend: str) -> None:
    from ragline.store.base import read_version

    e = fast_engine(tmp_path, store={"backend": backend})
    e.upsert_documents(_docs())
    store = e.collection(must_exist=True).store
    seen = [read_version(store)]
    assert seen[0] is not None and read_version(store) == seen[0]  # stable between writes
    e.upsert_documents([Document(id="x", source="more", text="Another falcon note.")])
    seen.append(read_version(store))
    e.delete(["x"])
    seen.append(read_version(store))
    assert len(set(seen)) == 3, seen
