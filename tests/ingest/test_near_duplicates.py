"""Near-duplicates across a whole collection: found across separate ingest runs, listed in the
report and linked to their original, never across tenants or access groups, and the index kept in
step with deletes and updates (a copy of a deleted or rewritten original is indexed next time)."""

from __future__ import annotations

import random
from pathlib import Path

from ragline.cleaning.near_dup import INDEX_FILE, NearDupIndex
from ragline.types import Access, Document, stable_id
from tests.helpers import fast_engine, paragraph

ON = {"near_duplicates": {"enabled": True}}


def text(seed: int) -> str:
    rng = random.Random(seed)
    return "\n\n".join(paragraph(rng) for _ in range(4))


def edited(original: str) -> str:
    """A copy with a typo, its paragraphs reordered and a footer added."""
    paras = original.replace("the", "teh", 1).split("\n\n")
    return "\n\n".join([*paras[2:], *paras[:2], "Sent from the shared mailbox; do not reply."])


def write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(body)
    return folder


def doc_ids(engine, **kw) -> set[str]:
    return {d.doc_id for d in engine.documents(**kw)}


def test_a_copy_in_a_later_run_is_linked_to_its_original_and_not_indexed(tmp_path):
    engine = fast_engine(tmp_path / "data", cleaning=ON)
    first = engine.ingest([write(tmp_path / "a", "original.txt", text(1))])
    assert first.near_duplicates == [] and first.documents_indexed == 1
    (original,) = doc_ids(engine)
    b = write(tmp_path / "b", "copy.txt", edited(text(1)))
    write(b, "other.txt", text(2))
    second = engine.ingest([b])
    assert [(d.source.endswith("copy.txt"), d.duplicate_of) for d in second.near_duplicates] == [
        (True, original)
    ]
    assert 0.5 <= second.near_duplicates[0].similarity < 1.0
    assert second.documents_indexed == 1  # other.txt only
    assert len(doc_ids(engine)) == 2
    assert not any(h.chunk.source.endswith("copy.txt") for h in engine.search("shared mailbox", top_k=20))
    # The copy's file is not read again while it and its original are unchanged.
    third = engine.ingest([b])
    assert third.files_unchanged == 2 and third.near_duplicates == []
    # The link is kept beside the collection.
    index = NearDupIndex(engine.collection().path / INDEX_FILE)
    assert [(d.duplicate_of, d.source.endswith("copy.txt")) for d in index.duplicates()] == [(original, True)]


def test_copies_within_one_run_and_exact_copies(tmp_path):
    engine = fast_engine(tmp_path / "data", cleaning=ON)
    folder = write(tmp_path / "a", "1.txt", text(1))
    write(folder, "2.txt", edited(text(1)))
    write(folder, "3.txt", text(3))
    report = engine.ingest([folder])
    assert len(report.near_duplicates) == 1 and report.documents_indexed == 2


def test_off_by_default_and_per_call(tmp_path):
    engine = fast_engine(tmp_path / "data")
    engine.ingest([write(tmp_path / "a", "original.txt", text(1))])
    report = engine.ingest([write(tmp_path / "b", "copy.txt", edited(text(1)))])
    assert report.near_duplicates == [] and len(doc_ids(engine)) == 2
    engine2 = fast_engine(tmp_path / "data2")
    engine2.ingest([tmp_path / "a"], near_duplicates=True)
    assert len(engine2.ingest([tmp_path / "b"], near_duplicates=True).near_duplicates) == 1


def test_never_across_tenants_nor_access_groups(tmp_path):
    engine = fast_engine(tmp_path / "data", cleaning=ON)
    a = write(tmp_path / "a", "original.txt", text(1))
    b = write(tmp_path / "b", "copy.txt", edited(text(1)))
    engine.ingest([a], access=Access("acme"))
    # Another tenant's collection has its own index: its copy is indexed for it.
    other = engine.ingest([b], access=Access("globex"))
    assert other.near_duplicates == [] and other.documents_indexed == 1
    assert (engine.collection_path("default", "globex") / INDEX_FILE).is_file()
    # Inside one tenant, a copy readable by other groups is no duplicate for them.
    hr = engine.ingest([b], access=Access("acme", ("hr",)))
    assert hr.near_duplicates == [] and hr.documents_indexed == 1
    same = engine.ingest([write(tmp_path / "c", "copy2.txt", edited(text(1)))], access=Access("acme"))
    assert len(same.near_duplicates) == 1


def test_deleting_the_original_lets_the_copy_in(tmp_path):
    engine = fast_engine(tmp_path / "data", cleaning=ON)
    engine.ingest([write(tmp_path / "a", "original.txt", text(1))])
    (original,) = doc_ids(engine)
    b = write(tmp_path / "b", "copy.txt", edited(text(1)))
    assert len(engine.ingest([b]).near_duplicates) == 1
    assert engine.delete([original]) > 0
    again = engine.ingest([b])
    assert again.near_duplicates == [] and again.documents_indexed == 1
    assert len(doc_ids(engine)) == 1 and original not in doc_ids(engine)
    # The copy is now the original: the deleted one comes back as its near-duplicate.
    back = engine.ingest([tmp_path / "a"])
    assert [d.duplicate_of for d in back.near_duplicates] == list(doc_ids(engine))


def test_sync_delete_and_rewrite_of_the_original(tmp_path):
    engine = fast_engine(tmp_path / "data", cleaning=ON)
    a = write(tmp_path / "a", "original.txt", text(1))
    engine.ingest([a])
    b = write(tmp_path / "b", "copy.txt", edited(text(1)))
    assert len(engine.ingest([b]).near_duplicates) == 1
    # The original is rewritten: its copy no longer copies anything and goes in on the next run.
    (a / "original.txt").write_text(text(7))
    engine.ingest([a])
    assert engine.ingest([b]).documents_indexed == 1
    # A source deleted by --sync leaves the index too.
    c = write(tmp_path / "c", "x.txt", text(9))
    engine.ingest([c])
    (c / "x.txt").unlink()
    engine.ingest([c], sync=True)
    assert engine.ingest([write(tmp_path / "d", "y.txt", edited(text(9)))]).near_duplicates == []


def test_upserted_documents(tmp_path):
    engine = fast_engine(tmp_path / "data", cleaning=ON)
    engine.upsert_documents([Document(id="a", source="api", text=text(1))])
    # Replacing a document by its own id is no duplicate of itself.
    assert (
        engine.upsert_documents([Document(id="a", source="api", text=edited(text(1)))]).near_duplicates == []
    )
    report = engine.upsert_documents([Document(id="b", source="api", text=edited(text(1)))])
    assert [(d.doc_id, d.duplicate_of) for d in report.near_duplicates] == [("b", "a")]
    assert doc_ids(engine) == {"a"}


def test_the_index_survives_a_reembedding(tmp_path):
    from ragline.maintenance.reembed import reembed

    engine = fast_engine(tmp_path / "data", cleaning=ON)
    engine.ingest([write(tmp_path / "a", "original.txt", text(1))])
    assert len(engine.ingest([write(tmp_path / "b", "copy.txt", edited(text(1)))]).near_duplicates) == 1
    coll = engine.collection()
    before = NearDupIndex(coll.path / INDEX_FILE).duplicates()
    with engine.write_lock(coll.store):
        reembed(coll, tmp_path / "model", engine.embedder, engine._ingestor, engine.open_store)
    # The re-embedded copy swapped in keeps the index (signatures and links) beside it.
    after = NearDupIndex(coll.path / INDEX_FILE)
    assert after.duplicates() == before
    default_access = stable_id("default", "0")  # tenant, no groups, clearance 0
    assert after.find(after.signature(edited(text(1))), default_access)[0] == before[0].duplicate_of


def test_changes_made_while_off_reach_the_index(tmp_path):
    engine = fast_engine(tmp_path / "data", cleaning=ON)
    a = write(tmp_path / "a", "original.txt", text(1))
    engine.ingest([a])
    # Rewritten while near-duplicate search is off: the old signature must not outlive it.
    (a / "original.txt").write_text(text(5))
    engine.ingest([a], near_duplicates=False)
    report = engine.ingest([write(tmp_path / "b", "copy.txt", edited(text(1)))])
    assert report.near_duplicates == [] and report.documents_indexed == 1


def test_short_documents_are_not_judged(tmp_path):
    engine = fast_engine(tmp_path / "data", cleaning=ON)
    docs = [
        Document(id=f"t{i}", source="api", text=f"Thanks, see you {day}!")
        for i, day in enumerate(["soon", "then"])
    ]
    report = engine.upsert_documents(docs)
    assert report.near_duplicates == [] and doc_ids(engine) == {"t0", "t1"}
