"""An OpenAI-compatible face: ``GET /v1/models`` lists collections as models and
``POST /v1/chat/completions`` answers the last user message from the named collection, with the
earlier user and assistant messages as the conversation a follow-up is read in (system messages
are left out of retrieval), so any OpenAI client or chat UI can use ragline. Citations are
``[n]`` in the text, a "Sources" list at its end, and a structured ``citations`` field on the
response (and on the last stream chunk)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ragline.server.schemas import COLLECTION_PATTERN, ERROR_RESPONSES, CitationOut
from ragline.server.service import CallerDep, ServiceDep
from ragline.types import Answer, Final, Restart, Token, Turn

router = APIRouter(prefix="/v1", tags=["openai"], responses=ERROR_RESPONSES)


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_Part] | None = None


class ChatRequest(BaseModel):
    """The chat-completions request; OpenAI's sampling fields are accepted (the answer is grounded
    either way), anything else is rejected."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(
        pattern=COLLECTION_PATTERN, description="The collection to answer from (see GET /v1/models)."
    )
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: Annotated[int, Field(ge=1, le=1)] = 1
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    # ragline extension: a metadata filter for retrieval.
    filters: dict[str, Any] | None = None


def _text(m: ChatMessage) -> str:
    if isinstance(m.content, str):
        return m.content
    return " ".join(p.text for p in (m.content or []) if p.type == "text")


def _conversation(req: ChatRequest) -> list[Turn]:
    """The user and assistant messages as turns, up to the last user message with text (the
    question); tool and system messages are left out, and so is anything after the question."""
    turns = [Turn(m.role, _text(m)) for m in req.messages if m.role in ("user", "assistant")]
    last = next(
        (i for i in range(len(turns) - 1, -1, -1) if turns[i].role == "user" and turns[i].content.strip()),
        None,
    )
    if last is None:
        raise HTTPException(
            400, "no user message with text in 'messages'; add {'role': 'user', 'content': ...}"
        )
    return turns[: last + 1]


def _sources(a: Answer) -> str:
    if not a.citations:
        return ""
    lines = []
    for c in a.citations:
        where = c.title or c.source
        section = " > ".join(c.section_path)
        lines.append(f"[{c.n}] {where}" + (f" — {section}" if section and section != where else ""))
    return "\n\nSources:\n" + "\n".join(lines)


def _usage(a: Answer) -> dict[str, int]:
    u = a.usage
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
    }


def _extras(a: Answer) -> dict[str, Any]:
    return {
        "citations": [CitationOut.of(c).model_dump() for c in a.citations],
        "ragline": {
            "trace_id": a.trace_id,
            "mode": a.mode,
            "abstained": a.abstained,
            "confidence": a.confidence,
            "cached": dataclasses.asdict(a.cached) if a.cached is not None else None,
        },
    }


@router.get("/models")
def list_models(svc: ServiceDep, caller: CallerDep) -> dict[str, Any]:
    """Collections the caller may read, as OpenAI "models"."""
    data = []
    for name in svc.engine.collections(caller.tenant):
        if caller.principal is None or svc.engine.documents(
            collection=name, principal=caller.principal, limit=1
        ):
            data.append({"id": name, "object": "model", "created": 0, "owned_by": "ragline"})
    return {"object": "list", "data": data}


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        200: {
            "content": {"application/json": {}, "text/event-stream": {}},
            "description": "A chat.completion object, or chat.completion.chunk events when streaming",
        }
    },
)
def chat_completions(
    req: ChatRequest, svc: ServiceDep, caller: CallerDep
) -> dict[str, Any] | StreamingResponse:
    events = svc.engine.chat(
        _conversation(req),
        filters=req.filters,
        collection=req.model,
        stream=True,
        debug=True,
        principal=caller.principal,
    )
    cid = f"chatcmpl-{int(time.time() * 1000):x}"
    created = int(time.time())
    if not req.stream:
        answer = next(e.answer for e in events if isinstance(e, Final))
        svc.record_answer(caller, req.model, answer)
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": req.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text + _sources(answer)},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(answer),
            **_extras(answer),
        }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": req.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body)}\n\n"

    def gen() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        try:
            for event in events:
                if isinstance(event, Token):
                    yield chunk({"content": event.text})
                elif isinstance(event, Restart):
                    # OpenAI's protocol cannot retract text: say so in-band.
                    yield chunk({"content": f"\n\n[restarting: {event.reason}]\n\n"})
                elif isinstance(event, Final):
                    a = event.answer
                    svc.record_answer(caller, req.model, a)
                    sources = _sources(a)
                    if sources:
                        yield chunk({"content": sources})
                    yield chunk({}, "stop", **_extras(a))
                    if req.stream_options and req.stream_options.get("include_usage"):
                        body = {
                            "id": cid,
                            "object": "chat.completion.chunk",
                            "created": created,
                            "model": req.model,
                            "choices": [],
                            "usage": _usage(a),
                        }
                        yield f"data: {json.dumps(body)}\n\n"
        except Exception as exc:  # headers are sent: report in-band, as OpenAI's servers do
            err = {"error": {"type": type(exc).__name__, "message": str(exc)}}
            yield f"data: {json.dumps(err)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
