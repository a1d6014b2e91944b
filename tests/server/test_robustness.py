"""Hostile input over HTTP (issue 21, finding 10): upload names, chunked bodies, deep filters, long
names, huge query numbers, 405s and the declared schema. Each test reproduced a 500, a silent data
loss or a missing header before its fix."""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.errors import ConfigError
from ragline.service_state import open_state
from tests.server.conftest import Keys, wait_job

pytestmark = pytest.mark.integration


def err(r: Any) -> str:
    body = r.json()
    assert set(body) == {"error"}, body
    return str(body["error"]["message"])


def upload(client: TestClient, h: dict[str, str], collection: str, names: list[str]) -> Any:
    # Texts differ in plain digits (ingest drops exact duplicates after cleaning the text).
    parts = [
        ("files", (n, f"# Note\n\nNote number {zlib.crc32(n.encode())}.".encode(), "text/markdown"))
        for n in names
    ]
    return client.post(f"/v1/collections/{collection}/files", files=parts, headers=h)


def file_names(client: TestClient, h: dict[str, str], collection: str) -> set[str]:
    r = client.get(f"/v1/collections/{collection}/documents", headers=h)
    assert r.status_code == 200, r.text
    return {Path(d["source"]).name for d in r.json()["documents"]}


# -- upload names --------------------------------------------------------------------------------


def test_non_ascii_upload_names_stay_distinct(client: TestClient, keys: Keys) -> None:
    h = keys.acme_admin
    names = ["日本語.md", "中文.md", "Ελληνικά.md", "naïve résumé.md"]
    for name in names:  # one upload each: a collapsed name replaced the previous file
        r = upload(client, h, "unicode", [name])
        assert r.status_code == 202, r.text
        assert wait_job(client, r.json(), h)["status"] == "done"
    assert file_names(client, h, "unicode") == set(names)


def test_upload_names_lose_paths_controls_and_leading_dots_but_never_collide(
    client: TestClient, keys: Keys, data_dir: Path
) -> None:
    h = keys.acme_admin
    hostile = ["../../.hidden.md", "a\x01b.md", "ab.md", "C:\\Users\\x\\a:b.md", "a%3Ab.md", "\u202eevil.md"]
    r = upload(client, h, "names", hostile)
    assert r.status_code == 202, r.text
    assert wait_job(client, r.json(), h)["status"] == "done"
    stored = file_names(client, h, "names")
    assert len(stored) == len(hostile)  # six names in, six documents out
    for name in stored:
        assert not name.startswith(".") and "/" not in name and "\\" not in name
        assert all(unicodedata.category(ch)[0] != "C" for ch in name), name
    # Nothing was written outside the collection's upload folder, and no part file is left.
    collection_dir = data_dir / "uploads" / "acme" / "names"
    folders = {p.parent for p in collection_dir.rglob("*") if p.is_file()}
    assert len(folders) == 1 and {p.name for p in folders.pop().iterdir()} == stored
    hidden = list(data_dir.rglob("*hidden.md"))
    assert len(hidden) == 1 and collection_dir in hidden[0].parents


def test_two_names_that_normalise_alike_are_refused_naming_both(client: TestClient, keys: Keys) -> None:
    decomposed, composed = "cafe\u0301.md", "caf\u00e9.md"
    r = upload(client, keys.acme_admin, "names2", [decomposed, composed])
    assert r.status_code == 400
    assert repr(decomposed) in err(r) and repr(composed) in err(r) and "rename" in err(r)


def test_an_upload_name_too_long_for_the_file_system_is_400(client: TestClient, keys: Keys) -> None:
    r = upload(client, keys.acme_admin, "names3", ["y" * 252 + ".md"])
    assert r.status_code == 400 and "too long" in err(r) and "200" in err(r)
    r = upload(client, keys.acme_admin, "names3", ["é" * 120 + ".md"])  # 243 bytes in UTF-8
    assert r.status_code == 400 and "too long" in err(r)


# -- bodies ----------------------------------------------------------------------------------------


def test_a_chunked_upload_over_the_limit_is_413(client: TestClient, keys: Keys) -> None:
    boundary = "rAgLiNeBoUnDaRy"

    def body() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        for _ in range(11):  # 1.1 MB against a 1 MB limit
            yield b"word " * 20_000
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(
        "/v1/collections/docs/files",
        content=body(),
        headers={**keys.acme_admin, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413 and "MAX_UPLOAD_MB" in err(r), r.text

    def json_body() -> Iterator[bytes]:
        yield b'{"query": "'
        for _ in range(6):  # 0.6 MB against a 0.5 MB limit
            yield b"x" * 100_000
        yield b'"}'

    r = client.post(
        "/v1/collections/docs/search",
        content=json_body(),
        headers={**keys.acme_admin, "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and "MAX_JSON_MB" in err(r), r.text


def test_an_unreadable_json_body_says_what_to_send(client: TestClient, keys: Keys) -> None:
    r = client.post(
        "/v1/keys", content=b"\xff\xfe{", headers={**keys.acme_admin, "Content-Type": "application/json"}
    )
    assert r.status_code == 400 and "UTF-8 JSON" in err(r), r.text


def test_an_upload_without_files_is_refused_as_the_schema_says(client: TestClient, keys: Keys) -> None:
    spec = client.get("/v1/openapi.json").json()
    body = next(v for k, v in spec["components"]["schemas"].items() if k.startswith("Body_upload_files"))
    assert body["properties"]["files"]["minItems"] == 1
    r = client.post("/v1/collections/docs/files", data={"groups": "eng"}, headers=keys.acme_admin)
    assert r.status_code == 422 and "files" in err(r)


# -- filters and names -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(client: TestClient, keys: Keys) -> None:
    r = client.post(
        "/v1/collections/docs/documents",
        json={"documents": [{"id": "cats", "text": "Cats sleep all day.", "metadata": {"year": 2020}}]},
        headers=keys.acme_admin,
    )
    assert wait_job(client, r.json(), keys.acme_admin)["status"] == "done"


def _nested_not(depth: int) -> dict[str, Any]:
    f: dict[str, Any] = {"year": 2020}
    for _ in range(depth):
        f = {"$not": f}
    return f


def test_deeply_nested_filters_are_400_not_500(client: TestClient, keys: Keys, seeded: None) -> None:
    h = keys.acme_admin
    for filters in (_nested_not(20), {"year": {"$not": _nested_not(20)["$not"]["$not"]}}):
        r = client.post("/v1/collections/docs/search", json={"query": "cats", "filters": filters}, headers=h)
        assert r.status_code == 400 and "nested" in err(r) and "10" in err(r), r.text
    r = client.post(
        "/v1/collections/docs/ask", json={"question": "cats", "filters": _nested_not(25)}, headers=h
    )
    assert r.status_code == 400 and "nested" in err(r)


def test_filters_at_the_depth_limit_still_run(client: TestClient, keys: Keys, seeded: None) -> None:
    # The worst case for the store's SQL parser: every level a $not (three parentheses each).
    field_not: dict[str, Any] = {"$eq": 2020}
    for _ in range(9):
        field_not = {"$not": field_not}
    for filters in (_nested_not(10), {"year": field_not}, {"$not": {"$and": [_nested_not(8), {"year": 1}]}}):
        r = client.post(
            "/v1/collections/docs/search", json={"query": "cats", "filters": filters}, headers=keys.acme_admin
        )
        assert r.status_code == 200, (filters, r.text)


def test_long_names_are_4xx_with_a_clear_message(client: TestClient, keys: Keys, seeded: None) -> None:
    h, long = keys.acme_admin, "x" * 300
    r = client.post("/v1/collections/docs/search", json={"query": "cats", "filters": {long: 1}}, headers=h)
    assert r.status_code == 400 and "256" in err(r) and "field name" in err(r)
    cases = [
        ("post", f"/v1/collections/{long}/search", {"json": {"query": "cats"}}),
        ("get", f"/v1/collections/{long}/documents", {}),
        ("get", f"/v1/collections/docs/documents/{long * 2}", {}),
        ("delete", f"/v1/collections/docs/documents/{long * 2}", {}),
        ("get", f"/v1/jobs/{long}", {}),
        ("get", f"/v1/traces/{long}", {}),
        ("delete", f"/v1/keys/{long}", {}),
        ("post", "/v1/keys", {"json": {"groups": [long]}}),
        (
            "post",
            "/v1/chat/completions",
            {"json": {"model": long, "messages": [{"role": "user", "content": "x"}]}},
        ),
        (
            "post",
            "/v1/collections/docs/documents",
            {"json": {"documents": [{"id": "m", "text": "t", "metadata": {long: 1}}]}},
        ),
        ("post", "/v1/collections/docs/documents", {"json": {"documents": [{"id": long, "text": "t"}]}}),
    ]
    for method, url, kwargs in cases:
        r = getattr(client, method)(url, headers=h, **kwargs)
        assert 400 <= r.status_code < 500, (url, r.status_code, r.text)
        assert err(r), url


# -- query numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2**63, 10**30])
def test_huge_query_numbers_are_422_not_500(client: TestClient, keys: Keys, value: int) -> None:
    r = client.get(f"/v1/audit?after_seq={value}", headers=keys.acme_admin)
    assert r.status_code == 422 and "after_seq" in err(r), r.text
    r = client.get(f"/v1/collections/docs/documents?offset={value}", headers=keys.acme_admin)
    assert r.status_code == 422 and "offset" in err(r), r.text
    assert client.get(f"/v1/audit?after_seq={2**63 - 1}", headers=keys.acme_admin).json() == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_state_store_refuses_an_after_seq_out_of_range(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("db_url") if backend == "postgres" else ""
    st = open_state(url, tmp_path)
    try:
        st.append_audit(tenant="t", key_id="k", action="query")
        assert st.list_audit(after_seq=2**63 - 1) == []
        for bad in (2**63, -1):
            with pytest.raises(ConfigError, match="after_seq"):
                st.list_audit(after_seq=bad)
    finally:
        st.close()


# -- methods and schema ------------------------------------------------------------------------------


def test_405_lists_the_allowed_methods(client: TestClient, keys: Keys) -> None:
    r = client.put("/v1/collections/docs/search", headers=keys.acme_admin)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    r = client.put("/v1/collections/docs/documents/a/b", headers=keys.acme_admin)
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"DELETE", "GET"}
    r = client.delete("/v1/collections/docs/documents", headers=keys.acme_admin)
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "POST"}
    assert "GET" in err(r) and "POST" in err(r)


def _schema_of(spec: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    op = spec["paths"][path][method]
    return next(p["schema"] for p in op["parameters"] if p["name"] == name)


def test_openapi_declares_the_limits_the_code_enforces(client: TestClient) -> None:
    spec = client.get("/v1/openapi.json").json()
    comps = spec["components"]["schemas"]
    # 1. collection names in every path.
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                if p["name"] == "collection":
                    # An optional parameter's schema is anyOf [string, null]: the string carries it.
                    schema = next((s for s in p["schema"].get("anyOf", []) if "pattern" in s), p["schema"])
                    assert schema["pattern"].startswith("^[A-Za-z0-9]"), (path, method)
    # 2-3. group names in documents and keys.
    assert comps["DocumentIn"]["properties"]["groups"]["items"]["pattern"]
    assert comps["KeyIn"]["properties"]["groups"]["items"]["pattern"]
    # 4. the upload's comma-separated groups.
    upload_body = next(v for k, v in comps.items() if k.startswith("Body_upload_files"))["properties"]
    assert upload_body["groups"]["pattern"]
    # 5. metadata keys.
    meta = comps["DocumentIn"]["properties"]["metadata"]
    assert meta["propertyNames"] == {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": 256}
    # 6. the chat model is a collection name.
    assert comps["ChatRequest"]["properties"]["model"]["pattern"]
    # 7-8. the audit cursor's range and its actions.
    assert _schema_of(spec, "/v1/audit", "get", "after_seq")["maximum"] == 2**63 - 1
    action = _schema_of(spec, "/v1/audit", "get", "action")
    assert set(action["anyOf"][0]["enum"]) == {"ingest", "delete", "query", "key_create", "key_revoke"}
    # 9. document ids and list offsets.
    assert _schema_of(spec, "/v1/collections/{collection}/documents/{doc_id}", "get", "doc_id")["maxLength"]
    assert _schema_of(spec, "/v1/collections/{collection}/documents", "get", "offset")["maximum"] == 2**63 - 1
    # Overload is a documented answer of the routes that shed it.
    assert "503" in spec["paths"]["/v1/collections/{collection}/search"]["post"]["responses"]
