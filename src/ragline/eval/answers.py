"""``ragline eval answers FILE``: answer metrics on a RAGAS-style dataset file.

A dataset is JSONL (one object a line) or JSON (a list of objects, or an object of columns as a
Hugging Face dataset is saved). Each row holds a question and optionally a ground truth, the
contexts retrieved and the answer given, under RAGAS's names of either version:

=====================  ==============================================  =========================
field                  also accepted as                                what
=====================  ==============================================  =========================
``question``           ``user_input``                                  the question (required)
``ground_truth``       ``ground_truths`` (list), ``reference``         the expected answer(s)
``contexts``           ``retrieved_contexts``                          retrieved texts, best first
``answer``             ``response``                                    the answer, ``[n]`` = contexts[n-1]
``reference_contexts``                                                 the gold passages
``id``                                                                 a row id for the report
=====================  ==============================================  =========================

Rows are scored as given; with ``collection`` the engine answers every question instead (its
contexts and citations replace the row's). Metrics a row lacks the fields for are left out of
that metric's mean (``null`` when no row has them). See :mod:`ragline.eval.answer_metrics` for
the definitions; the support judge is the offline score or, with ``judge="llm"``, the configured
LLM (which then also writes the questions for RAGAS-style answer relevance).

Example::

    result = run_answers(ragline.open(), Path("qa.jsonl"), collection="handbook")
    print(result.as_json()["faithfulness"])
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ragline.embedding.base import Embedder
from ragline.errors import DatasetError
from ragline.eval import answer_metrics as m
from ragline.eval.squad import contains_answer
from ragline.generation.base import ChatMessage, ChatModel
from ragline.generation.citations import strip_markers
from ragline.generation.support import SupportJudge, cited_sources, is_claim, split_claims
from ragline.text.sentences import sentence_spans
from ragline.types import SentenceSupport

if TYPE_CHECKING:
    from ragline.engine import Engine

JudgeKind = Literal["offline", "llm"]
DEFAULT_K: tuple[int, ...] = (1, 3, 5)
# A ground truth of at most this many words is an answer span (SQuAD style): it is found in a
# context by string match; a longer one is split into sentences, each judged for support.
SHORT_ANSWER_WORDS = 8
GENERATED_QUESTIONS = 3
_ALIASES: dict[str, str] = {
    "question": "question",
    "user_input": "question",
    "ground_truth": "ground_truths",
    "ground_truths": "ground_truths",
    "reference": "ground_truths",
    "contexts": "contexts",
    "retrieved_contexts": "contexts",
    "answer": "answer",
    "response": "answer",
    "reference_contexts": "reference_contexts",
    "id": "id",
}
_SPACE = re.compile(r"\s+")
_QUESTIONS_PROMPT = (
    "Write {n} different questions that the given answer responds to. Reply with a JSON list of strings only."
)


@dataclass(frozen=True, slots=True)
class AnswerSample:
    """One dataset row; ``None`` marks a field the row lacks."""

    id: str
    question: str
    ground_truths: tuple[str, ...] = ()
    contexts: tuple[str, ...] | None = None
    answer: str | None = None
    reference_contexts: tuple[str, ...] = ()


def _strings(path: Path, row: int, name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise DatasetError(
        f"{path}: row {row}: {name!r} must be a string or a list of strings, got {value!r:.80}"
    )


def _sample(path: Path, row: int, obj: Any) -> AnswerSample:
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: row {row} is {type(obj).__name__}, not an object with a 'question'")
    fields: dict[str, Any] = {}
    for key, value in obj.items():
        name = _ALIASES.get(key)
        if name is None:
            raise DatasetError(
                f"{path}: row {row}: unknown field {key!r}; use {', '.join(sorted(_ALIASES))} (RAGAS's names)"
            )
        if name in fields:
            raise DatasetError(f"{path}: row {row}: {key!r} repeats a field given under another name")
        fields[name] = value
    question = fields.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{path}: row {row} has no 'question' (or 'user_input') string")
    answer = fields.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise DatasetError(f"{path}: row {row}: 'answer' must be a string, got {answer!r:.80}")
    contexts = fields.get("contexts")
    return AnswerSample(
        id=str(fields.get("id", row)),
        question=question,
        ground_truths=_strings(path, row, "ground_truth", fields["ground_truths"])
        if "ground_truths" in fields
        else (),
        contexts=None if contexts is None else _strings(path, row, "contexts", contexts),
        answer=answer,
        reference_contexts=_strings(path, row, "reference_contexts", fields.get("reference_contexts", [])),
    )


def load_answer_dataset(path: Path) -> list[AnswerSample]:
    """Read a RAGAS-style JSONL or JSON file (see the module docstring); DatasetError says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"answer dataset {str(path)!r} is not a file; pass a .jsonl or .json file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            rows: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = json.loads(text)
    except ValueError as exc:
        raise DatasetError(
            f"{path} is not valid JSON{'L' if path.suffix == '.jsonl' else ''}: {exc}"
        ) from exc
    if isinstance(rows, dict):
        # Columns, as datasets.Dataset.to_dict() writes them.
        lengths = {len(v) for v in rows.values() if isinstance(v, list)}
        if len(lengths) != 1 or not all(isinstance(v, list) for v in rows.values()):
            raise DatasetError(f"{path}: a JSON object must map each field to a list of equal length")
        n = lengths.pop()
        rows = [{k: v[i] for k, v in rows.items()} for i in range(n)]
    if not isinstance(rows, list) or not rows:
        raise DatasetError(f"{path} holds no rows; each row needs at least a 'question'")
    return [_sample(path, i, obj) for i, obj in enumerate(rows)]


# -- scoring ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SampleScores:
    """One row's metrics; None where the row lacks what the metric needs."""

    id: str
    citation_precision: float | None = None
    citation_recall: float | None = None
    faithfulness: float | None = None
    answer_relevance: float | None = None
    context_precision: float | None = None
    context_recall: float | None = None
    at_k: dict[str, float] = field(default_factory=dict)
    unsupported: tuple[str, ...] = ()


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def _overlaps(a: str, b: str) -> bool:
    x, y = _normal(a), _normal(b)
    return bool(x) and bool(y) and (x in y or y in x)


def _short(ground_truths: Sequence[str]) -> bool:
    return all(len(g.split()) <= SHORT_ANSWER_WORDS for g in ground_truths)


def _gt_sentences(ground_truths: Sequence[str]) -> list[str]:
    return [g[a:b] for g in ground_truths for a, b in sentence_spans(g)]


def _parse_questions(text: str) -> list[str]:
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    try:
        value = json.loads(body)
    except ValueError:
        return []
    return [q for q in value if isinstance(q, str) and q.strip()] if isinstance(value, list) else []


class AnswerEvaluator:
    """Scores answers and contexts with a support judge, an embedder and optionally a chat model.

    Example::

        ev = AnswerEvaluator(OfflineSupportJudge(embedder), embedder)
        ev.score(sample, sample.answer or "", list(sample.contexts or ()))
    """

    def __init__(
        self,
        judge: SupportJudge,
        embedder: Embedder,
        *,
        threshold: float,
        chat: ChatModel | None = None,
        k_values: Sequence[int] = DEFAULT_K,
    ) -> None:
        for k in k_values:
            m.hit_at_k([], k)  # checks k
        self.judge = judge
        self.embedder = embedder
        self.threshold = threshold
        self.chat = chat
        self.k_values = tuple(k_values)

    def _supported(self, claims: Sequence[str], evidence: Sequence[Sequence[str]]) -> list[bool]:
        if not claims:
            return []
        return [s >= self.threshold for s in self.judge.support_scores(claims, evidence)]

    def relevance_flags(self, sample: AnswerSample, contexts: Sequence[str]) -> list[bool] | None:
        """Whether each context is relevant: overlaps a gold passage, holds a short ground truth,
        or supports a sentence of a long one. None without gold passages or ground truths."""
        if sample.reference_contexts:
            return [any(_overlaps(c, r) for r in sample.reference_contexts) for c in contexts]
        if not sample.ground_truths:
            return None
        if _short(sample.ground_truths):
            return [contains_answer(c, sample.ground_truths) for c in contexts]
        sentences = _gt_sentences(sample.ground_truths)
        flags: list[bool] = []
        for c in contexts:
            flags.append(any(self._supported(sentences, [[c]] * len(sentences))))
        return flags

    def _context_recall(self, sample: AnswerSample, contexts: Sequence[str]) -> float | None:
        if sample.reference_contexts:
            return m.context_recall(
                [any(_overlaps(c, r) for c in contexts) for r in sample.reference_contexts]
            )
        if not sample.ground_truths:
            return None
        if _short(sample.ground_truths):
            return float(contains_answer(" \n ".join(contexts), sample.ground_truths))
        sentences = _gt_sentences(sample.ground_truths)
        return m.context_recall(self._supported(sentences, [list(contexts)] * len(sentences)))

    def _answer_relevance(self, question: str, answer: str) -> float:
        texts = [answer]
        if self.chat is not None:
            prompt = _QUESTIONS_PROMPT.format(n=GENERATED_QUESTIONS)
            try:
                reply = self.chat.complete([ChatMessage("system", prompt), ChatMessage("user", answer)]).text
            except Exception:
                reply = ""
            texts = _parse_questions(reply) or texts
        vecs = self.embedder.embed_documents([question, *texts])
        return m.answer_relevance(vecs[0], list(vecs[1:]))

    def score(
        self,
        sample: AnswerSample,
        answer: str | None,
        contexts: Sequence[str] | None,
        *,
        sources: dict[int, str] | None = None,
        support: Sequence[SentenceSupport] = (),
        abstained: bool = False,
    ) -> SampleScores:
        """The metrics of one answer over its contexts (``sources[n]``: the text ``[n]`` cites,
        by default ``contexts[n-1]``; ``support``: already judged sentences)."""
        out: dict[str, Any] = {"id": sample.id}
        if contexts is not None:
            flags = self.relevance_flags(sample, contexts)
            if flags is not None:
                out["context_precision"] = m.context_precision(flags)
                out["at_k"] = {
                    **{f"hit@{k}": m.hit_at_k(flags, k) for k in self.k_values},
                    **{f"precision@{k}": m.precision_at_k(flags, k) for k in self.k_values},
                }
            out["context_recall"] = self._context_recall(sample, contexts)
        if answer and not abstained:
            claims = [c for c in split_claims(answer, 999_999) if is_claim(c)]
            out["answer_relevance"] = self._answer_relevance(sample.question, strip_markers(answer))
            if claims and contexts is not None:
                judged = list(support) or self.judge.judge(
                    claims, sources if sources is not None else dict(enumerate(contexts, 1))
                )
                out["citation_precision"] = m.citation_precision(judged)
                out["citation_recall"] = m.citation_recall(judged)
                out["unsupported"] = tuple(s.sentence for s in judged if not s.supported)
                ok = self._supported([c.plain for c in claims], [list(contexts)] * len(claims))
                out["faithfulness"] = m.faithfulness(ok)
        return SampleScores(**out)


METRICS = (
    "citation_precision",
    "citation_recall",
    "faithfulness",
    "answer_relevance",
    "context_precision",
    "context_recall",
)


@dataclass(frozen=True, slots=True)
class AnswersResult:
    """The means over rows (None where no row had what a metric needs) and each row's scores."""

    dataset: str
    rows: int
    judge: str
    source: Literal["file", "engine"]
    means: dict[str, float | None]
    samples: list[SampleScores]

    def as_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "rows": self.rows,
            "judge": self.judge,
            "source": self.source,
            **self.means,
        }


def summarise(
    dataset: str,
    judge: str,
    source: Literal["file", "engine"],
    samples: list[SampleScores],
    k_values: Sequence[int],
) -> AnswersResult:
    """Average each metric over the rows that have it."""
    means: dict[str, float | None] = {name: m.mean([getattr(s, name) for s in samples]) for name in METRICS}
    for k in k_values:
        for kind in ("hit", "precision"):
            key = f"{kind}@{k}"
            means[key] = m.mean([s.at_k.get(key) for s in samples])
    return AnswersResult(dataset, len(samples), judge, source, means, samples)


def make_evaluator(engine: Engine, judge: JudgeKind, k_values: Sequence[int]) -> tuple[AnswerEvaluator, str]:
    """An evaluator over the engine's embedder, with the offline or the LLM judge."""
    offline = engine.answering.offline_judge
    if judge == "offline":
        return AnswerEvaluator(
            offline, offline.embedder, threshold=offline.threshold, k_values=k_values
        ), "offline"
    from ragline.errors import ConfigError
    from ragline.generation.openai_chat import OpenAIChatModel
    from ragline.generation.support_llm import LLMSupportJudge

    if not engine.settings.llm.base_url:
        raise ConfigError(
            "--judge llm needs llm.base_url and llm.model (RAGLINE_LLM__BASE_URL, RAGLINE_LLM__MODEL)"
        )
    chat = OpenAIChatModel(engine.settings.llm, engine.token_counter)
    llm = LLMSupportJudge(chat, offline)
    return AnswerEvaluator(
        llm, offline.embedder, threshold=llm.threshold, chat=chat, k_values=k_values
    ), "llm"


def run_answers(
    engine: Engine,
    path: Path,
    *,
    collection: str | None = None,
    judge: JudgeKind = "offline",
    k_values: Sequence[int] = DEFAULT_K,
    progress: Callable[[str, int, int], None] | None = None,
) -> AnswersResult:
    """Score every row of a RAGAS-style file, as given or (``collection``) answered by the engine."""
    samples = load_answer_dataset(path)
    evaluator, judge_name = make_evaluator(engine, judge, k_values)
    scored: list[SampleScores] = []
    for i, s in enumerate(samples):
        if collection is None:
            scored.append(evaluator.score(s, s.answer, s.contexts))
        else:
            a = engine.ask(s.question, collection=collection, debug=True)
            context = a.debug.context if a.debug is not None else None
            contexts = [p.text for p in context.passages] if context is not None else []
            scored.append(
                evaluator.score(
                    s,
                    a.text,
                    contexts,
                    sources=cited_sources(a, context) if context is not None else {},
                    support=a.support if judge == "offline" else (),
                    abstained=a.abstained,
                )
            )
        if progress is not None:
            progress("scoring answers", i + 1, len(samples))
    return summarise(
        Path(path).name, judge_name, "file" if collection is None else "engine", scored, k_values
    )
