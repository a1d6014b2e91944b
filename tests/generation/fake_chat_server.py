"""A tiny OpenAI-compatible ``/v1/chat/completions`` server for the LLM generation tests.

Run as ``python -m tests.generation.fake_chat_server`` from the repository root: it binds 127.0.0.1 on
a free port and prints ``PORT <n>`` on stdout. Responses
follow the real API: a ``chat.completion`` JSON object, or with ``"stream": true`` a chunked
``text/event-stream`` of ``chat.completion.chunk`` objects (a role chunk, content chunks, a chunk
with ``finish_reason``, a usage chunk with empty ``choices`` when ``stream_options.include_usage``)
ended by ``data: [DONE]``. The model name in each request picks a scenario:

* ``good``: quotes the first sentence of source [1] of the prompt, cites [1] and a bogus [9]
* ``no-usage``: like ``good`` but without any ``usage`` (as some local servers do)
* ``empty``: an empty answer
* ``abstain``: says the documents do not contain enough information
* ``flaky-429``: the first request per distinct (model, stream, messages) gets 429 with
  ``Retry-After: 0``, the next ones succeed like ``good``
* ``always-500``: every request fails with 500
* ``slow``: sleeps 3 s before answering (longer than the clients' timeout)
* ``hang``: sleeps 120 s before answering (an endpoint that stopped responding)
* ``die-mid-stream``: sends a few tokens, then drops the connection in the middle of the body
* ``unauthorized``: 401 unless the Authorization header is ``Bearer secret``
* anything else: 404 ``model_not_found``, as OpenAI answers for an unknown model

``GET /v1/models`` lists the scenarios; ``GET /_log`` returns every chat request received (model,
stream, status, authorization); ``POST /_reset`` clears the log and the "already failed once" memory.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time

from tests.fake_server import ChatHandlerBase, completion_body, serve, usage_for

SCENARIOS = (
    "good",
    "no-usage",
    "empty",
    "abstain",
    "flaky-429",
    "always-500",
    "slow",
    "hang",
    "die-mid-stream",
    "unauthorized",
)
SLOW_S = 3.0
HANG_S = 120.0
ABSTAIN_TEXT = "The indexed documents do not contain enough information to answer this."

_failed_once: set[str] = set()


def words(text: str) -> int:
    """The fake tokenizer: whitespace-separated words."""
    return len(text.split())


def first_source_sentence(prompt: str) -> str:
    """The first sentence of source [1] in the user message, as a grounded model would quote it."""
    m = re.search(r"^\[1\][^\n]*\n(.+?)(?:\n</source>|\Z)", prompt, re.MULTILINE | re.DOTALL)
    if not m:
        return "I could not find source [1]"
    text = " ".join(m[1].split())
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return sentence.rstrip(".!?")


def good_answer(messages: list[dict[str, str]]) -> str:
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return f"According to the documents, {first_source_sentence(user)} [1]. This is also covered in [9]."


def split_tokens(text: str) -> list[str]:
    """Word-sized stream pieces that join back to ``text``."""
    return re.findall(r"\S+\s*|\s+", text)


class Handler(ChatHandlerBase):
    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            _failed_once.clear()

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in SCENARIOS]
            self._json(200, {"object": "list", "data": data})
        else:
            super().do_GET()

    def do_POST(self) -> None:
        req = self._chat_request()
        if req is None:
            return
        model: str = req["model"]
        stream = bool(req.get("stream"))
        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        messages: list[dict[str, str]] = req["messages"]
        status = self._status_for(model, stream, messages)
        self.record(
            {
                "model": model,
                "stream": stream,
                "status": status,
                "authorization": self.headers.get("Authorization"),
                "messages": messages,
            }
        )
        if status == 429:
            self._error(
                429,
                "Rate limit reached, try again",
                "requests",
                "rate_limit_exceeded",
                headers={"Retry-After": "0"},
            )
            return
        if status == 500:
            self._error(500, "The server had an error while processing your request", "server_error")
            return
        if status == 401:
            self._error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
            return
        if status == 404:
            self._error(
                404, f"The model `{model}` does not exist", "invalid_request_error", "model_not_found"
            )
            return
        if model == "slow":
            time.sleep(SLOW_S)
        if model == "hang":
            time.sleep(HANG_S)
        text = self._answer_text(model, messages)
        try:
            if stream:
                usage = usage_for(messages, text) if include_usage and model != "no-usage" else None
                self._stream(model, text, usage)
            else:
                self._complete(model, text, messages)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); nothing left to do

    def _status_for(self, model: str, stream: bool, messages: list[dict[str, str]]) -> int:
        if model not in SCENARIOS:
            return 404
        if model == "always-500":
            return 500
        if model == "unauthorized" and self.headers.get("Authorization") != "Bearer secret":
            return 401
        if model == "flaky-429":
            key = json.dumps([model, stream, messages])
            with self.lock:
                first = key not in _failed_once
                _failed_once.add(key)
            if first:
                return 429
        return 200

    @staticmethod
    def _answer_text(model: str, messages: list[dict[str, str]]) -> str:
        if model == "empty":
            return ""
        if model == "abstain":
            return ABSTAIN_TEXT
        return good_answer(messages)

    def _complete(self, model: str, text: str, messages: list[dict[str, str]]) -> None:
        body = completion_body(model, text, messages)
        if model == "no-usage":
            del body["usage"]
        if model == "die-mid-stream":
            # Promise the whole body, send half, hang up.
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self._hang_up()
            return
        self._json(200, body)

    def _chunk(self, model: str, delta: dict[str, str], finish: str | None, usage: bool) -> dict[str, object]:
        chunk: dict[str, object] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage:  # with include_usage the real API sends "usage": null on every content chunk
            chunk["usage"] = None
        return chunk

    def _send_event(self, payload: object) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        event = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
        self.wfile.flush()

    def _stream(self, model: str, text: str, usage: dict[str, int] | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        with_usage = usage is not None
        self._send_event(self._chunk(model, {"role": "assistant", "content": ""}, None, with_usage))
        tokens = split_tokens(text)
        for i, token in enumerate(tokens):
            if model == "die-mid-stream" and i == 3:
                self._hang_up()
                return
            self._send_event(self._chunk(model, {"content": token}, None, with_usage))
        self._send_event(self._chunk(model, {}, "stop", with_usage))
        if usage is not None:
            final = self._chunk(model, {}, None, False)
            final["choices"] = []
            final["usage"] = usage
            self._send_event(final)
        self._send_event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _hang_up(self) -> None:
        """Drop the connection without finishing the response body."""
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


if __name__ == "__main__":
    serve(Handler)
