"""The generator side of ``ask``: which generator answers, the extractive answerer of each
collection's answer settings, the LLM generator, and the stream that falls back from the LLM to
the extractive answer and ends with one ``Final`` carrying the trace id, timings and debug view.

Example::

    answering = Answering(settings, embedder, lambda: token_counter)
    events = answering.stream(question, hits, context, answering.extractive_for(settings.answer),
                              timings={"retrieve": 12.0}, t0=time.perf_counter(), debug=True)
    answer = collect(events)
"""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from ragline.embedding.base import CachingEmbedder, Vectors
from ragline.embedding.sentence_map import sentence_map_for
from ragline.embedding.sentence_vectors import pools_spans
from ragline.errors import ConfigError
from ragline.generation.breaker import State
from ragline.generation.extractive import ExtractiveAnswerer
from ragline.generation.fallback import FallbackGenerator
from ragline.generation.prompt import build_messages, render_prompt
from ragline.generation.reader import MODEL_FILE, OnnxReader, Reader
from ragline.generation.support import SupportJudge, apply_support
from ragline.generation.support_score import OfflineSupportJudge
from ragline.settings import AnswerSettings, Settings
from ragline.text.token_counters import TokenCounter
from ragline.types import Answer, AnswerDebug, Condensed, Context, Final, Hit, Restart, StreamEvent, Token

if TYPE_CHECKING:
    from ragline.generation.llm import LLMGenerator


@runtime_checkable
class StoredSentenceSource(Protocol):
    """A store that hands out its chunks' sentence vectors (``store.base.SentenceVectorFetch``)."""

    # The embedding model its vectors come from.
    model_id: str

    def fetch_sentence_vectors(self, chunk_ids: Sequence[str]) -> Sequence[tuple[str, Vectors] | None]: ...


class Answering:
    """Generators, built lazily from the settings, and the answer stream of one question."""

    def __init__(
        self, settings: Settings, embedder: CachingEmbedder, token_counter: Callable[[], TokenCounter]
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.token_counter = token_counter
        self._extractive: dict[tuple[int, int, float, float, str, str | None], ExtractiveAnswerer] = {}
        self._lock = threading.Lock()

    def kind(self) -> Literal["extractive", "llm"]:
        """Which generator answers: the LLM when configured (or forced), else the extractive one."""
        a, llm = self.settings.answer, self.settings.llm
        if a.generator == "llm" and not llm.base_url:
            raise ConfigError(
                "answer.generator='llm' needs llm.base_url and llm.model "
                "(e.g. RAGLINE_LLM__BASE_URL=http://localhost:11434/v1 RAGLINE_LLM__MODEL=llama3.1)"
            )
        if a.generator == "extractive" or (a.generator == "auto" and not llm.base_url):
            return "extractive"
        return "llm"

    def extractive_for(self, a: AnswerSettings, store: object | None = None) -> ExtractiveAnswerer:
        """The extractive answerer configured by ``a`` (a collection's answer settings), reading
        its candidate sentences' vectors from ``store`` (the collection's) where it stored them."""
        answerer = self._extractive_for(a)
        # "separate" sentence vectors are what the answerer would embed (header + sentence);
        # "mapped" ones are the model's shipped map's estimate of them, which answered SQuAD
        # calibration questions as well (docs/benchmarks.md, issue 26); plain "late" ones (also
        # what "mapped" stores for a model without a map) are pooled inside the chunk's run and
        # score differently; an embedder that pools no spans (an OpenAI-compatible endpoint)
        # stores "separate" ones under "late" and "mapped", and embedding them again per question
        # would be paid calls. "split" ones run the model's last layers over the sentence's
        # own block of the chunk's states, approximating "separate" ones (and are "separate" ones
        # for an embedder that cannot), so they are read as those are.
        # A collection on a tuned model stored its own model's vectors; the answerer embeds with
        # the configured one.
        form = self.settings.chunking.sentence_vectors
        if not (isinstance(store, StoredSentenceSource) and store.model_id == self.embedder.model_id):
            return answerer
        pooled = form in ("late", "mapped") and pools_spans(self.embedder)
        if (
            form in ("separate", "split")
            or (form in ("late", "mapped") and not pooled)
            or (form == "mapped" and sentence_map_for(store.model_id) is not None)
        ):
            return answerer.over(store.fetch_sentence_vectors)
        return answerer

    def _extractive_for(self, a: AnswerSettings) -> ExtractiveAnswerer:
        key = (
            a.max_sentences,
            a.candidate_sentences,
            a.mmr_lambda,
            a.abstain_threshold,
            a.reader,
            a.reader_path,
        )
        with self._lock:
            if key not in self._extractive:
                self._extractive[key] = ExtractiveAnswerer(
                    self.embedder.transient(),
                    max_sentences=a.max_sentences,
                    candidate_sentences=a.candidate_sentences,
                    mmr_lambda=a.mmr_lambda,
                    abstain_threshold=a.abstain_threshold,
                    reader=self._reader(a),
                )
            return self._extractive[key]

    def _reader(self, a: AnswerSettings) -> Reader | None:
        """The reader ``a`` asks for: none, one trained by the user, or the packaged one if any."""
        if a.reader == "off":
            return None
        # The embedder's threads (embedding.threads): 4 units read on 2 threads take 18-22 ms
        # where 1 thread takes 27-28 ms, at the same CPU time (pool spinning off; load average 8).
        threads = self.settings.embedding.threads
        if a.reader_path is not None:
            path = Path(a.reader_path).expanduser()
            if not (path / MODEL_FILE).is_file():
                raise ConfigError(
                    f"answer.reader_path {a.reader_path!r} holds no {MODEL_FILE}; point it at the output "
                    "directory of `ragline tune answerer`, or unset it for the packaged reader"
                )
            return OnnxReader(path, threads=threads)
        return OnnxReader.packaged(threads=threads)

    @cached_property
    def offline_judge(self) -> OfflineSupportJudge:
        """The calibrated offline citation-support judge (over the query-time embedder)."""
        return OfflineSupportJudge(self.embedder.transient())

    def support_judge(self, a: AnswerSettings) -> SupportJudge:
        """The judge ``a.support_judge`` names; the LLM one needs ``llm.base_url``."""
        if a.support_judge == "offline":
            return self.offline_judge
        if not self.settings.llm.base_url:
            raise ConfigError(
                "answer.support_judge='llm' needs llm.base_url and llm.model "
                "(or set answer.support_judge='offline')"
            )
        from ragline.generation.support_llm import LLMSupportJudge

        # A judge per call (its ``errors`` describe one answer) over the generator's chat client,
        # so both share its circuit breakers.
        return LLMSupportJudge(self.llm.chat, self.offline_judge)

    @cached_property
    def llm(self) -> LLMGenerator:
        from ragline.generation.llm import LLMGenerator
        from ragline.generation.openai_chat import OpenAIChatModel

        chat = OpenAIChatModel(self.settings.llm, self.token_counter())
        return LLMGenerator(chat, self.settings.llm, stale_after_days=self.settings.answer.stale_after_days)

    def breaker_states(self) -> dict[str, tuple[State, int]]:
        """Each LLM model's circuit-breaker state and how often it opened (none before the LLM's
        first use, or without an LLM)."""
        from ragline.generation.openai_chat import OpenAIChatModel

        if "llm" not in self.__dict__:
            return {}
        chat = self.llm.chat
        return chat.breakers.states() if isinstance(chat, OpenAIChatModel) else {}

    def stream(
        self,
        question: str,
        hits: list[Hit],
        context: Context,
        extractive: ExtractiveAnswerer,
        *,
        timings: dict[str, float],
        t0: float,
        debug: bool,
        on_answer: Callable[[Answer], None] = lambda _: None,
        condensed: Condensed | None = None,
        answer_settings: AnswerSettings | None = None,
    ) -> Iterator[StreamEvent]:
        """The answer's events: tokens (and restarts), then one ``Final``. ``timings`` so far
        (ms) gain ``generate``, ``support`` and ``total`` (from ``t0``); ``on_answer`` sees the
        answer first. A follow-up's ``condensed`` query is what the generator answers (it reads no
        history); the answer keeps the question as asked. ``answer_settings`` (the collection's;
        default the global ones) say how citation support is checked; when unsupported sentences
        are removed, a ``Restart`` and the kept text follow the streamed tokens."""
        t2 = time.perf_counter()
        answer: Answer | None = None
        primary = self.llm if self.kind() == "llm" else None
        query = condensed.query if condensed is not None else question
        for event in FallbackGenerator(primary, extractive).stream(query, context):
            if isinstance(event, Final):
                answer = event.answer
            else:
                yield event
        if answer is None:
            raise RuntimeError("the answer stream ended without a Final event")
        t_support = time.perf_counter()
        a = answer_settings or self.settings.answer
        if a.unsupported != "off":
            checked = apply_support(answer, context, self.support_judge(a), a.unsupported)
            if checked.text != answer.text:
                yield Restart(reason="unsupported sentences were removed from the answer")
                yield Token(checked.text)
            answer = checked
            timings["support"] = (time.perf_counter() - t_support) * 1000
        on_answer(answer)
        t3 = time.perf_counter()
        timings["generate"] = (t_support - t2) * 1000
        timings["total"] = (t3 - t0) * 1000
        prompt = ""
        if debug:
            # The extractive answerer has no prompt: show the one an LLM would have been given.
            prompt = render_prompt(
                build_messages(
                    query,
                    context,
                    today=datetime.date.today(),
                    stale_after_days=self.settings.answer.stale_after_days,
                )
            )
        dbg = AnswerDebug(hits=hits, context=context, prompt=prompt, query=query, condensed=condensed)
        yield Final(
            replace(
                answer,
                question=question,
                trace_id=uuid.uuid4().hex,
                timings_ms=timings,
                debug=dbg if debug else None,
            )
        )
