"""Spans leave the process over OTLP/HTTP when ``server.tracing = "otlp"``: a collector stand-in on
loopback receives them and decodes the protobuf. Runs in a subprocess because the tracer provider
is process-global."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.fake_server import QuietServer

pytestmark = pytest.mark.integration


def test_stage_spans_are_exported_over_otlp() -> None:
    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = QuietServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    script = textwrap.dedent(
        f"""
        from opentelemetry import trace
        from ragline.server.observability import setup_tracing
        from ragline.settings import ServerSettings
        from ragline.telemetry import span
        setup_tracing(ServerSettings(tracing="otlp", otlp_endpoint={endpoint!r}))
        with span("http", path="/v1/ask"):
            with span("retrieve", top_k=8):
                pass
            with span("generate", generator="extractive"):
                pass
        trace.get_tracer_provider().shutdown()
        """
    )
    try:
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    assert received, "no OTLP export arrived"
    path, ctype, body = received[0]
    assert path == "/v1/traces" and ctype == "application/x-protobuf"
    req = ExportTraceServiceRequest.FromString(body)
    rs = req.resource_spans[0]
    service = {a.key: a.value.string_value for a in rs.resource.attributes}["service.name"]
    spans = {s.name: s for ss in rs.scope_spans for s in ss.spans}
    assert service == "ragline"
    assert set(spans) == {"ragline.http", "ragline.retrieve", "ragline.generate"}
    assert spans["ragline.retrieve"].parent_span_id == spans["ragline.http"].span_id
    assert spans["ragline.retrieve"].trace_id == spans["ragline.http"].trace_id
