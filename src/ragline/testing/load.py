"""A mixed HTTP workload for a running ragline server: concurrent clients searching, asking, and
continuing conversations (``POST /v1/ask`` with ``conversation_id`` and the OpenAI endpoint with
several messages) while an uploader sends batches of files, each one an ingest job it polls.

Every response is checked for the documented shape; what is counted is the status per operation,
the latency of the answered requests and what each key was shown (so a caller can check that every
hit is a document that key may read). Used by ``bench/load/run.py`` (50 clients, 60 s) and by
``tests/server/test_load.py`` (a short run in the suite).

    report = asyncio.run(run_load(Workload(base="http://127.0.0.1:8000", collection="demo",
                                           keys=[{"Authorization": "Bearer ..."}],
                                           admin={"Authorization": "Bearer ..."},
                                           queries=["how do I install a package?"])))
    report.server_errors()   # 0 expected
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

# Operations a client draws from, in turn (so the mix is the same in every run).
MIX = ("search", "ask", "conversation", "chat")  # "conversation": a follow-up in a conversation
# Follow-ups asked after a conversation's first question: elliptical, so they need its history.
FOLLOW_UPS = ("and how is that configured?", "what about on Windows?", "why?", "and the default?")


@dataclass
class Workload:
    """What to send: to ``collection`` at ``base``, as ``keys`` (clients take them in turn), with
    ``admin`` uploading ``upload_batches`` (lists of ``(file name, bytes)``), the first at once and
    the next every ``upload_every_s`` seconds (cycling through them) for ``seconds``."""

    base: str
    collection: str
    keys: Sequence[dict[str, str]]
    admin: dict[str, str]
    queries: Sequence[str]
    upload_batches: Sequence[Sequence[tuple[str, bytes]]] = ()
    clients: int = 50
    seconds: float = 60.0
    upload_every_s: float = 10.0
    timeout_s: float = 120.0


@dataclass
class Report:
    """Counts and latencies of one run. ``statuses[op][code]``: responses (or transport error names);
    ``latency_ms[op]``: latencies of 2xx answers; ``shape_errors``: responses that were not the
    documented JSON (first ones with the reason); ``seen[key index]``: doc ids shown to that key."""

    seconds: float
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    shape_errors: list[str] = field(default_factory=list)
    seen: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    jobs: Counter[str] = field(default_factory=Counter)
    job_errors: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(c[status] for c in self.statuses.values())

    def server_errors(self) -> int:
        """5xx answers other than load shedding (503 ``Overloaded``, counted as ``shed``) and
        transport failures (a dropped connection is a server failure too)."""
        return sum(
            n
            for c in self.statuses.values()
            for status, n in c.items()
            if status.startswith("5") or (not status[:1].isdigit() and status != "shed")
        )

    def summary(self) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> float:
            if not values:
                return 0.0
            s = sorted(values)
            return round(s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))], 1)

        ops = {}
        for op in sorted(self.statuses):
            ms = self.latency_ms[op]
            ops[op] = {
                "statuses": dict(sorted(self.statuses[op].items())),
                "ok_per_s": round(len(ms) / self.seconds, 2),
                "p50_ms": pct(ms, 50),
                "p95_ms": pct(ms, 95),
                "p99_ms": pct(ms, 99),
                "max_ms": round(max(ms, default=0.0), 1),
            }
        total = sum(sum(c.values()) for c in self.statuses.values())
        queries = sum(sum(self.statuses[op].values()) for op in (*MIX, "conversation_first"))
        return {
            "seconds": self.seconds,
            "requests": total,
            "requests_per_s": round(total / self.seconds, 2),
            # The clients' search, ask, conversation and chat requests (not uploads or job polls).
            "queries_per_s": round(queries / self.seconds, 2),
            "server_errors": self.server_errors(),
            "shed_503": self.count("shed"),
            "rate_limited_429": self.count("429"),
            "shape_errors": len(self.shape_errors),
            "first_shape_errors": self.shape_errors[:5],
            "upload_jobs": dict(self.jobs),
            "first_job_errors": self.job_errors[:5],
            "operations": ops,
        }


def _has(body: Any, keys: Mapping[str, type | tuple[type, ...]]) -> str:
    """'' when ``body`` is a dict holding each key with a value of its type, else the first problem."""
    if not isinstance(body, dict):
        return f"not a JSON object: {str(body)[:80]!r}"
    for k, t in keys.items():
        if not isinstance(body.get(k), t):
            return f"{k!r} missing or not {t}: {str(body.get(k))[:80]!r}"
    return ""


_Shape = Mapping[str, type | tuple[type, ...]]
_HIT: _Shape = {"doc_id": str, "chunk_id": str, "text": str, "score": (int, float), "metadata": dict}
_ANSWER: _Shape = {
    "question": str,
    "query": str,
    "text": str,
    "citations": list,
    "trace_id": str,
    "usage": dict,
}
_CITATION: _Shape = {"n": int, "doc_id": str, "chunk_id": str, "quote": str}


def check_search(body: Any) -> tuple[str, list[str]]:
    """The documented ``SearchOut``: (problem or '', doc ids of its hits)."""
    problem = _has(body, {"hits": list, "trace_id": str})
    if problem:
        return problem, []
    for h in body["hits"]:
        if problem := _has(h, _HIT):
            return "hit: " + problem, []
    return "", [h["doc_id"] for h in body["hits"]]


def check_answer(body: Any) -> tuple[str, list[str]]:
    """The documented ``AnswerOut``: (problem or '', doc ids it cites)."""
    problem = _has(body, _ANSWER)
    if problem:
        return problem, []
    for c in body["citations"]:
        if problem := _has(c, _CITATION):
            return "citation: " + problem, []
    return "", [c["doc_id"] for c in body["citations"]]


def check_chat(body: Any) -> tuple[str, list[str]]:
    """An OpenAI ``chat.completion`` with ragline's ``citations``: (problem or '', cited doc ids)."""
    problem = _has(body, {"id": str, "object": str, "choices": list, "usage": dict, "citations": list})
    if problem:
        return problem, []
    if body["object"] != "chat.completion" or len(body["choices"]) != 1:
        return f"not one chat.completion choice: {str(body)[:120]!r}", []
    message = body["choices"][0].get("message")
    if _has(message, {"role": str, "content": str}):
        return f"choice without an assistant message: {message!r}", []
    for c in body["citations"]:
        if problem := _has(c, _CITATION):
            return "citation: " + problem, []
    return "", [c["doc_id"] for c in body["citations"]]


def _status(r: httpx.Response) -> str:
    if r.status_code == 503:
        try:
            if r.json()["error"]["type"] == "Overloaded":
                return "shed"
        except (ValueError, KeyError, TypeError):
            pass
    return str(r.status_code)


async def run_load(w: Workload) -> Report:
    """Run the workload for ``w.seconds`` and report it (see the module's docstring)."""
    report = Report(seconds=w.seconds)
    deadline = time.monotonic() + w.seconds
    limits = httpx.Limits(max_connections=w.clients + 8, max_keepalive_connections=w.clients + 8)
    async with httpx.AsyncClient(base_url=w.base, limits=limits, timeout=w.timeout_s) as http:

        async def call(
            op: str, method: str, url: str, key: int, check: Callable[[Any], tuple[str, list[str]]], **kw: Any
        ) -> Any:
            headers = w.keys[key] if key >= 0 else w.admin
            t0 = time.perf_counter()
            try:
                r = await http.request(method, url, headers=headers, **kw)
            except httpx.HTTPError as exc:
                report.statuses[op][type(exc).__name__] += 1
                return None
            ms = (time.perf_counter() - t0) * 1000
            status = _status(r)
            report.statuses[op][status] += 1
            if status in ("shed", "429"):
                # A well-behaved client waits as asked.
                await asyncio.sleep(min(float(r.headers.get("retry-after", "1")), 5.0))
                return None
            try:
                body = r.json()
            except ValueError:
                report.shape_errors.append(f"{op} {r.status_code}: not JSON: {r.text[:80]!r}")
                return None
            if not r.is_success:
                # Every error is {"error": {"type": ..., "message": ...}}, the message saying what to do.
                if _has(body, {"error": dict}) or _has(body["error"], {"type": str, "message": str}):
                    report.shape_errors.append(f"{op} {r.status_code}: not the error shape: {body!r}")
                return None
            report.latency_ms[op].append(ms)
            problem, doc_ids = check(body)
            if problem:
                report.shape_errors.append(f"{op}: {problem}")
            elif key >= 0:
                report.seen[key].update(doc_ids)
            return body

        async def client(i: int) -> None:
            key = i % len(w.keys)
            conversation = ""
            n = 0
            while time.monotonic() < deadline:
                op = MIX[(i + n) % len(MIX)]
                q = w.queries[(i * 7 + n) % len(w.queries)]
                follow = FOLLOW_UPS[n % len(FOLLOW_UPS)]
                n += 1
                if op == "search":
                    await call(
                        op,
                        "POST",
                        f"/v1/collections/{w.collection}/search",
                        key,
                        check_search,
                        json={"query": q, "top_k": 10},
                    )
                elif op == "ask":
                    await call(
                        op,
                        "POST",
                        f"/v1/collections/{w.collection}/ask",
                        key,
                        check_answer,
                        json={"question": q},
                    )
                elif op == "conversation":
                    if not conversation:
                        made = await call(
                            "start_conversation",
                            "POST",
                            "/v1/conversations",
                            key,
                            lambda b: (_has(b, {"id": str, "turns": list}), []),
                            json={"collection": w.collection},
                        )
                        conversation = made["id"] if made else ""
                        if not conversation:
                            continue
                        # The conversation's first question (counted apart), then at once a
                        # follow-up on it, so every conversation has one even in a short run.
                        await call(
                            "conversation_first",
                            "POST",
                            f"/v1/collections/{w.collection}/ask",
                            key,
                            check_answer,
                            json={"question": q, "conversation_id": conversation},
                        )
                    await call(
                        op,
                        "POST",
                        f"/v1/collections/{w.collection}/ask",
                        key,
                        check_answer,
                        json={"question": follow, "conversation_id": conversation},
                    )
                else:
                    messages = [
                        {"role": "user", "content": q},
                        {"role": "assistant", "content": "(an earlier answer)"},
                        {"role": "user", "content": follow},
                    ]
                    await call(
                        op,
                        "POST",
                        "/v1/chat/completions",
                        key,
                        check_chat,
                        json={"model": w.collection, "messages": messages},
                    )

        async def uploader() -> None:
            n = 0
            while w.upload_batches and time.monotonic() < deadline:
                batch = w.upload_batches[n % len(w.upload_batches)]
                n += 1
                next_at = time.monotonic() + w.upload_every_s
                job = await call(
                    "upload",
                    "POST",
                    f"/v1/collections/{w.collection}/files",
                    -1,
                    lambda b: (_has(b, {"id": str, "status": str, "total": int}), []),
                    files=[("files", (name, data)) for name, data in batch],
                )
                # Polled past the deadline (up to timeout_s) so each job's outcome is known.
                poll_until = deadline + w.timeout_s
                while (
                    job is not None
                    and job["status"] in ("queued", "running")
                    and time.monotonic() < poll_until
                ):
                    await asyncio.sleep(0.5)
                    job = await call(
                        "job",
                        "GET",
                        f"/v1/jobs/{job['id']}",
                        -1,
                        lambda b: (_has(b, {"id": str, "status": str, "errors": list}), []),
                    )
                if job is not None and job["status"] in ("done", "failed"):
                    report.jobs[job["status"]] += 1
                    report.job_errors += [str(e) for e in job["errors"]]
                await asyncio.sleep(max(0.0, min(next_at, deadline) - time.monotonic()))

        await asyncio.gather(uploader(), *(client(i) for i in range(w.clients)))
    return report
