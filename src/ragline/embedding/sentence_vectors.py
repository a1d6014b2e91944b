"""Sentence vectors: one embedding per sentence of a chunk, besides the chunk's own.

A chunk is searched twice on the dense side: by its vector and by its best sentence's vector
(MaxSim with one query vector). A question about one claim in a 200-token chunk matches that
sentence more closely than the chunk's average (Chen et al., "Dense X Retrieval", 2023).

Two ways to get them (``chunking.sentence_vectors``):

- ``separate`` (default): ``header + sentence`` embedded as a text of its own (the header is the
  chunk's title and section path, so a sentence keeps its document's context). It roughly doubles
  the tokens an ingest embeds, and is what lifts retrieval quality (docs/benchmarks.md).
- ``late``: pooled from the token states of the chunk's own forward pass over the sentence's and
  the header's tokens ("late chunking", Günther et al., 2024): no extra model run, but the vectors
  stay close to the chunk's, so they add less beside it. Embedders without token states
  (OpenAI-compatible endpoints, sentence-transformers) fall back to ``separate``.
- ``mapped``: ``late``, then a linear map fitted once per model on generic text towards the
  ``separate`` vectors (:mod:`ragline.embedding.sentence_map`): still one model run; plain
  ``late`` for a model without a shipped map, ``separate`` for an embedder without token states.
- ``split``: the chunk's own run, then each sentence's block of the states entering the last
  ``chunking.split_layers`` layers (its [CLS], header, sentence and [SEP] rows) through those
  layers alone and mean-pooled: close to ``separate`` for a fraction of its extra work (one model
  run plus ``k / n_layers`` of the sentence tokens). ``separate`` (logged) for an embedder that
  cannot (no hidden-state outputs: OpenAI-compatible endpoints, sentence-transformers; or a
  CLS-pooling model).

Example::

    texts, heads, spans = sentence_layout(chunks)
    vectors, sentence_vecs = embed_with_sentence_vectors(embedder, texts, heads, spans)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal, NamedTuple, Protocol, TypeGuard, runtime_checkable

import numpy as np

from ragline.embedding.base import Embedder, Vectors
from ragline.embedding.sentence_map import sentence_map_for
from ragline.embedding.tokens import PackedTokens
from ragline.embedding.tokens import token_states as embed_token_states
from ragline.errors import EmbeddingError
from ragline.text.sentences import row_spans
from ragline.types import Chunk

log = logging.getLogger(__name__)
_NO_MAP_LOGGED: set[str] = set()
_NO_SPLIT_LOGGED: set[str] = set()

#: A character span ``(start, end)`` of one sentence inside the embedded text.
Span = tuple[int, int]


@runtime_checkable
class SpanEmbedder(Protocol):
    """An embedder that embeds texts and, from the same run, one vector per given span of each."""

    def embed_spans(
        self, texts: Sequence[str], heads: Sequence[int], spans: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        """``(vectors, sentence_vecs)``: ``vectors`` as ``embed_documents(texts)``;
        ``sentence_vecs[i]`` has one unit-length row per span of ``spans[i]`` (pooled over its
        tokens and the tokens of ``texts[i][:heads[i]]``), fewer when truncation cut a span's
        tokens off."""
        ...


@runtime_checkable
class SpanTokenEmbedder(Protocol):
    """An embedder giving chunk vectors, late sentence vectors and token states from one run."""

    def embed_spans_with_tokens(
        self,
        texts: Sequence[str],
        heads: Sequence[int],
        spans: Sequence[Sequence[Span]],
        *,
        content_only: bool = False,
    ) -> tuple[Vectors, list[Vectors], list[Vectors]]: ...


@runtime_checkable
class SplitEmbedder(Protocol):
    """An embedder giving chunk vectors, ``split`` sentence vectors and optionally token states
    from one run over the chunk texts (:meth:`ragline.embedding.onnx.OnnxEmbedder.embed_split`)."""

    def embed_split(
        self,
        texts: Sequence[str],
        heads: Sequence[int],
        spans: Sequence[Sequence[Span]],
        *,
        layers: int,
        with_tokens: bool = False,
        content_only: bool = False,
    ) -> tuple[Vectors, list[Vectors], list[Vectors] | None]: ...


@runtime_checkable
class SentenceTextEmbedder(Protocol):
    """An embedder that embeds sentence texts apart from chunk texts (to count them apart)."""

    def embed_sentence_texts(self, texts: Sequence[str]) -> Vectors: ...


def sentence_layout(chunks: Sequence[Chunk]) -> tuple[list[str], list[int], list[list[Span]]]:
    """Each chunk's embedded text, the length of its header, and its sentences' spans in it
    (:func:`ragline.text.sentences.row_spans`)."""
    texts, heads, spans = [], [], []
    for c in chunks:
        text = c.embed_text
        head = len(text) - len(c.text)
        texts.append(text)
        heads.append(head)
        # A table's rows each a sentence: as one "sentence" (the splitter's view of a table) a
        # table of error codes or functions is one vector of a mush of rows, cut at the model's
        # limit; a row's own vector is what a question about that row finds.
        spans.append([(head + a, head + b) for a, b in row_spans(c.text)] or [(head, len(text))])
    return texts, heads, spans


def separate_sentence_vectors(
    embedder: Embedder, texts: Sequence[str], heads: Sequence[int], spans: Sequence[Sequence[Span]]
) -> list[Vectors]:
    """Sentence vectors as separate texts (``header + sentence``), for embedders without token states."""
    flat = [texts[i][: heads[i]] + texts[i][a:b] for i in range(len(texts)) for a, b in spans[i]]
    if isinstance(embedder, SentenceTextEmbedder):
        vecs = embedder.embed_sentence_texts(flat)
    else:
        vecs = embedder.embed_documents(flat)
    out, at = [], 0
    for s in spans:
        out.append(vecs[at : at + len(s)])
        at += len(s)
    return out


def embed_with_sentence_vectors(
    embedder: Embedder,
    texts: Sequence[str],
    heads: Sequence[int],
    spans: Sequence[Sequence[Span]],
    *,
    late: bool = False,
) -> tuple[Vectors, list[Vectors]]:
    """Chunk vectors and sentence vectors: ``header + sentence`` embedded as texts of their own, or,
    with ``late``, pooled from the chunk's own model run when ``embedder`` has token states."""
    if len(texts) != len(heads) or len(texts) != len(spans):
        raise EmbeddingError(
            f"got {len(texts)} texts, {len(heads)} heads and {len(spans)} span lists: "
            "pass one of each per text"
        )
    if late and isinstance(embedder, SpanEmbedder):
        return embedder.embed_spans(texts, heads, spans)
    return embedder.embed_documents(texts), separate_sentence_vectors(embedder, texts, heads, spans)


def empty_sentence_vectors(n: int, dimension: int) -> list[Vectors]:
    """``n`` chunks without sentence vectors."""
    return [np.zeros((0, dimension), dtype=np.float32) for _ in range(n)]


class ChunkEmbeddings(NamedTuple):
    """One batch of chunks' embeddings, one entry per chunk; None where not configured."""

    vectors: Vectors
    sentence_vectors: list[Vectors] | None
    # Float32 matrices from embed_chunks; ingest packs them (PackedTokens) as it collects them.
    tokens: Sequence[Vectors | PackedTokens] | None


SentenceVectorForm = Literal["off", "late", "mapped", "split", "separate"]


def pools_spans(embedder: Embedder) -> bool:
    """Whether ``embedder`` pools sentence vectors inside its own model run (``late``); a wrapper
    (the embedding cache) answers for the model it wraps, which is what decides."""
    inner = getattr(embedder, "inner", None)
    if inner is not None and inner is not embedder:
        return pools_spans(inner)
    return isinstance(embedder, SpanEmbedder)


def splits_spans(embedder: Embedder) -> TypeGuard[SplitEmbedder]:
    """Whether ``embedder`` makes ``split`` sentence vectors in its own model run; a wrapper
    (the embedding cache) answers for the model it wraps, which is what decides."""
    if not isinstance(embedder, SplitEmbedder):
        return False
    inner = getattr(embedder, "inner", None)
    return splits_spans(inner) if inner is not None and inner is not embedder else True


def mapped_sentence_vectors(
    embedder: Embedder, vectors: Vectors, sentence_vecs: list[Vectors]
) -> list[Vectors]:
    """Late-pooled sentence vectors put through the model's shipped map (``"mapped"``); as they
    are when no map ships for the model (logged once)."""
    smap = sentence_map_for(embedder.model_id)
    if smap is None:
        if embedder.model_id not in _NO_MAP_LOGGED:
            _NO_MAP_LOGGED.add(embedder.model_id)
            log.info("no sentence map ships for %s: storing late sentence vectors", embedder.model_id)
        return sentence_vecs
    return [smap.apply(s, v) for s, v in zip(sentence_vecs, vectors, strict=True)]


def embed_chunks(
    embedder: Embedder,
    texts: Sequence[str],
    heads: Sequence[int],
    spans: Sequence[Sequence[Span]],
    *,
    sentence_vectors: SentenceVectorForm,
    token_states: bool,
    content_tokens: bool = False,
    split_layers: int = 1,
) -> ChunkEmbeddings:
    """Chunk vectors, sentence vectors (``chunking.sentence_vectors``) and token states
    (``chunking.token_states``) of the texts :func:`sentence_layout` made, as ingest stores them.

    ``"mapped"`` is ``"late"`` put through :func:`mapped_sentence_vectors`; an embedder that
    cannot pool spans (no token states) stores ``"separate"`` vectors, unmapped. ``"split"`` runs
    the last ``split_layers`` layers per sentence (:class:`SplitEmbedder`); an embedder that
    cannot stores ``"separate"`` vectors (logged once).
    """
    if sentence_vectors == "split":
        if splits_spans(embedder):
            vectors, sentence_vecs, tokens = embedder.embed_split(
                texts,
                heads,
                spans,
                layers=split_layers,
                with_tokens=token_states,
                content_only=content_tokens,
            )
            return ChunkEmbeddings(vectors, sentence_vecs, tokens)
        if embedder.model_id not in _NO_SPLIT_LOGGED:
            _NO_SPLIT_LOGGED.add(embedder.model_id)
            log.info(
                "%s gives no hidden states to run its last layers per sentence: storing separate "
                "sentence vectors for chunking.sentence_vectors = 'split'",
                embedder.model_id,
            )
        sentence_vectors = "separate"
    if sentence_vectors == "mapped" and not pools_spans(embedder):
        # Its "late" vectors would be sentence texts embedded apart, already what the map
        # estimates: mapping them again (the sentence-transformers backend on the packaged
        # model's folder shares its fingerprint, so its map) would move them away from it.
        sentence_vectors = "separate"
    got = _embed_chunks(
        embedder,
        texts,
        heads,
        spans,
        sentence_vectors="late" if sentence_vectors == "mapped" else sentence_vectors,
        token_states=token_states,
        content_tokens=content_tokens,
    )
    if sentence_vectors != "mapped" or got.sentence_vectors is None:
        return got
    return got._replace(sentence_vectors=mapped_sentence_vectors(embedder, got.vectors, got.sentence_vectors))


def _embed_chunks(
    embedder: Embedder,
    texts: Sequence[str],
    heads: Sequence[int],
    spans: Sequence[Sequence[Span]],
    *,
    sentence_vectors: Literal["off", "late", "separate"],
    token_states: bool,
    content_tokens: bool = False,
) -> ChunkEmbeddings:
    """:func:`embed_chunks` for the forms that need no map.

    With token states, the chunk vectors come from the same model run, and so do ``late``
    sentence vectors when the embedder pools both at once (:class:`SpanTokenEmbedder`: the
    ONNX backend); otherwise they take a second run. ``content_tokens`` keeps only content words'
    states (``chunking.token_state_tokens``).
    """
    if token_states and sentence_vectors == "late" and isinstance(embedder, SpanTokenEmbedder):
        vectors, sentence_vecs, states = embedder.embed_spans_with_tokens(
            texts, heads, spans, content_only=content_tokens
        )
        return ChunkEmbeddings(vectors, sentence_vecs, states)
    tokens = None
    if token_states:
        vectors, tokens = embed_token_states(embedder, texts, content_only=content_tokens)
    if sentence_vectors == "off":
        if tokens is None:
            vectors = embedder.embed_documents(texts)
        return ChunkEmbeddings(vectors, None, tokens)
    if sentence_vectors == "separate" and tokens is not None:
        return ChunkEmbeddings(vectors, separate_sentence_vectors(embedder, texts, heads, spans), tokens)
    late = sentence_vectors == "late"
    late_vectors, sentence_vecs = embed_with_sentence_vectors(embedder, texts, heads, spans, late=late)
    return ChunkEmbeddings(late_vectors if tokens is None else vectors, sentence_vecs, tokens)
