"""OpenTelemetry spans for the pipeline stages.

The engine opens a span per stage (retrieve, assemble, generate, ingest) through the OpenTelemetry
API only. Without an SDK provider installed these are no-ops costing well under a microsecond;
``ragline serve`` installs one (exporting over OTLP when configured), and tests install one with
an in-memory exporter.

Example::

    with span("retrieve", top_k=8):
        hits = retriever.run(query, 8, None)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span

AttrValue = str | bool | int | float


def _tracer() -> trace.Tracer:
    # Looked up per call: the provider may be installed after this module is imported.
    return trace.get_tracer("ragline")


@contextmanager
def span(name: str, **attributes: AttrValue) -> Iterator[Span]:
    """A span for ``name``, current for the block, recording any exception raised in it."""
    with _tracer().start_as_current_span(f"ragline.{name}", attributes=attributes) as s:
        yield s


def start_span(name: str, **attributes: AttrValue) -> Span:
    """A span the caller ends itself: for work that outlives a block, like a streamed answer.

    Its parent is the span current now, so it joins the request's trace even when the stream is
    consumed on another thread.
    """
    return _tracer().start_span(f"ragline.{name}", attributes=attributes)


def current_trace_id() -> str:
    """The current OpenTelemetry trace id as 32 hex chars, or "" outside any recorded span."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""
