"""Rate limits and daily quotas per key and per tenant (429 with Retry-After and the JSON error),
the usage report, and the Redis-shared limiter across two app instances."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.server.app import create_app
from ragline.settings import load_settings
from tests.helpers import fast_engine, running_server, seed_two_tenants
from tests.server.conftest import Keys, make_keys, wait_ready

pytestmark = pytest.mark.integration
SEARCH = "/v1/collections/kb/search"
ASK = "/v1/collections/kb/ask"
QUERY = {"query": "When does the office open?"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Keys]:
    data = tmp_path_factory.mktemp("limits")
    seed_two_tenants(fast_engine(data))
    return data, make_keys(data)


@contextmanager
def app_client(data: Path, **settings: Any) -> Iterator[TestClient]:
    s = load_settings(data_dir=data, server={"json_logs": False}, **settings)
    engine = fast_engine(data, **{k: v for k, v in settings.items() if k in ("llm", "answer")})
    with TestClient(create_app(s, engine=engine)) as c:
        wait_ready(c)
        yield c


def _fresh(seeded: tuple[Path, Keys], tmp_path: Path) -> tuple[Path, Keys]:
    """A copy of the seeded data directory with an empty usage table (keys kept)."""
    data, keys = seeded
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    return copy, keys


def _refused(r: Any, *words: str) -> int:
    assert r.status_code == 429, r.text
    body = r.json()["error"]
    assert body["type"] == "RateLimited"
    for w in words:
        assert w in body["message"], body["message"]
    retry = int(r.headers["Retry-After"])
    assert retry >= 1
    return retry


def test_requests_per_minute_per_key(seeded, tmp_path) -> None:
    data, keys = _fresh(seeded, tmp_path)
    with app_client(data, limits={"key": {"requests_per_minute": 2}}) as c:
        assert [c.post(SEARCH, json=QUERY, headers=keys.acme_eng).status_code for _ in range(2)] == [200, 200]
        retry = _refused(c.post(SEARCH, json=QUERY, headers=keys.acme_eng), "2 requests per minute")
        assert retry <= 30  # one token of a 2-per-minute bucket refills in 30 s
        # Another key has a bucket of its own; cheap routes are never limited.
        assert c.post(SEARCH, json=QUERY, headers=keys.acme_hr).status_code == 200
        assert c.get("/v1/collections", headers=keys.acme_eng).status_code == 200


def test_requests_per_minute_per_tenant_with_an_override(seeded, tmp_path) -> None:
    data, keys = _fresh(seeded, tmp_path)
    limits = {"tenant": {"requests_per_minute": 3}, "tenants": {"globex": {"requests_per_minute": 1}}}
    with app_client(data, limits=limits) as c:
        codes = [c.post(SEARCH, json=QUERY, headers=h).status_code for h in (keys.acme_eng, keys.acme_hr) * 2]
        assert codes == [200, 200, 200, 429]
        _refused(c.post(SEARCH, json=QUERY, headers=keys.acme_admin), "tenant 'acme'")
        assert c.post(SEARCH, json=QUERY, headers=keys.globex_admin).status_code == 200
        _refused(c.post(SEARCH, json=QUERY, headers=keys.globex_admin), "tenant 'globex'", "1 requests")


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    stderr = tmp_path_factory.mktemp("fake_chat") / "stderr.txt"
    with running_server("tests.generation.fake_chat_server", stderr) as url:
        yield f"{url}/v1"


def _llm(url: str) -> dict[str, Any]:
    return {
        "llm": {
            "base_url": url,
            "model": "good",
            "prices": {"good": {"input_per_mtok": 1000.0, "output_per_mtok": 2000.0}},
        },
        "answer": {"generator": "llm"},
    }


def test_token_quota_per_key(seeded, tmp_path, llm_url) -> None:
    data, keys = _fresh(seeded, tmp_path)
    with app_client(data, limits={"key": {"tokens_per_day": 10}}, **_llm(llm_url)) as c:
        first = c.post(ASK, json={"question": "When does the office open?"}, headers=keys.acme_eng)
        assert first.status_code == 200, first.text
        used = first.json()["usage"]
        assert used["prompt_tokens"] + used["completion_tokens"] > 10
        retry = _refused(
            c.post(ASK, json={"question": "Who signs in?"}, headers=keys.acme_eng),
            "LLM tokens per day",
            "00:00 UTC",
        )
        assert retry <= 86_400
        assert c.post(ASK, json={"question": "Who signs in?"}, headers=keys.acme_hr).status_code == 200


def test_cost_quota_per_tenant(seeded, tmp_path, llm_url) -> None:
    data, keys = _fresh(seeded, tmp_path)
    with app_client(data, limits={"tenant": {"cost_per_day_usd": 0.01}}, **_llm(llm_url)) as c:
        r = c.post(ASK, json={"question": "When does the office open?"}, headers=keys.acme_eng)
        assert r.status_code == 200
        assert r.json()["usage"]["cost_usd"] > 0.01
        _refused(c.post(SEARCH, json=QUERY, headers=keys.acme_hr), "tenant 'acme'", "LLM cost per day")
        assert c.post(SEARCH, json=QUERY, headers=keys.globex_admin).status_code == 200


def test_usage_report_sums_the_requests_made(seeded, tmp_path, llm_url) -> None:
    data, keys = _fresh(seeded, tmp_path)
    with app_client(data, **_llm(llm_url)) as c:
        asked = []
        for h, q in (
            (keys.acme_eng, "When does the office open?"),
            (keys.acme_hr, "When are salary reviews?"),
        ):
            r = c.post(ASK, json={"question": q}, headers=h)
            assert r.status_code == 200
            asked.append(r.json()["usage"])
        for h in (keys.acme_eng, keys.acme_eng, keys.acme_admin, keys.globex_admin):
            assert c.post(SEARCH, json=QUERY, headers=h).status_code == 200
        report = c.get("/v1/usage", headers=keys.acme_admin)
        assert report.status_code == 200, report.text
        body = report.json()
        assert body["tenant"] == "acme"
        total = body["total"]
        assert total["requests"] == 5  # 2 asks + 3 searches of acme; globex's is not here
        assert total["prompt_tokens"] == sum(u["prompt_tokens"] for u in asked)
        assert total["completion_tokens"] == sum(u["completion_tokens"] for u in asked)
        assert total["cost_usd"] == pytest.approx(sum(u["cost_usd"] for u in asked))
        by_key = {r["key_id"]: r["requests"] for r in body["rows"]}
        assert sorted(by_key.values()) == [1, 1, 3]
        assert keys.acme_admin_id in by_key
        assert c.get("/v1/usage", headers=keys.globex_admin).json()["total"]["requests"] == 1
        assert c.get("/v1/usage", headers=keys.acme_eng).status_code == 403  # readers see none
        only = c.get("/v1/usage", params={"key_id": keys.acme_admin_id}, headers=keys.acme_admin).json()
        assert only["total"]["requests"] == 1


@contextmanager
def redis_server(tmp_path: Path) -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip(
            "redis-server is not installed (apt-get install redis-server; scripts/install-system-deps.sh)"
        )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(tmp_path),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(200):  # up to 10 s for the server to listen
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None, "redis-server exited at start"
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_replicas_share_the_rate_limit_through_redis(seeded, tmp_path) -> None:
    data, keys = _fresh(seeded, tmp_path)
    with redis_server(tmp_path) as url, ExitStack() as stack:
        limits = {"key": {"requests_per_minute": 3}, "redis_url": url}
        a = stack.enter_context(app_client(data, limits=limits))
        b = stack.enter_context(app_client(data, limits=limits))
        codes = [c.post(SEARCH, json=QUERY, headers=keys.acme_eng).status_code for c in (a, b, a, b)]
        assert codes == [200, 200, 200, 429]  # each replica alone would have allowed its 2
        _refused(b.post(SEARCH, json=QUERY, headers=keys.acme_eng), "3 requests per minute")
        assert b.post(SEARCH, json=QUERY, headers=keys.acme_hr).status_code == 200


def test_a_hanging_llm_degrades_within_the_deadline_over_http(seeded, tmp_path, llm_url) -> None:
    """The SSE answer is generated while the response streams, on other threads than the route's:
    the request's deadline still holds there (else: 30 s x 3 attempts before the degraded answer)."""
    data, keys = _fresh(seeded, tmp_path)
    llm = {"base_url": llm_url, "model": "hang", "timeout_s": 30.0, "max_retries": 2, "deadline_s": 1.5}
    with app_client(data, llm=llm, answer={"generator": "llm"}) as c:
        r = c.post(
            ASK, json={"question": "When does the office open?", "stream": True}, headers=keys.acme_eng
        )
        assert r.status_code == 200
        final = [e for e in r.text.split("\n\n") if e.startswith("event: final")]
        assert len(final) == 1
        answer = json.loads(final[0].split("data: ", 1)[1])
        assert answer["mode"] == "degraded"
        assert "8 am" in answer["text"]
        assert any("llm.deadline_s" in e for e in answer["errors"])
        chat = c.post(
            "/v1/chat/completions",
            json={"model": "kb", "messages": [{"role": "user", "content": "When does the office open?"}]},
            headers=keys.acme_eng,
        )
        assert chat.json()["ragline"]["mode"] == "degraded"


def test_an_unreachable_redis_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    from ragline.server.limits import RedisBuckets

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])  # nothing listens here once closed
    buckets = RedisBuckets(f"redis://127.0.0.1:{port}/0")
    assert [buckets.take("key:k1", 1) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert sum("rate limits not enforced" in r.getMessage() for r in caplog.records) == 1


def test_a_bad_redis_url_is_refused() -> None:
    from ragline.errors import ConfigError

    with pytest.raises(ConfigError, match=r"limits\.redis_url"):
        load_settings(limits={"redis_url": "localhost:6379"})
