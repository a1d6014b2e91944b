"""Time to the (degraded) answer when the LLM endpoint hangs: with the per-request deadline
(``llm.deadline_s``) and without it (``None``: each stage and attempt waits its own timeout),
with and without the circuit breaker.

The LLM is the fake OpenAI-protocol server of the tests (``tests.generation.fake_chat_server``,
model ``hang``: accepts the request and never answers in time); the engine runs the in-process
store twin with the hash embedder (tests/helpers.py ``fast_engine``), three LLM stages
(multi-query, HyDE, generation).

    .venv/bin/python bench/llm_deadline.py --timeout-s 3 --retries 2 --deadline-s 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import fast_engine, running_server, write_fact_corpus  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout-s", type=float, default=3.0)
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--deadline-s", type=float, default=2.0)
    args = ap.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_server("tests.generation.fake_chat_server", Path(tmp) / "stderr.txt") as url,
    ):
        write_fact_corpus(Path(tmp) / "docs")
        print(
            f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, timeout_s {args.timeout_s:g}, "
            f"max_retries {args.retries}, stages: multi-query, HyDE, generation"
        )
        runs = ((args.deadline_s, 5), (None, 5), (None, 0))  # (deadline_s, breaker_failures)
        for deadline, breaker in runs:
            eng = fast_engine(
                Path(tmp) / f"data-{deadline}-{breaker}",
                llm={
                    "base_url": f"{url}/v1",
                    "model": "hang",
                    "timeout_s": args.timeout_s,
                    "max_retries": args.retries,
                    "backoff_s": 0.1,
                    "deadline_s": deadline,
                    "breaker_failures": breaker,
                },
                answer={"generator": "llm"},
                retrieval={"query": {"multi_query": 2, "hyde": True}, "rerank": []},
            )
            eng.ingest([Path(tmp) / "docs"])
            t0 = time.monotonic()
            answer = eng.ask("Who built the Harbor Lighthouse?")
            took = time.monotonic() - t0
            setting = f"deadline_s={deadline!s:5s} breaker_failures={breaker}"
            print(f"{setting}: {answer.mode} answer after {took:.1f} s")


if __name__ == "__main__":
    main()
