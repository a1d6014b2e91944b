"""Overload (issue 21, finding 9): expensive requests beyond the running and queued limits are
shed at once with 503 and Retry-After, while the probes and cheap routes keep answering.

Slots are held deterministically by uploads whose body the client keeps open until released, on a
real uvicorn server; the test waits on the server's own in-flight and queued gauges."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragline.server.app import create_app
from ragline.settings import load_settings
from tests.server.conftest import make_keys, serving

pytestmark = pytest.mark.integration
BOUNDARY = "sLoWbOdY"


def _slow_upload(base: str, headers: dict[str, str], release: threading.Event, out: list[int]) -> None:
    def body() -> Iterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="slow.md"\r\n'
            "Content-Type: text/markdown\r\n\r\n# Slow\r\n"
        ).encode()
        release.wait(60)  # the request holds its slot while its body is still coming
        yield f"\r\nA slow note.\r\n--{BOUNDARY}--\r\n".encode()

    r = httpx.post(
        f"{base}/v1/collections/slow/files",
        content=body(),
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        timeout=60,
    )
    out.append(r.status_code)


def _gauge(base: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", httpx.get(f"{base}/metrics").text, re.M)
    assert m, name
    return float(m.group(1))


def _wait_for(base: str, running: float, queued: float) -> None:
    deadline = time.monotonic() + 30
    while (_gauge(base, "ragline_requests_in_flight"), _gauge(base, "ragline_requests_queued")) != (
        running,
        queued,
    ):
        assert time.monotonic() < deadline, "the slow uploads never took their slots"
        time.sleep(0.02)


def test_excess_requests_are_shed_while_probes_answer(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    settings = load_settings(
        data_dir=tmp_path, server={"json_logs": False, "max_concurrent_requests": 1, "max_queue": 1}
    )
    release, statuses = threading.Event(), list[int]()
    with serving(create_app(settings)) as base:
        h = keys.acme_admin
        threads = []
        try:
            for running, queued in ((1, 0), (1, 1)):  # one running, then one waiting
                t = threading.Thread(target=_slow_upload, args=(base, h, release, statuses))
                t.start()
                threads.append(t)
                _wait_for(base, running, queued)
            # Full: every expensive route sheds at once, with a Retry-After and a clear message.
            shed = [
                httpx.post(f"{base}/v1/collections/slow/search", json={"query": "slow"}, headers=h),
                httpx.post(f"{base}/v1/collections/slow/ask", json={"question": "slow?"}, headers=h),
                httpx.post(
                    f"{base}/v1/chat/completions",
                    json={"model": "slow", "messages": [{"role": "user", "content": "slow?"}]},
                    headers=h,
                ),
            ]
            for r in shed:
                assert r.status_code == 503, r.text
                assert int(r.headers["retry-after"]) >= 1
                body = r.json()["error"]
                assert body["type"] == "Overloaded" and "MAX_CONCURRENT_REQUESTS" in body["message"]
            # The probes, metrics and cheap routes do not wait for a slot.
            assert httpx.get(f"{base}/healthz").status_code == 200
            assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
            assert httpx.get(f"{base}/v1/collections", headers=h).status_code == 200
            shed_metric = (
                'ragline_http_requests_total{method="POST",route="/v1/chat/completions",status="503"}'
            )
            assert shed_metric in httpx.get(f"{base}/metrics").text
        finally:
            release.set()
            for t in threads:
                t.join(60)
        assert statuses == [202, 202]  # the held and the queued request both completed
        _wait_for(base, 0, 0)
        # Slots freed: the next search runs (an unknown collection: 404, not 503).
        r = httpx.post(f"{base}/v1/collections/none/search", json={"query": "slow"}, headers=h)
        assert r.status_code == 404, r.text
