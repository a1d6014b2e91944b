"""Issue 21, findings 1-6: what a hostile admin or reader of one tenant (or group) could read,
delete or learn of another's through the HTTP API. Each test reproduces one finding of the probe
against a real service (real data directory, real state store) and asserts it no longer holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragline.server.app import create_app
from ragline.service_state import open_state
from ragline.settings import load_settings
from tests.server.conftest import bearer, wait_job, wait_ready

pytestmark = [pytest.mark.integration]

SECRET = "912,000"  # globex's clearance-5 payroll figure: it must never reach acme
GLOBEX_ONLY = (SECRET, "payroll review", "compensation study", "was frozen")  # its text, anywhere


def _leaks(text: str) -> list[str]:
    return [p for p in GLOBEX_ONLY if p in text]


PAYROLL = [  # three chunks of ~150 tokens: the secret sits in the second
    "# Payroll 2025\n\n"
    + " ".join(
        f"Section {i} of the payroll review for 2025 covers salary band {i} of the company and the "
        "bonus pool that the board approved after the annual compensation study."
        for i in range(6)
    ),
    f"The salary of the chief executive for 2025 is {SECRET} dollars, paid monthly from the "
    "executive payroll account held at the central bank branch downtown.",
    " ".join(
        f"Salary band {i} for engineers rose four percent; band {i} for others was frozen." for i in range(8)
    ),
]


@dataclass
class World:
    client: TestClient
    data_dir: Path
    h: dict[str, dict[str, str]]
    ids: dict[str, str]


def _post_docs(c: TestClient, collection: str, docs: list[dict[str, object]], h: dict[str, str]) -> dict:
    r = c.post(f"/v1/collections/{collection}/documents", json={"documents": docs}, headers=h)
    assert r.status_code == 202, r.text
    return wait_job(c, r.json(), h)


def _upload(
    c: TestClient,
    collection: str,
    name: str,
    body: bytes,
    h: dict[str, str],
    groups: str = "",
    clearance: int = 0,
) -> dict:
    r = c.post(
        f"/v1/collections/{collection}/files",
        files=[("files", (name, body))],
        data={"groups": groups, "clearance": str(clearance)},
        headers=h,
    )
    assert r.status_code == 202, r.text
    return wait_job(c, r.json(), h)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("security")
    st = open_state("", data)
    specs = {
        "acme_admin": ("acme", ["eng", "hr"], "admin", 5),
        "acme_eng_admin": ("acme", ["eng"], "admin", 2),
        "acme_hr_admin": ("acme", ["hr"], "admin", 3),
        "acme_hr": ("acme", ["hr"], "reader", 3),
        "acme_eng": ("acme", ["eng"], "reader", 0),
        "globex_admin": ("globex", ["hr"], "admin", 5),
        "globex_hr": ("globex", ["hr"], "reader", 5),
    }
    h: dict[str, dict[str, str]] = {}
    ids: dict[str, str] = {}
    for name, (tenant, groups, role, clearance) in specs.items():
        key, secret = st.create_key(name=name, tenant=tenant, groups=groups, role=role, clearance=clearance)
        h[name], ids[name] = bearer(secret), key.id
    st.close()
    settings = load_settings(data_dir=data, server={"json_logs": False})
    with TestClient(create_app(settings)) as c:
        wait_ready(c)
        # Globex: a three-chunk payroll document readable by hr at clearance 5, and typed metadata.
        payroll = "\n\n".join(PAYROLL)
        _upload(
            c,
            "hr-docs",
            "payroll.jsonl",
            json.dumps(
                {"_id": "globex/payroll-2025", "text": payroll, "salary_band": "exec", "year": 2025}
            ).encode(),
            h["globex_admin"],
            groups="hr",
            clearance=5,
        )
        _post_docs(
            c,
            "hr-docs",
            [
                {
                    "id": "case-9",
                    "text": "Case 9: the grievance about overtime pay was settled.",
                    "groups": ["hr"],
                }
            ],
            h["globex_admin"],
        )
        yield World(c, data, h, ids)


# -- 1. cross-tenant read through a planted document id --------------------------------------------


def test_planted_document_id_does_not_pull_another_tenants_neighbours(world: World) -> None:
    c, h = world.client, world.h
    # Acme's admin plants a one-chunk document under globex's id in a collection of the same name.
    planted = {"_id": "globex/payroll-2025", "text": "What is the salary of the chief executive for 2025?"}
    job = _upload(c, "hr-docs", "plant.jsonl", json.dumps(planted).encode(), h["acme_admin"])
    assert job["status"] == "done", job
    question = "What is the salary of the chief executive for 2025?"
    r = c.post(
        "/v1/collections/hr-docs/ask", json={"question": question, "debug": True}, headers=h["acme_eng"]
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["debug"]["hits"][0]["doc_id"] == "globex/payroll-2025"  # the planted one is found
    assert _leaks(json.dumps(body)) == []
    trace = c.get(f"/v1/traces/{body['trace_id']}", headers=h["acme_eng"]).json()
    assert trace["trace"]["hits"] and _leaks(json.dumps(trace)) == []
    chat = c.post(
        "/v1/chat/completions",
        json={"model": "hr-docs", "messages": [{"role": "user", "content": question}]},
        headers=h["acme_eng"],
    )
    assert chat.status_code == 200, chat.text
    assert _leaks(json.dumps(chat.json())) == []
    # Globex's reader still gets its own answer: the payroll document is intact.
    own = c.post("/v1/collections/hr-docs/ask", json={"question": question}, headers=h["globex_hr"]).json()
    assert SECRET in own["text"] + json.dumps(own["citations"])


def test_same_json_ids_in_two_tenants_do_not_mix(world: World) -> None:
    c, h = world.client, world.h
    for tenant_admin, word in (("acme_admin", "apples"), ("globex_admin", "oranges")):
        rows = "\n".join(json.dumps({"_id": str(i), "text": f"Row {i} is about {word}."}) for i in (1, 2))
        assert _upload(c, "rows", "rows.jsonl", rows.encode(), h[tenant_admin])["status"] == "done"
    for reader, word in (("acme_eng", "apples"), ("globex_hr", "oranges")):
        docs = c.get("/v1/collections/rows/documents/1", headers=h[reader])
        assert docs.status_code == 200 and word in docs.json()["text"]
    # Deleting acme's "1" leaves globex's "1".
    assert c.delete("/v1/collections/rows/documents/1", headers=h["acme_admin"]).status_code == 200
    assert c.get("/v1/collections/rows/documents/1", headers=h["acme_eng"]).status_code == 404
    assert "oranges" in c.get("/v1/collections/rows/documents/1", headers=h["globex_hr"]).json()["text"]


# -- 2. cross-tenant delete ---------------------------------------------------------------------------


def test_delete_never_reaches_another_tenants_document(world: World) -> None:
    c, h = world.client, world.h
    # Acme plants a document under globex's id, then deletes "its" document by that id.
    planted = json.dumps({"_id": "globex/case-9", "text": "Acme's own case nine note."}).encode()
    assert _upload(c, "hr-docs", "case.jsonl", planted, h["acme_admin"])["status"] == "done"
    r = c.delete("/v1/collections/hr-docs/documents/globex/case-9", headers=h["acme_admin"])
    assert r.status_code == 200 and r.json()["deleted_chunks"] == 1  # its own planted copy only
    still = c.get("/v1/collections/hr-docs/documents/globex/case-9", headers=h["globex_hr"])
    assert still.status_code == 200 and "grievance" in still.json()["text"]


# -- 3. metadata across tenants ------------------------------------------------------------------------


def test_filter_errors_name_only_the_callers_own_fields(world: World) -> None:
    c, h = world.client, world.h
    r = c.post(
        "/v1/collections/hr-docs/search",
        json={"query": "salary", "filters": {"no_such_field": 1}},
        headers=h["acme_admin"],
    )
    assert r.status_code == 400
    assert "salary_band" not in r.text and "no_such_field" in r.text
    # Globex's own caller does see its field named.
    r = c.post(
        "/v1/collections/hr-docs/search",
        json={"query": "salary", "filters": {"no_such_field": 1}},
        headers=h["globex_hr"],
    )
    assert r.status_code == 400 and "salary_band" in r.text


def test_unknown_collection_reveals_nothing_of_other_tenants(world: World) -> None:
    c, h = world.client, world.h
    _post_docs(c, "globex-only", [{"id": "x", "text": "Globex board minutes."}], h["globex_admin"])
    exists_elsewhere = c.post(
        "/v1/collections/globex-only/search", json={"query": "board"}, headers=h["acme_eng"]
    )
    never_existed = c.post(
        "/v1/collections/nowhere-at-all/search", json={"query": "board"}, headers=h["acme_eng"]
    )
    assert exists_elsewhere.status_code == never_existed.status_code == 404
    for r in (exists_elsewhere, never_existed):
        msg = r.json()["error"]["message"]
        assert "globex" not in msg.replace("globex-only", "") and str(world.data_dir) not in msg
    assert exists_elsewhere.text.replace("globex-only", "X") == never_existed.text.replace(
        "nowhere-at-all", "X"
    )
    listed = {m["id"] for m in c.get("/v1/models", headers=h["acme_eng"]).json()["data"]}
    assert "globex-only" not in listed


def test_collection_counts_are_of_readable_documents(world: World) -> None:
    c, h = world.client, world.h
    _post_docs(
        c,
        "counts",
        [
            {"id": "pub", "text": "A note everyone at acme may read."},
            {"id": "hr1", "text": "An hr note.", "groups": ["hr"]},
            {"id": "hr2", "text": "Another hr note.", "groups": ["hr"]},
        ],
        h["acme_admin"],
    )
    by_name = {x["name"]: x for x in c.get("/v1/collections", headers=h["acme_eng"]).json()}
    assert by_name["counts"]["documents"] == 1
    by_name = {x["name"]: x for x in c.get("/v1/collections", headers=h["acme_hr"]).json()}
    assert by_name["counts"]["documents"] == 3
    assert "counts" not in {x["name"] for x in c.get("/v1/collections", headers=h["globex_hr"]).json()}


def test_keyword_scores_do_not_depend_on_another_tenants_documents(world: World) -> None:
    c, h = world.client, world.h
    _post_docs(
        c, "bm25", [{"id": "a", "text": "The quarterly zanzibarite shipment left port."}], h["acme_admin"]
    )
    _post_docs(c, "bm25", [{"id": "f", "text": "Unrelated filler text about weather."}], h["acme_admin"])
    q = {"query": "zanzibarite", "mode": "keyword"}
    before = c.post("/v1/collections/bm25/search", json=q, headers=h["acme_eng"]).json()["hits"][0]["score"]
    many = [{"id": f"g{i}", "text": f"Globex zanzibarite memo {i}."} for i in range(30)]
    _post_docs(c, "bm25", many, h["globex_admin"])
    after = c.post("/v1/collections/bm25/search", json=q, headers=h["acme_eng"]).json()["hits"][0]["score"]
    assert after == pytest.approx(before, abs=1e-9)


def test_another_tenant_cannot_poison_field_types(world: World) -> None:
    c, h = world.client, world.h
    _post_docs(
        c,
        "typed",
        [{"id": "g", "text": "Globex unknown year.", "metadata": {"year": "unknown"}}],
        h["globex_admin"],
    )
    _post_docs(
        c, "typed", [{"id": "a", "text": "Acme report of 2023.", "metadata": {"year": 2023}}], h["acme_admin"]
    )
    r = c.post(
        "/v1/collections/typed/search",
        json={"query": "report", "filters": {"year": {"$gte": 2020}}},
        headers=h["acme_eng"],
    )
    assert r.status_code == 200, r.text
    assert [x["doc_id"] for x in r.json()["hits"]] == ["acme/a"]


# -- 4. escalation through keys and uploads -------------------------------------------------------------


def test_an_admin_cannot_grant_groups_or_clearance_it_lacks(world: World) -> None:
    c, h = world.client, world.h
    eng_admin = h["acme_eng_admin"]
    r = c.post("/v1/keys", json={"name": "x", "groups": ["hr", "legal", "finance"]}, headers=eng_admin)
    assert r.status_code == 403 and "hr" in r.json()["error"]["message"]
    assert c.post("/v1/keys", json={"name": "x", "clearance": 3}, headers=eng_admin).status_code == 403
    ok = c.post("/v1/keys", json={"name": "x", "groups": ["eng"], "clearance": 2}, headers=eng_admin)
    assert ok.status_code == 201, ok.text
    up = c.post(
        "/v1/collections/esc/files",
        files=[("files", ("a.md", b"# A\n\ntext"))],
        data={"clearance": "100"},
        headers=eng_admin,
    )
    assert up.status_code == 403
    up = c.post(
        "/v1/collections/esc/files",
        files=[("files", ("a.md", b"# A\n\ntext"))],
        data={"groups": "hr"},
        headers=eng_admin,
    )
    assert up.status_code == 403
    docs = c.post(
        "/v1/collections/esc/documents",
        json={"documents": [{"id": "d", "text": "t", "clearance": 100}]},
        headers=eng_admin,
    )
    assert docs.status_code == 403


# -- 5. traces of other groups ----------------------------------------------------------------------------


def test_an_admin_cannot_read_a_trace_beyond_its_access(world: World) -> None:
    c, h = world.client, world.h
    _post_docs(
        c,
        "hr-only",
        [{"id": "p", "text": "The hr pension fund is audited in May.", "groups": ["hr"]}],
        h["acme_admin"],
    )
    a = c.post(
        "/v1/collections/hr-only/ask",
        json={"question": "When is the pension fund audited?"},
        headers=h["acme_hr"],
    )
    trace_id = a.json()["trace_id"]
    assert c.get(f"/v1/traces/{trace_id}", headers=h["acme_hr"]).status_code == 200
    assert c.get(f"/v1/traces/{trace_id}", headers=h["acme_admin"]).status_code == 200  # holds eng+hr, 5
    assert c.get(f"/v1/traces/{trace_id}", headers=h["acme_eng_admin"]).status_code == 404
    fb = c.post("/v1/feedback", json={"trace_id": trace_id, "rating": "down"}, headers=h["acme_eng_admin"])
    assert fb.status_code == 404
    # The audit log shows the eng admin that the query happened, but not which documents it returned.
    events = c.get("/v1/audit?action=query&limit=1000", headers=h["acme_eng_admin"]).json()
    mine = [e for e in events if trace_id in e["detail"] or e["key_id"] == world.ids["acme_hr"]]
    assert mine and all(e["doc_ids"] == [] and trace_id not in e["detail"] for e in mine)
    full = c.get("/v1/audit?action=query&limit=1000", headers=h["acme_admin"]).json()
    assert any("acme/p" in e["doc_ids"] for e in full)


# -- 6. destroying a document one cannot read ------------------------------------------------------------


def test_uploads_never_replace_a_document_the_uploader_cannot_read(world: World) -> None:
    c, h = world.client, world.h
    hr_text, eng_text = (
        b"# Plan\n\nThe hr reorganisation plan moves payroll to Lisbon.",
        b"# Plan\n\nEng plan.",
    )
    assert _upload(c, "plans", "plan.md", hr_text, h["acme_hr_admin"], groups="hr")["status"] == "done"
    assert _upload(c, "plans", "plan.md", eng_text, h["acme_eng_admin"], groups="eng")["status"] == "done"
    r = c.post("/v1/collections/plans/search", json={"query": "reorganisation Lisbon"}, headers=h["acme_hr"])
    assert any("Lisbon" in x["text"] for x in r.json()["hits"])
    # JSON documents: an id held by a document the writer cannot read is refused, not overwritten.
    _post_docs(
        c, "plans", [{"id": "memo", "text": "HR memo on Lisbon.", "groups": ["hr"]}], h["acme_hr_admin"]
    )
    r = c.post(
        "/v1/collections/plans/documents",
        json={"documents": [{"id": "memo", "text": "Overwritten.", "groups": ["eng"]}]},
        headers=h["acme_eng_admin"],
    )
    assert r.status_code == 403
    memo = c.get("/v1/collections/plans/documents/acme/memo", headers=h["acme_hr"])
    assert memo.status_code == 200 and "Lisbon" in memo.json()["text"]
    # And an eng admin deleting by that id removes nothing it cannot read.
    assert (
        c.delete("/v1/collections/plans/documents/acme/memo", headers=h["acme_eng_admin"]).status_code == 404
    )
    assert c.get("/v1/collections/plans/documents/acme/memo", headers=h["acme_hr"]).status_code == 200


def test_api_documents_over_the_ingest_limits_are_refused_at_the_request(world: World) -> None:
    c, h = world.client, world.h
    wide = {"id": "wide", "text": "Too many fields.", "metadata": {f"k{i}": i for i in range(100)}}
    r = c.post("/v1/collections/limits/documents", json={"documents": [wide]}, headers=h["acme_admin"])
    assert r.status_code == 400 and "loaders.max_metadata_fields" in r.json()["error"]["message"]
    assert "limits" not in {x["name"] for x in c.get("/v1/collections", headers=h["acme_admin"]).json()}
