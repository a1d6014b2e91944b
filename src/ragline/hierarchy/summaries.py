"""Document summaries: what a documents-first search matches before it looks at chunks.

Example::

    summarizer = ExtractiveSummarizer(embedder)
    docs = summary_documents(chunks, summarizer)  # one summary Document per doc_id, for indexing
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ragline.embedding.base import Embedder, l2_normalize
from ragline.errors import ConfigError, GenerationError
from ragline.generation.base import ChatMessage, ChatModel
from ragline.text.sentences import is_code, is_heading, sentence_spans
from ragline.types import Chunk, Document, Metadata

log = logging.getLogger(__name__)

#: Chunk metadata keys that describe one chunk's place, not the document: left out of summaries.
CHUNK_ONLY_KEYS = frozenset({"page", "page_end"})
#: Candidates this similar to an already chosen sentence are skipped as repeats.
REDUNDANT_COSINE = 0.95

SUMMARY_PROMPT = (
    "You write summaries of documents for a search index. Summarize the document below in 2 to 3 "
    "sentences: what it is about and the key facts it states. Use only the document's text. "
    "Reply with the summary alone: no preamble, no list, no opinion."
)


@runtime_checkable
class Summarizer(Protocol):
    """Turns the chunks of one document (ordered by position) into a short summary text."""

    def summarize(self, chunks: Sequence[Chunk]) -> str: ...


def document_text(chunks: Sequence[Chunk]) -> str:
    """The document's text rebuilt from its chunks, overlaps counted once.

    Chunks hold exact character spans of the document, so they are pasted at their offsets; the
    whitespace between them (never stored) comes back as newlines, one per character, so a
    paragraph break still separates sentences and a cut inside a sentence does not. Chunks whose
    text does not match their span are simply joined by blank lines.
    """
    if not chunks:
        return ""
    if any(c.end - c.start != len(c.text) or c.start < 0 for c in chunks):
        return "\n\n".join(c.text for c in sorted(chunks, key=lambda c: c.position))
    first = min(c.start for c in chunks)
    buf = ["\n"] * (max(c.end for c in chunks) - first)
    for c in chunks:
        buf[c.start - first : c.end - first] = c.text
    return "".join(buf)


def clip(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters at a word boundary, with an ellipsis."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars)
    return text[: cut if cut > 0 else max_chars - 1].rstrip() + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _with_title(title: str, body: str, max_chars: int) -> str:
    if not title:
        return clip(body, max_chars)
    if not body:
        return clip(title, max_chars)
    return clip(f"{title}\n{body}", max_chars)


def centroid_scores(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Cosine of each sentence vector with the centroid of all of them.

    Centroid-based summarization (Radev, Jing, Styś & Tam 2004, "Centroid-based summarization of
    multiple documents", Information Processing & Management 40(6)): the sentences nearest the
    document's centroid are the most central to what it says. The centroid is taken over sentence
    embeddings rather than TF-IDF vectors, as in Rossiello, Basile & Semeraro (2017),
    "Centroid-based Text Summarization through Compositionality of Word Embeddings".
    """
    unit = l2_normalize(np.asarray(vectors, dtype=np.float32))
    centroid = l2_normalize(unit.mean(axis=0, keepdims=True))[0]
    scores: npt.NDArray[np.float32] = (unit @ centroid).astype(np.float32, copy=False)
    return scores


class ExtractiveSummarizer:
    """Summary = document title + the ``max_sentences`` sentences nearest the document centroid.

    Candidates are the document's prose sentences (headings and code left out unless nothing else
    is left); they are embedded in one batch, ranked by cosine with their centroid (see
    :func:`centroid_scores`), chosen best first while the summary stays within ``max_chars``
    (skipping near-repeats of a chosen sentence), then put back in document order. Documents with
    more than ``max_candidates`` sentences are sampled evenly. Deterministic; no embedding call
    when every candidate fits anyway.

    Example::

        summarizer = ExtractiveSummarizer(OnnxEmbedder(), max_sentences=3)
        summarizer.summarize(chunks_of_one_doc)  # "Guide\\nFirst key sentence. Second one. ..."
    """

    def __init__(
        self,
        embedder: Embedder,
        max_sentences: int = 3,
        max_chars: int = 1200,
        *,
        max_candidates: int = 256,
    ) -> None:
        for name, value in (
            ("max_sentences", max_sentences),
            ("max_chars", max_chars),
            ("max_candidates", max_candidates),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.max_chars = max_chars
        self.max_candidates = max_candidates

    def candidates(self, chunks: Sequence[Chunk]) -> list[str]:
        """The document's sentences a summary may quote, in document order, repeats removed."""
        text = document_text(chunks)
        sentences = [_one_line(text[s:e]) for s, e in sentence_spans(text)]
        prose = [s for s in sentences if not is_heading(s) and not is_code(s)]
        out = list(dict.fromkeys(prose or sentences))
        if len(out) > self.max_candidates:
            # Evenly spaced, so the centroid still sees the whole document.
            step = len(out) / self.max_candidates
            out = [out[int(i * step)] for i in range(self.max_candidates)]
        return out

    def summarize(self, chunks: Sequence[Chunk]) -> str:
        title = chunks[0].title if chunks else ""
        sentences = self.candidates(chunks)
        budget = self.max_chars - (len(title) + 1 if title else 0)
        if len(sentences) <= self.max_sentences and len(" ".join(sentences)) <= budget:
            return _with_title(title, " ".join(sentences), self.max_chars)
        vectors = l2_normalize(np.asarray(self.embedder.embed_documents(sentences), dtype=np.float32))
        scores = centroid_scores(vectors)
        # Best first; ties go to the earlier sentence, so the result never depends on sort stability.
        ranked = sorted(range(len(sentences)), key=lambda i: (-float(scores[i]), i))
        chosen: list[int] = []
        used = 0
        for i in ranked:
            if len(chosen) == self.max_sentences:
                break
            cost = len(sentences[i]) + (1 if chosen else 0)
            if used + cost > budget:
                continue
            if any(float(vectors[i] @ vectors[j]) > REDUNDANT_COSINE for j in chosen):
                continue
            chosen.append(i)
            used += cost
        if not chosen:
            # Even the best sentence is longer than the budget: quote its beginning.
            return _with_title(title, clip(sentences[ranked[0]], max(1, budget)), self.max_chars)
        return _with_title(title, " ".join(sentences[i] for i in sorted(chosen)), self.max_chars)


class LLMSummarizer:
    """A 2-3 sentence factual summary written by a chat model; the extractive one when it fails.

    The model reads the title and the first ``max_input_chars`` characters of the document. On
    :class:`~ragline.errors.GenerationError` (every model and retry failed) or an empty reply, the
    ``fallback`` summary is used and a warning logged. The summary is the title, a newline, then
    the reply, clipped to the fallback's ``max_chars`` so both kinds share one size limit.

    Example::

        summarizer = LLMSummarizer(OpenAIChatModel(settings.llm), ExtractiveSummarizer(embedder))
        summarizer.summarize(chunks_of_one_doc)
    """

    def __init__(self, chat: ChatModel, fallback: ExtractiveSummarizer, max_input_chars: int = 6000) -> None:
        if isinstance(max_input_chars, bool) or not isinstance(max_input_chars, int) or max_input_chars < 1:
            raise ConfigError(f"max_input_chars must be a positive int, got {max_input_chars!r}")
        self.chat = chat
        self.fallback = fallback
        self.max_input_chars = max_input_chars

    def messages_for(self, chunks: Sequence[Chunk]) -> list[ChatMessage]:
        """The chat messages sent to summarize ``chunks``."""
        text = document_text(chunks).strip()
        excerpt = clip(text, self.max_input_chars)
        title = chunks[0].title if chunks else ""
        parts = [f"Title: {title}"] if title else []
        note = " (excerpt; the document continues)" if len(excerpt) < len(text) else ""
        parts.append(f"Document{note}:\n{excerpt}")
        return [ChatMessage("system", SUMMARY_PROMPT), ChatMessage("user", "\n\n".join(parts))]

    def summarize(self, chunks: Sequence[Chunk]) -> str:
        if not chunks:
            return self.fallback.summarize(chunks)
        doc_id = chunks[0].doc_id
        try:
            reply = _one_line(self.chat.complete(self.messages_for(chunks)).text)
        except GenerationError as exc:
            log.warning("LLM summary of document %s failed (%s); using the extractive summary", doc_id, exc)
            return self.fallback.summarize(chunks)
        if not reply:
            log.warning("LLM summary of document %s came back empty; using the extractive summary", doc_id)
            return self.fallback.summarize(chunks)
        return _with_title(chunks[0].title, reply, self.fallback.max_chars)


def summary_documents(chunks: Sequence[Chunk], summarizer: Summarizer) -> list[Document]:
    """One summary :class:`Document` per ``doc_id`` among ``chunks``, in order of first appearance.

    Each carries the document's id, source, title and access, and its metadata without the
    per-chunk page keys; its text is the summary. Documents whose summary is empty are left out.

    Example::

        summaries = summary_documents(chunks, ExtractiveSummarizer(embedder))
    """
    by_doc: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    out: list[Document] = []
    for doc_id, doc_chunks in by_doc.items():
        doc_chunks.sort(key=lambda c: c.position)
        text = summarizer.summarize(doc_chunks)
        if not text.strip():
            continue
        first = doc_chunks[0]
        metadata: Metadata = {k: v for k, v in first.metadata.items() if k not in CHUNK_ONLY_KEYS}
        out.append(
            Document(
                id=doc_id,
                source=first.source,
                text=text,
                metadata=metadata,
                title=first.title,
                access=first.access,
            )
        )
    return out
