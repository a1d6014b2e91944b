"""The /v1 REST API: collections, uploads and jobs, documents, search, ask, feedback, traces, keys
and the audit log. Every read is scoped to the caller's tenant, groups and clearance."""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import StreamingResponse

from ragline.insights.experiments import experiment_report
from ragline.insights.feedback import summarise
from ragline.loaders.registry import SUPPORTED_EXTENSIONS, metadata_problem, text_problem
from ragline.server.auth import Caller, require_admin
from ragline.server.schemas import (
    COLLECTION_PATTERN,
    ERROR_RESPONSES,
    GROUP_LIST_PATTERN,
    AnswerOut,
    AskIn,
    AuditAction,
    AuditOut,
    CollectionOut,
    CollectionPath,
    ConversationIdPath,
    ConversationIn,
    ConversationOut,
    DocIdPath,
    DocumentDetailOut,
    DocumentListOut,
    DocumentOut,
    DocumentsIn,
    ErrorResponse,
    FeedbackIn,
    FeedbackOut,
    HitOut,
    JobErrorOut,
    JobOut,
    KeyIn,
    KeyOut,
    NewKeyOut,
    SearchIn,
    SearchOut,
    TraceOut,
    UsageReportOut,
    UsageRowOut,
)
from ragline.server.service import CallerDep, Service, ServiceDep, readable_collections
from ragline.service_state import ApiKey, ConversationTurn, Job
from ragline.service_state.base import MAX_SEQ, total_usage, utc_day
from ragline.types import Access, Answer, Document, Final, Restart, Token, Turn

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
# The writes a query replica (server.role = "query") refuses.
_WRITE_405: dict[int | str, dict[str, Any]] = {
    405: {
        "model": ErrorResponse,
        "description": "A query replica (server.role = 'query'): send writes to ingest",
    }
}
# Kept as they are in stored upload names besides letters, marks and digits of any script.
_NAME_PUNCTUATION = frozenset(" ._-()[]+,@&'~!#=")
# Room for the ".<name>.<uuid>.part" file written first, under the usual 255-byte name limit.
_MAX_NAME_BYTES = 200
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$")


class UnsupportedMediaType(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=415, detail=detail)


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)


def _stored_name(raw: str) -> str:
    """The name an uploaded file is stored under: its last path part, NFC-normalised, with letters,
    marks and digits of any script kept and anything else (controls, separators, symbols, '%', a
    leading dot) written as %XX of its UTF-8 bytes, so two different names never become one."""
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", raw))[-1]
    out = []
    for i, ch in enumerate(base):
        keep = unicodedata.category(ch)[0] in "LMN" or ch in _NAME_PUNCTUATION
        out.append(ch if keep and not (i == 0 and ch == ".") else "".join(f"%{b:02X}" for b in ch.encode()))
    name = "".join(out)
    if len(name.encode()) > _MAX_NAME_BYTES:
        raise HTTPException(
            400,
            f"file name {raw[:60]!r}... is too long: {len(name.encode())} bytes as stored, the limit is "
            f"{_MAX_NAME_BYTES}; rename it",
        )
    return name


def _groups(raw: list[str]) -> tuple[str, ...]:
    bad = [g for g in raw if not _GROUP.match(g)]
    if bad:
        raise HTTPException(
            400, f"group name(s) {bad} are invalid; use letters, digits, '.' or '-' (max 64, no spaces)"
        )
    return tuple(sorted(set(raw)))


def _granted(caller: Caller, groups: tuple[str, ...], clearance: int, what: str) -> None:
    """A caller grants only what it holds: groups it belongs to, a clearance up to its own. So an
    admin cannot mint a key, or plant a document, that reads or hides beyond its own access."""
    if caller.principal is None:  # auth off: the one local user holds everything
        return
    extra = sorted(set(groups) - set(caller.groups))
    if extra:
        raise HTTPException(
            403,
            f"{what} names group(s) {extra} you do not belong to (your groups: {list(caller.groups)}); "
            "ask an admin of those groups",
        )
    if clearance > caller.clearance:
        raise HTTPException(
            403, f"{what} asks for clearance {clearance}, above your own ({caller.clearance})"
        )


def _within(caller: Caller, key: ApiKey | None) -> bool:
    """Whether everything ``key`` may read, ``caller`` may read too (same tenant, its groups among
    the caller's, its clearance at most the caller's): then the caller may see that key's traces."""
    if caller.principal is None:
        return True
    return (
        key is not None
        and key.tenant == caller.tenant
        and set(key.groups) <= set(caller.groups)
        and key.clearance <= caller.clearance
    )


def _job_out(j: Job) -> JobOut:
    return JobOut(
        id=j.id,
        collection=j.collection,
        status=j.status,
        total=j.total,
        done=j.done,
        chunks=j.chunks,
        errors=[JobErrorOut(file=e.file, error=e.error) for e in j.errors],
        message=j.message,
        created_at=j.created_at,
        updated_at=j.updated_at,
    )


def _key_out(k: ApiKey) -> KeyOut:
    return KeyOut(
        id=k.id,
        name=k.name,
        tenant=k.tenant,
        groups=list(k.groups),
        role=k.role,
        clearance=k.clearance,
        created_at=k.created_at,
        revoked_at=k.revoked_at,
    )


# -- collections, uploads, jobs ------------------------------------------------------------------


@router.get("/collections", tags=["documents"])
def list_collections(svc: ServiceDep, caller: CallerDep) -> list[CollectionOut]:
    """The caller's tenant's collections holding at least one document it may read, with counts of
    what it may read."""
    return readable_collections(svc.engine, caller)


def _upload_dir(svc: Service, caller: Caller, collection: str, access: Access) -> Path:
    """Where an upload is kept: per tenant, collection and access scope. A file is replaced only by
    an upload of the same name *and scope*, whose uploader may read it (groups and clearance are
    within the uploader's own), so no upload destroys a document its uploader cannot read."""
    svc.engine.collection_path(collection, caller.tenant)  # validates the names before they are paths
    scope = f"c{access.clearance}-{'+'.join(access.groups) or 'all'}"
    if len(scope) > 100:
        scope = f"c{access.clearance}-{hashlib.sha256(scope.encode()).hexdigest()[:32]}"
    d = svc.settings.data_dir / "uploads" / caller.tenant / collection / scope
    d.mkdir(parents=True, exist_ok=True)
    return d


@router.post(
    "/collections/{collection}/files",
    status_code=202,
    tags=["documents"],
    responses={415: {"model": ErrorResponse, "description": "A file type no loader reads"}, **_WRITE_405},
)
def upload_files(
    collection: CollectionPath,
    svc: ServiceDep,
    caller: CallerDep,
    files: Annotated[
        list[UploadFile],
        File(
            min_length=1,
            description="PDF (scans by OCR), DOCX, XLSX, PPTX, HTML, Markdown, text, e-mail (.eml, .mbox), "
            "source code, JSON(L), CSV",
        ),
    ],
    groups: Annotated[
        str,
        Form(
            pattern=GROUP_LIST_PATTERN,
            description="Comma-separated groups allowed to read; empty: whole tenant",
        ),
    ] = "",
    clearance: Annotated[int, Form(ge=0, le=100)] = 0,
) -> JobOut:
    """Upload files to index; returns a job to poll at ``GET /v1/jobs/{id}``. A query replica
    (``server.role = "query"``) refuses it with 405."""
    require_admin(caller)
    runner = svc.writer("uploads")
    s = svc.settings.server
    if not files:
        raise HTTPException(400, "no files in the upload; send them as multipart field 'files'")
    if len(files) > s.max_files_per_upload:
        raise HTTPException(
            413, f"{len(files)} files in one upload; the limit is {s.max_files_per_upload}, split it up"
        )
    names: dict[str, str] = {}  # stored name -> the name the client sent
    for f in files:
        name = _stored_name(f.filename or "")
        if name in names:
            raise HTTPException(
                400,
                f"uploaded files {names[name]!r} and {f.filename!r} would both be stored as {name!r}; "
                "rename one",
            )
        if not name:
            raise HTTPException(400, "an uploaded file has no name; send a filename with each part")
        if Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
            raise UnsupportedMediaType(
                f"{name}: unsupported file type {Path(name).suffix or '(none)'!r}; "
                f"upload one of {', '.join(sorted(SUPPORTED_EXTENSIONS))}"
            )
        names[name] = f.filename or ""
    access = Access(caller.tenant, _groups([g.strip() for g in groups.split(",") if g.strip()]), clearance)
    _granted(caller, access.groups, access.clearance, "the upload")
    target = _upload_dir(svc, caller, collection, access)
    paths = []
    for f, name in zip(files, names, strict=True):
        # Written aside then renamed: a half-written upload never looks like a complete file.
        path, tmp = target / name, target / f".{name}.{uuid.uuid4().hex}.part"
        with tmp.open("wb") as out:
            while block := f.file.read(1 << 20):
                out.write(block)
        tmp.replace(path)
        paths.append(path)
    job = svc.state.create_job(
        tenant=caller.tenant, collection=collection, key_id=caller.key_id, total=len(paths)
    )
    runner.submit_files(job.id, caller.tenant, caller.key_id, collection, paths, access)
    return _job_out(job)


@router.post("/collections/{collection}/documents", status_code=202, tags=["documents"], responses=_WRITE_405)
def add_documents(
    collection: CollectionPath, body: DocumentsIn, svc: ServiceDep, caller: CallerDep
) -> JobOut:
    """Index JSON documents. They are stored as ``<tenant>/<id>`` in the caller's tenant; re-sending
    an id replaces it, unless that document is one the caller may not read (403). A query replica
    (``server.role = "query"``) refuses it with 405."""
    require_admin(caller)
    runner = svc.writer("documents")
    svc.engine.collection_path(collection, caller.tenant)
    ids = [d.id for d in body.documents]
    if len(set(ids)) != len(ids):
        raise HTTPException(400, "document ids repeat within the request; each id must be unique")
    for d in body.documents:
        _granted(caller, _groups(d.groups), d.clearance, f"document {d.id!r}")
    if caller.principal is not None and collection in svc.engine.collections(caller.tenant):
        # Checked again under the write lock when the job runs; here so the caller hears it now.
        svc.engine.check_replaceable([f"{caller.tenant}/{i}" for i in ids], collection, caller.principal)
    docs = [
        Document(
            id=f"{caller.tenant}/{d.id}",
            source=f"api:{caller.tenant}",
            text=d.text,
            title=d.title,
            metadata=dict(d.metadata),
            access=Access(caller.tenant, _groups(d.groups), d.clearance),
        )
        for d in body.documents
    ]
    for doc in docs:
        # The job would fail on it later; the caller hears it now, with the limit and the fix.
        problem = metadata_problem(doc, svc.settings.loaders) or text_problem(doc, svc.settings.loaders)
        if problem is not None:
            raise HTTPException(400, problem)
    job = svc.state.create_job(
        tenant=caller.tenant, collection=collection, key_id=caller.key_id, total=len(docs)
    )
    runner.submit_documents(job.id, caller.tenant, caller.key_id, collection, docs, caller.principal)
    return _job_out(job)


@router.get("/jobs/{job_id}", tags=["documents"])
def get_job(job_id: str, svc: ServiceDep, caller: CallerDep) -> JobOut:
    """Status, progress (files done of total) and per-file errors of an ingest job."""
    job = svc.state.get_job(job_id)
    if job is None or job.tenant != caller.tenant:
        raise _not_found(f"no job {job_id!r} in tenant {caller.tenant!r}; use the id an upload returned")
    return _job_out(job)


# -- documents -------------------------------------------------------------------------------------


@router.get("/collections/{collection}/documents", tags=["documents"])
def list_documents(
    collection: CollectionPath,
    svc: ServiceDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
) -> DocumentListOut:
    docs = svc.engine.documents(collection=collection, principal=caller.principal, limit=limit, offset=offset)
    return DocumentListOut(documents=[DocumentOut.of(d) for d in docs], limit=limit, offset=offset)


@router.get("/collections/{collection}/documents/{doc_id:path}", tags=["documents"])
def get_document(
    collection: CollectionPath, doc_id: DocIdPath, svc: ServiceDep, caller: CallerDep
) -> DocumentDetailOut:
    """One document with its text; citation offsets (``start``/``end``) index this text."""
    view = svc.engine.document(doc_id, collection=collection, principal=caller.principal)
    if view is None:
        raise _not_found(f"no document {doc_id!r} in collection {collection!r} that you may read")
    return DocumentDetailOut.of_view(view)


@router.delete("/collections/{collection}/documents/{doc_id:path}", tags=["documents"], responses=_WRITE_405)
def delete_document(
    collection: CollectionPath, doc_id: DocIdPath, svc: ServiceDep, caller: CallerDep
) -> dict[str, int]:
    """Delete a document from the collection. A query replica (``server.role = "query"``) refuses
    it with 405."""
    require_admin(caller)
    svc.writer("deletions")
    n = svc.engine.delete([doc_id], collection=collection, principal=caller.principal)
    if n == 0:
        raise _not_found(f"no document {doc_id!r} in collection {collection!r} that you may delete")
    svc.state.append_audit(
        tenant=caller.tenant,
        key_id=caller.key_id,
        action="delete",
        collection=collection,
        doc_ids=[doc_id],
        detail=json.dumps({"chunks": n}),
    )
    return {"deleted_chunks": n}


# -- search and ask ----------------------------------------------------------------------------------


@router.post("/collections/{collection}/search", tags=["query"])
def search(
    collection: CollectionPath, body: SearchIn, request: Request, svc: ServiceDep, caller: CallerDep
) -> SearchOut:
    engine, variant = svc.engine_for(caller, collection, request.headers)
    t0 = time.perf_counter()
    hits = engine.search(
        body.query,
        mode=body.mode,
        top_k=body.top_k,
        filters=body.filters,
        collection=collection,
        principal=caller.principal,
    )
    trace_id = svc.record_search(
        caller, collection, body.query, hits, variant=variant, total_ms=(time.perf_counter() - t0) * 1000
    )
    return SearchOut(hits=[HitOut.of(h) for h in hits], trace_id=trace_id)


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@router.post(
    "/collections/{collection}/ask",
    tags=["query"],
    response_model=AnswerOut,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when streaming"}},
)
def ask(
    collection: CollectionPath, body: AskIn, request: Request, svc: ServiceDep, caller: CallerDep
) -> object:
    """Answer with citations. With ``stream`` (or ``Accept: text/event-stream``) the answer comes as
    Server-Sent Events: ``token`` events with text, ``restart`` if an LLM attempt died mid-answer,
    then one ``final`` event holding the whole answer with its citations."""
    stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    history: list[Turn] = [Turn(t.role, t.content) for t in body.history or []]
    conversation_id = body.conversation_id
    if conversation_id is not None:
        if body.history is not None:
            raise HTTPException(400, "give either conversation_id or history, not both")
        conv = svc.state.get_conversation(conversation_id, tenant=caller.tenant, key_id=caller.key_id)
        if conv is None:
            raise _not_found(_NO_CONVERSATION.format(conversation_id))
        if conv.collection != collection:
            raise HTTPException(
                400,
                f"conversation {conversation_id!r} asks collection {conv.collection!r}, not {collection!r}; "
                "start a new conversation for this collection",
            )
        history = [Turn(t.role, t.content) for t in conv.turns]
    engine, variant = svc.engine_for(caller, collection, request.headers, conversation_id)
    # Always traced with debug detail: the stored trace holds hits, scores and the prompt.
    events = engine.ask(
        body.question,
        filters=body.filters,
        collection=collection,
        stream=True,
        debug=True,
        principal=caller.principal,
        history=history,
    )

    def finish(answer: Answer) -> AnswerOut:
        svc.record_answer(caller, collection, answer, conversation_id, variant=variant)
        if conversation_id is not None:
            turns = [
                ConversationTurn("user", body.question),
                ConversationTurn("assistant", answer.text, trace_id=answer.trace_id),
            ]
            svc.state.append_turns(conversation_id, turns, tenant=caller.tenant, key_id=caller.key_id)
        return AnswerOut.of(answer, debug=body.debug, conversation_id=conversation_id)

    if not stream:
        for event in events:
            if isinstance(event, Final):
                return finish(event.answer)
        raise RuntimeError("the answer stream ended without a final event")

    def gen() -> Iterator[str]:
        try:
            for event in events:
                if isinstance(event, Token):
                    yield sse("token", {"text": event.text})
                elif isinstance(event, Restart):
                    yield sse("restart", {"reason": event.reason})
                elif isinstance(event, Final):
                    yield sse("final", finish(event.answer).model_dump())
        except Exception as exc:  # the status line is sent already: report in-band
            svc.metrics.errors.labels(type(exc).__name__).inc()
            yield sse("error", {"type": type(exc).__name__, "message": str(exc)})

    return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


# -- conversations -----------------------------------------------------------------------------------

_NO_CONVERSATION = (
    "no conversation {!r} of yours; start one with POST /v1/conversations "
    "(conversations expire after server.conversation_retention_days idle)"
)


@router.post("/conversations", status_code=201, tags=["query"])
def create_conversation(body: ConversationIn, svc: ServiceDep, caller: CallerDep) -> ConversationOut:
    """Start a conversation on a collection; pass its id as ``conversation_id`` to ``ask``. Only the
    key that created it can read or continue it."""
    svc.engine.collection(body.collection, tenant=caller.tenant, must_exist=True)
    conv = svc.state.create_conversation(
        tenant=caller.tenant, key_id=caller.key_id, collection=body.collection
    )
    return ConversationOut.of(conv)


@router.get("/conversations/{conversation_id}", tags=["query"])
def get_conversation(
    conversation_id: ConversationIdPath, svc: ServiceDep, caller: CallerDep
) -> ConversationOut:
    """A conversation of yours with its turns, oldest first (answers name their trace)."""
    conv = svc.state.get_conversation(conversation_id, tenant=caller.tenant, key_id=caller.key_id)
    if conv is None:
        raise _not_found(_NO_CONVERSATION.format(conversation_id))
    return ConversationOut.of(conv)


@router.delete("/conversations/{conversation_id}", tags=["query"])
def delete_conversation(
    conversation_id: ConversationIdPath, svc: ServiceDep, caller: CallerDep
) -> dict[str, bool]:
    if not svc.state.delete_conversation(conversation_id, tenant=caller.tenant, key_id=caller.key_id):
        raise _not_found(_NO_CONVERSATION.format(conversation_id))
    return {"deleted": True}


# -- feedback and traces ---------------------------------------------------------------------------------


@router.post("/feedback", status_code=201, tags=["feedback"])
def feedback(body: FeedbackIn, svc: ServiceDep, caller: CallerDep) -> FeedbackOut:
    """Thumbs up or down (plus a comment) on an answer, linked to its trace id."""
    trace = svc.state.get_trace(body.trace_id)
    if trace is None or not _may_read_trace(svc, caller, trace.tenant, trace.key_id):
        raise _not_found(f"no query trace {body.trace_id!r}; send the trace_id an answer returned")
    fb = svc.state.add_feedback(
        trace_id=body.trace_id,
        tenant=caller.tenant,
        key_id=caller.key_id,
        rating=1 if body.rating == "up" else -1,
        comment=body.comment,
    )
    return FeedbackOut(
        id=fb.id, trace_id=fb.trace_id, rating=body.rating, comment=fb.comment, created_at=fb.created_at
    )


def _may_read_trace(svc: Service, caller: Caller, tenant: str, key_id: str) -> bool:
    """A trace holds the text its caller could read: it is the caller's own, or an admin's whose
    access covers the caller's (an eng admin never reads an hr user's prompt)."""
    if tenant != caller.tenant:
        return False
    if key_id == caller.key_id:
        return True
    return caller.is_admin and _within(caller, svc.state.get_key(key_id))


@router.get("/traces/{trace_id}", tags=["feedback"])
def get_trace(trace_id: str, svc: ServiceDep, caller: CallerDep) -> TraceOut:
    """A stored query trace: hits with scores, prompt, answer, timings (your own; admins also read
    those of keys whose groups and clearance are within their own)."""
    t = svc.state.get_trace(trace_id)
    if t is None or not _may_read_trace(svc, caller, t.tenant, t.key_id):
        raise _not_found(f"no query trace {trace_id!r} that you may read (traces expire after retention)")
    return TraceOut(
        id=t.id,
        collection=t.collection,
        question=t.question,
        created_at=t.created_at,
        trace=json.loads(t.payload),
        variant=t.variant,
    )


# -- analytics (admins) ----------------------------------------------------------------------------------


@router.get("/feedback/report", tags=["admin"])
def get_feedback_report(
    svc: ServiceDep,
    caller: CallerDep,
    collection: Annotated[
        str | None, Query(max_length=64, pattern=COLLECTION_PATTERN, description="Only this collection.")
    ] = None,
    days: Annotated[float, Query(gt=0, le=3650, description="Traces of the last N days.")] = 30.0,
) -> dict[str, Any]:
    """Thumbs-up rate per collection, variant and day, and the worst-rated questions with their trace
    ids: over your tenant's traces whose keys' access is within yours (admins)."""
    require_admin(caller)
    since = time.time() - days * 86_400
    keys: dict[str, bool] = {}

    def readable(key_id: str) -> bool:
        if key_id not in keys:
            keys[key_id] = _may_read_trace(svc, caller, caller.tenant, key_id)
        return keys[key_id]

    rows = svc.state.rated_traces(tenant=caller.tenant, collection=collection, since=since)
    return summarise([r for r in rows if readable(r.trace.key_id)], days=days).as_json()


@router.get("/experiments/{name}/report", tags=["admin"])
def get_experiment_report(name: str, svc: ServiceDep, caller: CallerDep) -> dict[str, Any]:
    """Per variant of experiment ``name``: answers, abstention rate, feedback and thumbs-up rate,
    latency p50/p95 and cost, each treatment tested against the control (two-proportion z-test,
    bootstrap intervals for latency), with a warning below the experiment's min_samples (admins;
    your tenant's traces)."""
    require_admin(caller)
    if name not in svc.settings.experiments:
        known = ", ".join(sorted(svc.settings.experiments)) or "none"
        raise _not_found(f"no experiment {name!r}; configured: {known}")
    return experiment_report(svc.state, svc.settings, name, tenant=caller.tenant).as_json()


# -- keys and audit (admins) -----------------------------------------------------------------------------


@router.get("/keys", tags=["admin"])
def list_keys(svc: ServiceDep, caller: CallerDep) -> list[KeyOut]:
    require_admin(caller)
    return [_key_out(k) for k in svc.state.list_keys(caller.tenant)]


@router.post("/keys", status_code=201, tags=["admin"])
def create_key(body: KeyIn, svc: ServiceDep, caller: CallerDep) -> NewKeyOut:
    """Create a key in the caller's tenant; the secret is in this response only."""
    require_admin(caller)
    groups = _groups(body.groups)
    _granted(caller, groups, body.clearance, "the new key")
    key, secret = svc.state.create_key(
        name=body.name,
        tenant=caller.tenant,
        groups=groups,
        role=body.role,
        clearance=body.clearance,
    )
    svc.state.append_audit(
        tenant=caller.tenant,
        key_id=caller.key_id,
        action="key_create",
        detail=json.dumps({"key": key.id, "role": key.role}),
    )
    return NewKeyOut(**_key_out(key).model_dump(), secret=secret)


@router.delete("/keys/{key_id}", tags=["admin"])
def revoke_key(key_id: str, svc: ServiceDep, caller: CallerDep) -> KeyOut:
    require_admin(caller)
    target = svc.state.get_key(key_id)
    if target is not None and target.tenant == caller.tenant and not _within(caller, target):
        raise HTTPException(
            403, f"key {key_id!r} reads beyond your own groups or clearance; ask an admin who holds them"
        )
    if not svc.state.revoke_key(key_id, tenant=caller.tenant):
        raise _not_found(f"no active key {key_id!r} in tenant {caller.tenant!r}; see GET /v1/keys")
    svc.state.append_audit(
        tenant=caller.tenant, key_id=caller.key_id, action="key_revoke", detail=json.dumps({"key": key_id})
    )
    key = svc.state.get_key(key_id)
    if key is None:
        raise _not_found(f"key {key_id!r} vanished")
    return _key_out(key)


@router.get("/usage", tags=["admin"])
def usage(
    svc: ServiceDep,
    caller: CallerDep,
    days: Annotated[int, Query(ge=1, le=366, description="Days back, today included (UTC)")] = 30,
    key_id: Annotated[str | None, Query(max_length=64, description="Only this key")] = None,
) -> UsageReportOut:
    """The caller's tenant's usage and LLM cost per key and UTC day (admins; only their tenant)."""
    require_admin(caller)
    since = utc_day(time.time() - 86_400 * (days - 1))
    used = svc.state.list_usage(tenant=caller.tenant, key_id=key_id, since_day=since)
    return UsageReportOut(
        tenant=caller.tenant,
        since_day=since,
        rows=[UsageRowOut.of(u) for u in used],
        total=UsageRowOut.of(total_usage(used)),
    )


@router.get("/audit", tags=["admin"])
def audit(
    svc: ServiceDep,
    caller: CallerDep,
    action: Annotated[AuditAction | None, Query(description="Only events of this action")] = None,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ, description="Events after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """The tenant's append-only audit log: who did what, when, and which documents came back.

    Events of keys whose access goes beyond the caller's keep their who, what and when, but their
    document ids and detail are withheld (``detail`` says so)."""
    require_admin(caller)
    events = svc.state.list_audit(tenant=caller.tenant, action=action, limit=limit, after_seq=after_seq)
    keys: dict[str, bool] = {}
    out = []
    for e in events:
        if e.key_id not in keys:
            keys[e.key_id] = e.key_id == caller.key_id or _within(caller, svc.state.get_key(e.key_id))
        visible = keys[e.key_id]
        out.append(
            AuditOut(
                seq=e.seq,
                at=e.at,
                tenant=e.tenant,
                key_id=e.key_id,
                action=e.action,
                collection=e.collection,
                doc_ids=list(e.doc_ids) if visible else [],
                detail=e.detail if visible else json.dumps({"withheld": "beyond your groups or clearance"}),
            )
        )
    return out
