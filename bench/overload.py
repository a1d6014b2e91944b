"""Overload: N concurrent search clients against ``ragline serve`` (a subprocess on a loopback
port, over the demo corpus), with a probe on ``/healthz`` every 100 ms.

Reports the liveness probe's latency (a Kubernetes liveness timeout is 1 s by default), how many
searches were shed (503 + Retry-After; a shed client waits Retry-After, as a well-behaved client
does) and the latency of the searches that ran.

    .venv/bin/python bench/overload.py --clients 200 --seconds 30
    .venv/bin/python bench/overload.py --clients 200 --seconds 30 --no-shedding   # the old behaviour

``--no-shedding`` raises server.max_concurrent_requests and server.max_queue out of reach.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from benchlib import ragline_serve

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "demo" / "corpus"


def _prepare(data: Path) -> str:
    """Ingest the demo corpus into collection ``demo``; returns an admin key's secret."""
    from ragline.service_state import open_state
    from ragline.types import DEFAULT_TENANT

    subprocess.run(
        [sys.executable, "-m", "ragline.cli.main", "ingest", str(CORPUS), "--collection", "demo"],
        check=True,
        env={**os.environ, "RAGLINE_DATA_DIR": str(data)},
        stdout=subprocess.DEVNULL,
    )
    st = open_state("", data)
    try:
        # `ragline ingest` writes the default tenant's collections.
        _, secret = st.create_key(name="bench", tenant=DEFAULT_TENANT, groups=[], role="admin", clearance=0)
    finally:
        st.close()
    return secret


def _probe(base: str, seconds: float) -> tuple[list[float], int]:
    """GET /healthz every 100 ms for ``seconds``: latencies (ms) and failures."""
    latencies, failures = [], 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=30) as http:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            try:
                ok = http.get("/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - t0) * 1000)
            failures += not ok
            time.sleep(0.1)
    return latencies, failures


def _server_latency(metrics: str) -> dict[str, float]:
    """The server's own view (no client-side delay): share of search requests, shed ones included,
    answered within each histogram bucket's bound (seconds)."""
    buckets = {}
    for m in re.finditer(r"^ragline_http_request_duration_seconds_bucket\{(.*)\} (\S+)$", metrics, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels.get("route") == "/v1/collections/{collection}/search":
            buckets[labels["le"]] = float(m.group(2))
    total = buckets.get("+Inf", 0.0)
    return {le: round(n / total, 3) for le, n in buckets.items() if le != "+Inf"} if total else {}


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


async def _load(base: str, secret: str, clients: int, seconds: float) -> dict[str, object]:
    queries = [q for q in (CORPUS / "QUERIES.txt").read_text().splitlines() if q.strip()]
    statuses: dict[str, int] = {}
    ok_ms: list[float] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as http:

        async def client(i: int) -> None:
            n = 0
            while time.monotonic() < deadline:
                q = queries[(i + n) % len(queries)]
                n += 1
                t0 = time.perf_counter()
                try:
                    r = await http.post(
                        "/v1/collections/demo/search",
                        json={"query": q, "top_k": 10},
                        headers={"Authorization": f"Bearer {secret}"},
                    )
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
                    continue
                statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
                if r.status_code == 200:
                    ok_ms.append((time.perf_counter() - t0) * 1000)
                elif r.status_code == 503:
                    await asyncio.sleep(float(r.headers.get("retry-after", "1")))

        # The probe runs in a process of its own, as the kubelet does: the load generator's own
        # event loop (200 clients) must not delay it.
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            probed = pool.apply_async(_probe, (base, seconds))
            await asyncio.gather(*(client(i) for i in range(clients)))
            probe_ms, probe_failures = probed.get(timeout=seconds + 60)
    total = sum(statuses.values())
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": total,
        "statuses": statuses,
        "shed_rate": round(statuses.get("503", 0) / total, 3) if total else 0.0,
        "searches_ok_per_s": round(len(ok_ms) / seconds, 1),
        "search_ok_ms": {
            "p50": round(_pct(ok_ms, 50)),
            "p99": round(_pct(ok_ms, 99)),
            "max": round(max(ok_ms, default=0)),
        },
        "healthz_ms": {
            "p50": round(_pct(probe_ms, 50), 1),
            "p99": round(_pct(probe_ms, 99), 1),
            "max": round(max(probe_ms, default=0), 1),
            "probes": len(probe_ms),
            "failed": probe_failures,
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--no-shedding", action="store_true", help="limits out of reach (the old behaviour)")
    ap.add_argument(
        "--max-concurrent", type=int, help="server.max_concurrent_requests (default: the setting's)"
    )
    ap.add_argument("--max-queue", type=int, help="server.max_queue (default: the setting's)")
    ap.add_argument("--data-dir", type=Path, help="reuse a prepared data dir (default: a new temp dir)")
    args = ap.parse_args(argv)
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="ragline-overload-"))
    secret_file = data / "bench-key.txt"
    if not secret_file.exists():
        secret_file.write_text(_prepare(data))
    secret = secret_file.read_text().strip()
    env = {
        # The clients cycle through a few queries: with the query cache on they would measure
        # cache hits, not the pipeline under load that the shedding protects.
        "RAGLINE_CACHE__ENABLED": "false",
    }
    if args.no_shedding:
        args.max_concurrent, args.max_queue = 1024, 100_000
    if args.max_concurrent is not None:
        env["RAGLINE_SERVER__MAX_CONCURRENT_REQUESTS"] = str(args.max_concurrent)
    if args.max_queue is not None:
        env["RAGLINE_SERVER__MAX_QUEUE"] = str(args.max_queue)
    with ragline_serve(data, env) as base:
        result = asyncio.run(_load(base, secret, args.clients, args.seconds))
        result["server_search_s"] = _server_latency(httpx.get(f"{base}/metrics").text)
    result["max_concurrent_requests"] = args.max_concurrent or "default"
    result["max_queue"] = args.max_queue if args.max_queue is not None else "default"
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
