"""ragline.eval.squad: official SQuAD v1.1 scoring, splits, sampling and the dataset loader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ragline.errors import DatasetError
from ragline.eval.squad import (
    SquadQuestion,
    check_split,
    contains_answer,
    exact_match,
    f1,
    in_partial_index,
    load_squad,
    normalize_answer,
    sample_questions,
    split_of,
    strip_citations,
)

MINI = Path(__file__).parent / "fixtures" / "squad-mini"


# -- scoring: expected values worked out by hand from evaluate-v1.1.py ----------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The Denver Broncos!", "denver broncos"),
        ("  an  Apple a day ", "apple day"),
        # Articles only as whole words: "another", "theory", "Anna" keep their letters.
        ("another theory, Anna", "another theory anna"),
        # Punctuation is deleted, not replaced by a space: "U.S." -> "us", "15–1" keeps the en dash.
        ("the U.S. won 15–1", "us won 15–1"),
        ("$5,000,000", "5000000"),
        ("A", ""),
        # Punctuation goes first, so "the-end" becomes "theend" (no article left to remove).
        ("the-end", "theend"),
    ],
)
def test_normalize_answer_matches_the_official_script(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


def test_exact_match_is_max_over_golds() -> None:
    assert exact_match("the Denver Broncos.", ["Broncos", "Denver Broncos"]) == 1.0
    assert exact_match("Denver", ["Broncos", "Denver Broncos"]) == 0.0
    assert exact_match("", ["the"]) == 1.0  # both normalise to "", as in the official script


def test_f1_hand_computed_cases() -> None:
    # pred tokens [denver, broncos, won], gold [denver, broncos]: P=2/3, R=1 -> F1 = 0.8
    assert f1("Denver Broncos won", ["Denver Broncos"]) == pytest.approx(0.8)
    # Max over golds: "carolina panthers" vs "panthers" gives P=1/2 R=1 -> 2/3; vs exact gold -> 1.
    assert f1("Carolina Panthers", ["Panthers", "the Carolina Panthers"]) == pytest.approx(1.0)
    assert f1("Carolina Panthers", ["Panthers"]) == pytest.approx(2 / 3)
    # Bag of tokens: repeated tokens count only as often as the gold has them.
    # pred [cat, cat, sat] ("a" removed), gold [cat, sat]: common 2, P=2/3, R=1 -> 0.8
    assert f1("a cat cat sat", ["the cat sat"]) == pytest.approx(0.8)
    assert f1("nothing shared", ["Denver"]) == 0.0
    assert f1("", ["Denver"]) == 0.0
    with pytest.raises(ValueError, match="gold"):
        f1("x", [])


def test_strip_citations() -> None:
    assert strip_citations("Denver won [1].") == "Denver won."
    assert strip_citations("Denver [1, 2] won the game [3]") == "Denver won the game"
    assert strip_citations("[2] Denver") == "Denver"
    assert strip_citations("no markers here") == "no markers here"


def test_contains_answer_uses_token_boundaries() -> None:
    text = "The Denver Broncos defeated the Carolina Panthers 24–10 in 2016."
    assert contains_answer(text, ["Denver Broncos"])
    assert contains_answer(text, ["nope", "the carolina panthers!"])
    assert not contains_answer(text, ["Bronco"])  # not a whole token
    assert not contains_answer("in 20160 seasons", ["2016"])
    assert not contains_answer(text, ["the"])  # normalises to nothing: never a match
    assert not contains_answer("", ["Denver"])


# -- splits and sampling --------------------------------------------------------------------------


def test_splits_are_disjoint_by_article() -> None:
    assert [split_of(a) for a in range(8)] == ["calibration", "calibration", "test", "test"] * 2
    assert [a for a in range(8) if in_partial_index(a)] == [0, 2, 4, 6]
    assert check_split("calibration") == "calibration"
    with pytest.raises(DatasetError, match="test, calibration"):
        check_split("dev")


def _q(article: int, i: int) -> SquadQuestion:
    return SquadQuestion(f"{article}-{i}", "q", ("a",), f"{article}-0", article)


def test_sampling_is_deterministic_and_spread_over_articles() -> None:
    pool = [_q(a, i) for a in (2, 3, 6) for i in range(10 if a != 6 else 2)]
    first = sample_questions(pool, 7, seed=1)
    assert first == sample_questions(pool, 7, seed=1)
    assert len(first) == 7
    # Round-robin: the first three come from three different articles, article 6 runs out after 2.
    assert {q.article for q in first[:3]} == {2, 3, 6}
    assert sum(q.article == 6 for q in first) == 2
    assert len(sample_questions(pool, 100)) == len(pool)
    assert sample_questions(pool, 0) == []


# -- loader ---------------------------------------------------------------------------------------


def test_load_fixture() -> None:
    ds = load_squad(MINI)
    assert ds.name == "squad-mini" and ds.corpus_path == MINI / "corpus.jsonl"
    assert len(ds.paragraphs) == 16 and len(ds.questions) == 32
    p = ds.paragraphs[3]
    assert (p.id, p.article, p.index, p.title) == ("1-1", 1, 1, "Mount Kilimanjaro")
    for q in ds.questions:
        text = next(p.text for p in ds.paragraphs if p.id == q.paragraph_id)
        assert all(a in text for a in q.answers) and q.article == int(q.paragraph_id.split("-")[0])
    assert {q.article for q in ds.questions_in("test")} == {2, 3, 6, 7}
    assert {p.article for p in ds.partial_paragraphs()} == {0, 2, 4, 6}


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(MINI, tmp_path / "squad"))


def test_missing_directory_and_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"does not exist; pass the directory holding corpus\.jsonl"):
        load_squad(tmp_path / "nope")
    for name in ("corpus.jsonl", "queries.jsonl", "answers.jsonl"):
        ds = _copy(tmp_path)
        (ds / name).unlink()
        with pytest.raises(DatasetError, match=rf"has no {name}"):
            load_squad(ds)
        shutil.rmtree(ds)


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        ("corpus.jsonl", "{not json", r"corpus\.jsonl:17: invalid JSON"),
        ("corpus.jsonl", '{"_id": "paragraph", "title": "T", "text": "x"}', "is not '<article_index>-"),
        ("corpus.jsonl", '{"_id": "0-0", "title": "T", "text": "x"}', "appears twice"),
        ("corpus.jsonl", '{"_id": "9-0", "title": "T"}', "field 'text' must be a str"),
        ("answers.jsonl", '{"_id": "q0000", "answers": [], "corpus_id": "0-0"}', "non-empty list"),
        ("answers.jsonl", '{"_id": "qx", "answers": ["a"], "corpus_id": "99-0"}', "which corpus.jsonl lacks"),
        ("answers.jsonl", '{"_id": "qx", "answers": ["a"], "corpus_id": "0-0"}', "missing from queries"),
        ("queries.jsonl", '{"_id": "qy", "text": "orphan?"}', "missing from answers"),
        ("corpus.jsonl", "[1, 2]", r"corpus\.jsonl:17: expected a JSON object"),
        ("queries.jsonl", "[1, 2]", r"queries\.jsonl:33: expected a JSON object"),
    ],
)
def test_malformed_lines_name_file_line_and_fix(tmp_path: Path, name: str, line: str, message: str) -> None:
    ds = _copy(tmp_path)
    with (ds / name).open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    with pytest.raises(DatasetError, match=message):
        load_squad(ds)


def test_empty_corpus_is_an_error(tmp_path: Path) -> None:
    ds = _copy(tmp_path)
    (ds / "corpus.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="holds no paragraphs"):
        load_squad(ds)


def test_real_dataset_loads_when_present() -> None:
    real = Path("/work/shared/datasets/squad-v1.1-dev")
    if not real.is_dir():
        pytest.skip("SQuAD v1.1 dev not on this machine")
    ds = load_squad(real)
    assert len(ds.paragraphs) == 2067 and len(ds.questions) == 10570
    assert len({p.article for p in ds.paragraphs}) == 48
    assert json.loads((real / "answers.jsonl").open().readline())["answers"][0] == ds.questions[0].answers[0]
