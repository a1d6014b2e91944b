"""Inside one tenant: every read of the store made for a caller (neighbours for the context window,
deletes, counts, replacements) stays within what that caller may read, even when two documents
of different groups share an id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ragline
from ragline.engine import Engine
from ragline.errors import AccessDenied, ConfigError
from ragline.store.filters import Visible
from ragline.types import Access, Document, Principal

HR_ONLY = "The hr bonus pool for Lisbon is 77 thousand euros."
ENG = Principal("acme", ("eng",), 0)
HR = Principal("acme", ("hr",), 0)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    root = tmp_path_factory.mktemp("scoped")
    eng = ragline.open(root / "data")
    # Two files whose rows share the id "plan": one readable by eng, one by hr, each two chunks long.
    filler = " ".join(f"Sentence {i} of the plan describes step {i} of the Lisbon move." for i in range(22))
    for group, first, second in (
        ("eng", "The eng plan for the Lisbon move.", filler),
        ("hr", filler, HR_ONLY),
    ):
        f = root / f"{group}.jsonl"
        f.write_text(json.dumps({"_id": "plan", "text": f"{first}\n\n{second}"}) + "\n", encoding="utf-8")
        eng.ingest([f], collection="c", access=Access("acme", (group,), 0))
    return eng


def test_context_window_reads_only_neighbours_the_caller_may_read(engine: Engine) -> None:
    positions = {
        (c.source.rsplit("/", 1)[-1], c.position) for c in engine.store("c", tenant="acme").all_chunks()
    }
    assert {("eng.jsonl", 1), ("hr.jsonl", 1)} <= positions  # the shared id has chunks at both positions
    answer = engine.ask(
        "What is the eng plan for the Lisbon move?", collection="c", principal=ENG, debug=True
    )
    assert answer.debug is not None and answer.debug.context.passages
    assert all(p.doc_id == "plan" for p in answer.debug.context.passages)
    assert "bonus pool" not in answer.debug.prompt and "bonus pool" not in answer.text
    # The same question from hr may read its own second chunk.
    hr = engine.ask("What is the hr bonus pool for Lisbon?", collection="c", principal=HR, debug=True)
    assert hr.debug is not None and "bonus pool" in hr.debug.prompt


def test_neighbour_reads_take_the_callers_scope(engine: Engine) -> None:
    store = engine.store("c", tenant="acme")
    both = store.chunks_at([("plan", 1)])
    assert sorted(c.source.rsplit("/", 1)[-1] for c in both) == ["eng.jsonl", "hr.jsonl"]  # none dropped
    mine = store.chunks_at([("plan", 1)], filters=Visible(ENG))
    assert [c.source.rsplit("/", 1)[-1] for c in mine] == ["eng.jsonl"]


def test_counts_and_deletes_are_scoped(engine: Engine) -> None:
    whole = engine.stats("c", principal=Principal("acme", ("eng", "hr"), 0)).store
    eng_only = engine.stats("c", principal=ENG).store
    assert eng_only.chunks < whole.chunks and eng_only.documents == 1 and eng_only.sources == 1
    assert engine.stats("c", principal=Principal("acme", ("legal",), 0)).store.chunks == 0
    n = engine.delete(["plan"], collection="c", principal=ENG)
    assert n == eng_only.chunks
    left = engine.store("c", tenant="acme").all_chunks()
    assert left and {c.source.rsplit("/", 1)[-1] for c in left} == {"hr.jsonl"}
    view = engine.document("plan", collection="c", principal=HR)
    assert view is not None and HR_ONLY in view.text


def test_upserts_refuse_to_overwrite_unreadable_documents(tmp_path: Path) -> None:
    eng = ragline.open(tmp_path)
    hr_doc = Document(id="memo", source="api", text="HR memo.", access=Access("acme", ("hr",), 0))
    eng.upsert_documents([hr_doc], collection="m", principal=HR)
    forged = Document(id="memo", source="api", text="Overwritten.", access=Access("acme", ("eng",), 0))
    with pytest.raises(AccessDenied, match="memo"):
        eng.upsert_documents([forged], collection="m", principal=ENG)
    with pytest.raises(AccessDenied, match="tenant"):
        eng.upsert_documents([hr_doc], collection="m", principal=Principal("globex", ("hr",), 0))
    view = eng.document("memo", collection="m", principal=HR)
    assert view is not None and view.text == "HR memo."
    with pytest.raises(ConfigError, match="several tenants"):
        eng.upsert_documents([hr_doc, Document(id="x", source="s", text="t")], collection="m")


def test_tenants_are_separate_namespaces_on_disk(tmp_path: Path) -> None:
    eng = ragline.open(tmp_path)
    for tenant in ("acme", "globex"):
        eng.upsert_documents(
            [Document(id="1", source="api", text=f"{tenant} row one.", access=Access(tenant))],
            collection="rows",
        )
    assert eng.collections() == [] and eng.collections("acme") == ["rows"] == eng.collections("globex")
    acme = eng.search("row one", collection="rows", principal=Principal("acme"))
    assert [h.chunk.text for h in acme] == ["acme row one."]
    with pytest.raises(ConfigError, match="tenant name"):
        eng.collections("../etc")
