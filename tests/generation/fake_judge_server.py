"""A fake OpenAI-compatible ``/v1/chat/completions`` server for the support judge and the
LLM-as-judge answer metrics (non-streamed ``chat.completion`` replies, as the real API sends them).

Run as ``python -m tests.generation.fake_judge_server`` from the repository root; it prints
``PORT <n>``. The task is read from the system prompt, the reply picked by the model name:

* support judging (statements ``i. text (cites a, b)``): ``judge`` answers valid JSON, every
  statement supported by all its cited sources unless it mentions Paris (never in our sources);
  ``judge-prose`` answers prose, ``judge-missing`` judges only statement 1, ``judge-foreign``
  names a source (7) no statement cites; ``fail`` answers 500;
* question writing (RAGAS answer relevance): a JSON list of three questions about the lighthouse.

``GET /_log`` lists the requests (model, status, task, messages); ``POST /_reset`` clears it.
"""

from __future__ import annotations

import json
import re

from tests.fake_server import ChatCompletionsHandler, serve

_STATEMENT = re.compile(r"^(\d+)\. (.*) \(cites ([\d, ]+|nothing)\)$", re.MULTILINE)
QUESTIONS = ["Who built the Harbor Lighthouse?", "Who constructed the lighthouse?", "When was it built?"]


def task_of(messages: list[dict[str, str]]) -> str:
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    if system.startswith("You check whether statements are supported"):
        return "support"
    if system.startswith("Write 3 different questions"):
        return "questions"
    return "unknown"


def verdicts(user: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for m in _STATEMENT.finditer(user):
        cited = [] if m[3] == "nothing" else [int(x) for x in m[3].split(",")]
        ok = "paris" not in m[2].lower() and bool(cited)
        out.append({"id": int(m[1]), "supported": ok, "sources": cited if ok else []})
    return out


class Handler(ChatCompletionsHandler):
    def reply(self, model: str, messages: list[dict[str, str]]) -> str | int:
        if model == "fail":
            return 500
        task = task_of(messages)
        if task == "questions":
            return json.dumps(QUESTIONS)
        user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        found = verdicts(user)
        if model == "judge-prose":
            return "All of these statements look supported to me."
        if model == "judge-missing":
            return json.dumps({"statements": found[:1]})
        if model == "judge-foreign":
            return json.dumps({"statements": [{**v, "sources": [7]} for v in found]})
        return "```json\n" + json.dumps({"statements": found}) + "\n```"

    def log_fields(self, messages: list[dict[str, str]]) -> dict[str, object]:
        return {"task": task_of(messages)}


if __name__ == "__main__":
    serve(Handler)
