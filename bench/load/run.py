"""Load: N concurrent clients for T seconds against ``ragline serve`` (a subprocess on a loopback
port, real model and LanceDB) over a few hundred SciFact abstracts, mixing search, ask,
conversation follow-ups (``POST .../ask`` with ``conversation_id``) and the OpenAI endpoint with
several messages, while an admin uploads a batch of abstracts at the start and another every
``--upload-every`` seconds (each an ingest job writing the collection being read).

Reports responses per status code and operation, p50/p95/p99 latency of the answered ones per
operation, throughput, and the upload jobs' outcomes. Expected: 0 server errors (5xx other than
load shedding, or dropped connections). Requests the overload limiter sheds (503 ``Overloaded``
with Retry-After, a client then waits as asked) and rate limits (429) are counted apart: they are
the server protecting itself, not failing. ``--max-queue`` defaults to the client count, so at the
default size nothing is shed and every request waits its turn (shedding itself: bench/overload.py).

    .venv/bin/python bench/load/run.py                      # 50 clients, 60 s
    .venv/bin/python bench/load/run.py --clients 10 --seconds 20 --docs 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import ragline_serve  # noqa: E402

from ragline.testing.load import Workload, run_load  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "datasets" / "scifact"
COLLECTION = "scifact"


def _abstracts(n: int, skip: int = 0) -> list[tuple[str, bytes]]:
    out = []
    with (SCIFACT / "corpus.jsonl").open() as f:
        for i, line in enumerate(f):
            if i < skip:
                continue
            if len(out) == n:
                break
            d = json.loads(line)
            out.append((f"scifact-{d['_id']}.md", f"# {d['title']}\n\n{d['text']}\n".encode()))
    return out


def _prepare(data: Path, docs: int) -> tuple[str, str]:
    """Ingest ``docs`` abstracts into ``scifact``; returns an admin's and a reader's secret."""
    from ragline.service_state import open_state
    from ragline.types import DEFAULT_TENANT

    corpus = data / "corpus"
    corpus.mkdir(parents=True)
    for name, text in _abstracts(docs):
        (corpus / name).write_bytes(text)
    subprocess.run(
        [sys.executable, "-m", "ragline.cli.main", "ingest", str(corpus), "--collection", COLLECTION],
        check=True,
        env={**os.environ, "RAGLINE_DATA_DIR": str(data)},
        stdout=subprocess.DEVNULL,
    )
    st = open_state("", data)
    try:
        # `ragline ingest` writes the default tenant's collections.
        _, admin = st.create_key(name="load admin", tenant=DEFAULT_TENANT, groups=[], role="admin")
        _, reader = st.create_key(name="load reader", tenant=DEFAULT_TENANT, groups=[], role="reader")
    finally:
        st.close()
    return admin, reader


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--docs", type=int, default=300, help="abstracts indexed before the run")
    ap.add_argument("--upload-batch", type=int, default=20, help="abstracts per upload")
    ap.add_argument("--upload-every", type=float, default=10, help="seconds between uploads")
    ap.add_argument("--max-queue", type=int, help="server.max_queue (default: the client count)")
    # Generous: at 50 clients on 2 busy cores a request may wait a minute in the queue; a client
    # timing out would show as a failure the server did not have.
    ap.add_argument("--timeout", type=float, default=600, help="client timeout per request (s)")
    ap.add_argument("--data-dir", type=Path, help="reuse a prepared data dir (default: a new temp dir)")
    args = ap.parse_args(argv)
    if not (SCIFACT / "corpus.jsonl").exists():
        print(f"skip: {SCIFACT}/corpus.jsonl not found (BEIR datasets live in ../shared/datasets)")
        return 0
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="ragline-load-"))
    keys = data / "load-keys.json"
    t0 = time.monotonic()
    if not keys.exists():
        keys.write_text(json.dumps(_prepare(data, args.docs)))
    admin, reader = (f"Bearer {s}" for s in json.loads(keys.read_text()))
    prepared_s = time.monotonic() - t0
    queries = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").open()][:300]
    # Uploads are abstracts not indexed before, a new batch each time (re-sending a file would
    # only find it unchanged).
    fresh = _abstracts(args.upload_batch * 50, skip=args.docs)
    batches = [fresh[i : i + args.upload_batch] for i in range(0, len(fresh), args.upload_batch)]
    env = {"RAGLINE_SERVER__MAX_QUEUE": str(args.max_queue if args.max_queue is not None else args.clients)}
    with ragline_serve(data, env) as base:
        report = asyncio.run(
            run_load(
                Workload(
                    base=base,
                    collection=COLLECTION,
                    keys=[{"Authorization": admin}, {"Authorization": reader}],
                    admin={"Authorization": admin},
                    queries=queries,
                    upload_batches=batches,
                    clients=args.clients,
                    seconds=args.seconds,
                    upload_every_s=args.upload_every,
                    timeout_s=args.timeout,
                )
            )
        )
    out = {
        "clients": args.clients,
        "docs_before": args.docs,
        "upload_batch": args.upload_batch,
        "upload_every_s": args.upload_every,
        "max_queue": env["RAGLINE_SERVER__MAX_QUEUE"],
        "prepare_s": round(prepared_s, 1),
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        **report.summary(),
    }
    print(json.dumps(out, indent=2))
    return 1 if report.server_errors() or report.shape_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
