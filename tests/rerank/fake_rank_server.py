"""A tiny OpenAI-compatible ``/v1/chat/completions`` server for the LLM reranker tests.

Run as ``python -m tests.rerank.fake_rank_server`` from the repository root: it binds 127.0.0.1 on
a free port and prints ``PORT <n>``. Non-streamed responses follow the real ``chat.completion``
JSON. The model name in each request picks the reply:

* ``reverse``: the passages of the prompt (``[1] ...``, ``[2] ...``) in reverse order, RankGPT style
  (``[3] > [2] > [1]``)
* ``echo:<text>``: replies ``<text>`` verbatim, for scripted rankings and garbage
* any name starting with ``500``: every request fails with HTTP 500
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

_lock = threading.Lock()
_log: list[dict[str, object]] = []


def passage_count(prompt: str) -> int:
    """How many numbered passages (``[n] `` at the start of a line) the prompt holds."""
    return len(re.findall(r"^\[\d+\] ", prompt, re.MULTILINE))


def reply_for(model: str, messages: list[dict[str, str]]) -> str:
    if model.startswith("echo:"):
        return model[len("echo:") :]
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return " > ".join(f"[{i}]" for i in range(passage_count(user), 0, -1))


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
        if model.startswith("500"):
            status = 500
        elif model == "reverse" or model.startswith("echo:"):
            status = 200
        else:
            status = 404
        with _lock:
            _log.append({"model": model, "status": status, "messages": messages})
        if status == 500:
            self._error(500, "The server had an error while processing your request", "server_error")
            return
        if status == 404:
            self._error(
                404, f"The model `{model}` does not exist", "invalid_request_error", "model_not_found"
            )
            return
        text = reply_for(model, messages)
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        completion_tokens = len(text.split())
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
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
                "system_fingerprint": "fp_fake",
            },
        )


if __name__ == "__main__":
    serve(Handler)
