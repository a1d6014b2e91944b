"""Prometheus metrics, OpenTelemetry setup and JSON logs for the service.

Metrics live in a registry per app (tests build many apps in one process). Spans come from
:mod:`ragline.telemetry`; :func:`setup_tracing` installs the SDK provider once per process,
exporting over OTLP/HTTP when configured. Logs are one JSON object per line carrying the current
trace id, so a log line, a span and a stored query trace can be joined.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from ragline.errors import ConfigError
from ragline.generation.breaker import STATE_VALUES, State
from ragline.settings import ServerSettings
from ragline.telemetry import current_trace_id
from ragline.types import Answer

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Every metric the service exports, in its own registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "ragline_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "ragline_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "ragline_stage_duration_seconds",
            "Pipeline stage latency (retrieve, assemble, generate).",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "ragline_llm_tokens", "LLM tokens by kind (prompt, completion).", ["kind"], registry=r
        )
        self.cost = Counter("ragline_llm_cost_usd", "LLM cost in US dollars (price table).", registry=r)
        self.answers = Counter(
            "ragline_answers",
            "Answers by mode and whether they abstained.",
            ["mode", "abstained"],
            registry=r,
        )
        self.errors = Counter("ragline_errors", "Errors by type.", ["type"], registry=r)
        self.ingested = Counter("ragline_ingested_chunks", "Chunks indexed by ingest jobs.", registry=r)
        self.jobs_running = Gauge("ragline_jobs_running", "Ingest jobs queued or running.", registry=r)
        # Read from the load shedder's slots when scraped (see ragline.server.overload).
        self.in_flight = Gauge(
            "ragline_requests_in_flight", "Expensive requests running (search, ask, uploads).", registry=r
        )
        self.queued = Gauge("ragline_requests_queued", "Expensive requests waiting for a slot.", registry=r)

    def watch_cache(self, counts: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        """Export the query cache's lookups (``QueryCache.counts``), read when scraped."""
        self.registry.register(_CacheCollector(counts))

    def watch_breakers(self, states: Callable[[], dict[str, tuple[State, int]]]) -> None:
        """Export the LLM circuit breakers, read from ``states`` when scraped."""
        self.registry.register(_BreakerCollector(states))

    def observe_answer(self, a: Answer) -> None:
        for stage in ("retrieve", "assemble", "generate"):
            if stage in a.timings_ms:
                self.stage.labels(stage).observe(a.timings_ms[stage] / 1000)
        self.answers.labels(a.mode, str(a.abstained).lower()).inc()
        if a.usage.prompt_tokens or a.usage.completion_tokens:
            self.tokens.labels("prompt").inc(a.usage.prompt_tokens)
            self.tokens.labels("completion").inc(a.usage.completion_tokens)
        if a.usage.cost_usd:
            self.cost.inc(a.usage.cost_usd)
        for _ in a.errors:
            self.errors.labels("GenerationError").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _CacheCollector(Collector):
    """``ragline_cache_requests_total{cache, result}``: lookups of the retrieval, answer and
    semantic caches by result (hit, miss, error: the backend did not answer)."""

    def __init__(self, counts: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "ragline_cache_requests",
            "Query cache lookups by cache (retrieval, answer, semantic) and result (hit, miss, error).",
            labels=["cache", "result"],
        )
        seen = dict(self.counts())
        for cache in ("retrieval", "answer", "semantic"):
            for result in ("hit", "miss", "error"):
                family.add_metric([cache, result], seen.get((cache, result), 0))
        yield family


class _BreakerCollector(Collector):
    def __init__(self, states: Callable[[], dict[str, tuple[State, int]]]) -> None:
        self.states = states

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "ragline_llm_breaker_state",
            "LLM circuit breaker per model: 0 closed, 1 half-open (probing), 2 open (model skipped).",
            labels=["model"],
        )
        opened = CounterMetricFamily(
            "ragline_llm_breaker_opened", "Times each model's circuit breaker opened.", labels=["model"]
        )
        for model, (s, n) in sorted(self.states().items()):
            state.add_metric([model], STATE_VALUES[s])
            opened.add_metric([model], n)
        yield state
        yield opened


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace id and any ``extra`` fields."""

    _STD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id = current_trace_id()
        if trace_id:
            out["trace_id"] = trace_id
        for k, v in record.__dict__.items():
            if k not in self._STD and not k.startswith("_"):
                out[k] = v
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(json_logs: bool, level: int = logging.INFO) -> None:
    """Route ragline's and uvicorn's logs to stderr, as JSON lines when ``json_logs``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_logs else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    for name in ("ragline", "uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = [handler]
        lg.setLevel(level)
        lg.propagate = False


_tracing_installed = False


def setup_tracing(settings: ServerSettings) -> None:
    """Install the OpenTelemetry SDK provider (once per process) unless one is installed already."""
    global _tracing_installed
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    if _tracing_installed or isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": "ragline"}))
    if settings.tracing == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise ConfigError(
                "server.tracing='otlp' needs the OTLP exporter: pip install 'ragline[otlp]'"
            ) from None
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    trace.set_tracer_provider(provider)
    _tracing_installed = True
