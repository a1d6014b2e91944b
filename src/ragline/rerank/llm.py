"""Listwise LLM reranking in the style of RankGPT (Sun et al., EMNLP 2023, "Is ChatGPT Good at
Search? Investigating Large Language Models as Re-Ranking Agents").

The model sees the query and numbered passages in one prompt and answers with a permutation such as
``3 > 1 > 2``. The reply is parsed leniently: passages it leaves out follow in their original order,
repeated and out-of-range numbers are ignored. When every model fails, or the reply holds no usable
passage number, the fallback reranker (or the original order) stands in and a warning is logged.

Example::

    reranker = LLMReranker(OpenAIChatModel(settings.llm), fallback=MMRReranker(embedder))
    hits = reranker.run("rotate api keys", hits, top_k=5)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from ragline.errors import ConfigError, GenerationError
from ragline.generation.base import ChatMessage, ChatModel
from ragline.rerank.base import Reranker, check_top_k, reorder
from ragline.types import Hit

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are RankGPT, an intelligent assistant that ranks passages by their relevance to a search query."
)

# A chain of numbers joined by ">", each optionally in brackets: "[3] > [1] > 2".
_CHAIN = re.compile(r"\[?\d+\]?(?:\s*>\s*\[?\d+\]?)+")
_NUMBER = re.compile(r"\d+")


def build_rank_messages(query: str, passages: Sequence[str]) -> list[ChatMessage]:
    """The RankGPT prompt: the query, the passages numbered from 1, the query again, the answer format.

    The query is repeated after the passages because models attend most to the end of long prompts.
    """
    n = len(passages)
    listing = "\n\n".join(f"[{i}] {' '.join(text.split())}" for i, text in enumerate(passages, start=1))
    example = "3 > 1 > 2" if n >= 3 else " > ".join(str(i) for i in range(n, 0, -1))
    user = (
        f"Rank these {n} passages by their relevance to the search query.\n\n"
        f"Query: {query}\n\n"
        f"{listing}\n\n"
        f"Query: {query}\n\n"
        f"Rank the {n} passages above from most to least relevant to the query. Answer with the "
        f"passage numbers only, in order, separated by ' > ', e.g. {example}. Do not explain."
    )
    return [ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", user)]


def parse_permutation(reply: str, n: int) -> list[int] | None:
    """0-based passage indices in the order ``reply`` gives, completed to a permutation of ``range(n)``.

    A ``3 > 1 > 2`` chain is preferred when the reply holds one (so numbers in a preamble such as
    "Here are the 3 passages" don't count); otherwise every number in the reply is read in order.
    Numbers outside 1..n and repeats are ignored; passages never named follow in their original
    order. None when the reply names no passage at all.
    """
    chains = _CHAIN.findall(reply)
    source = max(chains, key=len) if chains else reply
    seen: list[int] = []
    for token in _NUMBER.findall(source):
        i = int(token) - 1
        if 0 <= i < n and i not in seen:
            seen.append(i)
    if not seen:
        return None
    return seen + [i for i in range(n) if i not in seen]


class LLMReranker:
    """Asks a chat model for a listwise ranking of the first ``max_passages`` hits.

    Hits beyond ``max_passages`` keep their order after the ranked ones. Scores are reciprocal
    ranks (``1 / rank``), since the model gives an order, not scores. Each passage is cut to
    ``passage_chars`` characters to bound the prompt. On :class:`~ragline.errors.GenerationError`
    or a reply without passage numbers, ``fallback`` reranks instead; without a fallback the hits
    keep their incoming order and scores.

    Example::

        reranker = LLMReranker(chat, fallback=CrossEncoderReranker(Path("/models/ce")), max_passages=10)
        reranker.run("what changed in 2.0", hits, top_k=5)
    """

    def __init__(
        self,
        chat: ChatModel,
        fallback: Reranker | None = None,
        max_passages: int = 20,
        passage_chars: int = 1200,
    ) -> None:
        if max_passages < 1:
            raise ConfigError(f"max_passages must be at least 1, got {max_passages}")
        if passage_chars < 1:
            raise ConfigError(f"passage_chars must be at least 1, got {passage_chars}")
        self.chat = chat
        self.fallback = fallback
        self.max_passages = max_passages
        self.passage_chars = passage_chars

    def _fall_back(self, query: str, hits: Sequence[Hit], top_k: int) -> list[Hit]:
        if self.fallback is not None:
            return self.fallback.run(query, hits, top_k)
        return list(hits[:top_k])

    def run(self, query: str, hits: Sequence[Hit], top_k: int) -> list[Hit]:
        check_top_k(top_k)
        if not hits:
            return []
        head = hits[: self.max_passages]
        messages = build_rank_messages(query, [h.chunk.embed_text[: self.passage_chars] for h in head])
        what = "the fallback reranker" if self.fallback is not None else "the original order"
        try:
            reply = self.chat.complete(messages).text
        except GenerationError as exc:
            log.warning("LLM reranking failed, using %s: %s", what, exc)
            return self._fall_back(query, hits, top_k)
        order = parse_permutation(reply, len(head))
        if order is None:
            log.warning("LLM reranking reply names no passage (%.200r), using %s", reply, what)
            return self._fall_back(query, hits, top_k)
        return reorder(hits, order + list(range(len(head), len(hits))), top_k)
