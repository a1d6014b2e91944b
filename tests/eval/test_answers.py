"""``ragline eval answers``: RAGAS-style files, the metrics on rows as given and on the engine's own
answers, the CLI, and the LLM-as-judge mode against a fake OpenAI-protocol server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.cli.main import app
from ragline.errors import DatasetError
from ragline.eval.answers import AnswerSample, load_answer_dataset, run_answers
from tests.helpers import FakeServer, fast_engine, running_server, write_fact_corpus

ROWS = [
    {
        "id": "short",
        "question": "Who built the Harbor Lighthouse?",
        "ground_truth": "Maria Okafor",
        "contexts": [
            "The Harbor Lighthouse was built in 1872 by the engineer Maria Okafor.",
            "Tickets cost six euros.",
        ],
        "answer": "The lighthouse was built by Maria Okafor [1]. It was moved to Paris [2].",
    },
    {
        "id": "gold-passages",
        "question": "What do tickets cost?",
        "contexts": ["The lamp was electrified in 1931.", "Tickets cost six euros for adults."],
        "reference_contexts": ["Tickets cost six euros for adults."],
    },
    {
        "id": "long",
        "question": "How tall is it and when did it open?",
        "ground_truths": ["The lighthouse stands 41 metres tall. It opened in 1990."],
        "contexts": ["The lighthouse stands 41 metres tall."],
    },
]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_loader_reads_both_ragas_vocabularies_and_columns(tmp_path: Path) -> None:
    v2 = {"user_input": "q?", "reference": "a", "retrieved_contexts": ["c"], "response": "r"}
    (s,) = load_answer_dataset(_write(tmp_path / "v2.jsonl", [v2]))
    assert s == AnswerSample("0", "q?", ("a",), ("c",), "r", ())
    columns = {"question": ["q1", "q2"], "ground_truths": [["a", "b"], ["c"]]}
    (tmp_path / "cols.json").write_text(json.dumps(columns))
    got = load_answer_dataset(tmp_path / "cols.json")
    assert [(x.question, x.ground_truths, x.contexts) for x in got] == [
        ("q1", ("a", "b"), None),
        ("q2", ("c",), None),
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"question": "q", "ground_truht": "a"}, "unknown field 'ground_truht'"),
        ({"question": "q", "answer": "a", "response": "b"}, "repeats a field"),
        ({"ground_truth": "a"}, "no 'question'"),
        ({"question": "q", "contexts": [1, 2]}, "'contexts' must be a string or a list of strings"),
    ],
)
def test_loader_refuses_bad_rows_by_name(tmp_path: Path, row: dict, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        load_answer_dataset(_write(tmp_path / "bad.jsonl", [row]))


def test_loader_refuses_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="is not a file"):
        load_answer_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(DatasetError, match="holds no rows"):
        load_answer_dataset(_write(tmp_path / "empty.jsonl", []))


def test_rows_as_given_by_hand(tmp_path: Path) -> None:
    engine = fast_engine(tmp_path / "data")
    result = run_answers(engine, _write(tmp_path / "ds.jsonl", ROWS))
    short, gold, long = result.samples
    # Row 1: the first context holds the short ground truth; the answer's first sentence is
    # supported by its citation, the second (Paris, citing the ticket price) is not.
    assert (short.context_precision, short.context_recall) == (1.0, 1.0)
    assert short.at_k == {
        "hit@1": 1.0,
        "hit@3": 1.0,
        "hit@5": 1.0,
        "precision@1": 1.0,
        "precision@3": 1 / 3,
        "precision@5": 0.2,
    }
    assert (short.citation_recall, short.citation_precision, short.faithfulness) == (0.5, 0.5, 0.5)
    assert short.unsupported == ("It was moved to Paris [2].",)
    assert short.answer_relevance is not None and 0.0 < short.answer_relevance <= 1.0
    # Row 2: the gold passage is second -> context precision 1/2, recall 1; no answer.
    assert (gold.context_precision, gold.context_recall, gold.faithfulness) == (0.5, 1.0, None)
    # Row 3: the context supports the first ground-truth sentence, not "It opened in 1990".
    assert (long.context_precision, long.context_recall) == (1.0, 0.5)
    out = result.as_json()
    assert out["rows"] == 3 and out["source"] == "file" and out["judge"] == "offline"
    assert out["context_precision"] == pytest.approx(2.5 / 3) and out["citation_recall"] == 0.5
    assert out["precision@3"] == pytest.approx((1 / 3 + 1 / 3 + 1 / 3) / 3)


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("answers")
    write_fact_corpus(root / "docs")
    fast_engine(root / "data").ingest([root / "docs"])
    return root


def test_engine_answers_every_question(docs: Path) -> None:
    rows = [{"question": "Who built the Harbor Lighthouse?", "ground_truth": "Maria Okafor"}]
    result = run_answers(fast_engine(docs / "data"), _write(docs / "q.jsonl", rows), collection="default")
    (s,) = result.samples
    assert result.source == "engine"
    # The extractive answer quotes its sources: fully supported and faithful.
    assert (s.citation_recall, s.citation_precision, s.faithfulness) == (1.0, 1.0, 1.0)
    assert s.context_recall == 1.0 and s.at_k["hit@5"] == 1.0


def test_cli_json(docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.helpers

    monkeypatch.setattr(
        "ragline.cli.main._engine", lambda data_dir, **kw: tests.helpers.fast_engine(docs / "data")
    )
    path = _write(docs / "cli.jsonl", ROWS)
    res = CliRunner().invoke(app, ["eval", "answers", str(path), "--json", "--k", "1", "--k", "2"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["citation_recall"] == 0.5 and set(out) >= {"hit@1", "precision@2", "faithfulness"}
    assert "hit@3" not in out
    bad = CliRunner().invoke(app, ["eval", "answers", str(docs / "missing.jsonl")])
    assert bad.exit_code == 2 and "is not a file" in " ".join(bad.output.split())


@pytest.fixture(scope="module")
def judge_server(tmp_path_factory: pytest.TempPathFactory):
    with running_server(
        "tests.generation.fake_judge_server", tmp_path_factory.mktemp("judge") / "err.txt"
    ) as url:
        yield FakeServer(url)


@pytest.mark.integration
def test_llm_judge_mode(tmp_path: Path, judge_server: FakeServer) -> None:
    llm = {"base_url": judge_server.base_url, "model": "judge", "max_retries": 0, "timeout_s": 5}
    engine = fast_engine(tmp_path / "data", llm=llm)
    result = run_answers(engine, _write(tmp_path / "ds.jsonl", ROWS[:1]), judge="llm")
    (s,) = result.samples
    assert result.judge == "llm"
    # The fake judge rejects the Paris sentence and supports the other.
    assert (s.citation_recall, s.citation_precision, s.faithfulness) == (0.5, 0.5, 0.5)
    # RAGAS answer relevance: three generated questions, the first the question itself.
    tasks = [r["task"] for r in judge_server.log()]
    assert tasks.count("questions") == 1 and tasks.count("support") >= 2
    assert s.answer_relevance is not None and 0.0 < s.answer_relevance <= 1.0
