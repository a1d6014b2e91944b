"""JSON logs carry trace ids; the trace store keeps only what retention allows."""

from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi.testclient import TestClient

from ragline.server.observability import JsonFormatter, setup_logging
from ragline.telemetry import span
from tests.server.conftest import Keys


def test_json_log_lines_carry_the_trace_id(span_exporter: object) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("ragline.test-json")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with span("unit") as s:
            log.info("inside %s", "span", extra={"collection": "docs"})
        log.warning("outside")
    finally:
        log.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["message"] == "inside span" and inside["collection"] == "docs"
    assert inside["trace_id"] == format(s.get_span_context().trace_id, "032x")
    assert inside["level"] == "info" and inside["logger"] == "ragline.test-json"
    assert "trace_id" not in outside and outside["level"] == "warning"


def test_setup_logging_writes_json_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(json_logs=True)
    try:
        logging.getLogger("ragline.server").info("hello", extra={"n": 3})
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert json.loads(line)["n"] == 3
    finally:
        for name in ("ragline", "uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).handlers = []
            logging.getLogger(name).propagate = True


def test_request_logs_join_the_stored_trace(client: TestClient, keys: Keys) -> None:
    r = client.post(
        "/v1/collections/docs/documents",
        json={"documents": [{"id": "log-doc", "text": "Lanterns are lit at dusk in the harbour."}]},
        headers=keys.acme_admin,
    )
    from tests.server.conftest import wait_job

    wait_job(client, r.json(), keys.acme_admin)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("ragline.server")
    log.addHandler(handler)
    level = log.level
    log.setLevel(logging.INFO)
    try:
        a = client.post(
            "/v1/collections/docs/ask", json={"question": "When are lanterns lit?"}, headers=keys.acme_admin
        ).json()
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    query = [x for x in lines if x["message"] == "query"]
    assert query and query[-1]["query_trace_id"] == a["trace_id"]
    # The OpenTelemetry trace id of the request, so logs and spans join.
    assert len(query[-1]["trace_id"]) == 32 and int(query[-1]["trace_id"], 16) != 0


def test_cache_hits_and_misses_are_in_the_metrics(client: TestClient, keys: Keys) -> None:
    r = client.post(
        "/v1/collections/cached/documents",
        json={"documents": [{"id": "c1", "text": "The ferry to the island leaves at seven every morning."}]},
        headers=keys.acme_admin,
    )
    from tests.server.conftest import wait_job

    wait_job(client, r.json(), keys.acme_admin)

    def count(cache: str, result: str) -> float:
        text = client.get("/metrics").text
        line = f'ragline_cache_requests_total{{cache="{cache}",result="{result}"}} '
        return float(next(x for x in text.splitlines() if x.startswith(line)).split()[-1])

    before = {k: count(*k) for k in [("answer", "hit"), ("answer", "miss"), ("retrieval", "miss")]}
    body = {"question": "When does the ferry leave?"}
    first = client.post("/v1/collections/cached/ask", json=body, headers=keys.acme_admin).json()
    second = client.post("/v1/collections/cached/ask", json=body, headers=keys.acme_admin).json()
    assert first["cached"] is None and second["cached"]["kind"] == "exact"
    assert second["cached"]["question"] == "When does the ferry leave?" and second["text"] == first["text"]
    assert count("answer", "miss") == before[("answer", "miss")] + 1
    assert count("answer", "hit") == before[("answer", "hit")] + 1
    assert count("retrieval", "miss") == before[("retrieval", "miss")] + 1


def test_breaker_states_are_exported_when_scraped() -> None:
    from ragline.generation.breaker import Breakers
    from ragline.server.observability import Metrics

    breakers = Breakers(failures=1, cooldown_s=30.0)
    metrics = Metrics()
    metrics.watch_breakers(breakers.states)
    breakers.get("good").success()
    breakers.get("down").failure()
    text = metrics.render().decode()
    assert 'ragline_llm_breaker_state{model="down"} 2.0' in text
    assert 'ragline_llm_breaker_state{model="good"} 0.0' in text
    assert 'ragline_llm_breaker_opened_total{model="down"} 1.0' in text
