"""The FastAPI application: wiring, limits, error shapes, health, metrics and the web UI.

Example::

    from ragline.server.app import create_app
    from ragline.settings import load_settings
    app = create_app(load_settings(data_dir=".ragline"))   # serve with uvicorn
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import ragline
from ragline.collection import list_tenants
from ragline.engine import Engine
from ragline.errors import (
    AccessDenied,
    CollectionNotFound,
    ConfigError,
    FilterError,
    GenerationError,
    LoaderError,
    RaglineError,
    StoreError,
    UnsupportedFileType,
)
from ragline.server import openai_compat, routes
from ragline.server.auth import AuthError
from ragline.server.jobs import JobRunner
from ragline.server.limits import Limiter, RateLimited
from ragline.server.observability import Metrics, setup_tracing
from ragline.server.overload import ConcurrencyLimit, Slots
from ragline.server.schemas import HealthOut
from ragline.server.service import ReadOnlyReplica, Service
from ragline.service_state import StateError, StateNotFound, StateStore, StateUnavailable, open_state
from ragline.settings import ServerSettings, Settings
from ragline.store.base import warm_up
from ragline.telemetry import span

log = logging.getLogger("ragline.server")
UI_DIR = Path(__file__).parent / "ui"
# Seconds a client is asked to wait (Retry-After) when the state store is unavailable.
_STATE_RETRY_AFTER_S = 5

_STATUS: list[tuple[type[Exception], int]] = [
    (AuthError, 401),
    (RateLimited, 429),
    (AccessDenied, 403),
    (CollectionNotFound, 404),
    (UnsupportedFileType, 415),
    (FilterError, 400),
    (ConfigError, 400),
    (LoaderError, 400),
    (ReadOnlyReplica, 405),
    # Unreachable or locked: the client may retry (Retry-After); an unknown record; anything else
    # the state store refused is the server's fault, never "not found".
    (StateUnavailable, 503),
    (StateNotFound, 404),
    (StateError, 500),
    (GenerationError, 502),
    (StoreError, 500),
    (RaglineError, 400),
]


# The routes that do real work (embedding, retrieval, generation, writing files) and so go
# through the load shedder; every other route is cheap and answers even under overload.
LIMITED_ROUTES = (
    ("POST", "/v1/collections/{collection}/search"),
    ("POST", "/v1/collections/{collection}/ask"),
    ("POST", "/v1/collections/{collection}/files"),
    ("POST", "/v1/collections/{collection}/documents"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/mcp"),
)
# Hosts a loopback server without auth answers MCP for (other Host or Origin headers: DNS rebinding).
_LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]"]


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)


class BodyLimit:
    """Refuses bodies over the limit with 413, by Content-Length or while streaming the body in.

    Uploads (multipart) get ``server.max_upload_mb``; every other body ``server.max_json_mb``.
    """

    def __init__(self, app: ASGIApp, upload_bytes: int, json_bytes: int) -> None:
        self.app, self.upload_bytes, self.json_bytes = app, upload_bytes, json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        multipart = headers.get("content-type", "").startswith("multipart/")
        limit = self.upload_bytes if multipart else self.json_bytes
        what = "upload" if multipart else "request body"
        setting = "RAGLINE_SERVER__MAX_UPLOAD_MB" if multipart else "RAGLINE_SERVER__MAX_JSON_MB"
        message = (
            f"the {what} is larger than the limit of {limit / 1e6:g} MB; send less per request "
            f"(the operator can raise {setting})"
        )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await _error(413, "PayloadTooLarge", message)(scope, receive, send)
            return
        seen, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal seen, over
            msg = await receive()
            seen += len(msg.get("body", b""))
            if seen > limit:
                over = True
                raise _TooLarge(message)
            return msg

        async def answer(msg: Message) -> None:
            # Once the body went over, whatever the app answers (multipart parsing turns any
            # exception into a 400) is replaced by the 413.
            nonlocal started
            if over and not started:
                started = True
                await _error(413, "PayloadTooLarge", message)(scope, receive, send)
            elif not over:
                started = started or msg["type"] == "http.response.start"
                await send(msg)

        try:
            await self.app(scope, counted, answer)
        except _TooLarge:
            if not started:
                started = True
                await _error(413, "PayloadTooLarge", message)(scope, receive, send)


class _TooLarge(Exception):
    pass


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    problems = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return 400, (
                f"the request body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')}); "
                "send a JSON object with Content-Type: application/json"
            )
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        got = err.get("input")
        shown = (
            f" (got {_short(got)})" if isinstance(got, str | int | float) and err["type"] != "missing" else ""
        )
        problems.append(f"{loc}: {err.get('msg')}{shown}")
    return 422, "invalid request: " + "; ".join(problems) + " (see the schema at /v1/openapi.json)"


def create_app(
    settings: Settings, *, engine: Engine | None = None, state: StateStore | None = None
) -> FastAPI:
    """Build the app. Models load in the background at start; ``/readyz`` says when they are up."""
    eng = engine or Engine(settings)
    s = settings.server
    mcp_app, mcp_running = _mcp(s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_tracing(s)
        st = state or open_state(
            s.state_url,
            settings.data_dir,
            trace_retention=s.trace_retention,
            trace_retention_days=s.trace_retention_days,
            timeout_s=s.state_timeout_s,
            conversation_retention=s.conversation_retention,
            conversation_retention_days=s.conversation_retention_days,
        )
        metrics = Metrics()
        slots: Slots = app.state.slots
        metrics.in_flight.set_function(lambda: slots.running)
        metrics.queued.set_function(lambda: slots.waiting)
        metrics.watch_cache(lambda: eng.cache.counts() if eng.cache is not None else {})
        metrics.watch_breakers(eng.answering.breaker_states)
        app.state.probe_limiter = anyio.CapacityLimiter(2)
        jobs = None
        if s.role != "query":  # a query replica never writes: no workers, no lease sweeps
            jobs = JobRunner(
                eng,
                st,
                s.ingest_workers,
                on_done=lambda _job, report: metrics.ingested.inc(report.chunks_indexed),
                lease_s=s.job_lease_s,
            )
            # Only jobs whose lease lapsed: other replicas' running jobs are theirs. Repeated every beat.
            jobs.recover_lapsed()
        svc = Service(settings, eng, st, jobs, metrics, limiter=Limiter(settings.limits, st))
        app.state.service = svc
        threading.Thread(target=_warm_up, args=(svc,), name="ragline-warmup", daemon=True).start()
        try:
            async with mcp_running():
                yield
        finally:
            if jobs is not None:
                jobs.shutdown()
            if state is None:
                st.close()

    app = FastAPI(
        title="ragline",
        version=ragline.__version__,
        summary="Production RAG: ingest, hybrid search and grounded answers with citations.",
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.include_router(routes.router)
    app.include_router(openai_compat.router)
    _add_health(app)
    # MCP over streamable HTTP: a plain ASGI endpoint (auth, limits and metrics as for /v1).
    mcp_route = Route("/mcp", endpoint=mcp_app, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    app.router.routes.append(mcp_route)

    # The API's routes as declared (FastAPI may wrap included routers in objects of its own).
    api_routes = [r for r in (*routes.router.routes, *openai_compat.router.routes) if isinstance(r, APIRoute)]
    limited = [
        r for r in (*api_routes, mcp_route) if any((m, r.path) in LIMITED_ROUTES for m in r.methods or ())
    ]
    if len(limited) != len(LIMITED_ROUTES):  # a renamed route must not silently lose its limit
        found = {(m, r.path) for r in limited for m in r.methods or ()}
        raise RuntimeError(f"load-shed routes not found: {sorted(set(LIMITED_ROUTES) - found)}")
    slots = Slots(s.max_concurrent_requests or 2 * (os.cpu_count() or 1), s.max_queue)
    app.state.slots = slots
    # The same routes are rate-limited per key and tenant (checked once the caller is known).
    app.state.rate_limited = frozenset(LIMITED_ROUTES)
    app.add_middleware(ConcurrencyLimit, slots=slots, routes=limited)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.perf_counter()
        with span("http", method=request.method, path=request.url.path) as sp:
            response = await call_next(request)
            route = getattr(request.scope.get("route"), "path", "unmatched")
            sp.update_name(f"ragline.http {request.method} {route}")
            sp.set_attribute("http.status_code", response.status_code)
        svc: Service | None = getattr(request.app.state, "service", None)
        if svc is not None and route != "/metrics":
            svc.metrics.requests.labels(request.method, route, str(response.status_code)).inc()
            svc.metrics.latency.labels(request.method, route).observe(time.perf_counter() - t0)
            if response.status_code >= 500:
                svc.metrics.errors.labels(f"http_{response.status_code}").inc()
        return response

    app.add_middleware(
        BodyLimit, upload_bytes=int(s.max_upload_mb * 1e6), json_bytes=int(s.max_json_mb * 1e6)
    )
    if s.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=s.cors_origins, allow_methods=["*"], allow_headers=["*"]
        )
    _add_handlers(app, [*api_routes, mcp_route, *(r for r in app.router.routes if isinstance(r, APIRoute))])
    if UI_DIR.is_dir():
        app.mount("/ui", StaticFiles(directory=UI_DIR, html=True), name="ui")

        @app.get("/", include_in_schema=False)
        def index() -> RedirectResponse:
            return RedirectResponse("/ui/")

    return app


class _McpMissing:
    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise StarletteHTTPException(
            501, f"MCP is not installed on this server ({self.reason}); pip install 'ragline[mcp]'"
        )


def _mcp(s: ServerSettings) -> tuple[ASGIApp, Callable[[], AbstractAsyncContextManager[None]]]:
    """The /mcp endpoint and what runs it, or (without the optional ``mcp`` package) a 501 saying
    which extra to install."""
    try:
        from ragline.server.mcp_server import McpEndpoint
    except ImportError as exc:
        return _McpMissing(str(exc)), nullcontext

    local = not s.auth and s.host in ("127.0.0.1", "localhost", "::1")
    endpoint = McpEndpoint(local_hosts=_LOCAL_HOSTS if local else None)
    return endpoint, endpoint.running


def _warm_up(svc: Service) -> None:
    try:
        svc.engine.embedder.embed_query("warm up")
        if svc.engine.generator_kind() == "extractive":
            svc.engine.extractive.warm_up()  # the reader's graph, ~0.3 s
        # Every tenant's collections: columns held in memory above the ANN threshold are read
        # now, not by the first query (100k chunks: ~4 s), within the process's one budget
        # (store.held_columns_mb). A collection that fails here fails its own queries, not the
        # server's readiness.
        for tenant in list_tenants(svc.engine.settings.data_dir):
            for name in svc.engine.collections(tenant):
                try:
                    warm_up(svc.engine.collection(name, tenant=tenant).store)
                except Exception:
                    log.warning(
                        "warm-up of collection %r failed; its first query loads it", name, exc_info=True
                    )
        # Not the state store: /readyz checks it on every call, so an outage now does not leave
        # the server unready after the store is back.
    except Exception as exc:  # readiness reports it; liveness stays up so operators can look
        svc.not_ready_reason = f"start-up failed: {exc}"
        log.exception("warm-up failed")
        return
    svc.ready.set()
    log.info("ready")


def _allowed(api_routes: list[Route], scope: Scope) -> set[str]:
    """The methods of every route matching the request's path."""
    return {m for r in api_routes if r.matches(scope)[0] != Match.NONE for m in r.methods or ()}


def _add_handlers(app: FastAPI, api_routes: list[Route]) -> None:
    @app.exception_handler(RaglineError)
    async def ragline_error(request: Request, exc: RaglineError) -> JSONResponse:
        status = next(code for cls, code in _STATUS if isinstance(exc, cls))
        if isinstance(exc, AuthError):
            status = exc.status
        svc: Service | None = getattr(request.app.state, "service", None)
        if svc is not None:
            svc.metrics.errors.labels(type(exc).__name__).inc()
        response = _error(status, type(exc).__name__, str(exc))
        if isinstance(exc, StateUnavailable):
            response.headers["Retry-After"] = str(_STATE_RETRY_AFTER_S)
        elif isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        if isinstance(exc, ReadOnlyReplica):  # what this replica does serve on the path (maybe nothing)
            response.headers["Allow"] = ", ".join(
                sorted(_allowed(api_routes, request.scope) - {request.method})
            )
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return _error(status, "InvalidRequest", message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 400 and message == "There was an error parsing the body":
            ctype = request.headers.get("content-type") or "no Content-Type"
            message = (
                f"the request body could not be read as {ctype!r}; send a UTF-8 JSON object with "
                "Content-Type: application/json (uploads: multipart/form-data, one 'files' part per file)"
            )
        elif exc.status_code == 404 and message == "Not Found":
            message = f"no endpoint {request.method} {request.url.path}; see /v1/docs for the API"
        elif exc.status_code == 405:
            # Starlette names the methods of the first route matching the path only; a path
            # served by several routes (GET and DELETE of a document) allows all of theirs.
            allowed = sorted(_allowed(api_routes, request.scope))
            headers["Allow"] = ", ".join(allowed)
            message = (
                f"{request.method} is not allowed on {request.url.path}; use {' or '.join(allowed)} "
                "(see /v1/docs)"
            )
        kind = {
            400: "BadRequest",
            403: "Forbidden",
            404: "NotFound",
            413: "PayloadTooLarge",
            415: "UnsupportedMediaType",
            405: "MethodNotAllowed",
        }.get(exc.status_code, "HTTPError")
        return _error(exc.status_code, kind, message, headers or None)


def _add_health(app: FastAPI) -> None:
    # The probes run on the event loop (async, nothing blocking), never queued behind the worker
    # threads that run requests: under load a liveness probe must still answer at once.
    @app.get("/healthz", tags=["ops"])
    async def healthz() -> HealthOut:
        """Liveness: the process answers."""
        return HealthOut(status="ok")

    @app.get("/readyz", tags=["ops"], responses={503: {"model": HealthOut}})
    async def readyz(request: Request) -> Any:
        """Readiness: models loaded, store and state reachable."""
        svc: Service | None = getattr(request.app.state, "service", None)
        if svc is None or not svc.ready.is_set():
            reason = svc.not_ready_reason if svc else "starting"
            return JSONResponse(
                HealthOut(status="not ready", detail={"reason": reason}).model_dump(), status_code=503
            )

        def check() -> int:
            svc.state.ping()
            return len(svc.engine.collections())

        try:
            # Blocking I/O: on threads of its own (a separate limiter), not the request pool's.
            n = await anyio.to_thread.run_sync(check, limiter=request.app.state.probe_limiter)
        except Exception as exc:  # any failure here means "do not route traffic to me"
            return JSONResponse(
                HealthOut(status="not ready", detail={"reason": f"{type(exc).__name__}: {exc}"}).model_dump(),
                status_code=503,
            )
        return HealthOut(status="ready", detail={"collections": str(n), "role": svc.settings.server.role})

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics."""
        svc: Service = request.app.state.service
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(svc.metrics.render(), media_type=CONTENT_TYPE_LATEST)
