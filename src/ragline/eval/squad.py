"""SQuAD v1.1 (Rajpurkar et al., EMNLP 2016) in BEIR-like layout: loading, splits and answer scoring.

A dataset directory holds::

    corpus.jsonl    {"_id": "<article>-<paragraph>", "title", "text"} per paragraph
    queries.jsonl   {"_id", "text"} per question
    answers.jsonl   {"_id": <query id>, "answers": [gold, ...], "answer_starts", "corpus_id"}

Scoring follows the official ``evaluate-v1.1.py`` script exactly (answer normalisation, exact match,
token F1, maximum over the gold answers). Splits are disjoint by article: articles with index % 4 in
{0, 1} form the *calibration* split, {2, 3} the *test* split. The *partial* index holds only the
even-index articles, so in each split the questions of even articles are answerable from it and
those of odd articles are not.

Example::

    ds = load_squad(Path("../shared/datasets/squad-v1.1-dev"))
    f1(strip_citations("It was Denver [1]."), ds.questions[0].answers)
"""

from __future__ import annotations

import random
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from ragline.errors import DatasetError
from ragline.eval.beir import read_jsonl as _jsonl
from ragline.eval.beir import read_queries
from ragline.generation.citations import parse_citations

Split = Literal["test", "calibration"]
SPLITS: tuple[Split, ...] = ("test", "calibration")

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)
_PARAGRAPH_ID = re.compile(r"^(\d+)-(\d+)$")
_FILES = "corpus.jsonl, queries.jsonl and answers.jsonl"
_T = TypeVar("_T")


# -- scoring (official evaluate-v1.1.py) ---------------------------------------------------------


def normalize_answer(s: str) -> str:
    """Lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace.

    The ``normalize_answer`` of the official SQuAD v1.1 evaluation script, step for step.
    """
    text = "".join(ch for ch in s.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _check_golds(golds: Sequence[str]) -> None:
    if not golds:
        raise ValueError("scoring needs at least one gold answer; SQuAD questions have one or more")


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold answer, else 0.0."""
    _check_golds(golds)
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def _f1_one(pred_tokens: list[str], gold: str) -> float:
    gold_tokens = normalize_answer(gold).split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, golds: Sequence[str]) -> float:
    """Token-level F1 against the best-matching gold answer.

    As ``f1_score`` with ``metric_max_over_ground_truths`` in the official SQuAD v1.1 script
    (https://rajpurkar.github.io/SQuAD-explorer/, ``evaluate-v1.1.py``): bag-of-tokens overlap of
    the normalised strings; 0.0 when nothing overlaps (so an empty prediction scores 0).
    """
    _check_golds(golds)
    pred_tokens = normalize_answer(prediction).split()
    return max(_f1_one(pred_tokens, g) for g in golds)


def strip_citations(text: str) -> str:
    """``text`` without citation markers such as ``[1]``, ``[1, 2]`` or ``[2-3]``, spacing tidied."""
    return parse_citations(text, n_sources=0).text


def contains_answer(text: str, golds: Sequence[str]) -> bool:
    """True when some normalised gold answer occurs in the normalised ``text`` as whole tokens.

    Golds that normalise to nothing (e.g. "the") never match.
    """
    haystack = f" {normalize_answer(text)} "
    for g in golds:
        needle = normalize_answer(g)
        if needle and f" {needle} " in haystack:
            return True
    return False


# -- the dataset ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SquadParagraph:
    """One corpus paragraph; ``id`` is ``"<article>-<index>"``."""

    id: str
    article: int
    index: int
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class SquadQuestion:
    """One question with every annotator's gold answer (duplicates kept) and its paragraph."""

    id: str
    text: str
    answers: tuple[str, ...]
    paragraph_id: str
    article: int


@dataclass(frozen=True)
class SquadDataset:
    """A loaded SQuAD-format dataset; paragraphs and questions in file order."""

    name: str
    corpus_path: Path
    paragraphs: list[SquadParagraph]
    questions: list[SquadQuestion]

    def questions_in(self, split: Split) -> list[SquadQuestion]:
        """The questions of ``split``'s articles."""
        return [q for q in self.questions if split_of(q.article) == split]

    def partial_paragraphs(self) -> list[SquadParagraph]:
        """The paragraphs the partial index holds: those of even-index articles."""
        return [p for p in self.paragraphs if in_partial_index(p.article)]


def split_of(article: int) -> Split:
    """``calibration`` for articles with index % 4 in {0, 1}, ``test`` for {2, 3}."""
    return "calibration" if article % 4 in (0, 1) else "test"


def in_partial_index(article: int) -> bool:
    """Whether the partial index holds this article (even index): its questions are answerable there."""
    return article % 2 == 0


def check_split(split: str) -> Split:
    """``split`` as a :data:`Split`, or a :class:`DatasetError` naming the valid ones."""
    for s in SPLITS:
        if split == s:
            return s
    raise DatasetError(f"unknown SQuAD split {split!r}; use one of: {', '.join(SPLITS)}")


def sample_questions(questions: Sequence[SquadQuestion], limit: int, seed: int = 0) -> list[SquadQuestion]:
    """Up to ``limit`` questions, deterministic for a seed and spread evenly over the articles.

    Each article's questions are shuffled (seeded), then taken round-robin across the articles in
    index order, so every article contributes before any contributes twice.
    """
    by_article: dict[int, list[SquadQuestion]] = {}
    for q in questions:
        by_article.setdefault(q.article, []).append(q)
    rng = random.Random(seed)
    groups = [by_article[a] for a in sorted(by_article)]
    for g in groups:
        rng.shuffle(g)
    out: list[SquadQuestion] = []
    for i in range(max((len(g) for g in groups), default=0)):
        for g in groups:
            if len(out) >= limit:
                return out
            if i < len(g):
                out.append(g[i])
    return out


def _field(path: Path, lineno: int, obj: dict[str, Any], name: str, kind: type[_T]) -> _T:
    value = obj.get(name)
    if not isinstance(value, kind):
        raise DatasetError(
            f"{path}:{lineno}: field {name!r} must be a {kind.__name__}, got {value!r:.100}; "
            "is this a SQuAD-format file?"
        )
    return value


def read_paragraphs(path: Path) -> list[SquadParagraph]:
    """Parse ``corpus.jsonl``; every ``_id`` must look like ``"<article>-<paragraph>"``."""
    out: list[SquadParagraph] = []
    seen: set[str] = set()
    for lineno, obj in _jsonl(path):
        pid = _field(path, lineno, obj, "_id", str)
        m = _PARAGRAPH_ID.match(pid)
        if m is None:
            raise DatasetError(
                f"{path}:{lineno}: paragraph id {pid!r} is not '<article_index>-<paragraph_index>' "
                "(e.g. '12-3'); SQuAD corpora number paragraphs by article"
            )
        if pid in seen:
            raise DatasetError(f"{path}:{lineno}: paragraph id {pid!r} appears twice; ids must be unique")
        seen.add(pid)
        title = obj.get("title")
        text = _field(path, lineno, obj, "text", str)
        out.append(SquadParagraph(pid, int(m[1]), int(m[2]), title if isinstance(title, str) else "", text))
    if not out:
        raise DatasetError(f"{path} holds no paragraphs; a SQuAD corpus needs at least one")
    return out


def _read_answers(
    path: Path, paragraphs: dict[str, SquadParagraph]
) -> dict[str, tuple[tuple[str, ...], str]]:
    """Query id -> (gold answers, paragraph id) from ``answers.jsonl``."""
    out: dict[str, tuple[tuple[str, ...], str]] = {}
    for lineno, obj in _jsonl(path):
        qid = _field(path, lineno, obj, "_id", str)
        golds = _field(path, lineno, obj, "answers", list)
        if not golds or not all(isinstance(g, str) for g in golds):
            raise DatasetError(f"{path}:{lineno}: 'answers' of {qid!r} must be a non-empty list of strings")
        pid = _field(path, lineno, obj, "corpus_id", str)
        if pid not in paragraphs:
            raise DatasetError(
                f"{path}:{lineno}: question {qid!r} names paragraph {pid!r}, which corpus.jsonl lacks; "
                "use the corpus.jsonl that belongs to this answers.jsonl"
            )
        out[qid] = (tuple(golds), pid)
    return out


def load_squad(dataset_dir: Path) -> SquadDataset:
    """Read a SQuAD-format dataset directory (see the module docstring for the layout).

    Raises :class:`DatasetError` naming a missing file, a malformed line (with its line number), or
    questions and answers that do not match up.
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise DatasetError(
            f"SQuAD dataset directory {str(dataset_dir)!r} does not exist; "
            f"pass the directory holding {_FILES}"
        )
    paths = {name: dataset_dir / f"{name}.jsonl" for name in ("corpus", "queries", "answers")}
    for path in paths.values():
        if not path.is_file():
            raise DatasetError(
                f"SQuAD dataset {str(dataset_dir)!r} has no {path.name} at {str(path)!r}; "
                f"a SQuAD-format directory holds {_FILES}"
            )
    paragraphs = read_paragraphs(paths["corpus"])
    by_id = {p.id: p for p in paragraphs}
    answers = _read_answers(paths["answers"], by_id)
    queries = read_queries(paths["queries"])
    unanswered = [qid for qid in queries if qid not in answers]
    orphans = [qid for qid in answers if qid not in queries]
    for missing, there, lacking in ((unanswered, "queries", "answers"), (orphans, "answers", "queries")):
        if missing:
            shown = ", ".join(repr(q) for q in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise DatasetError(
                f"{len(missing)} question ids in {there}.jsonl are missing from {lacking}.jsonl ({shown}); "
                "use files converted together from one SQuAD release"
            )
    questions = [
        SquadQuestion(qid, text, answers[qid][0], answers[qid][1], by_id[answers[qid][1]].article)
        for qid, text in queries.items()
    ]
    if not questions:
        raise DatasetError(f"{paths['queries']} holds no questions; a SQuAD dataset needs at least one")
    return SquadDataset(
        name=dataset_dir.resolve().name,
        corpus_path=paths["corpus"],
        paragraphs=paragraphs,
        questions=questions,
    )
