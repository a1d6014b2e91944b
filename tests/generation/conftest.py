"""Fixtures for the generation tests: a fake OpenAI-compatible chat server in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

SERVER_SCRIPT = Path(__file__).with_name("fake_chat_server.py")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory):
    # stderr goes to a file: a pipe nobody reads could fill up and stall the server.
    err_path = tmp_path_factory.mktemp("fake_chat") / "stderr.txt"
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT)], stdout=subprocess.PIPE, stderr=err, text=True
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            proc.kill()
            proc.wait(timeout=10)
            pytest.fail(f"fake chat server did not start: {line!r} {err_path.read_text()}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


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


