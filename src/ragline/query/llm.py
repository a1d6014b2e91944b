"""Query transforms by an LLM, each with an offline fallback.

Every function takes a :class:`~ragline.generation.base.ChatModel` or None. With None the offline
fallback runs silently (no LLM configured is a normal mode, never a hidden paid call); when the
model raises :class:`~ragline.errors.GenerationError` or its reply cannot be used, the fallback
runs and a warning is logged. Prompts are short fixed strings, so the same question always sends
the same request.

* :func:`multi_query`: RAG-Fusion (Raudaschl 2023), the question plus rewrites to fuse with RRF.
* :func:`hyde`: HyDE (Gao et al. 2022, "Precise Zero-Shot Dense Retrieval without Relevance
  Labels"), a hypothetical answer passage to embed instead of the question.
* :func:`decompose`: sub-questions, each retrieved on its own.
* :func:`llm_filters`: auto-retrieval of metadata filters, validated against the schema.

Example::

    queries = multi_query(chat, "how do I rotate api keys", n=3)
    passage = hyde(chat, "how do I rotate api keys")          # None -> embed the question
    parts = decompose(chat, "Compare BM25 and SPLADE on recall")
    where = llm_filters(chat, "memos from 2021", store.metadata_fields(), {"doc_type": ["memo"]},
                        year_field="year")
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ragline.errors import FilterError, GenerationError
from ragline.generation.base import ChatMessage, ChatModel
from ragline.query.auto_filters import extract_filters
from ragline.query.router import split_question
from ragline.store.filters import (
    And,
    ColumnKind,
    Compare,
    Exists,
    Filter,
    InList,
    Not,
    Or,
    Scalar,
    parse_filter,
)

log = logging.getLogger(__name__)

MULTI_QUERY_PROMPT = (
    "You write search queries. Rewrite the user's question as {n} different search queries that "
    "together cover what it asks, each in other words. Reply with a JSON array of {n} strings only."
)
HYDE_PROMPT = (
    "Write a short passage (3 to 5 sentences) that answers the user's question the way a reference "
    "document would. It is only used to search for real documents, so do not hedge. "
    "Reply with the passage only."
)
DECOMPOSE_PROMPT = (
    "Split the user's question into at most {max_parts} self-contained sub-questions that can each "
    "be answered by searching documents. If it is already simple, return it as the only item. "
    "Reply with a JSON array of strings only."
)
FILTERS_PROMPT = (
    "Extract metadata filters for a document search from the user's question.\n"
    "Fields (name: kind):\n{fields}\n"
    "Today is {today}.\n"
    'Reply with one JSON object in MongoDB style, e.g. {{"year": {{"$gte": 2020}}, '
    '"doc_type": {{"$in": ["report"]}}}}. Operators: $eq $ne $in $nin $gt $gte $lt $lte $exists '
    "$and $or $not. Use only the fields listed. Reply {{}} when the question states no filter."
)

_FENCE = re.compile(r"^\s*```[\w-]*\s*\n?|\n?\s*```\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}\s*[.):]|\(\d{1,2}\)|[-*•]|Q\d{1,2}\s*[.:])\s+(?P<item>\S.*)$")
_CHATTER = re.compile(
    r"^(?:sure|certainly|of course|okay|ok|here (?:is|are)|i'?m sorry|sorry|i cannot|i can't|i can not|"
    r"i am unable|as an ai|i don'?t know|unfortunately)\b",
    re.IGNORECASE,
)
_MAX_QUERY_CHARS = 500


def _ask(chat: ChatModel | None, system: str, user: str, task: str) -> str | None:
    """The model's reply, or None (warned) when there is no model or every model failed."""
    if chat is None:
        log.debug("%s: no LLM configured, using the offline fallback", task)
        return None
    try:
        return chat.complete([ChatMessage("system", system), ChatMessage("user", user)]).text
    except GenerationError as e:
        log.warning("%s: the LLM failed (%s); using the offline fallback", task, e)
        return None


def _unfence(text: str) -> str:
    return _FENCE.sub("", text.strip()).strip()


def _json_value(text: str, opener: str) -> Any:
    """The first JSON value starting with ``opener`` (``[`` or ``{``) in ``text``; raises ValueError."""
    text = _unfence(text)
    try:
        return json.loads(text)
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    for m in re.finditer(re.escape(opener), text):
        try:
            return decoder.raw_decode(text, m.start())[0]
        except ValueError:
            continue
    raise ValueError(f"no JSON {opener} in the reply")


def _as_text(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        # {"query": "..."} or {"question": "..."}: take the first string value.
        return next((v for v in item.values() if isinstance(v, str)), None)
    return None


def parse_list(reply: str) -> list[str]:
    """The items of a list the model replied with: a JSON array, a numbered or bulleted list, or
    plain lines; ``[]`` when the reply holds no list (chatter, a refusal, one stray line).

    Accepts code fences, ``{"queries": [...]}``, ``1. x`` / ``2) y`` / ``- z`` items and skips
    preamble such as "Here are three queries:".

    Example::

        parse_list('```json\\n["a b", "c d"]\\n```')         # ['a b', 'c d']
        parse_list("Here you go:\\n1. a b\\n2. c d")          # ['a b', 'c d']
    """
    text = _unfence(reply)
    if "[" in text or "{" in text:
        try:
            value = _json_value(text, "[" if "[" in text else "{")
        except ValueError:
            value = None
        if isinstance(value, Mapping):
            value = next((v for v in value.values() if isinstance(v, list)), None)
        if isinstance(value, list):
            return [s.strip() for s in map(_as_text, value) if s and s.strip()]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    items = [m["item"].strip() for m in map(_LIST_ITEM.match, lines) if m]
    if items:
        return items
    plain = [ln for ln in lines if not ln.endswith(":") and not _CHATTER.match(ln)]
    # One plain line is as likely a remark as a list; two or more read as one item per line.
    return plain if len(plain) >= 2 else []


def _usable(text: str) -> str | None:
    text = " ".join(text.strip().strip("\"'`").split())
    # One character is never a query, however it was listed ("4. x").
    if (
        len(text) < 2
        or len(text) > _MAX_QUERY_CHARS
        or not re.search(r"[^\W\d_]", text)
        or _CHATTER.match(text)
    ):
        return None
    return text


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def _distinct(candidates: Sequence[str], exclude: Sequence[str], limit: int) -> list[str]:
    seen = {_key(e) for e in exclude}
    out: list[str] = []
    for c in candidates:
        text = _usable(c)
        if text is None or _key(text) in seen:
            continue
        seen.add(_key(text))
        out.append(text)
        if len(out) == limit:
            break
    return out


def multi_query(chat: ChatModel | None, question: str, n: int = 3) -> list[str]:
    """The question and up to ``n`` rewrites of it, for RAG-Fusion (Raudaschl 2023): retrieve for
    each and fuse the rankings with reciprocal rank fusion. Fallback: ``[question]``.

    Example::

        multi_query(chat, "how do I rotate api keys", n=2)
        # ['how do I rotate api keys', 'API key rotation procedure', 'renew credentials schedule']
    """
    if n < 1:
        return [question]
    reply = _ask(chat, MULTI_QUERY_PROMPT.format(n=n), question, "multi_query")
    if reply is None:
        return [question]
    rewrites = _distinct(parse_list(reply), [question], n)
    if not rewrites:
        log.warning("multi_query: unusable reply %r; searching the question alone", reply[:200])
        return [question]
    return [question, *rewrites]


_HYDE_PREFIX = re.compile(r"^(?:passage|answer|hypothetical (?:passage|document))\s*:\s*", re.IGNORECASE)
_HYDE_MIN_WORDS = 5


def hyde(chat: ChatModel | None, question: str) -> str | None:
    """A hypothetical passage answering ``question``, to embed in its place (HyDE, Gao et al. 2022).

    Its facts may be wrong; what matters is that it reads like the documents that hold the real
    answer. Fallback: None (embed the question itself).

    Example::

        text = hyde(chat, "how do I rotate api keys")
        vector = embedder.embed_query(text or "how do I rotate api keys")
    """
    reply = _ask(chat, HYDE_PROMPT, question, "hyde")
    if reply is None:
        return None
    passage = " ".join(_HYDE_PREFIX.sub("", _unfence(reply)).split())
    if len(passage.split()) < _HYDE_MIN_WORDS or _CHATTER.match(passage) or passage.startswith(("{", "[")):
        log.warning("hyde: unusable reply %r; embedding the question instead", reply[:200])
        return None
    return passage


def decompose(chat: ChatModel | None, question: str, max_parts: int = 4) -> list[str]:
    """Sub-questions of ``question`` (at most ``max_parts``), each to be retrieved on its own.

    Fallback: the rule-based :func:`~ragline.query.router.split_question` ("compare X and Y",
    "X vs Y", "... and how ..."), which returns ``[question]`` when it finds nothing to split.

    Example::

        decompose(chat, "Compare BM25 and SPLADE on recall")
        # ['What is the recall of BM25?', 'What is the recall of SPLADE?']
    """
    reply = _ask(chat, DECOMPOSE_PROMPT.format(max_parts=max_parts), question, "decompose")
    if reply is None:
        return split_question(question, max_parts)
    parts = _distinct(parse_list(reply), [], max_parts)
    if not parts:
        log.warning("decompose: unusable reply %r; splitting by rules", reply[:200])
        return split_question(question, max_parts)
    return parts


# --- filters --------------------------------------------------------------------------------------


def _kind_ok(kind: ColumnKind, value: Scalar) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def _known(field: str, value: Scalar, values: Mapping[str, Sequence[str]]) -> Scalar | None:
    """``value`` spelled as the collection knows it ("Report" -> "report"); None when unknown."""
    if field not in values or not isinstance(value, str):
        return value
    return next((k for k in values[field] if k.casefold() == value.casefold()), None)


def validate_filter(
    f: Filter,
    schema: Mapping[str, ColumnKind],
    values: Mapping[str, Sequence[str]],
    problems: list[str],
) -> Filter | None:
    """``f`` without the parts the collection cannot answer; None when nothing is left.

    A comparison with a field missing from ``schema``, a value of the wrong kind, or a value outside
    the field's known ``values`` is invalid (and described in ``problems``). An AND drops its
    invalid parts, which only widens the search; an OR or NOT with an invalid part is dropped
    whole, since pruning inside it would narrow or invert what was asked.

    Example::

        problems: list[str] = []
        validate_filter(parse_filter({"year": 2021, "colour": "red"}), {"year": "number"}, {}, problems)
        # Compare('year', '$eq', 2021); problems == ["unknown field 'colour'"]
    """
    if isinstance(f, And):
        kept = [p for p in (validate_filter(p, schema, values, problems) for p in f.parts) if p is not None]
        return None if not kept else kept[0] if len(kept) == 1 else And(tuple(kept))
    if isinstance(f, Or):
        parts = [validate_filter(p, schema, values, problems) for p in f.parts]
        return None if any(p is None for p in parts) else Or(tuple(p for p in parts if p is not None))
    if isinstance(f, Not):
        part = validate_filter(f.part, schema, values, problems)
        return None if part is None else Not(part)
    if not isinstance(f, Compare | InList | Exists):
        problems.append(f"unexpected filter {f!r}")
        return None
    kind = schema.get(f.field)
    if kind is None:
        problems.append(f"unknown field {f.field!r}")
        return None
    if isinstance(f, Exists):
        return f
    if isinstance(f, Compare):
        if not _kind_ok(kind, f.value):
            problems.append(f"{f.field!r} holds {kind} values, not {f.value!r}")
            return None
        known = _known(f.field, f.value, values) if f.op in ("$eq", "$ne") else f.value
        if known is None:
            problems.append(f"{f.value!r} is not a known value of {f.field!r}")
            return None
        return Compare(f.field, f.op, known)
    listed: list[Scalar] = []
    for v in f.values:
        known = _known(f.field, v, values) if _kind_ok(kind, v) else None
        if known is None:
            problems.append(f"{v!r} is not a valid value of {f.field!r} ({kind})")
        else:
            listed.append(known)
    # Values no document holds match nothing, so leaving them out of $in changes no result.
    return InList(f.field, tuple(dict.fromkeys(listed)), f.negate) if listed else None


def llm_filters(
    chat: ChatModel | None,
    question: str,
    schema: Mapping[str, ColumnKind],
    values: Mapping[str, Sequence[str]] | None = None,
    *,
    today: date | None = None,
    date_field: str | None = None,
    year_field: str | None = None,
    version_field: str | None = None,
) -> Filter | None:
    """Metadata filters the question states, as the LLM reads them, checked against ``schema``.

    The reply is parsed with :func:`~ragline.store.filters.parse_filter` and cleaned by
    :func:`validate_filter` (unknown fields and wrong kinds are dropped with a warning). A reply of
    ``{}`` means "no filter" and gives None. Fallback (no model, model failed, unusable reply):
    the rule-based :func:`~ragline.query.auto_filters.extract_filters` with the same fields.

    Example::

        llm_filters(chat, "memos from 2021", {"year": "number", "doc_type": "string"},
                    {"doc_type": ["memo", "report"]}, year_field="year")
        # And((Compare('year', '$eq', 2021), InList('doc_type', ('memo',), False)))
    """
    values = values or {}
    today = today or date.today()

    def fallback() -> Filter | None:
        return extract_filters(
            question,
            schema,
            values=values,
            date_field=date_field,
            year_field=year_field,
            version_field=version_field,
            today=today,
        ).filter

    fields = "\n".join(
        f"- {name}: {kind}" + (f" (one of: {', '.join(values[name])})" if name in values else "")
        for name, kind in sorted(schema.items())
    )
    reply = _ask(chat, FILTERS_PROMPT.format(fields=fields, today=today.isoformat()), question, "llm_filters")
    if reply is None:
        return fallback()
    try:
        spec = _json_value(reply, "{")
        if isinstance(spec, Mapping) and not spec:
            return None
        # parse_filter rejects anything but a non-empty object with a FilterError.
        parsed = parse_filter(spec)
    except (ValueError, FilterError) as e:
        log.warning("llm_filters: unusable reply %r (%s); extracting filters by rules", reply[:200], e)
        return fallback()
    problems: list[str] = []
    valid = validate_filter(parsed, schema, values, problems)
    if problems:
        log.warning("llm_filters: discarded parts of the LLM's filter: %s", "; ".join(problems))
    if valid is None:
        return fallback()
    return valid
