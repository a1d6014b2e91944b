"""A :class:`~ragline.generation.base.ChatModel` for any OpenAI-compatible chat-completions endpoint.

Works with OpenAI, vLLM, Ollama, llama.cpp, TGI and LiteLLM. Retries are ours, not the SDK's, so
that each failure is counted, logged and reported, and so that a model that keeps failing hands over
to the next one in ``llm.fallback_models``.

Example::

    from ragline.settings import LLMSettings
    chat = OpenAIChatModel(LLMSettings(base_url="http://localhost:11434/v1", model="llama3.1"))
    completion = chat.complete([ChatMessage("user", "Say hi")])
    for event in chat.stream([ChatMessage("user", "Say hi")]):
        ...
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

import openai
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.completion_usage import CompletionUsage

from ragline.errors import ConfigError, GenerationError
from ragline.generation import deadline
from ragline.generation.base import ChatMessage, Completion
from ragline.generation.breaker import Breakers
from ragline.settings import LLMSettings
from ragline.text.token_counters import TokenCounter
from ragline.types import Restart, Token

log = logging.getLogger(__name__)

# Statuses worth another try: request timeout, lock conflict, rate limit (and every 5xx).
_RETRY_STATUS = frozenset({408, 409, 429})
# A server asking for a longer pause than this is better served by the next fallback model.
MAX_RETRY_AFTER_S = 10.0


class _StreamCutShort(Exception):
    """The stream ended cleanly but without a finish_reason: the answer is truncated."""


# What one attempt may raise that we turn into a recorded failure. ValueError covers a stream
# chunk that is not JSON.
_ATTEMPT_ERRORS = (openai.OpenAIError, ValueError, _StreamCutShort)


@dataclass(frozen=True, slots=True)
class _Failure:
    reason: str
    retryable: bool
    retry_after_s: float | None = None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date), if present."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        if isinstance(message, str) and message:
            return message
    return exc.response.reason_phrase or "error"


def _classify(exc: Exception, timeout_s: float, setting: str = "llm.timeout_s") -> _Failure:
    if isinstance(exc, openai.APITimeoutError):
        return _Failure(f"timed out after {timeout_s:.3g} s ({setting})", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return _Failure(f"connection failed: {type(cause).__name__}: {cause}", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        reason = f"HTTP {status}: {_status_message(exc)}"
        retryable = status in _RETRY_STATUS or status >= 500
        return _Failure(reason, retryable, _retry_after(exc.response.headers) if retryable else None)
    if isinstance(exc, _StreamCutShort):
        return _Failure(str(exc), retryable=True)
    # Malformed responses and stream error events: another try at the same model rarely helps.
    return _Failure(f"{type(exc).__name__}: {exc}", retryable=False)


class _Attempts:
    """Walks the models and their attempts in order, recording failures and sleeping between retries.

    Iterate to get ``(model, attempt)`` pairs; call :meth:`fail` when an attempt fails and
    :meth:`succeed` when one worked. Stopping the iteration early (on success) is fine. A model whose
    circuit breaker is open is skipped without a call; once the request's deadline
    (:mod:`ragline.generation.deadline`) has passed, or would pass during a backoff, no attempt follows.
    """

    def __init__(self, settings: LLMSettings, models: list[str], breakers: Breakers) -> None:
        self.settings = settings
        self.models = models
        self.breakers = breakers
        self.failures: list[str] = []
        self.last_error: dict[str, tuple[str, int]] = {}
        self._retry = False
        self._delay_s = 0.0
        self._model_index = 0
        self._deadline = deadline.current()
        self.timeout_s = settings.timeout_s

    def _out_of_time(self, model: str, attempt: int, wait_s: float = 0.0) -> bool:
        """Whether the deadline has passed, or would before a wait of ``wait_s`` ends (recorded)."""
        dl = self._deadline
        if dl is None or dl.remaining() > wait_s:
            return False
        reason = f"the request's LLM deadline of {dl.seconds:g} s passed (llm.deadline_s)"
        if wait_s:
            reason = (
                f"no time left to retry in {wait_s:.2f} s within the request's LLM deadline of "
                f"{dl.seconds:g} s (llm.deadline_s)"
            )
        self.failures.append(f"{model}: {reason}")
        self.last_error[model] = (reason, attempt)
        log.warning("LLM %s not called: %s", model, reason)
        return True

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for index, model in enumerate(self.models):
            self._model_index = index
            breaker = self.breakers.get(model)
            for attempt in range(self.settings.max_retries + 1):
                if self._out_of_time(model, attempt):
                    return
                if not breaker.allow():
                    reason = (
                        f"circuit open after {breaker.threshold} consecutive failures; next probe in "
                        f"{breaker.retry_in():.1f} s (llm.breaker_failures, llm.breaker_cooldown_s)"
                    )
                    self.failures.append(f"{model}: {reason}")
                    self.last_error[model] = (reason, attempt)
                    break
                self._retry = False
                left = self._deadline.remaining() if self._deadline else math.inf
                self.timeout_s = max(0.001, min(self.settings.timeout_s, left))
                try:
                    yield model, attempt
                finally:
                    breaker.release()  # a probe stopped without a verdict frees the slot
                if not self._retry:
                    break
                if self._out_of_time(model, attempt + 1, self._delay_s):
                    return
                time.sleep(self._delay_s)

    def succeed(self, model: str) -> None:
        self.breakers.get(model).success()

    def fail(self, model: str, attempt: int, exc: Exception, streamed_tokens: int = 0) -> tuple[str, bool]:
        """Record a failed attempt; returns its reason and whether any attempt follows."""
        cut = self.timeout_s < self.settings.timeout_s
        failure = _classify(
            exc, self.timeout_s, "the time left of llm.deadline_s" if cut else "llm.timeout_s"
        )
        if failure.retryable:  # timeouts, connection errors, 429 and 5xx: the endpoint is in trouble
            self.breakers.get(model).failure()
        else:  # it answered (a 4xx, a malformed reply): up, if not useful
            self.breakers.get(model).success()
        reason = failure.reason
        if streamed_tokens:
            reason = f"{reason} (after {streamed_tokens} streamed tokens)"
        self.failures.append(f"{model}: {reason}")
        self.last_error[model] = (reason, attempt + 1)
        tries = self.settings.max_retries + 1
        self._retry = failure.retryable and attempt + 1 < tries
        later_models = self.models[self._model_index + 1 :]
        if self._retry:
            backoff = self.settings.backoff_s * 2**attempt
            if failure.retry_after_s is not None:
                backoff = min(failure.retry_after_s, MAX_RETRY_AFTER_S)
            self._delay_s = backoff
            log.warning(
                "LLM %s attempt %d/%d failed: %s; retrying in %.2f s",
                model,
                attempt + 1,
                tries,
                reason,
                backoff,
            )
        elif later_models:
            log.warning(
                "LLM %s attempt %d/%d failed: %s; falling back to %s",
                model,
                attempt + 1,
                tries,
                reason,
                later_models[0],
            )
        else:
            log.error("LLM %s attempt %d/%d failed: %s; no model left", model, attempt + 1, tries, reason)
        return reason, self._retry or bool(later_models)

    def error(self) -> GenerationError:
        per_model = "; ".join(
            f"{model!r} failed {tries} time(s), last: {reason}"
            for model, (reason, tries) in self.last_error.items()
        )
        return GenerationError(
            f"every LLM model failed at llm.base_url={self.settings.base_url!r}: {per_model}. "
            "Check that llm.base_url points at a running OpenAI-compatible server (ending in /v1), "
            "that llm.model and llm.fallback_models name models it serves (GET /v1/models lists them), "
            "and that llm.api_key is valid."
        )


def _to_param(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return ChatCompletionSystemMessageParam(role="system", content=message.content)
    if message.role == "assistant":
        return ChatCompletionAssistantMessageParam(role="assistant", content=message.content)
    return ChatCompletionUserMessageParam(role="user", content=message.content)


class OpenAIChatModel:
    """Chat completions with per-model retries, a fallback chain and streaming.

    Models tried: ``settings.model`` then each of ``settings.fallback_models``. Each gets
    ``1 + settings.max_retries`` attempts on 429, 5xx, timeouts and connection errors (backoff
    ``backoff_s * 2**attempt``, or the server's ``Retry-After`` up to 10 s); any other error moves
    on to the next model at once. When a server sends no token usage, ``counter`` counts them.
    Each call waits at most the time left of the request's deadline (``llm.deadline_s``), and a
    model whose circuit breaker is open (``llm.breaker_failures`` in a row) is not called.

    Example::

        chat = OpenAIChatModel(LLMSettings(base_url="http://localhost:8000/v1", model="qwen2.5-7b",
                                           fallback_models=("llama3.1-8b",)))
        print(chat.complete([ChatMessage("user", "What is RAG?")]).text)
    """

    def __init__(
        self, settings: LLMSettings, counter: TokenCounter | None = None, breakers: Breakers | None = None
    ) -> None:
        if not settings.base_url:
            raise ConfigError(
                "llm.base_url is not set: point it at an OpenAI-compatible server, "
                "e.g. http://localhost:11434/v1"
            )
        if not settings.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"llm.base_url={settings.base_url!r} must start with http:// or https://")
        if not settings.model:
            raise ConfigError("llm.model is not set: name the model the server should run")
        self.settings = settings
        self.counter = counter
        self.models: list[str] = [settings.model, *settings.fallback_models]
        # One breaker per model, shared by every call through this client (the engine shares the
        # client between its LLM stages).
        self.breakers = breakers or Breakers(settings.breaker_failures, settings.breaker_cooldown_s)

    @cached_property
    def _client(self) -> openai.OpenAI:
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else None
        return openai.OpenAI(
            base_url=self.settings.base_url,
            # Local servers ignore the key, but the SDK refuses to start without one.
            api_key=key or "not-needed",
            timeout=self.settings.timeout_s,
            max_retries=0,
        )

    def close(self) -> None:
        """Release the HTTP connections (a later call opens new ones)."""
        if "_client" in self.__dict__:
            self.__dict__.pop("_client").close()

    def _usage(
        self, usage: CompletionUsage | None, messages: Sequence[ChatMessage], text: str
    ) -> tuple[int, int]:
        if usage is not None:
            return usage.prompt_tokens, usage.completion_tokens
        if self.counter is None:
            return 0, 0
        prompt = sum(self.counter.count_batch([m.content for m in messages]))
        return prompt, self.counter.count(text) if text else 0

    def complete(self, messages: Sequence[ChatMessage]) -> Completion:
        """One non-streamed answer; raises GenerationError once every model has failed."""
        params = [_to_param(m) for m in messages]
        sampling = self.settings.sampling
        attempts = _Attempts(self.settings, self.models, self.breakers)
        for model, attempt in attempts:
            try:
                response = self._client.chat.completions.create(
                    model=model,
                    messages=params,
                    temperature=sampling.temperature,
                    top_p=sampling.top_p,
                    max_tokens=sampling.max_tokens,
                    timeout=attempts.timeout_s,
                )
                if not response.choices:
                    raise ValueError("the response holds no choices")
            except _ATTEMPT_ERRORS as exc:
                attempts.fail(model, attempt, exc)
                continue
            attempts.succeed(model)
            # An empty answer is a valid answer (the caller decides what to make of it).
            text = response.choices[0].message.content or ""
            prompt_tokens, completion_tokens = self._usage(response.usage, messages, text)
            return Completion(
                text=text,
                model=response.model or model,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                failures=tuple(attempts.failures),
            )
        raise attempts.error()

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[Token | Restart | Completion]:
        """Tokens as they arrive, :class:`Restart` when a failed attempt had streamed text and another
        follows, then the :class:`Completion`. Raises GenerationError once every model has failed."""
        params = [_to_param(m) for m in messages]
        sampling = self.settings.sampling
        attempts = _Attempts(self.settings, self.models, self.breakers)
        for model, attempt in attempts:
            parts: list[str] = []
            usage: CompletionUsage | None = None
            served_by = model
            try:
                finished = False
                with self._client.chat.completions.create(
                    model=model,
                    messages=params,
                    temperature=sampling.temperature,
                    top_p=sampling.top_p,
                    max_tokens=sampling.max_tokens,
                    stream=True,
                    stream_options={"include_usage": True},
                    timeout=attempts.timeout_s,
                ) as chunks:
                    for chunk in chunks:
                        served_by = chunk.model or served_by
                        if chunk.usage is not None:
                            usage = chunk.usage
                        for choice in chunk.choices:
                            if choice.index != 0:
                                continue
                            if choice.delta.content:
                                parts.append(choice.delta.content)
                                yield Token(choice.delta.content)
                            if choice.finish_reason is not None:
                                finished = True
                if not finished:
                    raise _StreamCutShort("the stream ended before the model finished its answer")
            except _ATTEMPT_ERRORS as exc:
                reason, more = attempts.fail(model, attempt, exc, streamed_tokens=len(parts))
                if parts and more:
                    yield Restart(f"{model}: {reason}")
                continue
            attempts.succeed(model)
            text = "".join(parts)
            prompt_tokens, completion_tokens = self._usage(usage, messages, text)
            yield Completion(
                text=text,
                model=served_by,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                failures=tuple(attempts.failures),
            )
            return
        raise attempts.error()
