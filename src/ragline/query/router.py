"""Query routing: what kind of question this is, how to retrieve for it, and how many hits to keep.

Fact, summary and comparison questions need different retrieval (LlamaIndex's production-RAG guide,
"Dynamically retrieve chunks depending on your task"): a fact wants a few precise chunks, a
summary wants broad document-level coverage, a comparison wants each side retrieved on its own.

Example::

    route = classify("Compare PostgreSQL and MySQL for analytics")   # 'comparison'
    profile = PROFILES[route]                                         # top_k=12, expand='decompose'
    parts = split_question("Compare PostgreSQL and MySQL for analytics")
    # ['PostgreSQL for analytics', 'MySQL for analytics']
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ragline.errors import ConfigError, GenerationError
from ragline.generation.base import ChatMessage, ChatModel
from ragline.text.words import STOPWORDS

log = logging.getLogger(__name__)

Route = Literal["fact", "summary", "comparison"]
ROUTES: tuple[Route, ...] = ("fact", "summary", "comparison")
Expand = Literal["none", "multi_query", "hyde", "decompose"]


@dataclass(frozen=True, slots=True)
class RouteProfile:
    """How to retrieve for a route: how many hits, whether to rank whole documents, how to expand.

    ``expand`` names the query transform of :mod:`ragline.query.llm` to apply first (``none``,
    ``multi_query``, ``hyde`` or ``decompose``).
    """

    top_k: int
    doc_level: bool
    expand: Expand


PROFILES: Mapping[Route, RouteProfile] = {
    # A fact sits in one or two chunks; more hits only dilute the context.
    "fact": RouteProfile(top_k=8, doc_level=False, expand="none"),
    # A summary needs breadth: more hits, grouped by document, from several phrasings.
    "summary": RouteProfile(top_k=20, doc_level=True, expand="multi_query"),
    # Each compared entity is retrieved by its own sub-query so neither side crowds out the other.
    "comparison": RouteProfile(top_k=12, doc_level=False, expand="decompose"),
}

_COMPARISON = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bcompar(?:e|ed|es|ing|ison|isons)\b",
        r"\bcontrast\b",
        r"\bvs\.?(?=\s|$)",
        r"\bversus\b",
        r"\bdifference(?:s)? between\b",
        r"\bdiffer(?:s)? from\b",
        r"\b(?:better|worse|faster|slower|cheaper) than\b",
        r"\bpros and cons of\b.+\b(?:and|or)\b",
        # "X or Y, which ...?" and "which ... X or Y?"
        r"\bwhich\b.*\bor\b",
        r"\bor\b.*\bwhich\b",
    )
]
_SUMMARY = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bsummar(?:y|ize|ise|izing|ising)\b",
        r"\boverview\b",
        r"\bhigh[- ]level\b",
        r"\btl;?dr\b",
        r"\bwhat are the (?:main|key|major|most important)\b",
        r"\b(?:main|key) (?:points|ideas|themes|findings|takeaways|topics)\b",
        r"\bin general\b",
        r"\bgist\b",
        r"\bwhat (?:is|are) (?:this|these|the) (?:document|documents|report|paper)s? about\b",
        r"^\s*(?:outline|recap)\b",
    )
]
# Words that ask for breadth when they open a long question ("describe ...", "tell me about ...").
_BROAD_OPENERS = re.compile(r"^\s*(?:describe|discuss|explain|tell me about|walk me through)\b", re.I)
_SPECIFIC = re.compile(r"\d|\"|'[^']+'|\b(?:who|when|where|how many|how much)\b", re.IGNORECASE)
_LONG_BROAD_WORDS = 20


def classify(question: str) -> Route:
    """The route of ``question`` by rules: comparison, then summary, else fact.

    Comparison: "compare", "vs", "versus", "difference between", "X or Y, which ...". Summary:
    "summarize", "overview", "what are the main ...", "... in general", and long broad questions
    (at least 20 words, opening with describe/discuss/explain/tell me about, with no number, quote
    or who/when/where/how many to pin a fact down).

    Example::

        classify("PostgreSQL vs MySQL?")           # 'comparison'
        classify("Give me an overview of billing")  # 'summary'
        classify("When was the lighthouse built?")  # 'fact'
    """
    if any(p.search(question) for p in _COMPARISON):
        return "comparison"
    if any(p.search(question) for p in _SUMMARY):
        return "summary"
    if (
        len(question.split()) >= _LONG_BROAD_WORDS
        and _BROAD_OPENERS.search(question)
        and not _SPECIFIC.search(question)
    ):
        return "summary"
    return "fact"


_CLASSIFY_PROMPT = (
    "Classify the user's question for a document search system. Reply with exactly one word:\n"
    "fact - asks for a specific fact\n"
    "summary - asks for an overview or summary\n"
    "comparison - compares two or more things"
)


def classify_llm(chat: ChatModel | None, question: str) -> Route:
    """The route as an LLM judges it; :func:`classify` when there is no LLM or its reply is unusable.

    Example::

        classify_llm(chat, "How do the two backup plans differ?")  # 'comparison'
    """
    if chat is None:
        return classify(question)
    messages = [ChatMessage("system", _CLASSIFY_PROMPT), ChatMessage("user", question)]
    try:
        reply = chat.complete(messages).text
    except GenerationError as e:
        log.warning("route classification by LLM failed, using rules: %s", e)
        return classify(question)
    found = {r for r in ROUTES if re.search(rf"\b{r}\b", reply, re.IGNORECASE)}
    if len(found) != 1:
        log.warning("unusable route classification %r, using rules", reply[:200])
        return classify(question)
    return found.pop()


# --- rule-based decomposition ---------------------------------------------------------------------

_ASPECT = r"(?:in terms of|with respect to|regarding|for|on|in|when|at)"
_COMPARE_RE = re.compile(
    rf"^(?P<pre>.*?)\b(?:compare|comparing|contrast|contrasting)\s+(?P<items>.+?)"
    rf"(?P<rest>\s+{_ASPECT}\s+.+?)?\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_BETWEEN_RE = re.compile(
    rf"^(?P<pre>.*?)\bdifferences?\s+between\s+(?P<items>.+?)(?P<rest>\s+{_ASPECT}\s+.+?)?\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_VS_RE = re.compile(r"\s+(?:vs\.?|versus)\s+", re.IGNORECASE)
_ITEM_SPLIT = re.compile(r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|with|to|or|vs\.?|versus)\s+", re.IGNORECASE)
_CLAUSE_SPLIT = re.compile(
    r"(?<=\?)\s+|;\s*|,?\s+and\s+(?=(?:what|how|why|when|where|who|which|does|do|is|are|can|should)\b)",
    re.IGNORECASE,
)
_LEADING_FILLER = re.compile(r"^(?:please\s+|can you\s+|could you\s+|what(?:'s| is| are)\s+the\s+)+", re.I)


def _clean(part: str) -> str:
    return " ".join(part.strip(" ,;:?.!").split())


def _trailing_item(left: str) -> tuple[str, str]:
    """Split the text before "vs" into (context, item): the item is the last run of content words.

    "Which is faster, Postgres" -> ("Which is faster", "Postgres"); "Tell me about Amazon S3" ->
    ("Tell me about", "Amazon S3").
    """
    if "," in left or ":" in left:
        cut = max(left.rfind(","), left.rfind(":"))
        return left[:cut], left[cut + 1 :]
    words = left.split()
    i = len(words)
    while i > 0 and words[i - 1].lower() not in STOPWORDS:
        i -= 1
    if i == len(words):  # "... the vs ...": nothing usable, keep the last word
        i -= 1
    return " ".join(words[:i]), " ".join(words[i:])


def _per_item(items: list[str], pre: str, rest: str, max_parts: int) -> list[str]:
    pre = _LEADING_FILLER.sub("", _clean(pre))
    rest = _clean(rest)
    parts = [_clean(f"{pre} {item} {rest}") for item in items if _clean(item)]
    return parts[:max_parts] if len(parts) >= 2 else []


def split_question(question: str, max_parts: int = 4) -> list[str]:
    """Sub-questions by rules: one per compared item, or one per joined clause; else ``[question]``.

    Handles "compare X and Y [on Z]", "difference between X and Y", "X vs Y [for Z]", several
    questions in one ("What is X? How does Y work?") and clauses joined by "and" + a question word.

    Example::

        split_question("Compare PostgreSQL and MySQL for analytics")
        # ['PostgreSQL for analytics', 'MySQL for analytics']
        split_question("What is RM3 and how does it weigh terms?")
        # ['What is RM3', 'how does it weigh terms']
    """
    if max_parts < 1:
        raise ConfigError(f"max_parts={max_parts} must be at least 1")
    text = " ".join(question.split())
    for pattern in (_COMPARE_RE, _BETWEEN_RE):
        m = pattern.match(text)
        if m:
            items = _ITEM_SPLIT.split(m["items"])
            parts = _per_item(items, "", m["rest"] or "", max_parts)
            if parts:
                return parts
    pieces = _VS_RE.split(text, maxsplit=1)
    if len(pieces) == 2:
        pre, a = _trailing_item(pieces[0])
        m = re.match(rf"(?P<b>.+?)(?P<rest>\s+{_ASPECT}\s+.+?)?\s*[?.!]*\s*$", pieces[1], re.IGNORECASE)
        b, rest = (m["b"], m["rest"] or "") if m else (pieces[1], "")
        parts = _per_item([*_ITEM_SPLIT.split(a), *_ITEM_SPLIT.split(b)], pre, rest, max_parts)
        if parts:
            return parts
    clauses = [_clean(c) for c in _CLAUSE_SPLIT.split(text)]
    clauses = [c for c in clauses if len(c.split()) >= 2]
    if len(clauses) >= 2:
        return clauses[:max_parts]
    return [question]


# --- adaptive cut-off ---------------------------------------------------------------------------


def adaptive_k(
    scores: Sequence[float],
    min_k: int,
    max_k: int,
    drop_ratio: float = 0.5,
    *,
    gap_share: float = 0.5,
) -> int:
    """How many of the best-first ``scores`` to keep: cut at a score drop, within [min_k, max_k].

    Ranked-list truncation (Arampatzis et al., "Where to stop reading a ranked list?", SIGIR 2009;
    Bahri et al., "Choppy", SIGIR 2020) in two cheap rules over the first ``max_k`` scores:

    * relative threshold: keep scores >= ``drop_ratio`` × best (only when best > 0, since the
      ratio means nothing for negative scores such as log-probabilities);
    * largest gap: cut at the biggest drop between neighbours when that one drop is at least
      ``gap_share`` of the whole spread and twice the next biggest (a cliff, not the noise of a
      smooth decline).

    The smaller cut wins; with neither, ``max_k``. Never more than ``len(scores)``.

    Example::

        adaptive_k([0.9, 0.88, 0.86, 0.3, 0.29], min_k=1, max_k=5)  # 3
        adaptive_k([0.9, 0.89, 0.88, 0.87], min_k=1, max_k=3)        # 3
    """
    if min_k < 0 or max_k < min_k:
        raise ConfigError(f"need 0 <= min_k <= max_k, got min_k={min_k}, max_k={max_k}")
    if not 0.0 < drop_ratio <= 1.0 or not 0.0 < gap_share <= 1.0:
        raise ConfigError(f"drop_ratio={drop_ratio} and gap_share={gap_share} must lie in (0, 1]")
    window = [float(s) for s in scores[:max_k]]
    if not window:
        return 0
    cut = len(window)
    best = window[0]
    if best > 0:
        threshold = drop_ratio * best
        cut = min(cut, next((i for i, s in enumerate(window) if s < threshold), len(window)))
    spread = window[0] - window[-1]
    gaps = [window[i - 1] - window[i] for i in range(1, len(window))]
    if len(gaps) >= 2 and spread > 0:
        ranked = sorted(gaps, reverse=True)
        # A cliff is one drop carrying a good share of the spread and clearly the biggest: with
        # evenly spaced scores every gap is a large share of a small spread, and none is a cliff.
        if ranked[0] >= gap_share * spread and ranked[0] >= 2 * ranked[1]:
            cut = min(cut, gaps.index(ranked[0]) + 1)
    return max(min(min_k, len(window)), cut)
