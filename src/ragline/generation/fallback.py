"""The LLM's answer, or the offline extractive answer when every LLM attempt fails.

Example::

    gen = FallbackGenerator(llm, extractive)          # llm None: always extractive
    answer = collect(gen.stream("How do I rotate keys?", context))
    answer.mode                                       # "llm", "extractive" or "degraded"
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

from ragline.errors import GenerationError
from ragline.generation.base import Generator
from ragline.types import Answer, Context, Final, Restart, StreamEvent, Token

log = logging.getLogger(__name__)


class FallbackGenerator:
    """Streams ``primary`` (the LLM); when it raises :class:`GenerationError` (every model and
    retry failed), streams ``fallback`` (extractive) instead and marks the answer ``degraded``
    with the error kept in ``Answer.errors``. Tokens already streamed are retracted with one
    :class:`Restart` event."""

    def __init__(self, primary: Generator | None, fallback: Generator) -> None:
        self.primary = primary
        self.fallback = fallback

    def stream(self, question: str, context: Context) -> Iterator[StreamEvent]:
        errors: tuple[str, ...] = ()
        if self.primary is not None:
            streamed = False
            try:
                for event in self.primary.stream(question, context):
                    if isinstance(event, Final):
                        yield event
                        return
                    streamed = streamed or isinstance(event, Token)
                    yield event
            except GenerationError as exc:
                log.warning("every LLM failed; answering extractively: %s", exc)
                errors = (str(exc),)
                if streamed:
                    yield Restart(reason=f"the LLM failed; falling back to extractive answer: {exc}")
        answer: Answer | None = None
        for event in self.fallback.stream(question, context):
            if isinstance(event, Final):
                answer = event.answer
            else:
                yield event
        if answer is None:
            raise RuntimeError("the extractive answerer ended without a Final event")
        if errors:
            answer = replace(answer, mode="degraded", errors=answer.errors + errors)
        yield Final(answer)
