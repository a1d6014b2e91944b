"""The LLM support judge: an OpenAI-compatible model says which statements their sources support.

One chat call per answer: the cited sources (numbered as in the answer, each in a ``<source>``
element as in the grounded prompt) and the numbered statements with the sources each cites. The
reply must be JSON ``{"statements": [{"id": 1, "supported": true, "sources": [2]}]}`` naming
every statement once, ``sources`` being the cited sources that support it alone; anything else
(prose, a missing statement, a source the statement does not cite) is refused and the offline
judge answers instead, the reason kept in ``errors``.

Example::

    judge = LLMSupportJudge(OpenAIChatModel(settings.llm, counter), OfflineSupportJudge(embedder))
    supports = judge.judge(claims, {1: passage_text})
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from ragline.errors import GenerationError
from ragline.generation.base import ChatMessage, ChatModel
from ragline.generation.citations import strip_markers
from ragline.generation.support import Claim
from ragline.generation.support_score import OfflineSupportJudge
from ragline.types import SentenceSupport, SupportJudgeName

log = logging.getLogger(__name__)

SYSTEM = (
    "You check whether statements are supported by numbered sources. A statement is supported "
    "when the sources it cites, read together, state it or directly imply it; outside knowledge "
    "does not count. Reply with JSON only, no prose: "
    '{"statements": [{"id": <statement number>, "supported": true or false, '
    '"sources": [<each cited source number that supports the statement on its own>]}]} '
    "with one entry per statement."
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
_SOURCE_TAG = re.compile(r"<(\s*/?\s*source\b)", re.IGNORECASE)


class _Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: int
    supported: bool
    sources: list[int] = []


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    statements: list[_Verdict]


def _safe(text: str) -> str:
    # Source text is data: it may neither open nor close a <source> element.
    return _SOURCE_TAG.sub(r"‹\1", strip_markers(text))


def build_messages(
    statements: Sequence[tuple[str, tuple[int, ...]]], sources: dict[int, str]
) -> list[ChatMessage]:
    """The judge's chat messages for ``statements`` (text, cited numbers) over ``sources``."""
    blocks = [f'<source n="{n}">\n{_safe(text)}\n</source>' for n, text in sorted(sources.items())]
    lines = [
        f"{i}. {' '.join(strip_markers(text).split())} (cites {', '.join(map(str, cited)) or 'nothing'})"
        for i, (text, cited) in enumerate(statements, 1)
    ]
    user = "Sources:\n" + "\n".join(blocks) + "\n\nStatements:\n" + "\n".join(lines)
    return [ChatMessage("system", SYSTEM), ChatMessage("user", user)]


def parse_verdicts(reply: str, statements: Sequence[tuple[str, tuple[int, ...]]]) -> list[_Verdict]:
    """The reply's verdicts in statement order; ValueError says what is wrong with it."""
    text = _FENCE.sub("", reply.strip()).strip()
    try:
        parsed = _Reply.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise ValueError(
            f"the reply is not the JSON asked for ({str(exc).splitlines()[0]}): {reply[:120]!r}"
        ) from exc
    by_id: dict[int, _Verdict] = {}
    for v in parsed.statements:
        if v.id in by_id or not 1 <= v.id <= len(statements):
            raise ValueError(f"statement id {v.id} is unknown or repeated (there are {len(statements)})")
        cited = statements[v.id - 1][1]
        if not set(v.sources) <= set(cited):
            raise ValueError(f"statement {v.id} names sources {v.sources} but cites only {list(cited)}")
        by_id[v.id] = v
    missing = [i for i in range(1, len(statements) + 1) if i not in by_id]
    if missing:
        raise ValueError(f"the reply judges no statement {missing}")
    return [by_id[i] for i in range(1, len(statements) + 1)]


class LLMSupportJudge:
    """Support verdicts from a chat model; the offline judge answers when the model fails or its
    reply is malformed (``errors`` then says why)."""

    name: SupportJudgeName = "llm"

    def __init__(self, chat: ChatModel, offline: OfflineSupportJudge) -> None:
        self.chat = chat
        self.offline = offline
        self.errors: tuple[str, ...] = ()

    @property
    def threshold(self) -> float:
        # Verdicts are scored 1.0 or 0.0 (offline fallbacks too).
        return 0.5

    def _verdicts(
        self, statements: Sequence[tuple[str, tuple[int, ...]]], sources: dict[int, str]
    ) -> list[_Verdict] | None:
        try:
            reply = self.chat.complete(build_messages(statements, sources)).text
            return parse_verdicts(reply, statements)
        except (GenerationError, ValueError) as exc:
            log.warning("support judge failed; using the offline score: %s", exc)
            self.errors = (f"support judge: {exc}; used the offline score",)
            return None

    def judge(self, claims: Sequence[Claim], sources: Mapping[int, str]) -> list[SentenceSupport]:
        self.errors = ()
        cited = {n: sources[n] for c in claims for n in c.citations if n in sources}
        verdicts = self._verdicts([(c.text, c.citations) for c in claims], cited) if cited else None
        if verdicts is None:
            errors = self.errors
            out = self.offline.judge(claims, sources)
            self.errors = errors
            return out
        return [_support(c, v) for c, v in zip(claims, verdicts, strict=True)]

    def support_scores(self, claims: Sequence[str], evidence: Sequence[Sequence[str]]) -> list[float]:
        """1.0 or 0.0 per claim, one call per distinct evidence; the offline score on failure."""
        self.errors = ()
        out = [0.0] * len(claims)
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, texts in enumerate(evidence):
            groups.setdefault(tuple(texts), []).append(i)
        for texts, rows in groups.items():
            if not texts:
                continue
            all_sources = tuple(range(1, len(texts) + 1))
            statements = [(claims[i], all_sources) for i in rows]
            verdicts = self._verdicts(statements, dict(zip(all_sources, texts, strict=True)))
            if verdicts is None:
                offline = self.offline.support_scores([claims[i] for i in rows], [texts] * len(rows))
                scores = [1.0 if x >= self.offline.threshold else 0.0 for x in offline]
            else:
                scores = [1.0 if v.supported else 0.0 for v in verdicts]
            for i, s in zip(rows, scores, strict=True):
                out[i] = s
        return out


def _support(claim: Claim, v: _Verdict) -> SentenceSupport:
    cited = claim.citations
    alone = set(v.sources)
    precise: tuple[int, ...] = ()
    if v.supported:
        # ALCE's "the others support it without this one", read from the single-source verdicts.
        precise = tuple(n for n in cited if n in alone or len(cited) == 1 or not (alone - {n}))
    best = next((n for n in cited if n in alone), cited[0] if cited else None)
    return SentenceSupport(
        claim.text,
        claim.start,
        claim.end,
        cited,
        1.0 if v.supported else 0.0,
        v.supported and bool(cited),
        best,
        precise,
        "llm",
    )
