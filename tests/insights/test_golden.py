from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ragline.errors import DatasetError
from ragline.insights.golden import export_golden, load_golden
from ragline.service_state import StateStore
from tests.insights.conftest import put_answer


def test_export_keeps_up_rated_questions_deduplicated_with_cited_documents(
    state: StateStore, tmp_path: Path
) -> None:
    put_answer(state, "t1", "How do backups work?", cited=("ops/backup.md",), ratings=(1,))
    # The same question differently written, answered from another document, also rated up.
    put_answer(state, "t2", "how do  backups WORK", cited=("ops/snapshots.md", "ops/backup.md"), ratings=(1,))
    put_answer(state, "t3", "What is the refund period?", cited=("billing.md",), ratings=(-1, -1))
    put_answer(state, "t4", "Rated up but cited nothing", ratings=(1,))
    put_answer(state, "t5", "Never rated", cited=("x.md",))
    # Mixed votes: one up, two down -> for review, not golden.
    put_answer(state, "t6", "Which port is open?", cited=("network.md",), ratings=(1, -1, -1))
    put_answer(state, "t7", "Another tenant's question", cited=("y.md",), tenant="globex", ratings=(1,))
    out = tmp_path / "golden.jsonl"
    result = export_golden(state, out, tenant="default")
    assert (result.golden, result.review, result.skipped_uncited, result.duplicates) == (1, 2, 1, 1)
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["question"] == "how do  backups WORK"  # the newest wording
    assert row["relevant"] == {"ops/backup.md": 1, "ops/snapshots.md": 1}
    assert sorted(row["trace_ids"]) == ["t1", "t2"] and (row["up"], row["down"]) == (2, 0)
    review = [json.loads(line) for line in result.review_path.read_text().splitlines()]
    assert result.review_path == tmp_path / "golden.review.jsonl"
    assert sorted(r["question"] for r in review) == ["What is the refund period?", "Which port is open?"]
    assert load_golden(out)[0].relevant == row["relevant"]


def test_export_filters_collection_and_since(state: StateStore, tmp_path: Path) -> None:
    now = time.time()
    put_answer(state, "old", "old question", cited=("a.md",), ratings=(1,), at=now - 3600)
    put_answer(state, "new", "new question", cited=("b.md",), ratings=(1,), at=now)
    put_answer(state, "news", "news question", cited=("c.md",), ratings=(1,), collection="news")
    r = export_golden(state, tmp_path / "g.jsonl", tenant="default", collection="kb", since=now - 60)
    assert [q.question for q in r.questions] == ["new question"]
    everyone = export_golden(state, tmp_path / "all.jsonl", tenant=None)
    assert everyone.golden == 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "golden.jsonl:1"),
        ('{"id": "a", "question": "q", "collection": "kb", "relevant": {}}', "non-empty"),
        ('{"id": "a", "question": "q", "relevant": {"d": 1}}', "collection"),
    ],
)
def test_bad_golden_lines_are_refused_with_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "golden.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(DatasetError, match=message):
        load_golden(path)
    with pytest.raises(DatasetError, match="golden export"):
        load_golden(tmp_path / "missing.jsonl")
