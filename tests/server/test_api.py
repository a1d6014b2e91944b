"""Every /v1 endpoint over HTTP, including bad input, auth and tenancy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import Keys, wait_job

pytestmark = pytest.mark.integration

HANDBOOK = """# Acme handbook

## Office hours

The Acme office opens at 8 am on weekdays. Visitors sign in at the front desk.

## Parking

Staff park in the north lot. The south lot is reserved for visitors.
"""
SALARIES = """# Compensation

## Reviews

Salary reviews happen every March. Managers submit proposals by the end of February.
"""
ARCHITECTURE = """# Architecture

## Billing

The billing service is written in Rust. It publishes invoices to the ledger queue.
"""


def upload(
    client: TestClient,
    headers: dict[str, str],
    files: dict[str, str],
    groups: str = "",
    collection: str = "docs",
) -> dict[str, Any]:
    parts = [("files", (name, text.encode(), "text/markdown")) for name, text in files.items()]
    r = client.post(
        f"/v1/collections/{collection}/files", files=parts, data={"groups": groups}, headers=headers
    )
    assert r.status_code == 202, r.text
    return wait_job(client, r.json(), headers)


@pytest.fixture(scope="module")
def seeded(client: TestClient, keys: Keys) -> dict[str, Any]:
    jobs = {
        "all": upload(client, keys.acme_admin, {"handbook.md": HANDBOOK}),
        "hr": upload(client, keys.acme_admin, {"salaries.md": SALARIES}, groups="hr"),
        "eng": upload(client, keys.acme_admin, {"architecture.md": ARCHITECTURE}, groups="eng"),
    }
    r = client.post(
        "/v1/collections/docs/documents",
        json={
            "documents": [
                {
                    "id": "hours",
                    "title": "Globex hours",
                    "text": "The Globex office opens at 10 am on weekdays.",
                    "metadata": {"year": 2024},
                }
            ]
        },
        headers=keys.globex_admin,
    )
    assert r.status_code == 202, r.text
    jobs["globex"] = wait_job(client, r.json(), keys.globex_admin)
    return jobs


def err(r: Any) -> str:
    body = r.json()
    assert set(body) == {"error"}, body
    return str(body["error"]["message"])


# -- ops -----------------------------------------------------------------------------------------


def test_health_ready_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "detail": {}}
    assert client.get("/readyz").json()["status"] == "ready"
    spec = client.get("/v1/openapi.json").json()
    assert spec["info"]["version"]
    api_paths = [p for p in spec["paths"] if p not in ("/healthz", "/readyz", "/metrics")]
    assert api_paths and all(p.startswith("/v1/") for p in api_paths)
    assert "/v1/chat/completions" in spec["paths"]


def test_jobs_report_progress_and_documents_carry_acl(
    client: TestClient, keys: Keys, seeded: dict[str, Any]
) -> None:
    for name, job in seeded.items():
        assert job["status"] == "done", (name, job)
        assert job["done"] == job["total"] == 1 and job["chunks"] >= 1 and job["errors"] == []
    docs = client.get("/v1/collections/docs/documents", headers=keys.acme_admin).json()["documents"]
    by_source = {Path(d["source"]).name: d for d in docs}
    assert by_source["salaries.md"]["access"] == {"tenant": "acme", "groups": ["hr"], "clearance": 0}
    assert by_source["handbook.md"]["access"]["groups"] == []
    assert all(d["access"]["tenant"] == "acme" for d in docs)  # globex's document is invisible


# -- auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        ({}, "needs an API key"),
        ({"Authorization": "Bearer rl_nope_nope"}, "unknown or revoked"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Bearer <key>"),
        ({"X-API-Key": "garbage"}, "unknown or revoked"),
    ],
)
def test_missing_or_wrong_key_is_401_with_how_to(
    client: TestClient, headers: dict[str, str], needle: str
) -> None:
    r = client.post("/v1/collections/docs/search", json={"query": "office"}, headers=headers)
    assert r.status_code == 401
    assert needle in err(r) and "ragline keys create" in err(r)


def test_reader_may_not_write(client: TestClient, keys: Keys, seeded: dict[str, Any]) -> None:
    r = client.post(
        "/v1/collections/docs/files",
        files=[("files", ("a.md", b"# A\n\nText.", "text/markdown"))],
        headers=keys.acme_eng,
    )
    assert r.status_code == 403 and "admin" in err(r)
    r = client.delete("/v1/collections/docs/documents/x", headers=keys.acme_eng)
    assert r.status_code == 403
    assert client.get("/v1/audit", headers=keys.acme_eng).status_code == 403
    assert client.get("/v1/keys", headers=keys.acme_eng).status_code == 403


def test_keys_over_the_api(client: TestClient, keys: Keys) -> None:
    r = client.post(
        "/v1/keys", json={"name": "bot", "groups": ["eng"], "role": "reader"}, headers=keys.acme_admin
    )
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["tenant"] == "acme" and new["secret"].startswith("rl_")
    h = {"Authorization": f"Bearer {new['secret']}"}
    assert client.post("/v1/collections/docs/search", json={"query": "office"}, headers=h).status_code == 200
    listed = client.get("/v1/keys", headers=keys.acme_admin).json()
    assert new["id"] in {k["id"] for k in listed} and all("secret" not in k for k in listed)
    assert all(k["tenant"] == "acme" for k in listed)
    # Another tenant's admin cannot revoke it.
    assert client.delete(f"/v1/keys/{new['id']}", headers=keys.globex_admin).status_code == 404
    r = client.delete(f"/v1/keys/{new['id']}", headers=keys.acme_admin)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert client.post("/v1/collections/docs/search", json={"query": "office"}, headers=h).status_code == 401
    # Clearance above the creator's own is refused; unknown fields are rejected.
    assert client.post("/v1/keys", json={"clearance": 50}, headers=keys.acme_admin).status_code == 403
    r = client.post("/v1/keys", json={"role": "reader", "colour": "red"}, headers=keys.acme_admin)
    assert r.status_code == 422 and "colour" in err(r)


# -- bad input -----------------------------------------------------------------------------------


def test_bad_input_gets_clear_4xx(client: TestClient, keys: Keys, seeded: dict[str, Any]) -> None:
    h = keys.acme_admin
    # Empty body.
    r = client.post(
        "/v1/collections/docs/search", content=b"", headers={**h, "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and "Field required" in err(r)
    # Malformed JSON.
    r = client.post(
        "/v1/collections/docs/ask",
        content=b'{"question": "x",',
        headers={**h, "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "not valid JSON" in err(r)
    # Unknown collection.
    r = client.post("/v1/collections/nope/search", json={"query": "office"}, headers=h)
    assert r.status_code == 404 and "docs" in err(r) and "nope" in err(r)
    r = client.post("/v1/collections/nope/ask", json={"question": "When does the office open?"}, headers=h)
    assert r.status_code == 404
    # Invalid collection name.
    r = client.post("/v1/collections/..%2Fetc/search", json={"query": "x"}, headers=h)
    assert r.status_code in (400, 404)
    # Bad filter and unknown field.
    r = client.post(
        "/v1/collections/docs/search", json={"query": "x", "filters": {"year": {"$near": 1}}}, headers=h
    )
    assert r.status_code == 400 and "$near" in err(r)
    r = client.post("/v1/collections/docs/search", json={"query": "x", "topk": 3}, headers=h)
    assert r.status_code == 422 and "topk" in err(r)
    # Unsupported file type.
    r = client.post(
        "/v1/collections/docs/files",
        files=[("files", ("tool.exe", b"MZ\x90", "application/octet-stream"))],
        headers=h,
    )
    assert r.status_code == 415 and ".md" in err(r)
    # Oversized upload (limit 1 MB in this app).
    big = b"word " * 300_000
    r = client.post(
        "/v1/collections/docs/files", files=[("files", ("big.txt", big, "text/plain"))], headers=h
    )
    assert r.status_code == 413 and "MAX_UPLOAD_MB" in err(r)
    # Oversized JSON body (limit 0.5 MB).
    r = client.post("/v1/collections/docs/search", json={"query": "x" * 600_000}, headers=h)
    assert r.status_code == 413
    # Upload without files.
    r = client.post("/v1/collections/docs/files", data={"groups": "eng"}, headers=h)
    assert r.status_code == 422 and "files" in err(r)
    # Bad group names and duplicate ids.
    r = client.post(
        "/v1/collections/docs/documents",
        json={"documents": [{"id": "a", "text": "t", "groups": ["bad group"]}]},
        headers=h,
    )
    assert r.status_code == 422 and "'bad group'" in err(r) and "groups" in err(r)
    r = client.post(
        "/v1/collections/docs/documents",
        json={"documents": [{"id": "a", "text": "t"}, {"id": "a", "text": "u"}]},
        headers=h,
    )
    assert r.status_code == 400 and "unique" in err(r)
    # Unknown job, route and method.
    assert client.get("/v1/jobs/nope", headers=h).status_code == 404
    r = client.get("/v1/nothing", headers=h)
    assert r.status_code == 404 and "/v1/docs" in err(r)
    assert client.put("/v1/collections/docs/search", headers=h).status_code == 405


def test_a_file_that_fails_to_parse_is_a_job_error(
    client: TestClient, keys: Keys, seeded: dict[str, Any]
) -> None:
    from tests.server.conftest import wait_job

    parts = [
        ("files", ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf")),
        ("files", ("fine.md", b"# Fine\n\nA fine little file about kites.", "text/markdown")),
    ]
    r = client.post("/v1/collections/scratch/files", files=parts, headers=keys.acme_admin)
    assert r.status_code == 202
    job = wait_job(client, r.json(), keys.acme_admin)
    assert job["status"] == "done" and job["total"] == 2
    assert [e["file"] for e in job["errors"]] == ["broken.pdf"] and job["errors"][0]["error"]
    assert "1 file(s) failed" in job["message"]


# -- search, ask, documents ----------------------------------------------------------------------


def test_search_scoped_to_caller(client: TestClient, keys: Keys, seeded: dict[str, Any]) -> None:
    def sources(h: dict[str, str], q: str) -> set[str]:
        r = client.post("/v1/collections/docs/search", json={"query": q, "top_k": 20}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["trace_id"]
        return {
            Path(hit["source"]).name if "/" in hit["source"] else hit["source"] for hit in r.json()["hits"]
        }

    assert sources(keys.acme_hr, "salary reviews March") >= {"salaries.md"}
    assert "salaries.md" not in sources(keys.acme_eng, "Salary reviews happen every March")
    assert "architecture.md" not in sources(keys.acme_hr, "billing service written in Rust")
    assert sources(keys.globex_admin, "Acme office opens at 8 am") == {"api:globex"}
    r = client.post(
        "/v1/collections/docs/search",
        json={"query": "office", "filters": {"year": 2024}},
        headers=keys.globex_admin,
    )
    assert [h["doc_id"] for h in r.json()["hits"]] == ["globex/hours"]


def test_ask_json_trace_feedback_and_document(client: TestClient, keys: Keys, seeded: dict[str, Any]) -> None:
    r = client.post(
        "/v1/collections/docs/ask",
        json={"question": "When does the Acme office open?", "debug": True},
        headers=keys.acme_eng,
    )
    assert r.status_code == 200, r.text
    a = r.json()
    assert not a["abstained"] and "8 am" in a["text"] and a["citations"]
    assert a["debug"]["hits"] and a["debug"]["prompt"]
    c = a["citations"][0]
    doc = client.get(f"/v1/collections/docs/documents/{c['doc_id']}", headers=keys.acme_eng).json()
    # Citation offsets index the document text the API serves.
    assert doc["text"][c["start"] : c["end"]] == c["quote"]
    trace = client.get(f"/v1/traces/{a['trace_id']}", headers=keys.acme_eng).json()
    assert trace["question"] == "When does the Acme office open?"
    hits = trace["trace"]["hits"]
    assert trace["trace"]["prompt"] and hits[0]["retrievers"] and hits[0]["score"] >= hits[-1]["score"]
    assert set(trace["trace"]["timings_ms"]) >= {"retrieve", "assemble", "generate", "total"}
    # Traces are private to the tenant (and to the key, for readers).
    assert client.get(f"/v1/traces/{a['trace_id']}", headers=keys.globex_admin).status_code == 404
    assert client.get(f"/v1/traces/{a['trace_id']}", headers=keys.acme_hr).status_code == 404
    assert client.get(f"/v1/traces/{a['trace_id']}", headers=keys.acme_admin).status_code == 200
    r = client.post(
        "/v1/feedback",
        json={"trace_id": a["trace_id"], "rating": "up", "comment": "spot on"},
        headers=keys.acme_eng,
    )
    assert r.status_code == 201 and r.json()["rating"] == "up"
    assert (
        client.post(
            "/v1/feedback", json={"trace_id": "nope", "rating": "up"}, headers=keys.acme_eng
        ).status_code
        == 404
    )
    r = client.post("/v1/feedback", json={"trace_id": a["trace_id"], "rating": 5}, headers=keys.acme_eng)
    assert r.status_code == 422 and "rating" in err(r)
    # Debug detail only when asked for.
    plain = client.post(
        "/v1/collections/docs/ask", json={"question": "Where do staff park?"}, headers=keys.acme_eng
    )
    assert plain.json()["debug"] is None and "north lot" in plain.json()["text"]


def _sse(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_ask_streams_tokens_then_citations(client: TestClient, keys: Keys, seeded: dict[str, Any]) -> None:
    with client.stream(
        "POST",
        "/v1/collections/docs/ask",
        json={"question": "When are salary reviews?", "stream": True},
        headers=keys.acme_hr,
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    events = _sse(body)
    kinds = [k for k, _ in events]
    assert kinds[-1] == "final" and kinds.count("token") >= 1 and set(kinds) <= {"token", "final"}
    final = events[-1][1]
    assert "".join(d["text"] for k, d in events if k == "token") == final["text"]
    assert "March" in final["text"] and final["citations"][0]["source"].endswith("salaries.md")
    # Accept: text/event-stream also selects streaming.
    with client.stream(
        "POST",
        "/v1/collections/docs/ask",
        json={"question": "When are salary reviews?"},
        headers={**keys.acme_hr, "Accept": "text/event-stream"},
    ) as r:
        assert _sse("".join(r.iter_text()))[-1][0] == "final"


def test_delete_document_scoped_and_audited(client: TestClient, keys: Keys, seeded: dict[str, Any]) -> None:
    upload(
        client,
        keys.acme_admin,
        {"temp.md": "# Temp\n\nA temporary note about zebras."},
        collection="scratch2",
    )
    docs = client.get("/v1/collections/scratch2/documents", headers=keys.acme_admin).json()["documents"]
    doc_id = docs[0]["id"]
    # Another tenant cannot see or delete it.
    assert (
        client.get(f"/v1/collections/scratch2/documents/{doc_id}", headers=keys.globex_admin).status_code
        == 404
    )
    assert (
        client.delete(f"/v1/collections/scratch2/documents/{doc_id}", headers=keys.globex_admin).status_code
        == 404
    )
    r = client.delete(f"/v1/collections/scratch2/documents/{doc_id}", headers=keys.acme_admin)
    assert r.status_code == 200 and r.json()["deleted_chunks"] >= 1
    assert (
        client.get(f"/v1/collections/scratch2/documents/{doc_id}", headers=keys.acme_admin).status_code == 404
    )
    audit = client.get("/v1/audit", headers=keys.acme_admin).json()
    actions = {e["action"] for e in audit}
    assert {"ingest", "query", "delete"} <= actions
    deleted = [e for e in audit if e["action"] == "delete"]
    assert deleted[-1]["doc_ids"] == [doc_id] and deleted[-1]["key_id"] == keys.acme_admin_id
    queries = [e for e in audit if e["action"] == "query"]
    assert all(e["tenant"] == "acme" for e in audit) and any(e["doc_ids"] for e in queries)
    globex_audit = client.get("/v1/audit", headers=keys.globex_admin).json()
    assert globex_audit and all(e["tenant"] == "globex" for e in globex_audit)


def test_collections_listing_is_scoped(client: TestClient, keys: Keys, seeded: dict[str, Any]) -> None:
    acme = {c["name"] for c in client.get("/v1/collections", headers=keys.acme_eng).json()}
    globex = {c["name"] for c in client.get("/v1/collections", headers=keys.globex_admin).json()}
    assert "docs" in acme and "docs" in globex
    assert "scratch" in acme and "scratch" not in globex


def test_metrics_and_spans(
    client: TestClient, keys: Keys, seeded: dict[str, Any], span_exporter: Any
) -> None:
    span_exporter.clear()
    r = client.post(
        "/v1/collections/docs/ask", json={"question": "Where do visitors park?"}, headers=keys.acme_eng
    )
    assert r.status_code == 200
    names = [s.name for s in span_exporter.get_finished_spans()]
    for stage in ("ragline.retrieve", "ragline.assemble", "ragline.generate"):
        assert stage in names, names
    http = next(s for s in span_exporter.get_finished_spans() if s.name.startswith("ragline.http POST"))
    retrieve = next(s for s in span_exporter.get_finished_spans() if s.name == "ragline.retrieve")
    assert retrieve.context.trace_id == http.context.trace_id
    assert client.get("/v1/collections").status_code == 401
    text = client.get("/metrics").text
    assert (
        'ragline_http_requests_total{method="POST",route="/v1/collections/{collection}/ask",status="200"}'
        in text
    )
    assert 'ragline_stage_duration_seconds_bucket{le="0.005",stage="retrieve"}' in text
    assert 'ragline_answers_total{abstained="false",mode="extractive"}' in text
    assert "ragline_ingested_chunks_total" in text
    assert 'ragline_errors_total{type="AuthError"}' in text
