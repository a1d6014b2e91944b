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

import re

from tests.fake_server import ChatCompletionsHandler, serve

SCENARIOS = ("good", "empty", "always-500", "also-500")
SUMMARY = "The document describes a lighthouse, when it was built and how visitors can climb it."


def reply_for(model: str, messages: list[dict[str, str]]) -> str:
    if model == "empty":
        return ""
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    m = re.match(r"Title: (.*)", user)
    return f"{SUMMARY} (title: {m[1] if m else 'none'})"


class Handler(ChatCompletionsHandler):
    def reply(self, model: str, messages: list[dict[str, str]]) -> str | int:
        if model not in SCENARIOS:
            return 404
        return 500 if model.endswith("-500") else reply_for(model, messages)


if __name__ == "__main__":
    serve(Handler)
