"""The LLM generator: grounded prompt -> chat model -> checked citations -> :class:`Answer`.

Example::

    chat = OpenAIChatModel(settings.llm, counter)
    generator = LLMGenerator(chat, settings.llm, stale_after_days=settings.answer.stale_after_days)
    answer = collect(generator.stream("How do I install it?", context))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date

from ragline.generation.base import ChatMessage, ChatModel, Completion
from ragline.generation.citations import citations_for, parse_citations
from ragline.generation.pricing import estimate_cost
from ragline.generation.prompt import NOT_ENOUGH_INFORMATION, build_messages, render_prompt
from ragline.settings import LLMSettings
from ragline.types import Answer, Context, Final, Restart, StreamEvent, Token, Usage

# How models phrase "the sources lack the answer", ours and the usual paraphrases.
_ABSTAIN = re.compile(
    r"do(?:es)? not contain enough information|not enough information|does not contain|"
    r"do not contain the (?:answer|information)",
    re.IGNORECASE,
)


def is_abstention(text: str) -> bool:
    """True when ``text`` says the documents do not hold the answer."""
    return bool(_ABSTAIN.search(text))


class LLMGenerator:
    """A :class:`~ragline.generation.base.Generator` backed by a :class:`ChatModel`.

    Streams the model's tokens (and restarts), then yields one :class:`Final` whose text has its
    invalid citations removed. An empty context abstains without calling the model.
    :class:`~ragline.errors.GenerationError` from the chat model propagates.

    Example::

        gen = LLMGenerator(OpenAIChatModel(settings.llm), settings.llm, stale_after_days=365)
        for event in gen.stream(question, context):
            if isinstance(event, Token):
                print(event.text, end="")
    """

    def __init__(
        self,
        chat: ChatModel,
        settings: LLMSettings,
        *,
        stale_after_days: int,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.chat = chat
        self.settings = settings
        self.stale_after_days = stale_after_days
        self.today = today

    def messages_for(self, question: str, context: Context) -> list[ChatMessage]:
        """The chat messages sent for ``question`` over ``context``."""
        return build_messages(question, context, today=self.today(), stale_after_days=self.stale_after_days)

    def prompt_for(self, question: str, context: Context) -> str:
        """The prompt as one readable string, for debug output (empty when the model is not called)."""
        if not context.passages:
            return ""
        return render_prompt(self.messages_for(question, context))

    def stream(self, question: str, context: Context) -> Iterator[StreamEvent]:
        if not context.passages:
            yield Final(
                Answer(
                    question=question,
                    text=NOT_ENOUGH_INFORMATION,
                    citations=[],
                    abstained=True,
                    mode="llm",
                    confidence=0.0,
                    trace_id="",
                )
            )
            return
        completion: Completion | None = None
        for event in self.chat.stream(self.messages_for(question, context)):
            if isinstance(event, Token | Restart):
                yield event
            else:
                completion = event
        if completion is None:
            raise RuntimeError(f"{type(self.chat).__name__}.stream ended without a Completion")
        yield Final(self._answer(question, context, completion))

    def _answer(self, question: str, context: Context, completion: Completion) -> Answer:
        checked = parse_citations(completion.text, len(context.passages))
        cited = bool(checked.cited)
        return Answer(
            question=question,
            text=checked.text,
            citations=citations_for(context, checked.cited),
            abstained=not cited and is_abstention(checked.text),
            mode="llm",
            confidence=1.0 if cited else 0.0,
            trace_id="",
            usage=Usage(
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost_usd=estimate_cost(
                    completion.model,
                    completion.prompt_tokens,
                    completion.completion_tokens,
                    self.settings.prices,
                ),
                model=completion.model,
            ),
            invalid_citations=checked.invalid,
            errors=completion.failures,
            debug=None,
        )
