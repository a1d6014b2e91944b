"""OpenAIEmbedder against a real local HTTP server (a subprocess) speaking the embeddings protocol."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from pydantic import ValidationError

from ragline.embedding.base import Embedder
from ragline.embedding.factory import make_embedder
from ragline.embedding.openai import OpenAIEmbedder
from ragline.errors import EmbeddingError
from ragline.settings import EmbeddingSettings
from tests.helpers import FakeServer, running_server

from .fake_openai_server import DIM, fake_vector

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    stderr = tmp_path_factory.mktemp("fake_openai") / "stderr.txt"
    with running_server("tests.embedding.fake_openai_server", stderr) as url:
        yield url


@pytest.fixture
def server(server_url) -> FakeServer:
    """The fake embeddings server, its request log cleared."""
    return FakeServer(server_url)


def _expected(texts):
    raw = np.asarray([fake_vector(t) for t in texts], dtype=np.float32)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def test_batches_in_order_and_normalised(server):
    emb = OpenAIEmbedder(server.base_url, "plain", dimension=DIM, batch_size=2)
    assert isinstance(emb, Embedder)
    texts = ["one", "two", "three", "four", "five"]
    out = emb.embed_documents(texts)
    assert out.shape == (5, DIM)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, _expected(texts), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    log = server.log()
    assert [r["input"] for r in log] == [["one", "two"], ["three", "four"], ["five"]]
    assert {r["model"] for r in log} == {"plain"}
    assert all(r["authorization"] is None for r in log)


def test_query(server):
    emb = OpenAIEmbedder(server.base_url + "/", "plain", dimension=DIM)  # trailing slash tolerated
    q = emb.embed_query("what is a vector?")
    assert q.shape == (DIM,)
    np.testing.assert_allclose(q, _expected(["what is a vector?"])[0], atol=1e-6)
    assert emb.model_id == f"openai:{server.base_url}:plain"


def test_empty_input_makes_no_request_when_dimension_known(server):
    emb = OpenAIEmbedder(server.base_url, "plain", dimension=DIM)
    assert emb.embed_documents([]).shape == (0, DIM)
    assert server.log() == []


def test_dimension_is_probed_when_not_configured(server):
    emb = OpenAIEmbedder(server.base_url, "plain")
    assert emb.dimension == DIM
    assert emb.dimension == DIM  # probed once, then remembered
    assert len(server.log()) == 1
    assert emb.embed_documents([]).shape == (0, DIM)
    assert len(server.log()) == 1


def test_shuffled_response_is_sorted_by_index(server):
    emb = OpenAIEmbedder(server.base_url, "shuffled", dimension=DIM)
    texts = ["first", "second", "third", "fourth"]
    np.testing.assert_allclose(emb.embed_documents(texts), _expected(texts), atol=1e-6)


@pytest.mark.parametrize(("model", "status"), [("flaky-429", 429), ("err-500-once", 500)])
def test_retries_transient_errors(server, model, status):
    emb = OpenAIEmbedder(server.base_url, model, dimension=DIM, batch_size=2)
    texts = ["retry me", "and me", "me too"]
    out = emb.embed_documents(texts)
    np.testing.assert_allclose(out, _expected(texts), atol=1e-6)
    log = server.log()
    # each batch failed once and then succeeded
    assert [(r["input"], r["status"]) for r in log] == [
        (["retry me", "and me"], status),
        (["retry me", "and me"], 200),
        (["me too"], status),
        (["me too"], 200),
    ]


def test_gives_up_after_max_retries(server):
    emb = OpenAIEmbedder(server.base_url, "always-503", dimension=DIM, max_retries=1)
    with pytest.raises(EmbeddingError, match="503") as info:
        emb.embed_query("never works")
    assert server.base_url in str(info.value)
    assert [r["status"] for r in server.log()] == [503, 503]


def test_unauthorized_is_not_retried_and_names_the_api_key(server):
    emb = OpenAIEmbedder(server.base_url, "unauthorized", dimension=DIM)
    with pytest.raises(EmbeddingError) as info:
        emb.embed_documents(["secret stuff"])
    msg = str(info.value)
    assert "401" in msg
    assert "API key" in msg
    assert len(server.log()) == 1
    ok = OpenAIEmbedder(server.base_url, "unauthorized", api_key="secret", dimension=DIM)
    np.testing.assert_allclose(ok.embed_documents(["secret stuff"]), _expected(["secret stuff"]), atol=1e-6)
    assert server.log()[-1]["authorization"] == "Bearer secret"


@pytest.mark.parametrize("model", ["bad-json", "missing-data"])
def test_malformed_response(server, model):
    emb = OpenAIEmbedder(server.base_url, model, dimension=DIM)
    with pytest.raises(EmbeddingError, match="malformed"):
        emb.embed_documents(["a", "b"])


def test_wrong_vector_count(server):
    emb = OpenAIEmbedder(server.base_url, "too-few", dimension=DIM)
    with pytest.raises(EmbeddingError, match="2 vectors for 3 inputs"):
        emb.embed_documents(["a", "b", "c"])


def test_wrong_dimension_names_the_setting(server):
    emb = OpenAIEmbedder(server.base_url, "wrong-dim", dimension=DIM)
    with pytest.raises(EmbeddingError, match=r"embedding\.dimension") as info:
        emb.embed_documents(["a"])
    assert "3-d" in str(info.value)


def test_unreachable_port():
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    emb = OpenAIEmbedder(f"http://127.0.0.1:{port}/v1", "plain", dimension=DIM, max_retries=1, timeout_s=5)
    with pytest.raises(EmbeddingError, match="unreachable after 2 tries"):
        emb.embed_query("hello")


def test_base_url_needs_a_scheme():
    with pytest.raises(EmbeddingError, match=r"embedding\.base_url"):
        OpenAIEmbedder("localhost:8000/v1", "plain")


def test_make_embedder_builds_openai(server, tmp_path):
    settings = EmbeddingSettings(
        backend="openai", base_url=server.base_url, model="plain", api_key="k", dimension=DIM, batch_size=3
    )
    emb = make_embedder(settings, tmp_path)
    assert isinstance(emb, OpenAIEmbedder)
    assert emb.dimension == DIM
    texts = ["a", "b", "c", "d"]
    np.testing.assert_allclose(emb.embed_documents(texts), _expected(texts), atol=1e-6)
    log = server.log()
    assert [len(r["input"]) for r in log] == [3, 1]
    assert all(r["authorization"] == "Bearer k" for r in log)


def test_settings_require_base_url_for_openai():
    with pytest.raises(ValidationError, match="base_url"):
        EmbeddingSettings(backend="openai")
