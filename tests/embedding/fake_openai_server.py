"""A tiny OpenAI-compatible ``/v1/embeddings`` server for the OpenAIEmbedder tests.

Run as ``python -m tests.embedding.fake_openai_server`` from the repository root: it binds 127.0.0.1 on
a free port and prints ``PORT <n>`` on stdout. The model
name in each request picks a scenario:

* ``flaky-429`` / ``err-500-once``: the first request for a given input batch fails, retries succeed
* ``always-503``: every request fails with 503
* ``bad-json``: 200 with a body that is not JSON
* ``missing-data``: 200 with valid JSON lacking ``data``
* ``unauthorized``: 401 unless the Authorization header is ``Bearer secret``
* ``shuffled``: the data items come back in reverse order (clients must sort by ``index``)
* ``wrong-dim``: 3-d vectors
* ``too-few``: one vector fewer than inputs
* anything else: 384-d vectors derived from each text's hash

``GET /_log`` returns every embeddings request received (model, input, authorization, status);
``POST /_reset`` clears the log and the "already failed once" memory.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler

import numpy as np

from tests.fake_server import serve

DIM = 384


def fake_vector(text: str, dim: int = DIM) -> list[float]:
    """Deterministic, unnormalised vector for ``text`` (values in [-1, 1))."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    return [float(x) for x in rng.uniform(-1.0, 1.0, dim)]


_lock = threading.Lock()
_log: list[dict[str, object]] = []
_failed_once: set[tuple[str, tuple[str, ...]]] = set()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # silence the per-request stderr log
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: object) -> None:
        self._send(status, json.dumps(obj).encode())

    def do_GET(self) -> None:
        if self.path == "/_log":
            with _lock:
                self._json(200, list(_log))
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path == "/_reset":
            with _lock:
                _log.clear()
                _failed_once.clear()
            self._json(200, {"ok": True})
            return
        if self.path != "/v1/embeddings":
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        req = json.loads(raw)
        model = req["model"]
        inputs = req["input"]
        if isinstance(inputs, str):
            inputs = [inputs]
        status, body = self._answer(model, inputs)
        with _lock:
            _log.append(
                {
                    "model": model,
                    "input": inputs,
                    "authorization": self.headers.get("Authorization"),
                    "status": status,
                }
            )
        if isinstance(body, bytes):
            self._send(status, body)
        else:
            self._json(status, body)

    def _answer(self, model: str, inputs: list[str]) -> tuple[int, object]:
        key = (model, tuple(inputs))
        if model in ("flaky-429", "err-500-once"):
            with _lock:
                first = key not in _failed_once
                _failed_once.add(key)
            if first:
                status = 429 if model == "flaky-429" else 500
                return status, {"error": {"message": "try again", "code": status}}
        if model == "always-503":
            return 503, {"error": {"message": "overloaded"}}
        if model == "bad-json":
            return 200, b'{"object": "list", "data": [ {"index": 0, "embedding": [0.1, '
        if model == "missing-data":
            return 200, {"object": "list", "model": model}
        if model == "unauthorized" and self.headers.get("Authorization") != "Bearer secret":
            return 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
        dim = 3 if model == "wrong-dim" else DIM
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t, dim)}
            for i, t in enumerate(inputs)
        ]
        if model == "shuffled":
            data.reverse()
        if model == "too-few":
            data = data[:-1]
        tokens = sum(len(t.split()) for t in inputs)
        return 200, {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


if __name__ == "__main__":
    serve(Handler)
