"""LLM-driven retrieval stages through the engine, against a local process speaking the
chat-completions protocol: they call the LLM, use its reply, and fall back offline when it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

import ragline
from ragline.settings import RetrievalSettings
from ragline.types import Document
from tests.helpers import FakeServer, running_server

pytestmark = pytest.mark.integration

DOCS = [
    (
        "k1",
        "Key rotation",
        "Rotate API credentials every ninety days and revoke the old key after deploying.",
    ),
    ("k2", "Key expiry", "API keys expire after a year unless they are renewed by an admin."),
    ("k3", "Lunch menu", "The canteen serves soup on Mondays and fish on Fridays."),
    ("k4", "BM25", "BM25 recall on the benchmark was 0.62 at 100 documents."),
    ("k5", "SPLADE", "SPLADE recall on the benchmark was 0.71 at 100 documents."),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    stderr = tmp_path_factory.mktemp("fq") / "stderr.txt"
    with running_server("tests.query.fake_query_server", stderr) as url:
        yield FakeServer(url)


def _engine(tmp: Path, server: FakeServer, model: str) -> ragline.engine.Engine:
    eng = ragline.open(
        tmp, llm={"base_url": server.base_url, "model": model, "max_retries": 0, "timeout_s": 5.0}
    )
    eng.upsert_documents([Document(id=i, source="kb", title=t, text=x) for i, t, x in DOCS], collection="kb")
    return eng


def _ids(hits: list) -> list[str]:
    return [h.chunk.doc_id for h in hits]


def test_multi_query_hyde_and_decompose_use_the_llm(tmp_path: Path, server: FakeServer) -> None:
    eng = _engine(tmp_path, server, "good")
    r = eng.retriever(collection="kb", retrieval=RetrievalSettings(multi_query=3, hyde=True))
    hits = r.run("How do I rotate API keys?", 3)
    assert set(_ids(hits)[:2]) == {"k1", "k2"}
    tasks = [m["messages"][0]["content"] for m in server.log()]
    assert any("You write search queries" in t for t in tasks) and any(
        "Write a short passage" in t for t in tasks
    )
    d = eng.retriever(collection="kb", retrieval=RetrievalSettings(decompose=True))
    # The fake LLM splits this into "recall of BM25?" and "recall of SPLADE?": both documents come back.
    assert {"k4", "k5"} <= set(_ids(d.run("Compare the recall of BM25 and SPLADE", 2 + 1)))


def test_every_llm_failure_falls_back_to_offline_retrieval(tmp_path: Path, server: FakeServer) -> None:
    eng = _engine(tmp_path, server, "fail-a")
    staged = eng.retriever(collection="kb", retrieval=RetrievalSettings(multi_query=3, hyde=True))
    plain = eng.retriever(collection="kb", retrieval=RetrievalSettings())
    q = "When do API keys expire?"
    assert _ids(staged.run(q, 3)) == _ids(plain.run(q, 3))
    llm_rerank = eng.retriever(collection="kb", retrieval=RetrievalSettings(rerank=["llm"]))
    assert _ids(llm_rerank.run(q, 3)) == _ids(plain.run(q, 3))
