from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragline.service_state import QueryTrace, StateStore, open_state


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    s = open_state("", tmp_path)
    yield s
    s.close()


def put_answer(
    state: StateStore,
    trace_id: str,
    question: str,
    *,
    cited: tuple[str, ...] = (),
    variant: str = "",
    collection: str = "kb",
    tenant: str = "default",
    abstained: bool = False,
    total_ms: float = 100.0,
    cost: float = 0.0,
    at: float | None = None,
    ratings: tuple[int, ...] = (),
) -> None:
    """One ask trace as the server stores it, rated by one key per rating."""
    payload = {
        "kind": "ask",
        "answer": f"answer to {question}",
        "abstained": abstained,
        "citations": [{"n": i + 1, "doc_id": d} for i, d in enumerate(cited)],
        "timings_ms": {"total": total_ms},
        "usage": {"cost_usd": cost},
    }
    state.put_trace(
        QueryTrace(
            id=trace_id,
            tenant=tenant,
            key_id="k1",
            collection=collection,
            question=question,
            created_at=time.time() if at is None else at,
            payload=json.dumps(payload),
            variant=variant,
        )
    )
    for i, rating in enumerate(ratings):
        state.add_feedback(trace_id=trace_id, tenant=tenant, key_id=f"rater{i}", rating=rating)
