"""Fixtures for the service tests: an app over a real data directory and state store, API keys for
two tenants, seeded documents, and an in-memory OpenTelemetry exporter."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ragline.server.app import create_app
from ragline.service_state import open_state
from ragline.settings import load_settings


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """Spans of every app in this session (the SDK provider is process-global, installed once)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def wait_ready(client: TestClient, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"not ready after {timeout}s: {client.get('/readyz').json()}")


@contextmanager
def serving(app: FastAPI, timeout: float = 120) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port until the block ends; yields its base URL
    once ``/readyz`` answers 200."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)
        yield base
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def wait_job(
    client: TestClient, job: dict[str, Any], headers: dict[str, str], timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/v1/jobs/{job['id']}", headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("done", "failed"):
            return dict(r.json())
        time.sleep(0.05)
    raise AssertionError(f"job {job['id']} did not finish: {r.json()}")


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class Keys:
    acme_admin: dict[str, str]
    acme_eng: dict[str, str]
    acme_hr: dict[str, str]
    globex_admin: dict[str, str]
    acme_admin_id: str


def make_keys(data_dir: Path, state_url: str = "") -> Keys:
    st = open_state(state_url, data_dir)
    try:
        admin, s1 = st.create_key(
            name="acme admin", tenant="acme", groups=["eng", "hr"], role="admin", clearance=5
        )
        _, s2 = st.create_key(name="acme eng", tenant="acme", groups=["eng"], role="reader")
        _, s3 = st.create_key(name="acme hr", tenant="acme", groups=["hr"], role="reader", clearance=2)
        _, s4 = st.create_key(name="globex admin", tenant="globex", groups=["eng"], role="admin", clearance=5)
    finally:
        st.close()
    return Keys(bearer(s1), bearer(s2), bearer(s3), bearer(s4), admin.id)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service")


@pytest.fixture(scope="module")
def keys(data_dir: Path) -> Keys:
    return make_keys(data_dir)


@pytest.fixture(scope="module")
def client(data_dir: Path, keys: Keys, span_exporter: InMemorySpanExporter) -> Iterator[TestClient]:
    settings = load_settings(
        data_dir=data_dir,
        server={"max_upload_mb": 1, "max_json_mb": 0.5, "json_logs": False},
    )
    with TestClient(create_app(settings)) as c:
        wait_ready(c)
        yield c
