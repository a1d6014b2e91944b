"""Document summaries: extractive (real model for centrality), LLM against a fake server process,
and the summary documents built from chunks."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from ragline.chunking.recursive import RecursiveChunker
from ragline.chunking.sentence import SentenceChunker
from ragline.embedding.base import Embedder
from ragline.embedding.factory import make_embedder
from ragline.errors import ConfigError
from ragline.generation.openai_chat import OpenAIChatModel
from ragline.hierarchy.summaries import (
    ExtractiveSummarizer,
    LLMSummarizer,
    Summarizer,
    document_text,
    summary_documents,
)
from ragline.settings import EmbeddingSettings, LLMSettings
from ragline.testing.doubles import HashEmbedder
from ragline.text.tokenizer import HFTokenizer, packaged_model_dir
from ragline.types import Access, Chunk, Document
from tests.helpers import running_server

from .fake_summary_server import SUMMARY

ON_TOPIC = [
    "The Harbor Lighthouse was built in 1872 on the rocks at the mouth of the harbour.",
    "The lighthouse tower stands 41 metres tall and is painted with red and white bands.",
    "Its lamp was electrified in 1931, replacing the lighthouse's old oil burner.",
    "Lighthouse keepers lived in the small cottage at the foot of the tower until 1985.",
    "Today the lighthouse light is automatic and can be seen twenty nautical miles out to sea.",
]
OFF_TOPIC = "My cousin prefers strawberry jam on toast for breakfast."
LOG_NAME = "ragline.hierarchy.summaries"


@pytest.fixture(scope="module")
def tok() -> HFTokenizer:
    return HFTokenizer(packaged_model_dir())


def chunks_of(
    tok, text: str, *, title: str = "Harbor Lighthouse", doc_id: str = "d1", **doc_kwargs
) -> list[Chunk]:
    doc = Document(id=doc_id, source=f"docs/{doc_id}.md", text=text, title=title, **doc_kwargs)
    return SentenceChunker(tok, min_tokens=1, chunk_size=200).chunk(doc).chunks


def _body(summary: str, title: str = "Harbor Lighthouse") -> str:
    assert summary.startswith(title + "\n")
    return summary[len(title) + 1 :]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings() -> list[str]:
    """Warnings of the summaries module, collected by a handler on its own logger: the service's
    logging setup may stop "ragline" records from reaching the root logger caplog listens on."""
    logger = logging.getLogger(LOG_NAME)
    handler = _Collect()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


# -- extractive, with the real packaged model --


@pytest.fixture(scope="module")
def real_embedder() -> Embedder:
    # The default cache dir, as production uses: the exported ONNX graph is reused across sessions.
    return make_embedder(EmbeddingSettings(), Path.home() / ".cache" / "ragline")


@pytest.mark.integration
@pytest.mark.parametrize("where", [0, 2, 5])
def test_central_sentences_are_picked_never_the_off_topic_one(tok, real_embedder, where: int) -> None:
    sentences = [*ON_TOPIC]
    sentences.insert(where, OFF_TOPIC)
    chunks = chunks_of(tok, " ".join(sentences))
    assert len(chunks) == 6
    summary = ExtractiveSummarizer(real_embedder, max_sentences=3).summarize(chunks)
    body = _body(summary)
    picked = [s for s in sentences if s in body]
    assert len(picked) == 3 and OFF_TOPIC not in picked
    assert body == " ".join(picked)  # document order, nothing else
    assert summary == ExtractiveSummarizer(real_embedder, max_sentences=3).summarize(chunks)


# -- extractive, with a stand-in embedder --


def test_order_is_the_document_order(tok) -> None:
    text = " ".join([*ON_TOPIC, OFF_TOPIC])
    summary = ExtractiveSummarizer(HashEmbedder(), max_sentences=4).summarize(chunks_of(tok, text))
    picked = [s for s in [*ON_TOPIC, OFF_TOPIC] if s in summary]
    assert len(picked) == 4
    assert _body(summary) == " ".join(picked)


def test_short_documents_need_no_embedding(tok) -> None:
    emb = HashEmbedder()
    summarizer = ExtractiveSummarizer(emb)
    assert summarizer.summarize([]) == ""
    assert summarizer.summarize(chunks_of(tok, ON_TOPIC[0])) == f"Harbor Lighthouse\n{ON_TOPIC[0]}"
    assert summarizer.summarize(chunks_of(tok, ON_TOPIC[0], title="")) == ON_TOPIC[0]
    two = " ".join(ON_TOPIC[:2])
    assert summarizer.summarize(chunks_of(tok, two)) == f"Harbor Lighthouse\n{two}"
    assert emb.calls == []


def test_headings_and_code_are_not_quoted(tok) -> None:
    text = "# Harbor Lighthouse\n\n" + " ".join(ON_TOPIC[:3]) + "\n\n```\nx = lamp(); y = {1: 2}\n```\n"
    summary = ExtractiveSummarizer(HashEmbedder(), max_sentences=5).summarize(chunks_of(tok, text))
    assert _body(summary) == " ".join(ON_TOPIC[:3])


def test_overlapping_chunks_do_not_repeat_sentences(tok) -> None:
    text = " ".join(ON_TOPIC * 2)  # every sentence twice, and chunks that overlap
    doc = Document(id="d1", source="s.md", text=text, title="Harbor Lighthouse")
    chunks = RecursiveChunker(tok, chunk_size=40, chunk_overlap=20).chunk(doc).chunks
    assert document_text(chunks) == text
    summarizer = ExtractiveSummarizer(HashEmbedder(), max_sentences=5)
    assert summarizer.candidates(chunks) == ON_TOPIC
    body = _body(summarizer.summarize(chunks))
    assert all(body.count(s) <= 1 for s in ON_TOPIC)


def test_document_text_keeps_offsets_and_paragraph_breaks(tok) -> None:
    text = "# Title\n\nFirst paragraph here.\n\nSecond paragraph, second line\ncontinues here."
    chunks = chunks_of(tok, "  " + text)
    assert document_text(chunks) == text


def test_max_chars_bounds_the_summary(tok) -> None:
    chunks = chunks_of(tok, " ".join(ON_TOPIC))
    for max_chars in (60, 120, 200, 400):
        summary = ExtractiveSummarizer(HashEmbedder(), max_sentences=3, max_chars=max_chars).summarize(chunks)
        assert len(summary) <= max_chars
        assert summary.startswith("Harbor Lighthouse\n") and len(summary) > len("Harbor Lighthouse\n")


@pytest.mark.parametrize("kwargs", [{"max_sentences": 0}, {"max_chars": -5}, {"max_candidates": True}])
def test_rejects_bad_sizes(kwargs) -> None:
    with pytest.raises(ConfigError):
        ExtractiveSummarizer(HashEmbedder(), **kwargs)


def test_is_a_summarizer() -> None:
    assert isinstance(ExtractiveSummarizer(HashEmbedder()), Summarizer)


# -- summary documents --


def test_summary_documents_carry_the_document_fields(tok) -> None:
    access = Access(tenant="acme", groups=("ops",), clearance=2)
    text_a = " ".join(ON_TOPIC)
    a = chunks_of(
        tok,
        text_a,
        doc_id="a",
        metadata={"year": 1872, "category": "history"},
        page_starts=(0, len(text_a) // 2),
        access=access,
    )
    b = chunks_of(tok, "A short note about jam. It is sweet.", doc_id="b", title="Jam")
    assert "page" in a[0].metadata
    mixed = [a[3], b[1], a[0], *a[4:], b[0], a[1], a[2]]  # interleaved and out of order
    docs = summary_documents(mixed, ExtractiveSummarizer(HashEmbedder()))
    assert [d.id for d in docs] == ["a", "b"]
    da, db = docs
    assert (da.source, da.title, da.access) == ("docs/a.md", "Harbor Lighthouse", access)
    assert da.metadata == {"year": 1872, "category": "history"}
    assert da.text.startswith("Harbor Lighthouse\n") and da.page_starts == ()
    assert db.text == "Jam\nA short note about jam. It is sweet." and db.access == Access()


def test_summarizer_sees_each_documents_chunks_in_position_order(tok) -> None:
    seen: list[list[int]] = []

    class Recorder:
        def summarize(self, chunks):
            seen.append([c.position for c in chunks])
            return "x"

    chunks = chunks_of(tok, " ".join(ON_TOPIC))
    summary_documents(list(reversed(chunks)), Recorder())
    assert seen == [[0, 1, 2, 3, 4]]
    assert summary_documents([], Recorder()) == []


# -- LLM summaries against a fake OpenAI-protocol server process --


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    stderr = tmp_path_factory.mktemp("fake_summary") / "stderr.txt"
    with running_server("tests.hierarchy.fake_summary_server", stderr) as url:
        yield url


@pytest.fixture
def server(server_url) -> str:
    httpx.post(f"{server_url}/_reset", timeout=10).raise_for_status()
    return server_url


def _llm(server: str, model: str, *fallbacks: str, **kwargs) -> LLMSummarizer:
    settings = LLMSettings(
        base_url=f"{server}/v1", model=model, fallback_models=fallbacks, max_retries=0, timeout_s=5.0
    )
    return LLMSummarizer(OpenAIChatModel(settings), ExtractiveSummarizer(HashEmbedder()), **kwargs)


def _requests(server: str) -> list[dict]:
    return httpx.get(f"{server}/_log", timeout=10).json()


@pytest.mark.integration
def test_llm_reply_is_the_summary(tok, server, warnings) -> None:
    chunks = chunks_of(tok, " ".join(ON_TOPIC))
    summary = _llm(server, "good").summarize(chunks)
    assert summary == f"Harbor Lighthouse\n{SUMMARY} (title: Harbor Lighthouse)"
    (request,) = _requests(server)
    system, user = request["messages"]
    assert system["role"] == "system" and "2 to 3" in system["content"]
    assert user["content"].startswith("Title: Harbor Lighthouse\n\nDocument:\n")
    assert all(s in user["content"] for s in ON_TOPIC)
    assert warnings == []


@pytest.mark.integration
def test_llm_reads_at_most_max_input_chars(tok, server) -> None:
    chunks = chunks_of(tok, " ".join(ON_TOPIC * 4))
    _llm(server, "good", max_input_chars=300).summarize(chunks)
    user = _requests(server)[0]["messages"][1]["content"]
    excerpt = user.split(":\n", 1)[1]
    assert len(excerpt) <= 300 and "(excerpt; the document continues)" in user


@pytest.mark.integration
def test_http_500_on_every_model_falls_back_with_a_warning(tok, server, warnings) -> None:
    chunks = chunks_of(tok, " ".join([*ON_TOPIC, OFF_TOPIC]))
    summary = _llm(server, "always-500", "also-500").summarize(chunks)
    assert summary == ExtractiveSummarizer(HashEmbedder()).summarize(chunks)
    assert [r["status"] for r in _requests(server)] == [500, 500]
    assert len(warnings) == 1 and "d1" in warnings[0] and "extractive" in warnings[0]


@pytest.mark.integration
def test_empty_reply_falls_back_with_a_warning(tok, server, warnings) -> None:
    chunks = chunks_of(tok, " ".join(ON_TOPIC))
    assert _llm(server, "empty").summarize(chunks) == ExtractiveSummarizer(HashEmbedder()).summarize(chunks)
    assert len(warnings) == 1 and "empty" in warnings[0]


def test_llm_summarizer_rejects_a_bad_input_size() -> None:
    with pytest.raises(ConfigError, match="max_input_chars"):
        LLMSummarizer(object(), ExtractiveSummarizer(HashEmbedder()), max_input_chars=0)  # type: ignore[arg-type]
