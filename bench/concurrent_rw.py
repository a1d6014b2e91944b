"""Searches while the collection is written: errors and latency against a live ``ragline serve``.

Starts ``ragline serve`` (auth off) on a fresh data directory, indexes ``--docs`` short documents
through the JSON documents endpoint, then for ``--seconds`` runs ``--clients`` HTTP clients in
loops (hybrid search, keyword search and extractive ``/ask``, in turn) while one writer keeps
uploading small batches of documents (each upload is an upsert, a commit and an ``optimize``) and
deleting older ones. Prints the searches made, errors by type (HTTP status or exception) and the
search latency p50/p99, and the writer's uploads and deletes.

    .venv/bin/python bench/concurrent_rw.py [--seconds 60] [--clients 4] [--docs 300]
        [--src /other/checkout/src]   # the server's source tree, e.g. to measure an older commit

Issue 21 (finding 7): before pinning reads to one table version, 5.4 % of searches returned 500.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = "rw"
TOPICS = ["lighthouse", "sourdough", "glacier", "violin", "orchard", "comet", "harbour", "falcon"]


def doc(i: int) -> dict[str, Any]:
    t = TOPICS[i % len(TOPICS)]
    return {
        "id": f"doc-{i}",
        "text": f"Note {i} about the {t}. The {t} was surveyed in {1900 + i % 120}. "
        f"Its keeper wrote {i % 7 + 2} reports about the {t} that year.",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_job(client: httpx.Client, job: dict[str, Any]) -> str:
    while job["status"] not in ("done", "failed"):
        time.sleep(0.05)
        job = client.get(f"/v1/jobs/{job['id']}").json()
    return str(job["status"])


def upload(client: httpx.Client, docs: list[dict[str, Any]]) -> str:
    r = client.post(f"/v1/collections/{COLLECTION}/documents", json={"documents": docs})
    return wait_job(client, r.json()) if r.status_code == 202 else f"HTTP {r.status_code}"


def start_server(data_dir: Path, src: Path, port: int, log: Any) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env |= {"RAGLINE_SERVER__AUTH": "false", "RAGLINE_SERVER__JSON_LOGS": "false", "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-m", "ragline.cli.main", "serve", "--port", str(port), "--data-dir", data_dir]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"ragline serve exited with {proc.returncode}; see {log.name}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"ragline serve not ready after 180 s; see {log.name}")


def run(url: str, seconds: float, clients: int, docs: int) -> dict[str, Any]:
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    calls: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    latency: dict[str, list[float]] = {}
    writes: Counter[str] = Counter()

    def reader(k: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as c:
            i = k
            while time.monotonic() < stop:
                i += 1
                t = TOPICS[i % len(TOPICS)]
                kind = ["hybrid", "keyword", "ask"][i % 3]
                if kind == "ask":
                    path, body = "ask", {"question": f"When was the {t} surveyed?"}
                else:
                    path, body = "search", {"query": f"reports about the {t}", "mode": kind, "top_k": 10}
                t0 = time.perf_counter()
                try:
                    r = c.post(f"/v1/collections/{COLLECTION}/{path}", json=body)
                    error = None if r.status_code == 200 else f"HTTP {r.status_code}"
                except httpx.HTTPError as e:
                    error = type(e).__name__
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    calls[kind] += 1
                    latency.setdefault(kind, []).append(ms)
                    if error:
                        errors[f"{kind}: {error}"] += 1

    def writer() -> None:
        with httpx.Client(base_url=url, timeout=120) as c:
            i = docs
            while time.monotonic() < stop:
                # Two new documents and one re-sent (an update), then the oldest new one goes.
                status = upload(c, [doc(i), doc(i + 1), doc(i % docs)])
                writes[f"upload {status}"] += 1
                r = c.delete(f"/v1/collections/{COLLECTION}/documents/default/doc-{i - 2}")
                writes[f"delete HTTP {r.status_code}"] += 1
                i += 2

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(clients)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"calls": calls, "errors": errors, "latency": latency, "writes": writes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="source tree the server runs from")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragline-rw-") as tmp:
        data_dir, port = Path(tmp) / "data", free_port()
        with (Path(tmp) / "server.log").open("w") as log:
            proc = start_server(data_dir, args.src.resolve(), port, log)
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=url, timeout=300) as c:
                status = upload(c, [doc(i) for i in range(args.docs)])
                if status != "done":
                    raise SystemExit(f"seeding {args.docs} documents: job {status}")
            out = run(url, args.seconds, args.clients, args.docs)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    n = sum(out["calls"].values())
    n_err = sum(out["errors"].values())
    print(f"server: {args.src}; {args.clients} clients, {args.seconds:.0f} s, {args.docs} documents seeded")
    print(f"searches: {n} ({', '.join(f'{k} {v}' for k, v in sorted(out['calls'].items()))})")
    print(f"errors: {n_err} ({100 * n_err / max(n, 1):.1f} %)")
    for kind, count in sorted(out["errors"].items()):
        print(f"  {kind}: {count}")
    for kind, ms in sorted(out["latency"].items()):
        p50, p99 = np.percentile(ms, [50, 99])
        print(f"latency {kind}: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    print(f"writer: {', '.join(f'{k} {v}' for k, v in sorted(out['writes'].items()))}")
    return 1 if n_err else 0


if __name__ == "__main__":
    sys.exit(main())
