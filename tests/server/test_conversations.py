"""Conversations over the HTTP API: a follow-up asked with a conversation id is searched as the
standalone query its earlier turns make of it (shown in the answer and the stored trace), turns are
stored, a conversation is its creator's alone, and retention drops the least recently used."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.server.app import create_app
from ragline.types import Access, Document
from tests.helpers import fast_engine
from tests.server.conftest import Keys, make_keys, wait_ready

DOCS = {
    "lighthouse": "The Orrin Point lighthouse stands on the north cape. The Orrin Point lighthouse was built "
    "in 1874 from pale granite blocks.",
    "dam": "The Velmar dam holds the valley reservoir. The Velmar dam was built in 1950 from concrete.",
    "bridge": "The Kestrel bridge crosses the harbour. The Kestrel bridge was built in 1923 from steel.",
}
FIRST = "Where is the Orrin Point lighthouse?"


def _app_client(data_dir: Path, **server: Any) -> TestClient:
    engine = fast_engine(data_dir, server={"json_logs": False, **server})
    docs = [Document(id=k, source=k, text=v, title=k, access=Access("acme")) for k, v in DOCS.items()]
    engine.upsert_documents(docs, collection="kb")
    # The same collection name in another tenant: a conversation never crosses into it.
    engine.upsert_documents(
        [Document(id="g", source="g", text="Globex secret.", access=Access("globex"))], collection="kb"
    )
    return TestClient(create_app(engine.settings, engine=engine))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Keys]]:
    data_dir = tmp_path_factory.mktemp("conversations")
    keys = make_keys(data_dir)
    with _app_client(data_dir) as c:
        wait_ready(c)
        yield c, keys


def _start(c: TestClient, headers: dict[str, str], collection: str = "kb") -> str:
    r = c.post("/v1/conversations", json={"collection": collection}, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _ask(c: TestClient, headers: dict[str, str], question: str, **body: Any) -> Any:
    return c.post("/v1/collections/kb/ask", json={"question": question, **body}, headers=headers)


def test_a_conversation_carries_its_topic_into_follow_ups(setup: tuple[TestClient, Keys]) -> None:
    c, keys = setup
    cid = _start(c, keys.acme_eng)
    first = _ask(c, keys.acme_eng, FIRST, conversation_id=cid).json()
    assert first["query"] == FIRST and first["conversation_id"] == cid
    r = _ask(c, keys.acme_eng, "When was it built?", conversation_id=cid, debug=True)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["question"] == "When was it built?"
    assert answer["query"] == "When was Orrin Point lighthouse built?"
    assert "1874" in answer["text"] and answer["citations"][0]["doc_id"] == "lighthouse"
    assert answer["debug"]["hits"][0]["doc_id"] == "lighthouse"

    # The trace records what was searched and why.
    trace = c.get(f"/v1/traces/{answer['trace_id']}", headers=keys.acme_eng).json()["trace"]
    assert trace["query"] == "When was Orrin Point lighthouse built?"
    assert trace["condense"]["method"] == "rules" and "'it'" in trace["condense"]["reason"]
    assert trace["conversation_id"] == cid

    # The conversation holds both exchanges, answers linked to their traces.
    conv = c.get(f"/v1/conversations/{cid}", headers=keys.acme_eng).json()
    assert [(t["role"], t["content"]) for t in conv["turns"]] == [
        ("user", FIRST),
        ("assistant", first["text"]),
        ("user", "When was it built?"),
        ("assistant", answer["text"]),
    ]
    assert conv["turns"][3]["trace_id"] == answer["trace_id"] and conv["collection"] == "kb"


def test_streaming_answers_join_the_conversation_too(setup: tuple[TestClient, Keys]) -> None:
    c, keys = setup
    cid = _start(c, keys.acme_eng)
    _ask(c, keys.acme_eng, FIRST, conversation_id=cid)
    with c.stream(
        "POST",
        "/v1/collections/kb/ask",
        json={"question": "When was it built?", "conversation_id": cid, "stream": True},
        headers=keys.acme_eng,
    ) as r:
        body = "".join(r.iter_text())
    final = json.loads(body.split("event: final\ndata: ")[1].split("\n")[0])
    assert final["query"] == "When was Orrin Point lighthouse built?" and final["conversation_id"] == cid
    turns = c.get(f"/v1/conversations/{cid}", headers=keys.acme_eng).json()["turns"]
    assert [t["content"] for t in turns][2:] == ["When was it built?", final["text"]]


def test_history_in_the_request_works_without_a_stored_conversation(setup: tuple[TestClient, Keys]) -> None:
    c, keys = setup
    history = [{"role": "user", "content": FIRST}, {"role": "assistant", "content": "On the north cape."}]
    answer = _ask(c, keys.acme_eng, "When was it built?", history=history).json()
    assert answer["query"] == "When was Orrin Point lighthouse built?" and answer["conversation_id"] is None
    cid = _start(c, keys.acme_eng)
    r = _ask(c, keys.acme_eng, "When was it built?", history=history, conversation_id=cid)
    assert r.status_code == 400 and "not both" in r.json()["error"]["message"]


def test_a_conversation_is_its_creators_alone(setup: tuple[TestClient, Keys]) -> None:
    c, keys = setup
    cid = _start(c, keys.acme_eng)
    _ask(c, keys.acme_eng, FIRST, conversation_id=cid)
    # Another key of the same tenant (even an admin) and another tenant's key: as if it never existed.
    for other in (keys.acme_hr, keys.acme_admin, keys.globex_admin):
        assert c.get(f"/v1/conversations/{cid}", headers=other).status_code == 404
        r = _ask(c, other, "When was it built?", conversation_id=cid)
        assert r.status_code == 404 and "no conversation" in r.json()["error"]["message"]
        assert FIRST not in r.text
        assert c.delete(f"/v1/conversations/{cid}", headers=other).status_code == 404
    turns = c.get(f"/v1/conversations/{cid}", headers=keys.acme_eng).json()["turns"]
    assert len(turns) == 2, "another key's attempts added turns"
    assert c.delete(f"/v1/conversations/{cid}", headers=keys.acme_eng).json() == {"deleted": True}
    assert c.get(f"/v1/conversations/{cid}", headers=keys.acme_eng).status_code == 404


def test_bad_conversation_requests(setup: tuple[TestClient, Keys]) -> None:
    c, keys = setup
    r = c.post("/v1/conversations", json={"collection": "nope"}, headers=keys.acme_eng)
    assert r.status_code == 404 and "does not exist" in r.json()["error"]["message"]
    assert c.get("/v1/conversations/not-an-id", headers=keys.acme_eng).status_code == 422
    assert _ask(c, keys.acme_eng, "q", conversation_id="x" * 32).status_code == 422
    assert _ask(c, keys.acme_eng, "q", history=[{"role": "system", "content": "x"}]).status_code == 422
    r = c.post("/v1/conversations", json={"collection": "kb", "extra": 1}, headers=keys.acme_eng)
    assert r.status_code == 422


def test_retention_drops_the_least_recently_used(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    with _app_client(tmp_path, conversation_retention=2) as c:
        wait_ready(c)
        a, b = _start(c, keys.acme_eng), _start(c, keys.acme_eng)
        assert _ask(c, keys.acme_eng, FIRST, conversation_id=a).status_code == 200  # a is now the newest
        _start(c, keys.acme_eng)
        assert c.get(f"/v1/conversations/{a}", headers=keys.acme_eng).status_code == 200
        r = _ask(c, keys.acme_eng, "When was it built?", conversation_id=b)
        assert r.status_code == 404 and "expire" in r.json()["error"]["message"]
