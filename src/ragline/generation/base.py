"""The Generator and ChatModel protocols, and the chat records they exchange."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ragline.types import Answer, Context, Final, Restart, StreamEvent, Token


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished chat completion. ``failures`` lists earlier attempts ("model: reason")."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    failures: tuple[str, ...] = ()


@runtime_checkable
class ChatModel(Protocol):
    """A chat-completions endpoint with retries and fallback models already applied.

    Both methods raise :class:`~ragline.errors.GenerationError` once every model has failed.
    """

    def complete(self, messages: Sequence[ChatMessage]) -> Completion: ...

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[Token | Restart | Completion]:
        """Yield text tokens as they arrive; :class:`Restart` when an attempt failed after
        streaming some text and another attempt follows; the :class:`Completion` last."""
        ...


@runtime_checkable
class Generator(Protocol):
    """Question + context -> answer with citations.

    ``stream`` yields :class:`Token` (and :class:`Restart`) events and ends with one :class:`Final`.
    """

    def stream(self, question: str, context: Context) -> Iterator[StreamEvent]: ...


def collect(events: Iterator[StreamEvent]) -> Answer:
    """Run a stream to its end and return the final answer."""
    final: Answer | None = None
    for event in events:
        if isinstance(event, Final):
            final = event.answer
    if final is None:
        raise RuntimeError("generator stream ended without a Final event")
    return final
