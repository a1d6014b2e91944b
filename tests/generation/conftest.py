"""Fixtures for the generation tests: a fake OpenAI-compatible chat server in a subprocess."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers import running_server

SERVER_SCRIPT = Path(__file__).with_name("fake_chat_server.py")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory):
    with running_server(SERVER_SCRIPT, tmp_path_factory.mktemp("fake_chat") / "stderr.txt") as url:
        yield url


@pytest.fixture
def server(server_url):
    """The server's root URL, with its request log cleared; ``log()`` returns requests seen since."""

    class Server:
        url = server_url
        base_url = f"{server_url}/v1"

        @staticmethod
        def log() -> list[dict]:
            return httpx.get(f"{server_url}/_log", timeout=10).json()

        @staticmethod
        def calls() -> list[tuple[str, bool, int]]:
            return [(r["model"], r["stream"], r["status"]) for r in Server.log()]

    httpx.post(f"{server_url}/_reset", timeout=10).raise_for_status()
    return Server


