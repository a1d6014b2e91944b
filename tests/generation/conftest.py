"""Fixtures for the generation tests: a fake OpenAI-compatible chat server in a subprocess."""

from __future__ import annotations

import pytest

from ragline.generation.reader import OnnxReader, packaged_reader_dir
from tests.helpers import FakeServer, running_server


@pytest.fixture(scope="session")
def server_url(tmp_path_factory):
    stderr = tmp_path_factory.mktemp("fake_chat") / "stderr.txt"
    with running_server("tests.generation.fake_chat_server", stderr) as url:
        yield url


class ChatServer(FakeServer):
    def calls(self) -> list[tuple[str, bool, int]]:
        """(model, stream, status) of each chat request received."""
        return [(r["model"], r["stream"], r["status"]) for r in self.log()]


@pytest.fixture
def server(server_url) -> ChatServer:
    """The fake chat server, its request log cleared."""
    return ChatServer(server_url)


@pytest.fixture(scope="session")
def judge_url(tmp_path_factory):
    stderr = tmp_path_factory.mktemp("fake_judge") / "stderr.txt"
    with running_server("tests.generation.fake_judge_server", stderr) as url:
        yield url


@pytest.fixture
def judge_server(judge_url) -> FakeServer:
    """The fake support-judge server, its request log cleared."""
    return FakeServer(judge_url)


@pytest.fixture(scope="session")
def reader() -> OnnxReader:
    """The packaged extractive reader (int8 ONNX), loaded once for the session."""
    r = OnnxReader.packaged()
    assert r is not None, f"the package ships a reader at {packaged_reader_dir()}"
    return r
