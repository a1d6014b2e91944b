"""The MCP server (Model Context Protocol): ragline's search, answers and documents as tools for MCP
clients, under the same API keys and access control as the HTTP API.

Tools: ``list_collections``, ``search``, ``ask`` (an answer with numbered citations; each cited span
is a ``ragline://<collection>/<doc_id>#<start>-<end>`` resource link) and ``read_span``. The same
links read as resources (templates ``ragline://{collection}/{doc_id}`` and ``...{#span}``).

Two transports:

- stdio: ``ragline mcp`` (:func:`run_stdio`), the key from ``--key`` or ``RAGLINE_API_KEY``;
- streamable HTTP at ``/mcp`` of ``ragline serve`` (:class:`McpEndpoint`), the key from
  ``Authorization: Bearer``, checked before the MCP layer sees the request (401 as on ``/v1``);
  its queries are traced and audited like the API's.

Every call resolves its caller afresh (a revoked key stops working at once) and reads with the
caller's principal: another tenant's collections, documents, spans and counts are not there, and a
span of a document the caller may not read answers exactly like one that does not exist.

Example::

    from ragline.server.mcp_server import Call, build_server
    server = build_server(lambda ctx: Call(engine, ANONYMOUS))   # an mcp MCPServer
    await server.run_stdio_async()
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, TypeVar
from urllib.parse import quote

import anyio
from mcp.server.mcpserver import Context, MCPServer, ResourceSecurity
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, ContentBlock, ResourceLink, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

import ragline
from ragline.engine import Engine
from ragline.errors import ConfigError, RaglineError
from ragline.server.auth import ANONYMOUS, AuthError, Caller
from ragline.server.schemas import CitationOut, CollectionOut, HitOut
from ragline.server.service import get_caller, get_service, readable_collections
from ragline.service_state import StateStore
from ragline.settings import Settings
from ragline.types import Answer, Hit

T = TypeVar("T")

# A span is read whole into one tool result, which lands in a model's context: past this many
# characters the caller is asked for a narrower span instead.
MAX_SPAN_CHARS = 100_000
KEY_ENV = "RAGLINE_API_KEY"
_SPAN = re.compile(r"^(\d+)-(\d+)$")
_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)


class NotReadable(RaglineError):
    """No such document, or one the caller may not read: the two are never told apart."""


# -- what one call runs with ----------------------------------------------------------------------


class Recorder(Protocol):
    """Where queries are traced and audited (the service's :class:`~ragline.server.service.Service`)."""

    def record_search(self, caller: Caller, collection: str, query: str, hits: list[Hit]) -> str: ...

    def record_answer(self, caller: Caller, collection: str, answer: Answer) -> None: ...


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call's engine and caller; ``recorder`` traces its queries (None: not traced)."""

    engine: Engine
    caller: Caller
    recorder: Recorder | None = None


Resolve = Callable[[Context], Call]


# -- results ----------------------------------------------------------------------------------------


class McpHit(HitOut):
    uri: str = Field(description="The chunk's span as a resource: read it with read_span or resources/read.")


class McpSearchResult(BaseModel):
    collection: str
    query: str
    hits: list[McpHit]
    trace_id: str | None = Field(
        description="The stored query trace (HTTP only: stdio queries are not traced)."
    )


class McpCitation(CitationOut):
    uri: str = Field(
        description="The cited span as a resource: ragline://<collection>/<doc_id>#<start>-<end>."
    )


class McpAnswer(BaseModel):
    collection: str
    question: str
    text: str = Field(description="The answer; [n] marks cite citations[n-1].")
    citations: list[McpCitation]
    abstained: bool = Field(description="True when the documents did not hold an answer.")
    mode: str
    confidence: float
    trace_id: str


class McpCollections(BaseModel):
    collections: list[CollectionOut]


class McpSpan(BaseModel):
    collection: str
    doc_id: str
    title: str
    source: str
    start: int
    end: int
    length: int = Field(description="The whole document's length in characters.")
    text: str
    uri: str


def span_uri(collection: str, doc_id: str, start: int | None = None, end: int | None = None) -> str:
    """``ragline://<collection>/<doc_id>#<start>-<end>``; the id percent-encoded (ids may hold '/')."""
    base = f"ragline://{collection}/{quote(doc_id, safe='')}"
    return base if start is None or end is None else f"{base}#{start}-{end}"


# -- the tools' work, on plain values ------------------------------------------------------------------


def _span_of(h: Hit) -> tuple[str, int, int]:
    return h.chunk.doc_id, h.chunk.start, h.chunk.end


def search(
    call: Call,
    query: str,
    collection: str | None = None,
    top_k: int = 10,
    mode: Literal["dense", "keyword", "hybrid"] | None = None,
    filters: dict[str, Any] | None = None,
) -> McpSearchResult:
    name = collection or call.engine.settings.collection
    hits = call.engine.search(
        query, mode=mode, top_k=top_k, filters=filters, collection=name, principal=call.caller.principal
    )
    trace_id = call.recorder.record_search(call.caller, name, query, hits) if call.recorder else None
    return McpSearchResult(
        collection=name,
        query=query,
        hits=[McpHit(**HitOut.of(h).model_dump(), uri=span_uri(name, *_span_of(h))) for h in hits],
        trace_id=trace_id,
    )


def ask(
    call: Call, question: str, collection: str | None = None, filters: dict[str, Any] | None = None
) -> McpAnswer:
    name = collection or call.engine.settings.collection
    # Traced calls keep the debug detail (hits, scores, prompt) in the stored trace, as on /v1.
    answer = call.engine.ask(
        question,
        filters=filters,
        collection=name,
        debug=call.recorder is not None,
        principal=call.caller.principal,
    )
    if call.recorder is not None:
        call.recorder.record_answer(call.caller, name, answer)
    return McpAnswer(
        collection=name,
        question=answer.question,
        text=answer.text,
        citations=[
            McpCitation(**CitationOut.of(c).model_dump(), uri=span_uri(name, c.doc_id, c.start, c.end))
            for c in answer.citations
        ],
        abstained=answer.abstained,
        mode=answer.mode,
        confidence=answer.confidence,
        trace_id=answer.trace_id,
    )


def read_span(
    call: Call, collection: str, doc_id: str, start: int | None = None, end: int | None = None
) -> McpSpan:
    view = call.engine.document(doc_id, collection=collection, principal=call.caller.principal)
    if view is None:
        # The same words whether the id is absent or held by a document the caller may not read.
        raise NotReadable(f"no document {doc_id!r} in collection {collection!r} that you may read")
    n = len(view.text)
    s, e = (0 if start is None else start), (n if end is None else end)
    if not 0 <= s < e <= n:
        raise ConfigError(
            f"span {s}-{e} is not inside document {doc_id!r} ({n} characters); "
            f"pass 0 <= start < end <= {n} (a citation's start and end)"
        )
    if e - s > MAX_SPAN_CHARS:
        raise ConfigError(
            f"span {s}-{e} is {e - s:,} characters; the limit is {MAX_SPAN_CHARS:,}: read a narrower span"
        )
    info = view.info
    return McpSpan(
        collection=collection,
        doc_id=doc_id,
        title=info.title,
        source=info.source,
        start=s,
        end=e,
        length=n,
        text=view.text[s:e],
        uri=span_uri(collection, doc_id, s, e),
    )


# -- the MCP server ------------------------------------------------------------------------------------


def _tool_error(work: Callable[[], T]) -> T:
    """ragline's own errors (a revoked key too) reach the client with their message (they name the
    value and the fix); anything else stays in the server log (the client reads "Error executing
    tool <name>")."""
    try:
        return work()
    except RaglineError as exc:
        raise ToolError(str(exc)) from exc


def _links(uris: list[tuple[str, str, str]]) -> list[ContentBlock]:
    return [
        ResourceLink(type="resource_link", uri=uri, name=name, description=desc, mime_type="text/plain")
        for uri, name, desc in uris
    ]


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    # MCPServer's constructor calls logging.basicConfig (a rich handler on the root logger); ragline
    # configures its own loggers and leaves the root logger to the application embedding it.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers, root.level = handlers, level


Text = Annotated[str, Field(min_length=1, max_length=8192)]
CollectionArg = Annotated[
    str | None, Field(description="Collection name (default: the server's default collection).")
]
FiltersArg = Annotated[
    dict[str, Any] | None,
    Field(description='Metadata filter, e.g. {"year": {"$gte": 2020}, "lang": "en"}.'),
]


def build_server(resolve: Resolve) -> MCPServer:
    """An MCP server whose every tool call and resource read runs as ``resolve(ctx)``'s caller."""
    with _root_logging_kept():
        server: MCPServer = MCPServer(
            "ragline",
            version=ragline.__version__,
            instructions=(
                "Search and answer from the documents indexed in ragline. list_collections first; "
                "ask answers with numbered citations whose uri reads the cited span (read_span or "
                "resources/read)."
            ),
        )

    @server.tool(annotations=_READ_ONLY)
    def list_collections(ctx: Context) -> McpCollections:
        """The collections you may read, with counts of their documents and chunks."""

        def work() -> McpCollections:
            call = resolve(ctx)
            return McpCollections(collections=readable_collections(call.engine, call.caller))

        return _tool_error(work)

    @server.tool(name="search", annotations=_READ_ONLY)
    def search_tool(
        ctx: Context,
        query: Text,
        collection: CollectionArg = None,
        top_k: Annotated[int, Field(ge=1, le=100)] = 10,
        mode: Annotated[
            Literal["dense", "keyword", "hybrid"] | None, Field(description="Default: the server's.")
        ] = None,
        filters: FiltersArg = None,
    ) -> Annotated[CallToolResult, McpSearchResult]:
        """Hybrid search: the best matching chunks with their text, scores and a uri per span."""
        result = _tool_error(lambda: search(resolve(ctx), query, collection, top_k, mode, filters))
        links = [(h.uri, f"{h.title or h.source} ({h.start}-{h.end})", h.text[:200]) for h in result.hits]
        return CallToolResult(
            content=[TextContent(type="text", text=result.model_dump_json()), *_links(links)],
            structured_content=result.model_dump(mode="json"),
        )

    @server.tool(name="ask", annotations=_READ_ONLY)
    def ask_tool(
        ctx: Context, question: Text, collection: CollectionArg = None, filters: FiltersArg = None
    ) -> Annotated[CallToolResult, McpAnswer]:
        """Answer a question from the documents, citing them: [n] in the text is citations[n-1],
        whose uri reads the exact span quoted."""
        result = _tool_error(lambda: ask(resolve(ctx), question, collection, filters))
        sources = "\n".join(f"[{c.n}] {c.title or c.source}: {c.uri}" for c in result.citations)
        text = f"{result.text}\n\nSources:\n{sources}" if sources else result.text
        links = [(c.uri, f"[{c.n}] {c.title or c.source}", c.quote) for c in result.citations]
        return CallToolResult(
            content=[TextContent(type="text", text=text), *_links(links)],
            structured_content=result.model_dump(mode="json"),
        )

    @server.tool(name="read_span", annotations=_READ_ONLY)
    def read_span_tool(
        ctx: Context,
        doc_id: Annotated[str, Field(min_length=1, max_length=1024)],
        collection: CollectionArg = None,
        start: Annotated[int | None, Field(ge=0, description="Default: the document's start.")] = None,
        end: Annotated[int | None, Field(ge=1, description="Default: the document's end.")] = None,
    ) -> McpSpan:
        """The text of a document between two character offsets (a hit's or citation's start/end)."""

        def work() -> McpSpan:
            call = resolve(ctx)
            return read_span(call, collection or call.engine.settings.collection, doc_id, start, end)

        return _tool_error(work)

    # Ids may hold '/' or '..' (they are store keys, never paths): the SDK's path checks are off
    # for them; the collection name keeps them and is validated by the engine too.
    ids_are_keys = ResourceSecurity(exempt_params={"doc_id", "span"})

    def read(ctx: Context, collection: str, doc_id: str, span: str) -> str:
        start = end = None
        if span:
            m = _SPAN.match(span)
            if m is None:
                raise ResourceError(f"span {span!r} is not <start>-<end> (character offsets, e.g. #120-480)")
            start, end = int(m[1]), int(m[2])
        try:
            return read_span(resolve(ctx), collection, doc_id, start, end).text
        except NotReadable as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except RaglineError as exc:
            raise ResourceError(str(exc)) from exc

    @server.resource(
        "ragline://{collection}/{doc_id}{#span}",
        name="span",
        description="The text of a cited span: characters <start> to <end> of a document.",
        mime_type="text/plain",
        security=ids_are_keys,
    )
    def span_resource(ctx: Context, collection: str, doc_id: str, span: str) -> str:
        return read(ctx, collection, doc_id, span)

    @server.resource(
        "ragline://{collection}/{doc_id}",
        name="document",
        description="The whole text of a document.",
        mime_type="text/plain",
        security=ids_are_keys,
    )
    def document_resource(ctx: Context, collection: str, doc_id: str) -> str:
        return read(ctx, collection, doc_id, "")

    return server


# -- stdio -------------------------------------------------------------------------------------------------


def stdio_caller(settings: Settings, state: StateStore | None, secret: str | None) -> Callable[[], Caller]:
    """Who a stdio server's calls run as: the key's caller, resolved on every call against the state
    store (a revoked key stops working), or with auth off the one local user (as on /v1).

    Raises :class:`~ragline.server.auth.AuthError` at once when the key is missing or unknown."""
    if not settings.server.auth:
        return lambda: ANONYMOUS
    if state is None:
        raise ValueError("auth is on: a state store is needed to resolve the key")
    if not secret:
        raise AuthError(
            f"auth is on, so `ragline mcp` needs an API key: pass --key or set {KEY_ENV} (an admin "
            "creates one with `ragline keys create --tenant T --role reader`), or set "
            "RAGLINE_SERVER__AUTH=false for a single local user"
        )
    st = state

    def caller() -> Caller:
        key = st.authenticate(secret)
        if key is None:
            raise AuthError(
                f"the API key (--key or {KEY_ENV}) is unknown or revoked; an admin creates keys with "
                "`ragline keys create --tenant T --groups a,b --role reader`"
            )
        return Caller.of_key(key)

    caller()  # refuse an unknown key now, not on the first tool call
    return caller


def run_stdio(engine: Engine, caller: Callable[[], Caller]) -> None:
    """Serve MCP on stdin/stdout until the client closes it (``ragline mcp``)."""
    server = build_server(lambda ctx: Call(engine, caller()))
    anyio.run(server.run_stdio_async)


# -- streamable HTTP, inside ``ragline serve`` ----------------------------------------------------------


class McpEndpoint:
    """The ``/mcp`` ASGI endpoint of ``ragline serve``: the request's key is resolved as on ``/v1``
    (:func:`~ragline.server.service.get_caller`: a missing or unknown key raises
    :class:`AuthError`, which the app answers with its usual 401), then the SDK's streamable HTTP
    transport answers, and each call is traced and audited by the running service.

    Stateless, with JSON responses: each POST is one exchange, so any replica can serve any request
    (the service keeps no state outside the state store and the data directory). With
    ``local_hosts``, requests naming another Host or Origin are refused (DNS rebinding, for a
    loopback server without auth)."""

    def __init__(self, *, local_hosts: list[str] | None = None) -> None:
        self._hosts = local_hosts
        self.server = build_server(self._call)
        self._manager: StreamableHTTPSessionManager | None = None

    @staticmethod
    def _call(ctx: Context) -> Call:
        request = ctx.request_context.request
        if not isinstance(request, Request):
            raise TypeError(f"an MCP call over HTTP came without its HTTP request (got {request!r})")
        svc = get_service(request)
        caller: Caller = request.state.caller
        return Call(svc.engine, caller, svc)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the transport's task group for the app's lifetime (entered in its lifespan)."""
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        if self._hosts is not None:
            security = TransportSecuritySettings(
                enable_dns_rebinding_protection=True,
                allowed_hosts=[f"{h}:*" for h in self._hosts],
                allowed_origins=[f"http://{h}:*" for h in self._hosts],
            )
        # A new manager per run: the SDK's runs only once, and an app may be started again (tests).
        self.server.streamable_http_app(stateless_http=True, json_response=True, transport_security=security)
        manager = self.server.session_manager
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._manager is None:
            raise RuntimeError("the MCP endpoint is not running (McpEndpoint.running() in the lifespan)")
        request = Request(scope, receive)
        auth, key = request.headers.get("authorization"), request.headers.get("x-api-key")
        caller = await anyio.to_thread.run_sync(get_caller, request, auth, key)
        request.state.caller = caller  # scope["state"]: the SDK's Request of this scope sees it
        await self._manager.handle_request(scope, receive, send)
