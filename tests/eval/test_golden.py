"""A golden set scored through an engine (nDCG, recall, hit@k) and replayed through each variant
of an experiment, against hand-checked rankings."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.errors import ConfigError
from ragline.eval.golden import hit_at_k, replay, run_golden
from ragline.insights.golden import GoldenQuestion
from ragline.types import Document
from tests.helpers import TOPICS, fast_engine

QUESTIONS = [
    GoldenQuestion(id=f"g{i}", question=sentence, collection="kb", relevant={name: 1})
    for i, (name, sentence) in enumerate(TOPICS.items())
]


def test_hit_at_k_hand_computed() -> None:
    assert hit_at_k(["a", "b", "c"], {"c"}, 2) == 0.0
    assert hit_at_k(["a", "b", "c"], {"c"}, 3) == 1.0
    assert hit_at_k([], {"c"}, 10) == 0.0


def test_golden_set_scores_and_replays_through_variants(tmp_path: Path) -> None:
    experiments = {
        "fusion": {"variants": {"control": {}, "dense-only": {"retrieval": {"fusion": {"alpha": 1.0}}}}}
    }
    engine = fast_engine(tmp_path / "data", retrieval={"mode": "keyword"}, experiments=experiments)
    engine.upsert_documents(
        [Document(id=name, source=name, text=text, title=name) for name, text in TOPICS.items()],
        collection="kb",
    )
    result = run_golden(engine, QUESTIONS)
    # Each question is its document's own sentence: keyword search ranks that document first.
    assert result.metrics["hit@1"] == 1.0 and result.metrics["ndcg@10"] == pytest.approx(1.0)
    assert result.queries == len(TOPICS) and set(result.run) == {q.id for q in QUESTIONS}
    wrong = [GoldenQuestion(id="w", question=TOPICS["linux"], collection="kb", relevant={"billing": 1})]
    assert run_golden(engine, wrong).metrics["hit@1"] == 0.0
    replayed = replay(engine, "fusion", QUESTIONS)
    assert list(replayed) == ["control", "dense-only"]
    assert replayed["control"].metrics == result.metrics
    with pytest.raises(ConfigError, match="no experiment 'nope'"):
        replay(engine, "nope", QUESTIONS)
