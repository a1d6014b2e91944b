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

import re

from tests.fake_server import ChatCompletionsHandler, serve


def passage_count(prompt: str) -> int:
    """How many numbered passages (``[n] `` at the start of a line) the prompt holds."""
    return len(re.findall(r"^\[\d+\] ", prompt, re.MULTILINE))


def reply_for(model: str, messages: list[dict[str, str]]) -> str:
    if model.startswith("echo:"):
        return model[len("echo:") :]
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return " > ".join(f"[{i}]" for i in range(passage_count(user), 0, -1))


class Handler(ChatCompletionsHandler):
    def reply(self, model: str, messages: list[dict[str, str]]) -> str | int:
        if model.startswith("500"):
            return 500
        if model == "reverse" or model.startswith("echo:"):
            return reply_for(model, messages)
        return 404


if __name__ == "__main__":
    serve(Handler)
