"""A tiny OpenAI-compatible ``/v1/chat/completions`` server for the summarizer tests.

Run as ``python -m tests.hierarchy.fake_summary_server`` from the repository root: it binds
127.0.0.1 on a free port and prints ``PORT <n>``. Non-streamed ``chat.completion`` responses only
(the summarizer never streams). The model name picks a scenario:

* ``good``: answers :data:`SUMMARY` followed by the document's title as read from the prompt
* ``empty``: an empty answer
* ``always-500``, ``also-500``: every request fails with 500
* anything else: 404 ``model_not_found``

``GET /_log`` returns the requests received (model, status, messages); ``POST /_reset`` clears it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler

from tests.fake_server import serve

SCENARIOS = ("good", "empty", "always-500", "also-500")
SUMMARY = "The document describes a lighthouse, when it was built and how visitors can climb it."

_lock = threading.Lock()
_log: list[dict[str, object]] = []


def reply_for(model: str, messages: list[dict[str, str]]) -> str:
    if model == "empty":
        return ""
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    m = re.match(r"Title: (.*)", user)
    return f"{SUMMARY} (title: {m[1] if m else 'none'})"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # silence the per-request stderr log
        pass

    def _json(self, status: int, obj: object) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, type_: str, code: str | None = None) -> None:
        self._json(status, {"error": {"message": message, "type": type_, "param": None, "code": code}})

    def do_GET(self) -> None:
        if self.path == "/_log":
            with _lock:
                self._json(200, list(_log))
        else:
            self._error(404, f"no route {self.path}", "invalid_request_error")

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_reset":
            with _lock:
                _log.clear()
            self._json(200, {"ok": True})
            return
        if self.path != "/v1/chat/completions":
            self._error(404, f"no route {self.path}", "invalid_request_error")
            return
        req = json.loads(raw)
        model: str = req["model"]
        messages: list[dict[str, str]] = req["messages"]
        status = 404 if model not in SCENARIOS else 500 if model.endswith("-500") else 200
        with _lock:
            _log.append({"model": model, "status": status, "messages": messages})
        if status == 500:
            self._error(500, "The server had an error while processing your request", "server_error")
            return
        if status == 404:
            message = f"The model `{model}` does not exist"
            self._error(404, message, "invalid_request_error", "model_not_found")
            return
        text = reply_for(model, messages)
        self._json(
            200,
            {
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
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )


if __name__ == "__main__":
    serve(Handler)
