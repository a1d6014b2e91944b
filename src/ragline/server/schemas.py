"""The HTTP API's request and response bodies: the versioned /v1 contract, independent of the
engine's internal types (converters live next to each response model)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from ragline.service_state import Conversation, Usage
from ragline.store.base import DocumentInfo
from ragline.store.filters import FIELD_RE, MAX_FIELD_CHARS
from ragline.store.rows import DocumentView
from ragline.types import Answer, Citation, Hit, SentenceSupport

# The limits the engine and the state store enforce, declared here so the OpenAPI schema says them.
GROUP_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$"
COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# The upload form's comma-separated groups (empty entries are skipped).
GROUP_LIST_PATTERN = r"^ *(?:[A-Za-z0-9][A-Za-z0-9.-]{0,63})? *(?:, *(?:[A-Za-z0-9][A-Za-z0-9.-]{0,63})? *)*$"
# Stored document ids are "<tenant>/<id>" (id up to 256) or a loader's id; generous, but bounded.
MAX_DOC_ID_CHARS = 1024

Group = Annotated[str, StringConstraints(pattern=GROUP_PATTERN)]
CollectionPath = Annotated[
    str,
    Path(pattern=COLLECTION_PATTERN, description="Collection name: letters, digits, '.', '_', '-' (max 64)."),
]
DocIdPath = Annotated[str, Path(min_length=1, max_length=MAX_DOC_ID_CHARS)]
AuditAction = Literal["ingest", "delete", "query", "key_create", "key_revoke"]
_MetaScalar = str | int | float | bool
MetadataIn = Annotated[
    dict[
        Annotated[str, StringConstraints(pattern=FIELD_RE.pattern, max_length=MAX_FIELD_CHARS)], _MetaScalar
    ],
    # One schema for the keys (pydantic would split the pattern into patternProperties).
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": FIELD_RE.pattern, "maxLength": MAX_FIELD_CHARS},
            "additionalProperties": {
                "anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}]
            },
        }
    ),
]


class _In(BaseModel):
    # Unknown fields are rejected: a misspelt option must not silently do something else.
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    type: str = Field(description="Error class, e.g. ConfigError, CollectionNotFound, AuthError.")
    message: str = Field(description="What was wrong and what to do about it.")


class ErrorResponse(BaseModel):
    error: ErrorBody


# Every /v1 route may answer with these; the message always says what to do.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Bad input (malformed JSON, bad filter, bad name)"},
    401: {"model": ErrorResponse, "description": "Missing, unknown or revoked API key"},
    403: {"model": ErrorResponse, "description": "The key's role or clearance does not allow this"},
    404: {"model": ErrorResponse, "description": "Unknown collection, document, job or trace"},
    413: {"model": ErrorResponse, "description": "Body or upload over the size limit"},
    422: {"model": ErrorResponse, "description": "A field is missing, unknown or out of range"},
    503: {
        "model": ErrorResponse,
        "description": "Overloaded (retry after Retry-After seconds) or the state store unreachable",
    },
}


# -- documents and jobs ----------------------------------------------------------------------------


class DocumentIn(_In):
    id: str = Field(min_length=1, max_length=256, description="Your id; re-sending it replaces the document.")
    text: str = Field(min_length=1)
    title: str = ""
    metadata: MetadataIn = Field(default_factory=dict)
    groups: list[Group] = Field(
        default_factory=list, description="Groups allowed to read it; empty: everyone in your tenant."
    )
    clearance: int = Field(default=0, ge=0, le=100)


class DocumentsIn(_In):
    documents: list[DocumentIn] = Field(min_length=1, max_length=10_000)


class JobErrorOut(BaseModel):
    file: str
    error: str


class JobOut(BaseModel):
    id: str
    collection: str
    status: Literal["queued", "running", "done", "failed"]
    total: int = Field(description="Files (or documents) in the job.")
    done: int
    chunks: int
    errors: list[JobErrorOut]
    message: str
    created_at: float
    updated_at: float


class AccessOut(BaseModel):
    tenant: str
    groups: list[str]
    clearance: int


class DocumentOut(BaseModel):
    id: str
    source: str
    title: str
    chunks: int
    metadata: dict[str, Any]
    access: AccessOut

    @classmethod
    def of(cls, d: DocumentInfo) -> DocumentOut:
        a = d.access
        return cls(
            id=d.doc_id,
            source=d.source,
            title=d.title,
            chunks=d.chunks,
            metadata=dict(d.metadata),
            access=AccessOut(tenant=a.tenant, groups=list(a.groups), clearance=a.clearance),
        )


class ChunkOut(BaseModel):
    id: str
    position: int
    start: int
    end: int
    section: str


class DocumentDetailOut(DocumentOut):
    text: str = Field(description="The document text rebuilt from its chunks; citation offsets index it.")
    chunk_spans: list[ChunkOut]

    @classmethod
    def of_view(cls, v: DocumentView) -> DocumentDetailOut:
        base = DocumentOut.of(v.info)
        return cls(
            **base.model_dump(),
            text=v.text,
            chunk_spans=[
                ChunkOut(id=c.id, position=c.position, start=c.start, end=c.end, section=c.section)
                for c in v.chunks
            ],
        )


class DocumentListOut(BaseModel):
    documents: list[DocumentOut]
    limit: int
    offset: int


class CollectionOut(BaseModel):
    name: str
    chunks: int
    documents: int


# -- search and ask ----------------------------------------------------------------------------------


class SearchIn(_In):
    query: str = Field(min_length=1, max_length=8192)
    mode: Literal["dense", "keyword", "hybrid"] | None = None
    top_k: int = Field(default=10, ge=1, le=1000)
    filters: dict[str, Any] | None = Field(default=None, description='e.g. {"year": {"$gte": 2020}}')


class RetrieverScoreOut(BaseModel):
    rank: int
    score: float


class HitOut(BaseModel):
    score: float
    retrievers: dict[str, RetrieverScoreOut]
    chunk_id: str
    doc_id: str
    source: str
    title: str
    section: str
    start: int
    end: int
    text: str
    metadata: dict[str, Any]

    @classmethod
    def of(cls, h: Hit) -> HitOut:
        c = h.chunk
        return cls(
            score=h.score,
            retrievers={n: RetrieverScoreOut(rank=s.rank, score=s.score) for n, s in h.retrievers.items()},
            chunk_id=c.id,
            doc_id=c.doc_id,
            source=c.source,
            title=c.title,
            section=c.section,
            start=c.start,
            end=c.end,
            text=c.text,
            metadata=dict(c.metadata),
        )


class SearchOut(BaseModel):
    hits: list[HitOut]
    trace_id: str


class TurnIn(_In):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=100_000)


CONVERSATION_ID_PATTERN = r"^[0-9a-f]{32}$"
ConversationIdPath = Annotated[
    str, Path(pattern=CONVERSATION_ID_PATTERN, description="A conversation id (POST /v1/conversations)")
]


class AskIn(_In):
    question: str = Field(min_length=1, max_length=8192)
    filters: dict[str, Any] | None = None
    conversation_id: str | None = Field(
        default=None,
        pattern=CONVERSATION_ID_PATTERN,
        description="Answer as the next turn of this conversation (POST /v1/conversations): a "
        "follow-up is rewritten into a standalone query from its earlier turns, and the question "
        "and answer are added to it.",
    )
    history: list[TurnIn] | None = Field(
        default=None,
        max_length=100,
        description="Earlier turns, oldest first, for a client that keeps its own conversation "
        "(instead of conversation_id).",
    )
    stream: bool = Field(
        default=False,
        description="Answer as Server-Sent Events: `token` events, then one `final` event with citations.",
    )
    debug: bool = Field(default=False, description="Include the hits with scores and the final prompt.")


class CitationOut(BaseModel):
    n: int
    chunk_id: str
    doc_id: str
    source: str
    title: str
    section_path: list[str]
    page: int | None
    start: int
    end: int
    quote: str

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls(
            n=c.n,
            chunk_id=c.chunk_id,
            doc_id=c.doc_id,
            source=c.source,
            title=c.title,
            section_path=list(c.section_path),
            page=c.page,
            start=c.start,
            end=c.end,
            quote=c.quote,
        )


class SentenceSupportOut(BaseModel):
    sentence: str = Field(description="The answer sentence, with its citation markers.")
    start: int = Field(description="Offset of the sentence in `text` (-1 when it was removed).")
    end: int = Field(description="End offset in `text` (-1 when it was removed).")
    citations: list[int] = Field(description="The sources `[n]` the sentence cites.")
    score: float = Field(description="Support of the sentence by its cited sources together, 0..1.")
    supported: bool
    passage: int | None = Field(description="The cited source that supports it best.")
    precise: list[int] = Field(description="Citations relevant to the sentence (ALCE precision).")
    judge: Literal["offline", "llm"]
    removed: bool = Field(description='Cut from the answer (answer.unsupported = "remove").')

    @classmethod
    def of(cls, s: SentenceSupport) -> SentenceSupportOut:
        return cls(
            sentence=s.sentence,
            start=s.start,
            end=s.end,
            citations=list(s.citations),
            score=s.score,
            supported=s.supported,
            passage=s.passage,
            precise=list(s.precise),
            judge=s.judge,
            removed=s.removed,
        )


class ShortAnswerOut(BaseModel):
    text: str = Field(description="The value the answer states (a default, number, code, name or date).")
    n: int = Field(description="The citation whose quote holds it.")
    start: int = Field(description="Its character offset in the cited document's text.")
    end: int = Field(description="Its end offset (exclusive) in the cited document's text.")


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    model: str | None


class CachedOut(BaseModel):
    """Set when the answer came from the answer cache: ``exact`` (the same question) or
    ``semantic`` (a question this similar, named in ``question``)."""

    kind: Literal["exact", "semantic"]
    question: str
    similarity: float
    age_s: float


class DebugOut(BaseModel):
    hits: list[HitOut]
    prompt: str
    context_tokens: int


class AnswerOut(BaseModel):
    question: str
    query: str = Field(
        description="What retrieval searched for: the question, or a follow-up rewritten into a "
        "standalone query from the conversation."
    )
    conversation_id: str | None = None
    text: str
    citations: list[CitationOut]
    abstained: bool
    mode: str
    confidence: float
    trace_id: str
    usage: UsageOut
    timings_ms: dict[str, float]
    invalid_citations: int
    errors: list[str]
    support: list[SentenceSupportOut] = Field(
        default_factory=list,
        description="Per-sentence citation support (empty when answer.unsupported is off or it abstained).",
    )
    debug: DebugOut | None = None
    cached: CachedOut | None = None
    short: ShortAnswerOut | None = Field(
        default=None, description="The short answer beside the quoted evidence, when one was found."
    )

    @classmethod
    def of(cls, a: Answer, *, debug: bool, conversation_id: str | None = None) -> AnswerOut:
        dbg = None
        if debug and a.debug is not None:
            dbg = DebugOut(
                hits=[HitOut.of(h) for h in a.debug.hits],
                prompt=a.debug.prompt,
                context_tokens=a.debug.context.tokens,
            )
        u = a.usage
        return cls(
            question=a.question,
            query=a.debug.query if a.debug is not None and a.debug.query else a.question,
            conversation_id=conversation_id,
            text=a.text,
            citations=[CitationOut.of(c) for c in a.citations],
            abstained=a.abstained,
            mode=a.mode,
            confidence=a.confidence,
            trace_id=a.trace_id,
            usage=UsageOut(
                prompt_tokens=u.prompt_tokens,
                completion_tokens=u.completion_tokens,
                cost_usd=u.cost_usd,
                model=u.model,
            ),
            timings_ms=dict(a.timings_ms),
            invalid_citations=a.invalid_citations,
            errors=list(a.errors),
            support=[SentenceSupportOut.of(x) for x in a.support],
            debug=dbg,
            cached=CachedOut(**dataclasses.asdict(a.cached)) if a.cached is not None else None,
            short=(
                ShortAnswerOut(text=a.short.text, n=a.short.n, start=a.short.start, end=a.short.end)
                if a.short is not None
                else None
            ),
        )


# -- feedback, traces, keys, audit -------------------------------------------------------------------


class FeedbackIn(_In):
    trace_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    comment: str = Field(default="", max_length=4000)


class FeedbackOut(BaseModel):
    id: str
    trace_id: str
    rating: Literal["up", "down"]
    comment: str
    created_at: float


class ConversationIn(_In):
    collection: str = Field(pattern=COLLECTION_PATTERN, description="The collection the conversation asks.")


class TurnOut(BaseModel):
    role: str
    content: str
    trace_id: str = Field(description="The trace of an assistant turn's answer ('' for user turns).")
    at: float


class ConversationOut(BaseModel):
    id: str
    collection: str
    created_at: float
    updated_at: float
    turns: list[TurnOut]

    @classmethod
    def of(cls, c: Conversation) -> ConversationOut:
        return cls(
            id=c.id,
            collection=c.collection,
            created_at=c.created_at,
            updated_at=c.updated_at,
            turns=[TurnOut(role=t.role, content=t.content, trace_id=t.trace_id, at=t.at) for t in c.turns],
        )


class TraceOut(BaseModel):
    id: str
    collection: str
    question: str
    created_at: float
    trace: dict[str, Any] = Field(description="Hits with scores, prompt, answer and per-stage timings.")
    variant: str = Field(default="", description="Experiment variants, 'name=variant' joined by ','.")


class KeyIn(_In):
    name: str = Field(default="", max_length=200)
    groups: list[Group] = Field(default_factory=list)
    role: Literal["admin", "reader"] = "reader"
    clearance: int = Field(default=0, ge=0, le=100)


class KeyOut(BaseModel):
    id: str
    name: str
    tenant: str
    groups: list[str]
    role: str
    clearance: int
    created_at: float
    revoked_at: float | None


class NewKeyOut(KeyOut):
    secret: str = Field(description="Shown once; store it now.")


class AuditOut(BaseModel):
    seq: int
    at: float
    tenant: str
    key_id: str
    action: str
    collection: str
    doc_ids: list[str]
    detail: str


class UsageRowOut(BaseModel):
    """One key's use on one UTC day: queries (searches, answers, chat completions), LLM tokens and
    cost (from llm.prices)."""

    day: str
    key_id: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float

    @classmethod
    def of(cls, u: Usage) -> UsageRowOut:
        return cls(
            day=u.day,
            key_id=u.key_id,
            requests=u.requests,
            prompt_tokens=u.prompt_tokens,
            completion_tokens=u.completion_tokens,
            cost_usd=u.cost_usd,
        )


class UsageReportOut(BaseModel):
    tenant: str
    since_day: str
    rows: list[UsageRowOut]
    total: UsageRowOut = Field(description="The sum of the rows (day and key_id are '*').")


class HealthOut(BaseModel):
    status: str
    detail: dict[str, str] = Field(default_factory=dict)
