"""What the fake OpenAI-protocol servers share: serving on a free loopback port, announced on stdout
(:func:`serve`); for the chat servers, JSON and OpenAI-error replies with a ``GET /_log`` /
``POST /_reset`` request log (:class:`ChatHandlerBase`), the ``chat.completion`` body
(:func:`completion_body`), and for the non-streaming ones the whole ``/v1/chat/completions`` flow
(:class:`ChatCompletionsHandler`).

The servers run as ``python -m tests.<pkg>.<module>`` from the repository root (see
:func:`tests.helpers.running_server`), so they can import this module.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that time out or hang up are part of the scenarios; don't spam stderr about them.
        exc = sys.exc_info()[1]
        if not isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def serve(handler: type[BaseHTTPRequestHandler]) -> None:
    """Bind 127.0.0.1 on a free port, print ``PORT <n>``, serve until interrupted."""
    server = QuietServer(("127.0.0.1", 0), handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def usage_for(messages: list[dict[str, str]], text: str) -> dict[str, int]:
    """Token usage, counting whitespace-separated words as tokens."""
    prompt_tokens = sum(len(m["content"].split()) for m in messages)
    completion_tokens = len(text.split())
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion_body(model: str, text: str, messages: list[dict[str, str]]) -> dict[str, object]:
    """A non-streamed ``chat.completion`` object answering ``text``, as the real API sends it."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage_for(messages, text),
        "system_fingerprint": "fp_fake",
    }


class ChatHandlerBase(BaseHTTPRequestHandler):
    """Plumbing of a fake ``/v1/chat/completions`` server: HTTP/1.1 without the per-request stderr
    log, JSON and OpenAI-error replies, and a request log served on ``GET /_log`` and cleared by
    ``POST /_reset`` (see :meth:`reset`). One server runs per process, so the log is class-wide.
    """

    protocol_version = "HTTP/1.1"
    requests: ClassVar[list[dict[str, object]]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    def log_message(self, format: str, *args: object) -> None:  # silence the per-request stderr log
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _error(
        self,
        status: int,
        message: str,
        type_: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        err = {"error": {"message": message, "type": type_, "param": None, "code": code}}
        self._json(status, err, headers)

    def _no_route(self) -> None:
        self._error(404, f"no route {self.path}", "invalid_request_error")

    def record(self, entry: dict[str, object]) -> None:
        """Append ``entry`` to the request log."""
        with self.lock:
            self.requests.append(entry)

    def reset(self) -> None:
        """``POST /_reset``: forget the requests received (and, in subclasses, any other state)."""
        with self.lock:
            self.requests.clear()

    def do_GET(self) -> None:
        if self.path == "/_log":
            with self.lock:
                self._json(200, list(self.requests))
        else:
            self._no_route()

    def _chat_request(self) -> dict[str, Any] | None:
        """The JSON body of a ``POST /v1/chat/completions``; ``None`` once ``POST /_reset`` or an
        unknown route has been answered.
        """
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_reset":
            self.reset()
            self._json(200, {"ok": True})
            return None
        if self.path != "/v1/chat/completions":
            self._no_route()
            return None
        return json.loads(raw)


class ChatCompletionsHandler(ChatHandlerBase):
    """A non-streaming chat server; subclasses implement :meth:`reply` (and maybe :meth:`log_fields`).

    ``GET /_log`` returns the requests received (model, status, messages and :meth:`log_fields`).
    """

    def reply(self, model: str, messages: list[dict[str, str]]) -> str | int:
        """The reply text, or an error status: 404 is ``model_not_found``, any other ``server_error``."""
        raise NotImplementedError

    def log_fields(self, messages: list[dict[str, str]]) -> dict[str, object]:
        """Extra fields for this request's ``/_log`` entry."""
        return {}

    def do_POST(self) -> None:
        req = self._chat_request()
        if req is None:
            return
        model: str = req["model"]
        messages: list[dict[str, str]] = req["messages"]
        answer = self.reply(model, messages)
        status = 200 if isinstance(answer, str) else answer
        self.record({"model": model, "status": status, **self.log_fields(messages), "messages": messages})
        if isinstance(answer, str):
            self._json(200, completion_body(model, answer, messages))
        elif answer == 404:
            message = f"The model `{model}` does not exist"
            self._error(404, message, "invalid_request_error", "model_not_found")
        else:
            self._error(answer, "The server had an error while processing your request", "server_error")
