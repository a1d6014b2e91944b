"""The MCP server through the official ``mcp`` client: every tool, citations as resource links, and
the access rules of the HTTP API (two tenants, groups, a planted id) in-process and over streamable
HTTP at /mcp of the real service. stdio is in tests/cli/test_mcp_cli.py."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from ragline.engine import Engine
from ragline.server.app import create_app
from ragline.server.auth import AuthError
from ragline.server.mcp_server import MAX_SPAN_CHARS, Call, build_server, span_uri, stdio_caller
from ragline.service_state import StateStore, open_state
from ragline.types import Access, Document
from tests.helpers import TWO_TENANTS, fast_engine, seed_two_tenants
from tests.server.conftest import Keys, make_keys, serving

Connect = Callable[[str | None], AbstractAsyncContextManager[Client]]
TOOLS = {"list_collections", "search", "ask", "read_span"}


def secret(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def text_of(tenant: str, collection: str, doc_id: str) -> str:
    return next(t for i, t, _ in TWO_TENANTS[(tenant, collection)] if i == doc_id)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("mcp")
    seed_two_tenants(fast_engine(d))
    return d


@pytest.fixture(scope="module")
def keys(data_dir: Path) -> Keys:
    return make_keys(data_dir)


@pytest.fixture(scope="module")
def engine(data_dir: Path) -> Engine:
    return fast_engine(data_dir)


@pytest.fixture(scope="module")
def state(data_dir: Path) -> Iterator[StateStore]:
    st = open_state("", data_dir)
    yield st
    st.close()


def inproc(engine: Engine, state: StateStore) -> Connect:
    """A client of an in-process server whose calls run as a key (the stdio server's resolution)."""

    @asynccontextmanager
    async def connect(key: str | None) -> AsyncIterator[Client]:
        caller = stdio_caller(engine.settings, state, key)
        async with Client(build_server(lambda ctx: Call(engine, caller()))) as client:
            yield client

    return connect


def over_http(url: str) -> Connect:
    @asynccontextmanager
    async def connect(key: str | None) -> AsyncIterator[Client]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with (
            create_mcp_http_client(headers=headers) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            yield client

    return connect


@pytest.fixture(scope="module")
def http_url(engine: Engine, keys: Keys) -> Iterator[str]:
    with serving(create_app(engine.settings, engine=engine)) as base:
        yield f"{base}/mcp"


@pytest.fixture(params=["inproc", pytest.param("http", marks=pytest.mark.integration)])
def connect(request: pytest.FixtureRequest, engine: Engine, state: StateStore, keys: Keys) -> Connect:
    if request.param == "inproc":
        return inproc(engine, state)
    return over_http(request.getfixturevalue("http_url"))


def run(connect: Connect, key: str, body: Callable[[Client], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with connect(key) as client:
            return await body(client)

    return anyio.run(main)


async def tool(client: Client, name: str, **args: Any) -> dict[str, Any]:
    r = await client.call_tool(name, args)
    assert not r.is_error, r.content
    assert r.structured_content is not None
    return r.structured_content


async def tool_error(client: Client, name: str, **args: Any) -> str:
    r = await client.call_tool(name, args)
    assert r.is_error and r.structured_content is None
    return str(r.content[0].text)  # type: ignore[union-attr]


async def resource_error(client: Client, uri: str) -> str:
    with pytest.raises(MCPError) as info:
        await client.read_resource(uri)
    return str(info.value)


# -- the tools -----------------------------------------------------------------------------------------


def test_tools_are_listed_with_schemas(connect: Connect, keys: Keys) -> None:
    async def body(c: Client) -> None:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert set(tools) == TOOLS
        assert all(t.output_schema and t.annotations and t.annotations.read_only_hint for t in tools.values())
        assert tools["search"].input_schema["required"] == ["query"]
        assert "citations" in tools["ask"].output_schema["properties"]  # type: ignore[index]
        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        assert templates == {"ragline://{collection}/{doc_id}{#span}", "ragline://{collection}/{doc_id}"}

    run(connect, secret(keys.acme_admin), body)


def test_search_returns_hits_with_span_uris(connect: Connect, keys: Keys) -> None:
    async def body(c: Client) -> dict[str, Any]:
        return await tool(c, "search", query="When does the Acme office open?", collection="kb", top_k=5)

    out = run(connect, secret(keys.acme_admin), body)
    top = out["hits"][0]
    assert top["doc_id"] == "handbook" and "8 am" in top["text"]
    assert top["uri"] == span_uri("kb", "handbook", top["start"], top["end"])
    assert out["collection"] == "kb"


def test_ask_cites_spans_that_read_back_as_resources(connect: Connect, keys: Keys) -> None:
    async def body(c: Client) -> tuple[Any, dict[str, str]]:
        r = await c.call_tool("ask", {"question": "When do salary reviews happen?", "collection": "kb"})
        spans = {}
        for cite in r.structured_content["citations"]:  # type: ignore[index]
            read = await c.read_resource(cite["uri"])
            spans[cite["uri"]] = read.contents[0].text  # type: ignore[union-attr]
        return r, spans

    r, spans = run(connect, secret(keys.acme_admin), body)
    answer = r.structured_content
    assert not answer["abstained"] and "March" in answer["text"]
    assert answer["citations"] and answer["citations"][0]["doc_id"] == "salaries"
    for cite in answer["citations"]:
        assert cite["uri"] == span_uri("kb", cite["doc_id"], cite["start"], cite["end"])
        assert spans[cite["uri"]] == cite["quote"]  # the link reads exactly the quoted span
    # What a model reads: the answer, its sources, and one resource link per citation.
    links = [b for b in r.content if b.type == "resource_link"]
    assert [str(link.uri) for link in links] == [c["uri"] for c in answer["citations"]]
    assert r.content[0].text.startswith(answer["text"]) and "Sources:" in r.content[0].text


def test_read_span_reads_offsets_and_refuses_bad_ones(connect: Connect, keys: Keys) -> None:
    handbook = text_of("acme", "kb", "handbook")

    async def body(c: Client) -> tuple[Any, ...]:
        part = await tool(c, "read_span", collection="kb", doc_id="handbook", start=4, end=8)
        whole = await tool(c, "read_span", collection="kb", doc_id="handbook")
        outside = await tool_error(c, "read_span", collection="kb", doc_id="handbook", start=10, end=5000)
        backwards = await c.call_tool("read_span", {"collection": "kb", "doc_id": "handbook", "start": -1})
        bad_fragment = await resource_error(c, "ragline://kb/handbook#ten-twenty")
        return part, whole, outside, backwards, bad_fragment

    part, whole, outside, backwards, bad_fragment = run(connect, secret(keys.acme_admin), body)
    assert part["text"] == handbook[4:8] == "Acme" and part["length"] == len(handbook)
    assert whole["text"] == handbook and whole["uri"] == span_uri("kb", "handbook", 0, len(handbook))
    assert f"span 10-5000 is not inside document 'handbook' ({len(handbook)} characters)" in outside
    assert backwards.is_error and "start" in backwards.content[0].text  # schema: start >= 0
    assert "'ten-twenty' is not <start>-<end>" in bad_fragment


def test_a_span_over_the_limit_is_refused(tmp_path: Path) -> None:
    engine, long = fast_engine(tmp_path), "word " * (MAX_SPAN_CHARS // 5 + 10)
    engine.upsert_documents([Document("long", "s", long, access=Access("acme"))], collection="big")
    keys, state = make_keys(tmp_path), open_state("", tmp_path)

    async def body(c: Client) -> tuple[str, dict[str, Any]]:
        return (
            await tool_error(c, "read_span", collection="big", doc_id="long"),
            await tool(c, "read_span", collection="big", doc_id="long", start=0, end=MAX_SPAN_CHARS),
        )

    try:
        refused, fits = run(inproc(engine, state), secret(keys.acme_admin), body)
    finally:
        state.close()
    assert f"the limit is {MAX_SPAN_CHARS:,}: read a narrower span" in refused
    assert len(fits["text"]) == MAX_SPAN_CHARS


def test_bad_input_names_the_problem(connect: Connect, keys: Keys) -> None:
    async def body(c: Client) -> tuple[str, ...]:
        return (
            await tool_error(c, "search", query="office", collection="kb", filters={"year": {"$near": 3}}),
            await tool_error(c, "search", query="office", collection="no-such"),
            await tool_error(c, "search", query="office", top_k=500),
        )

    bad_filter, no_collection, top_k = run(connect, secret(keys.acme_admin), body)
    assert "$near" in bad_filter
    assert "collection 'no-such' does not exist in tenant 'acme'; existing: kb, private" in no_collection
    assert "top_k" in top_k and "100" in top_k


# -- access control: the HTTP API's rules ---------------------------------------------------------------


def test_collections_and_counts_are_the_callers_own(connect: Connect, keys: Keys) -> None:
    async def body(c: Client) -> list[dict[str, Any]]:
        return list((await tool(c, "list_collections"))["collections"])

    by_key = {
        name: {c["name"]: c["documents"] for c in run(connect, secret(getattr(keys, name)), body)}
        for name in ("acme_admin", "acme_eng", "globex_admin")
    }
    assert by_key["acme_admin"] == {"kb": 2, "private": 1}
    assert by_key["acme_eng"] == {"kb": 1, "private": 1}  # salaries is hr's
    assert by_key["globex_admin"] == {"kb": 2}


def test_a_key_never_reaches_another_tenants_or_groups_documents(connect: Connect, keys: Keys) -> None:
    salaries = text_of("acme", "kb", "salaries")

    async def probe(c: Client) -> dict[str, Any]:
        search = await tool(c, "search", query=salaries, collection="kb", top_k=10)
        question = "When do salary reviews happen and what is the bonus pool?"
        ask = await tool(c, "ask", question=question, collection="kb")
        ask_kb = await tool(c, "ask", question=salaries, collection="kb")
        return {
            "hits": [(h["doc_id"], h["text"]) for h in search["hits"]],
            "answers": [ask["text"], ask_kb["text"]],
            "quotes": [q["quote"] for a in (ask, ask_kb) for q in a["citations"]],
            "absent": await tool_error(c, "read_span", collection="kb", doc_id="never-was"),
            "salaries": await tool_error(c, "read_span", collection="kb", doc_id="salaries"),
            "absent_uri": await resource_error(c, "ragline://kb/never-was#0-10"),
            "salaries_uri": await resource_error(c, "ragline://kb/salaries#0-10"),
            "private": (await c.call_tool("search", {"query": "Falcon", "collection": "private"})).content,
            "never": (await c.call_tool("search", {"query": "Falcon", "collection": "nevermade"})).content,
            "handbook": (await tool(c, "read_span", collection="kb", doc_id="handbook"))["text"],
        }

    for name in ("globex_admin", "acme_eng"):
        seen = run(connect, secret(getattr(keys, name)), probe)
        assert seen["hits"] and all(d != "salaries" and "Salary" not in t for d, t in seen["hits"]), name
        assert all("March" not in a and "bonus" not in a for a in seen["answers"] + seen["quotes"]), name
        # Unreadable and nonexistent answer in the same words (only the id differs).
        assert seen["salaries"] == seen["absent"].replace("never-was", "salaries"), name
        assert seen["salaries_uri"] == seen["absent_uri"].replace("never-was", "salaries"), name
        if name == "globex_admin":
            # A collection only acme has is, for globex, one that never existed; acme's "handbook"
            # id is globex's own planted document.
            never = seen["never"][0].text
            assert "does not exist" in never
            assert seen["private"][0].text == never.replace("nevermade", "private")
            assert seen["handbook"] == text_of("globex", "kb", "handbook")
        else:
            assert seen["handbook"] == text_of("acme", "kb", "handbook")


def test_the_default_collection_is_the_servers(connect: Connect, keys: Keys) -> None:
    async def body(c: Client) -> str:
        return await tool_error(c, "search", query="office")

    # No collection named: the settings' default ("default"), which no tenant here has.
    assert "collection 'default' does not exist in tenant 'globex'; existing: kb" in run(
        connect, secret(keys.globex_admin), body
    )


def test_stdio_resolution_refuses_missing_unknown_and_revoked_keys(data_dir: Path, engine: Engine) -> None:
    st = open_state("", data_dir)
    try:
        with pytest.raises(AuthError, match="needs an API key: pass --key or set RAGLINE_API_KEY"):
            stdio_caller(engine.settings, st, None)
        with pytest.raises(AuthError, match="unknown or revoked"):
            stdio_caller(engine.settings, st, "rl_0123456789ab_" + "x" * 43)
        key, secret_ = st.create_key(name="short-lived", tenant="acme", groups=[], role="reader")
        caller = stdio_caller(engine.settings, st, secret_)
        assert caller().tenant == "acme"
        server = build_server(lambda ctx: Call(engine, caller()))

        async def list_twice() -> tuple[dict[str, Any], str]:
            async with Client(server) as c:
                before = await tool(c, "list_collections")
                st.revoke_key(key.id)  # resolved on every call: revoking takes effect at once
                return before, await tool_error(c, "list_collections")

        before, after = anyio.run(list_twice)
        assert [c["name"] for c in before["collections"]] == ["kb", "private"]
        assert "the API key (--key or RAGLINE_API_KEY) is unknown or revoked" in after
        server = engine.settings.server.model_copy(update={"auth": False})
        off = engine.settings.model_copy(update={"server": server})
        assert stdio_caller(off, None, None)().principal is None  # auth off: the one local user
    finally:
        st.close()


# -- streamable HTTP specifics ---------------------------------------------------------------------------

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.mark.integration
def test_http_refuses_missing_and_unknown_keys_like_the_api(http_url: str, keys: Keys) -> None:
    none = httpx.post(http_url, json=INIT, headers=MCP_HEADERS)
    unknown = httpx.post(http_url, json=INIT, headers={**MCP_HEADERS, "Authorization": "Bearer rk_nope"})
    good = httpx.post(http_url, json=INIT, headers={**MCP_HEADERS, **keys.globex_admin})
    assert none.status_code == 401 and "needs an API key" in none.json()["error"]["message"]
    assert unknown.status_code == 401 and "unknown or revoked" in unknown.json()["error"]["message"]
    assert good.status_code == 200 and good.json()["result"]["serverInfo"]["name"] == "ragline"

    async def connect_unknown() -> None:
        async with over_http(http_url)("rk_nope") as client:
            await client.list_tools()

    with pytest.raises(ExceptionGroup) as refused:  # the official client cannot even connect
        anyio.run(connect_unknown)
    assert refused.group_contains(MCPError, match="error response", depth=None)


@pytest.mark.integration
def test_http_queries_are_traced_for_their_key(http_url: str, keys: Keys) -> None:
    async def body(c: Client) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            await tool(c, "ask", question="When does the office open?", collection="kb"),
            await tool(c, "search", query="office", collection="kb"),
        )

    answer, found = run(over_http(http_url), secret(keys.acme_eng), body)
    base = http_url.removesuffix("/mcp")
    for trace_id, kind in ((answer["trace_id"], "ask"), (found["trace_id"], "search")):
        mine = httpx.get(f"{base}/v1/traces/{trace_id}", headers=keys.acme_eng)
        assert mine.status_code == 200 and mine.json()["trace"]["kind"] == kind
        assert httpx.get(f"{base}/v1/traces/{trace_id}", headers=keys.globex_admin).status_code == 404
    audit = httpx.get(f"{base}/v1/audit", params={"action": "query"}, headers=keys.acme_admin).json()
    assert any(json.loads(e["detail"]).get("trace_id") == answer["trace_id"] for e in audit)


@pytest.mark.integration
def test_http_without_auth_on_loopback_refuses_foreign_hosts(tmp_path: Path) -> None:
    engine = fast_engine(tmp_path, server={"auth": False})
    seed_two_tenants(engine)
    engine.upsert_documents([Document("n1", "s", "A note of the local user.")], collection="notes")
    with serving(create_app(engine.settings, engine=engine)) as base:
        ok = httpx.post(f"{base}/mcp", json=INIT, headers=MCP_HEADERS)
        rebound = httpx.post(f"{base}/mcp", json=INIT, headers={**MCP_HEADERS, "Host": "evil.example:80"})

        async def body(c: Client) -> dict[str, Any]:
            return await tool(c, "list_collections")

        listed = run(over_http(f"{base}/mcp"), "", body)
    assert ok.status_code == 200
    assert rebound.status_code in (400, 403, 421)
    # Auth off: the one local user, in the default tenant (the seeded tenants' namespaces are apart).
    assert listed == {"collections": [{"name": "notes", "chunks": 1, "documents": 1}]}


@pytest.mark.integration
def test_without_the_mcp_package_the_endpoint_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ragline.server.mcp_server", None)  # import fails as if absent
    engine = fast_engine(tmp_path, server={"auth": False})
    with TestClient(create_app(engine.settings, engine=engine)) as client:
        r = client.post("/mcp", json=INIT, headers=MCP_HEADERS)
        api = client.get("/v1/collections")
    assert r.status_code == 501 and "pip install 'ragline[mcp]'" in r.json()["error"]["message"]
    assert api.status_code == 200  # the rest of the service runs
