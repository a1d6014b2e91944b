"""ragline.eval.beir: reading BEIR-format datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragline.errors import DatasetError
from ragline.eval.beir import BeirDataset, available_splits, load_beir

SCIFACT = Path("/work/shared/datasets/scifact")


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def beir_dir(tmp_path: Path) -> Path:
    root = tmp_path / "tinyset"
    (root / "qrels").mkdir(parents=True)
    _write_jsonl(
        root / "corpus.jsonl",
        [
            {"_id": "d1", "title": "Cats", "text": "Cats purr.", "metadata": {}},
            {"_id": "d2", "title": "Dogs", "text": "Dogs bark.", "metadata": {}},
            {"_id": "d3", "title": "", "text": "Birds sing.", "metadata": {}},
        ],
    )
    _write_jsonl(
        root / "queries.jsonl",
        [
            {"_id": "q1", "text": "do cats purr", "metadata": {}},
            {"_id": "q2", "text": "what barks", "metadata": {}},
            {"_id": "q3", "text": "unjudged query", "metadata": {}},
            {"_id": 7, "text": "numeric id", "metadata": {}},
        ],
    )
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq2\td2\t2\nq1\td1\t1\nq1\td3\t0\n\n7\td3\t1\n", encoding="utf-8"
    )
    (root / "qrels" / "train.tsv").write_text("q3\td3\t1\n", encoding="utf-8")
    return root


def test_load_test_split(beir_dir: Path) -> None:
    ds = load_beir(beir_dir)
    assert isinstance(ds, BeirDataset)
    assert ds.name == "tinyset"
    assert ds.corpus_path == beir_dir / "corpus.jsonl"
    assert ds.qrels == {"q2": {"d2": 2}, "q1": {"d1": 1, "d3": 0}, "7": {"d3": 1}}
    # Only judged queries, in qrels order; numeric ids become strings.
    assert list(ds.queries) == ["q2", "q1", "7"]
    assert ds.queries["q1"] == "do cats purr"
    assert ds.queries["7"] == "numeric id"


def test_load_other_split_without_header(beir_dir: Path) -> None:
    ds = load_beir(beir_dir, split="train")
    assert ds.qrels == {"q3": {"d3": 1}}
    assert ds.queries == {"q3": "unjudged query"}


def test_available_splits(beir_dir: Path, tmp_path: Path) -> None:
    assert available_splits(beir_dir) == ["test", "train"]
    assert available_splits(tmp_path) == []


def test_repeated_pair_keeps_last_score(beir_dir: Path) -> None:
    (beir_dir / "qrels" / "test.tsv").write_text("q1\td1\t1\nq1\td1\t2\n", encoding="utf-8")
    assert load_beir(beir_dir).qrels == {"q1": {"d1": 2}}


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_beir(tmp_path / "nope")


@pytest.mark.parametrize("name", ["corpus.jsonl", "queries.jsonl"])
def test_missing_file(beir_dir: Path, name: str) -> None:
    (beir_dir / name).unlink()
    with pytest.raises(DatasetError, match=rf"no {name}.*available splits: test, train"):
        load_beir(beir_dir)


def test_missing_split_lists_available(beir_dir: Path) -> None:
    with pytest.raises(DatasetError, match=r"split 'dev'.*dev\.tsv.*available splits: test, train"):
        load_beir(beir_dir, split="dev")


def test_missing_qrels_dir(beir_dir: Path) -> None:
    for p in (beir_dir / "qrels").iterdir():
        p.unlink()
    (beir_dir / "qrels").rmdir()
    with pytest.raises(DatasetError, match="available splits: none"):
        load_beir(beir_dir)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("query-id\tcorpus-id\tscore\nq1\td1\n", r"test\.tsv:2: expected"),
        ("q1\td1\t1\nq1 d2 1\n", r"test\.tsv:2: expected"),
        ("q1\td1\t1\tx\n", r"test\.tsv:1: expected"),
        ("q1\t\t1\n", r"test\.tsv:1: expected"),
        ("q1\td1\t1\nq1\td2\thigh\n", r"test\.tsv:2: relevance score 'high' is not an integer"),
        ("q1\td1\t1.5\n", r"test\.tsv:1: relevance score '1\.5'"),
        ("query-id\tcorpus-id\tscore\n", "holds no judgements"),
    ],
)
def test_malformed_qrels(beir_dir: Path, content: str, match: str) -> None:
    (beir_dir / "qrels" / "test.tsv").write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=match):
        load_beir(beir_dir)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("{not json", r"queries\.jsonl:2: invalid JSON"),
        ('{"text": "no id"}', r"queries\.jsonl:2: a query needs a string '_id'"),
        ('{"_id": "q9"}', r"queries\.jsonl:2: query 'q9' needs a string 'text'"),
        ("[1, 2]", r"queries\.jsonl:2: expected a JSON object"),
    ],
)
def test_malformed_queries(beir_dir: Path, line: str, match: str) -> None:
    path = beir_dir / "queries.jsonl"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    path.write_text(f"{first}\n{line}\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=match):
        load_beir(beir_dir)


def test_judged_query_missing_from_queries(beir_dir: Path) -> None:
    (beir_dir / "qrels" / "test.tsv").write_text("q1\td1\t1\nghost\td1\t1\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"judges 1 queries missing.*'ghost'"):
        load_beir(beir_dir)


def test_real_scifact() -> None:
    if not (SCIFACT / "qrels" / "test.tsv").is_file():
        pytest.skip(f"SciFact not found at {SCIFACT}")
    ds = load_beir(SCIFACT)
    assert ds.name == "scifact"
    # Counts from the dataset's SOURCE.md: 339 pairs over 300 test queries.
    assert len(ds.qrels) == 300
    assert sum(len(r) for r in ds.qrels.values()) == 339
    assert set(ds.queries) == set(ds.qrels)
    assert "train" in available_splits(SCIFACT)
