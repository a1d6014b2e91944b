"""``ragline mcp``: the MCP server over stdio, spawned as a subprocess by the official ``mcp`` client,
on a data directory of the real model and LanceDB (a second process cannot share the in-process
test doubles). Tool details and the full access matrix are in tests/server/test_mcp_server.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

import ragline
from tests.helpers import REPO_ROOT, TWO_TENANTS, seed_two_tenants
from tests.server.conftest import Keys, make_keys

pytestmark = pytest.mark.integration
COMMAND = [sys.executable, "-m", "ragline.cli.main", "mcp"]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAGLINE_API_KEY"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT / "src"), env.get("PYTHONPATH")) if p)
    return env | extra


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("mcp-stdio")
    seed_two_tenants(ragline.open(d))
    return d


@pytest.fixture(scope="module")
def keys(data_dir: Path) -> Keys:
    return make_keys(data_dir)


def session(data_dir: Path, key: str, body: Callable[[Client], Awaitable[Any]], log: Path) -> Any:
    """Run ``body`` against ``ragline mcp`` started with the key in RAGLINE_API_KEY."""
    params = StdioServerParameters(
        command=COMMAND[0],
        args=[*COMMAND[1:], "--data-dir", str(data_dir)],
        env=environment(RAGLINE_API_KEY=key),
        cwd=REPO_ROOT,
    )

    async def main() -> Any:
        with log.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                return await body(client)

    try:
        return anyio.run(main)
    except BaseException:
        print(log.read_text(), file=sys.stderr)  # the server's stderr, for the failure report
        raise


def secret(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def structured(client: Client, name: str, **args: Any) -> dict[str, Any]:
    r = await client.call_tool(name, args)
    assert not r.is_error and r.structured_content is not None, r.content
    return r.structured_content


async def error(client: Client, name: str, **args: Any) -> str:
    r = await client.call_tool(name, args)
    assert r.is_error, r.content
    return str(r.content[0].text)  # type: ignore[union-attr]


def test_stdio_serves_every_tool_for_the_keys_caller(data_dir: Path, keys: Keys, tmp_path: Path) -> None:
    async def body(c: Client) -> dict[str, Any]:
        ask = await structured(c, "ask", question="When do salary reviews happen?", collection="kb")
        return {
            "tools": {t.name for t in (await c.list_tools()).tools},
            "collections": await structured(c, "list_collections"),
            "search": await structured(c, "search", query="When does the office open?", collection="kb"),
            "ask": ask,
            "cited": [(await c.read_resource(q["uri"])).contents[0].text for q in ask["citations"]],
            "span": await structured(c, "read_span", collection="kb", doc_id="handbook", start=4, end=8),
        }

    out = session(data_dir, secret(keys.acme_admin), body, tmp_path / "stderr.log")
    assert out["tools"] == {"list_collections", "search", "ask", "read_span"}
    assert {c["name"]: c["documents"] for c in out["collections"]["collections"]} == {"kb": 2, "private": 1}
    assert out["search"]["hits"][0]["doc_id"] == "handbook"
    assert out["search"]["trace_id"] is None  # stdio queries are not traced
    answer = out["ask"]
    assert "March" in answer["text"] and answer["citations"][0]["doc_id"] == "salaries"
    assert out["cited"] == [q["quote"] for q in answer["citations"]]
    assert out["span"]["text"] == "Acme"


def test_stdio_key_of_another_tenant_sees_only_its_own(data_dir: Path, keys: Keys, tmp_path: Path) -> None:
    salaries = next(t for i, t, _ in TWO_TENANTS[("acme", "kb")] if i == "salaries")

    async def body(c: Client) -> dict[str, Any]:
        return {
            "collections": await structured(c, "list_collections"),
            "hits": (await structured(c, "search", query=salaries, collection="kb"))["hits"],
            "salaries": await error(c, "read_span", collection="kb", doc_id="salaries"),
            "absent": await error(c, "read_span", collection="kb", doc_id="never-was"),
            "handbook": (await structured(c, "read_span", collection="kb", doc_id="handbook"))["text"],
        }

    out = session(data_dir, secret(keys.globex_admin), body, tmp_path / "stderr.log")
    assert [(c["name"], c["documents"]) for c in out["collections"]["collections"]] == [("kb", 2)]
    assert out["hits"] and {h["doc_id"] for h in out["hits"]} <= {"volcano", "handbook"}
    assert all("Salary" not in h["text"] for h in out["hits"])
    assert out["salaries"] == out["absent"].replace("never-was", "salaries")
    assert out["handbook"].startswith("Planted note: Globex")


@pytest.mark.parametrize(
    ("args", "key", "message"),
    [
        ([], None, "needs an API key: pass --key or set RAGLINE_API_KEY"),
        (["--key", "rl_0123456789ab_" + "x" * 43], None, "is unknown or revoked"),
        ([], "not-a-key", "is unknown or revoked"),
    ],
)
def test_stdio_refuses_a_missing_or_unknown_key_at_start(
    data_dir: Path, keys: Keys, args: list[str], key: str | None, message: str
) -> None:
    env = environment(**({"RAGLINE_API_KEY": key} if key else {}))
    done = subprocess.run(
        [*COMMAND, "--data-dir", str(data_dir), *args],
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert message in " ".join(done.stderr.split()) and done.stdout == ""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_transport_serves_the_tools_for_each_requests_key(
    data_dir: Path, keys: Keys, tmp_path: Path
) -> None:
    """``ragline mcp --http``: streamable HTTP at /mcp of a real server process, each request's key
    in its Bearer header (acme's admin sees acme's collections, globex's admin only its own)."""
    import httpx
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    port = _free_port()
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*COMMAND, "--http", "--port", str(port), "--data-dir", str(data_dir)],
            env=environment(),
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            anyio.run(anyio.sleep, 0.2)

        async def collections(key: str) -> list[str]:
            headers = {"Authorization": f"Bearer {key}"}
            async with (
                create_mcp_http_client(headers=headers) as http,
                Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
            ):
                got = await structured(client, "list_collections")
                return sorted(c["name"] for c in got["collections"])

        assert anyio.run(collections, secret(keys.acme_admin)) == ["kb", "private"]
        assert anyio.run(collections, secret(keys.globex_admin)) == ["kb"]
        assert httpx.post(f"{url}/mcp", json={}, timeout=10).status_code == 401  # no key, no MCP
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--http", "--key", "x"], "--key is for stdio"), (["--port", "9"], "--host and --port need --http")],
)
def test_transport_options_that_do_not_fit_are_refused(data_dir: Path, args: list[str], message: str) -> None:
    done = subprocess.run(
        [*COMMAND, "--data-dir", str(data_dir), *args],
        env=environment(),
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 2 and message in " ".join(done.stderr.split()), done.stderr
