"""The objects one running service shares between requests, and the helpers routes use."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request

from ragline.engine import Engine
from ragline.errors import RaglineError
from ragline.insights.experiments import assign_all, variant_label, variant_override
from ragline.server.auth import ANONYMOUS, AuthError, Caller, authenticate
from ragline.server.jobs import JobRunner
from ragline.server.limits import Limiter
from ragline.server.observability import Metrics
from ragline.server.schemas import CollectionOut
from ragline.service_state import QueryTrace, StateStore
from ragline.settings import Settings
from ragline.types import Answer, Hit

log = logging.getLogger("ragline.server")


class ReadOnlyReplica(RaglineError):
    """A write (upload, documents, deletion) sent to a query replica (``server.role = "query"``)."""


@dataclass
class Service:
    settings: Settings
    engine: Engine
    state: StateStore
    # None on a query replica (server.role = "query"): it runs no ingest jobs.
    jobs: JobRunner | None
    metrics: Metrics
    ready: threading.Event = field(default_factory=threading.Event)
    not_ready_reason: str = "loading models"
    # Rate limits and quotas of the expensive routes (None: not checked).
    limiter: Limiter | None = None
    # One engine per combination of experiment variants (settings overrides), built on first use.
    _variant_engines: dict[str, Engine] = field(default_factory=dict)
    _variant_lock: threading.Lock = field(default_factory=threading.Lock)

    def writer(self, what: str) -> JobRunner:
        """The job runner, or ReadOnlyReplica on a query replica: call it before a route writes."""
        if self.jobs is None:
            raise ReadOnlyReplica(
                f"this replica serves queries only (server.role = 'query') and does not accept {what}; "
                "send writes to the ingest service (the replica with server.role = 'ingest' or 'all', "
                "e.g. the ragline-ingest Service in deploy/k8s), then query here"
            )
        return self.jobs

    def engine_for(
        self, caller: Caller, collection: str, headers: Mapping[str, str], conversation_id: str | None = None
    ) -> tuple[Engine, str]:
        """The engine a request runs on and its ``variant`` label for the trace: the variants of
        every enabled experiment covering ``collection`` (sticky by key, user or session)."""
        if not self.settings.experiments:
            return self.engine, ""
        units = {
            "key": caller.key_id,
            "user": headers.get("x-ragline-user", ""),
            "session": conversation_id or headers.get("x-ragline-session", ""),
        }
        arms = assign_all(self.settings, collection=collection, units=units)
        label = variant_label(arms)
        override = variant_override(self.settings, arms)
        if not override:
            return self.engine, label
        with self._variant_lock:
            engine = self._variant_engines.get(label)
            if engine is None:
                engine = self._variant_engines[label] = self.engine.with_settings(**override)
        return engine, label

    def record_search(
        self,
        caller: Caller,
        collection: str,
        query: str,
        hits: list[Hit],
        *,
        variant: str = "",
        total_ms: float | None = None,
    ) -> str:
        trace_id = uuid.uuid4().hex
        self.state.record_usage(tenant=caller.tenant, key_id=caller.key_id)
        payload: dict[str, object] = {"kind": "search", "hits": [_hit_json(h) for h in hits]}
        if total_ms is not None:
            payload["timings_ms"] = {"total": total_ms}
        self._record(
            trace_id, caller, collection, query, payload, sorted({h.chunk.doc_id for h in hits}), variant
        )
        return trace_id

    def record_answer(
        self,
        caller: Caller,
        collection: str,
        answer: Answer,
        conversation_id: str | None = None,
        *,
        variant: str = "",
    ) -> None:
        self.metrics.observe_answer(answer)
        u = answer.usage
        self.state.record_usage(
            tenant=caller.tenant,
            key_id=caller.key_id,
            prompt_tokens=u.prompt_tokens,
            completion_tokens=u.completion_tokens,
            cost_usd=u.cost_usd or 0.0,
        )
        dbg = answer.debug
        context_docs = sorted({p.doc_id for p in dbg.context.passages}) if dbg else []
        condensed = dbg.condensed if dbg else None
        payload = {
            "kind": "ask",
            # What retrieval searched for, and how a follow-up became it.
            "query": dbg.query if dbg and dbg.query else answer.question,
            "condense": {"method": condensed.method, "reason": condensed.reason} if condensed else None,
            "conversation_id": conversation_id,
            "answer": answer.text,
            "mode": answer.mode,
            "abstained": answer.abstained,
            "confidence": answer.confidence,
            "citations": [
                {"n": c.n, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "start": c.start, "end": c.end}
                for c in answer.citations
            ],
            "hits": [_hit_json(h) for h in dbg.hits] if dbg else [],
            "context": [
                {"doc_id": p.doc_id, "start": p.start, "end": p.end, "score": p.score, "tokens": p.tokens}
                for p in dbg.context.passages
            ]
            if dbg
            else [],
            "prompt": dbg.prompt if dbg else "",
            "timings_ms": answer.timings_ms,
            "usage": {
                "prompt_tokens": answer.usage.prompt_tokens,
                "completion_tokens": answer.usage.completion_tokens,
                "cost_usd": answer.usage.cost_usd,
                "model": answer.usage.model,
            },
            "errors": list(answer.errors),
            "support": [
                {
                    "sentence": s.sentence,
                    "citations": list(s.citations),
                    "score": s.score,
                    "supported": s.supported,
                }
                for s in answer.support
            ],
        }
        self._record(answer.trace_id, caller, collection, answer.question, payload, context_docs, variant)

    def _record(
        self,
        trace_id: str,
        caller: Caller,
        collection: str,
        question: str,
        payload: Mapping[str, object],
        doc_ids: list[str],
        variant: str = "",
    ) -> None:
        self.state.put_trace(
            QueryTrace(
                id=trace_id,
                tenant=caller.tenant,
                key_id=caller.key_id,
                collection=collection,
                question=question,
                created_at=time.time(),
                payload=json.dumps(payload),
                variant=variant,
            )
        )
        self.state.append_audit(
            tenant=caller.tenant,
            key_id=caller.key_id,
            action="query",
            collection=collection,
            doc_ids=doc_ids,
            detail=json.dumps({"trace_id": trace_id, "kind": payload["kind"]}),
        )
        log.info(
            "query", extra={"query_trace_id": trace_id, "collection": collection, "documents": len(doc_ids)}
        )


def _hit_json(h: Hit) -> dict[str, object]:
    return {
        "chunk_id": h.chunk.id,
        "doc_id": h.chunk.doc_id,
        "score": h.score,
        "retrievers": {n: {"rank": s.rank, "score": s.score} for n, s in h.retrievers.items()},
        "start": h.chunk.start,
        "end": h.chunk.end,
    }


def readable_collections(engine: Engine, caller: Caller) -> list[CollectionOut]:
    """The caller's tenant's collections holding at least one document it may read, with counts of
    what it may read (with auth off, every collection)."""
    out = []
    for name in engine.collections(caller.tenant):
        stats = engine.stats(name, principal=caller.principal).store
        if stats.documents or caller.principal is None:
            out.append(CollectionOut(name=name, chunks=stats.chunks, documents=stats.documents))
    return out


def get_service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def get_caller(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <API key>")] = None,
    x_api_key: Annotated[str | None, Header(description="The API key (instead of Authorization)")] = None,
) -> Caller:
    svc = get_service(request)
    caller = _authenticated(svc, authorization, x_api_key)
    request.state.caller = caller
    route = request.scope.get("route")
    limited: frozenset[tuple[str, str]] = getattr(request.app.state, "rate_limited", frozenset())
    if svc.limiter is not None and (request.method, getattr(route, "path", "")) in limited:
        svc.limiter.check(caller)
    return caller


def _authenticated(svc: Service, authorization: str | None, x_api_key: str | None) -> Caller:
    if not svc.settings.server.auth:
        return ANONYMOUS
    if not authorization and not x_api_key and svc.state.count_keys() == 0:
        raise AuthError(
            "no API keys exist yet; create one with "
            "`ragline keys create --tenant T --groups a,b --role admin` and send it as "
            "'Authorization: Bearer <key>' (or run with RAGLINE_SERVER__AUTH=false for a single local user)"
        )
    return authenticate(svc.state, authorization, x_api_key)


ServiceDep = Annotated[Service, Depends(get_service)]
CallerDep = Annotated[Caller, Depends(get_caller)]
