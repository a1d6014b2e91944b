"""A fake OpenAI-compatible ``/v1/chat/completions`` server for the query-transform tests.

Run as ``python -m tests.query.fake_query_server`` from the repository root: it binds 127.0.0.1 on a
free port and prints ``PORT <n>``. Replies are ``chat.completion`` objects as the real API sends
them (non-streamed only; the query transforms never stream).

* The task is recognised from the system prompt (multi_query, hyde, decompose, filters, route,
  condense).
* The reply is picked by a marker ``[[name]]`` in the user message (``good`` when there is none),
  from :data:`REPLIES`; an unknown marker gets an empty reply.
* A model whose name starts with ``fail`` always answers 500, so a chain of them fails entirely.

``GET /_log`` lists the requests received (model, status, task, messages); ``POST /_reset`` clears it.
"""

from __future__ import annotations

import re

from tests.fake_server import ChatCompletionsHandler, serve

TASKS = {
    "You write search queries": "multi_query",
    "Write a short passage": "hyde",
    "sub-questions": "decompose",
    "Extract metadata filters": "filters",
    "Classify the user's question": "route",
    "You rewrite the user's last question": "condense",
}
REPLIES: dict[tuple[str, str], str] = {
    ("multi_query", "good"): (
        "Here are three search queries:\n1. rotate API credentials\n2) API key rotation schedule\n"
        '- "how often to change keys"'
    ),
    ("multi_query", "json"): (
        '```json\n["rotate API credentials", "key rotation policy", "Rotate API credentials!"]\n```'
    ),
    ("multi_query", "object"): '{"queries": [{"query": "rotate API credentials"}, {"query": "key expiry"}]}',
    ("multi_query", "garbage"): "Sorry, I can't help with that.",
    ("multi_query", "echo"): '["How do I rotate API keys? [[echo]]"]',
    ("hyde", "good"): (
        "Passage: API keys should be rotated every ninety days. Create a new key, deploy it to every "
        "service, then revoke the old one."
    ),
    ("hyde", "garbage"): "I don't know.",
    ("decompose", "good"): '["What is the recall of BM25?", "What is the recall of SPLADE?"]',
    (
        "decompose",
        "numbered",
    ): "1. What is BM25?\n2. What is SPLADE?\n3. What is ColBERT?\n4. x\n5. What is DPR?",
    ("decompose", "garbage"): '{"oops": 1}',
    ("filters", "good"): '{"year": {"$gte": 2020}, "doc_type": {"$in": ["Report"]}}',
    ("filters", "prose"): 'Sure! The filter is:\n```json\n{"doc_type": "memo"}\n```\nHope this helps.',
    ("filters", "unknown_field"): '{"colour": "red", "year": 2021}',
    ("filters", "wrong_kind"): '{"year": "2021"}',
    ("filters", "unknown_value"): '{"doc_type": {"$in": ["report", "article"]}}',
    ("filters", "or_bad"): '{"$or": [{"year": 2020}, {"colour": "red"}]}',
    ("filters", "bad_operator"): '{"year": {"$regex": "20.*"}}',
    ("filters", "none"): "{}",
    ("filters", "garbage"): "The filter is year >= 2020.",
    ("condense", "good"): "How do I install ragline on Windows?",
    ("condense", "prefixed"): "Standalone question: `How do I install ragline on Windows?`",
    ("condense", "answer"): "Ragline installs on Windows with the MSI installer. Run it as administrator.",
    ("condense", "long"): "How do I install ragline on " + "very " * 100 + "old Windows?",
    ("condense", "garbage"): "Sorry, I can't help with that.",
    ("condense", "offtopic"): "What is the weather in Paris?",
    ("route", "good"): "comparison",
    ("route", "garbage"): "Either fact or summary, hard to say.",
}
_MARKER = re.compile(r"\[\[(\w+)\]\]")


def task_of(messages: list[dict[str, str]]) -> str:
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    return next((task for phrase, task in TASKS.items() if phrase in system), "unknown")


def reply_for(messages: list[dict[str, str]]) -> str:
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    marker = _MARKER.search(user)
    return REPLIES.get((task_of(messages), marker[1] if marker else "good"), "")


class Handler(ChatCompletionsHandler):
    def reply(self, model: str, messages: list[dict[str, str]]) -> str | int:
        return 500 if model.startswith("fail") else reply_for(messages)

    def log_fields(self, messages: list[dict[str, str]]) -> dict[str, object]:
        return {"task": task_of(messages)}


if __name__ == "__main__":
    serve(Handler)
