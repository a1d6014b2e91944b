"""Follow-up questions to standalone queries, so "And on Windows?" is not searched on its own.

Two condensers behind one protocol (:class:`Condenser`):

* :class:`RuleCondenser` (offline, the default): it first decides whether the question *depends*
  on the conversation -- a leading conjunction ("And ...", "But ..."), "what/how about X", a
  fragment without a question word ("On Windows?"), a question of no content words ("Why?"), or a
  pronoun or demonstrative (it, its, they, this, that, there, ...) with no antecedent in the
  question itself. A self-contained question is returned unchanged. A dependent one gets the
  salient terms of the earlier user turns: a fragment with a preposition replaces the matching
  phrase of the previous question ("How do I install it on Linux?" + "And on Windows?" -> "How do
  I install it on Windows?"), pronouns are replaced by the topic's main entity (a capitalised
  name, an acronym, a quoted term), and when no entity is known the previous question's content
  words are appended.
* :class:`LLMCondenser`: asks the configured chat model to rewrite the question, validates the
  reply (non-empty, bounded length, one question rather than an answer, on the conversation's
  topic) and falls back to the rules when there is no usable reply.

Example::

    from ragline.types import Turn
    c = RuleCondenser()
    c.condense("And on Windows?", [Turn("user", "How do I install ragline on Linux?")]).query
    # 'How do I install ragline on Windows?'
    c.condense("What is BM25?", [Turn("user", "How do I install ragline on Linux?")]).query
    # 'What is BM25?'  (self-contained: unchanged)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ragline.errors import ConfigError, GenerationError
from ragline.generation.base import ChatMessage, ChatModel
from ragline.query.llm import _CHATTER
from ragline.text.words import STOPWORDS, content_words
from ragline.types import Condensed, Turn

log = logging.getLogger(__name__)


@runtime_checkable
class Condenser(Protocol):
    """A follow-up question and the conversation before it -> the query to retrieve with."""

    def condense(self, question: str, history: Sequence[Turn]) -> Condensed: ...


# -- what makes a question depend on the conversation ----------------------------------------------


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_LEADING_CONJUNCTION = re.compile(r"^\s*(?:and|but|also|so|then|or|plus)\b[\s,]*", re.IGNORECASE)
_WHAT_ABOUT = re.compile(r"^\s*(?:what|how)\s+about\s+|^\s*what\s+of\s+", re.IGNORECASE)
# Words a question starts with; a short text starting otherwise is a fragment ("On Windows?").
_QUESTION_START = _set(
    "what which who whom whose when where why how is are was were do does did can could "
    "should would will shall may might must has have had name list give tell explain describe "
    "define compare show find"
)
_PERSONAL = _set("it its itself they them their theirs themselves he him his she her hers")
_DEMONSTRATIVE = _set("this that these those")
_ELSE = _set("else former latter same")
# "that" after one of these is a pronoun ("is that", "about that"); after a noun it is a relative
# ("the team that won"), which needs no antecedent.
_BEFORE_PRONOUN_THAT = _set(
    "is was are were does did do about of in on for with from to by at after before than like "
    "why how when where what"
)
# "How long does it take", "is it possible": the dummy "it" refers to nothing.
_DUMMY_IT = re.compile(
    r"\bit\s+(?:take|takes|took)\b(?!\s+(?:place|part))|\bit\s+(?:cost|costs|rain|rains|snow)\b|\bis\s+it\s+(?:possible|true|necessary|"
    r"likely|safe|worth|better|ok|okay|that)\b|\bwas\s+it\s+that\b|\bit\s+is\s+(?:possible|true|necessary|likely|said)\b",
    re.IGNORECASE,
)
_DO_AUXILIARIES = _set("did does do will can could would should shall may might must")
_EXISTENTIAL = _set("is are was were be been have has")
_TIME_WORDS = _set("year years month week day days time century decade season morning")
_WORD = re.compile(r"[\w][\w'’.-]*[\w]|[\w]", re.UNICODE)
_PREPOSITIONS = _set("on in for with without at to from by under over during into about via using behind")
# A content word counted towards an antecedent must not be a question or helper verb.
_NOT_ANTECEDENT = STOPWORDS | _set("many much long often far old big")
# Content words before a pronoun that count as its antecedent ("how does the kernel schedule
# threads when it is idle": 3); fewer ("how many people live there") leave it unresolved.
_ANTECEDENT_WORDS = 3

# -- what the earlier turns are about ---------------------------------------------------------------

# A run of capitalised words (joined by short connectors), optionally ending in a number:
# "Super Bowl 50", "Bank of England", "Nikola Tesla"; or an acronym / a word holding digits: "NFL", "BM25".
_ENTITY = re.compile(
    r"\b(?:[A-Z][\w'’.-]*[\w]|[A-Z])(?:\s+(?:of|the|de|du|von|van|and|for|upon|on)?\s*[A-Z][\w'’.-]*[\w])*"
    r"(?:\s+\d[\d.,]*\b)?|\b[A-Za-z]*\d[\w.-]*\b|[\"“”«»'‘’]([^\"“”«»'‘’]{2,60})[\"“”«»'‘’]"
)
_POSSESSIVE = re.compile(r"['’]s$")
_MAX_CARRIED_TERMS = 8
_MAX_ENTITIES = 3


@dataclass(frozen=True, slots=True)
class _Topic:
    """The salient terms of the earlier user turns: entities first, then content words."""

    entities: tuple[str, ...]
    words: tuple[str, ...]
    previous: str
    # Entities seen only in a qualifier ("on Linux", "in 2016"): carried, but never what "it" means.
    qualifiers: frozenset[str] = frozenset()


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text)


def _entity_spans(text: str) -> list[tuple[str, bool]]:
    """Capitalised names, acronyms, numbered names and quoted terms of ``text`` in order, without
    the sentence-initial question or function word ("What", "The"), each with whether it sits in
    a qualifier (right after a preposition). A name led by "the" takes the common noun after it
    ("the Orrin Point lighthouse")."""
    found: list[tuple[str, bool]] = []
    for m in _ENTITY.finditer(text):
        span = (m.group(1) or m.group(0)).strip().strip(".,;:!?")
        words = span.split()
        # Sentence-initial words are capitalised anyway: drop them when they are function words.
        while words and words[0].lower() in STOPWORDS | _QUESTION_START:
            words = words[1:]
        while words and words[-1].lower() in STOPWORDS:
            words = words[:-1]
        span = _POSSESSIVE.sub("", " ".join(words))
        if len(span) < 2 or span.lower() in _PERSONAL | _DEMONSTRATIVE or span in (f for f, _ in found):
            continue
        before = text[: m.start()].split()
        prev = before[-1].lower() if before else ""
        auxiliary = before[-2].lower() in _DO_AUXILIARIES if len(before) >= 2 else False
        if prev == "the" and not _POSSESSIVE.search(" ".join(words)) and not _plural(span) and not auxiliary:
            # Only a noun ending the phrase ("where is the Orrin Point lighthouse?"), not a verb
            # ("did the Broncos win", "what team did the Panthers defeat?").
            head = re.match(
                r"\s+([a-z][a-z-]{2,})(?=\s*(?:[?.!,;:]|$|\s(?:of|in|on|at|for|from|to|by|with)\b))",
                text[m.end() :],
            )
            if head and head.group(1) not in STOPWORDS and head.group(1) not in _QUESTION_START:
                span = f"{span} {head.group(1)}"
        found.append((span, prev in _PREPOSITIONS))
    return found


def _entities(text: str) -> list[str]:
    """The entities of ``text`` (see :func:`_entity_spans`)."""
    return [e for e, _ in _entity_spans(text)]


def _antecedent_words(text: str) -> int:
    return len([w for w in content_words(text) if w not in _NOT_ANTECEDENT])


_SINGULAR = _set("it its itself this that")
_PLURAL_PRONOUNS = _set("they them their theirs themselves")
# "... at it?", "... during it?": "it" closing the question after a preposition points back
# at the conversation, whatever names come before it in the question.
_CLOSING_PRONOUN = re.compile(
    rf"\b(?:{'|'.join(sorted(_PREPOSITIONS | {'of'}))})\s+(?:it|them)\s*[?.!]*\s*$", re.IGNORECASE
)


_CONNECTOR = (
    r"(?:,|;|\b(?:when|while|if|because|since|and|but|that|which|who|after|before|so|until|unless|whether)\b)"
)
# The last clause connector of a text: what follows it is a later clause.
_CLAUSE = re.compile(rf"{_CONNECTOR}(?!.*{_CONNECTOR})", re.IGNORECASE)


def _closes(question: str, pronoun: str, end: int) -> bool:
    """Whether ``pronoun`` (ending at ``end``) is "it" closing the question after a preposition."""
    tail = question.rstrip(" ?.!")
    return pronoun == "it" and end == len(tail) and _CLOSING_PRONOUN.search(question) is not None


def _has_antecedent(before: str, pronoun: str) -> bool:
    """Whether the question before ``pronoun`` names what it stands for: a name agreeing in number
    ("Python ... it", not "the Broncos ... it"), or enough content words."""
    names = _entities(before)
    if pronoun in _SINGULAR:
        names = [n for n in names if not _plural(n)]
    if names:
        return True
    if pronoun in _PLURAL_PRONOUNS and any(_plural(w) for w in content_words(before)):
        return True  # "what are teachers expected to give their students"
    # Content words name an antecedent only for a pronoun in a later clause ("how does the kernel
    # schedule threads when it is idle"), not in the same one ("who joined the band during its show").
    clause = _CLAUSE.search(before)
    return clause is not None and _antecedent_words(before[: clause.start()]) >= _ANTECEDENT_WORDS


def _dependence(question: str) -> str:
    """Why ``question`` needs the conversation to be understood, or "" when it stands alone."""
    if _LEADING_CONJUNCTION.match(question):
        return "leading conjunction"
    if _WHAT_ABOUT.match(question):
        return "what about"
    tokens = _tokens(question)
    lowered = [t.lower().replace("’", "'") for t in tokens]
    if not content_words(question):
        return "no content words"
    # A short text not phrased as a question ("On Windows?", "The default port?").
    if len(tokens) <= 4 and (lowered[0] in _PREPOSITIONS or lowered[0] in ("the", "a", "an", "its", "their")):
        return "fragment"
    dummy = {m.start() for m in _DUMMY_IT.finditer(question)}
    offset = 0
    for i, (raw, word) in enumerate(zip(tokens, lowered, strict=True)):
        start = question.find(raw, offset)
        offset = start + len(raw)
        word = word.removesuffix("'s")
        pronoun = word in _PERSONAL or word in _ELSE
        if word in _DEMONSTRATIVE:
            nxt = lowered[i + 1] if i + 1 < len(lowered) else ""
            prev = lowered[i - 1] if i else ""
            if nxt in _TIME_WORDS:
                continue
            pronoun = word != "that" or i == 0 or i == len(tokens) - 1 or prev in _BEFORE_PRONOUN_THAT
        if word == "there":
            nxt = lowered[i + 1] if i + 1 < len(lowered) else ""
            prev = lowered[i - 1] if i else ""
            # Existential: "is there", "there are".
            pronoun = nxt not in _EXISTENTIAL and prev not in _EXISTENTIAL
        if not pronoun or any(abs(start - d) <= 3 for d in dummy):
            continue
        before = question[:start]
        if _has_antecedent(before, word) and not (
            word in ("it", "them") and _CLOSING_PRONOUN.search(question)
        ):
            continue  # the antecedent is in the question itself
        return f"{word!r} without an antecedent"
    return ""


def _topic(history: Sequence[Turn]) -> _Topic | None:
    """The salient terms of the user turns of ``history``, the most recent first; it reads back
    through turns that were themselves follow-ups until one stands alone."""
    entities: list[str] = []
    qualifiers: set[str] = set()
    words: list[str] = []
    previous = ""
    for turn in reversed(history):
        if turn.role != "user" or not turn.content.strip():
            continue
        previous = previous or turn.content.strip()
        for e, qualifier in _entity_spans(turn.content):
            if e.lower() not in {x.lower() for x in entities}:
                entities.append(e)
                if qualifier:
                    qualifiers.add(e)
        for w in content_words(turn.content):
            if w not in words and w not in _NOT_ANTECEDENT:
                words.append(w)
        if not _dependence(turn.content):
            break
    if not previous:
        return None
    # Subjects and objects first: a qualifier is the last thing a pronoun stands for.
    ordered = [e for e in entities if e not in qualifiers] + [e for e in entities if e in qualifiers]
    return _Topic(tuple(ordered), tuple(words), previous, frozenset(qualifiers))


def _plural(entity: str) -> bool:
    last = entity.split()[-1].lower()
    return last.endswith("s") and not last.endswith(("ss", "us", "is"))


def _main_entity(topic: _Topic, pronoun: str) -> str | None:
    """The entity a pronoun most likely stands for (a plural one for they/them/their); None when
    the only names are qualifiers ("install ragline on Linux": "it" is not Linux)."""
    candidates = [e for e in topic.entities if e not in topic.qualifiers]
    if pronoun in ("they", "them", "their", "theirs", "these", "those"):
        plural = [e for e in candidates if _plural(e)]
        if plural:
            return plural[0]
    return candidates[0] if candidates else None


_PRONOUN_SUB = re.compile(
    r"\b(?:it|its|itself|they|them|their|theirs|themselves|he|him|his|she|her|hers|this|these|those)\b"
    r"|(?<!\bis\s)(?<!\bare\s)(?<!\bwas\s)(?<!\bwere\s)\bthere\b(?!\s+(?:is|are|was|were|be|been|have|has)\b)",
    re.IGNORECASE,
)
_POSSESSIVES = _set("its their theirs his hers")


def _replace_pronouns(question: str, topic: _Topic) -> tuple[str, str | None]:
    """``question`` with its first unresolved pronoun replaced by the topic's main entity, and the
    entity used (None when nothing was replaced)."""
    if not topic.entities:
        return question, None
    dummy = [m.span() for m in _DUMMY_IT.finditer(question)]
    for m in _PRONOUN_SUB.finditer(question):
        if any(a <= m.start() < b for a, b in dummy):
            continue
        before = question[: m.start()]
        word = m.group(0).lower()
        closing = _closes(question, word, m.end())
        if _has_antecedent(before, word) and not closing:
            return question, None
        entity = _main_entity(topic, word)
        if entity is None:
            return question, None
        if word in _POSSESSIVES:
            sub = f"{entity}'s"
        elif word == "there":
            sub = f"in {entity}"
        elif (
            word in _DEMONSTRATIVE and m.end() < len(question) and question[m.end() :].lstrip()[:1].isalpha()
        ):
            # "this stadium" -> "the stadium of X": the determiner points at the topic.
            nxt = re.match(r"\s*([\w-]+)", question[m.end() :])
            if nxt is None:
                continue
            after = m.end() + nxt.end()
            noun = nxt.group(1)
            if noun.lower() in ("is", "was", "are", "were", "does", "did", "do", "has", "have", "mean"):
                sub = entity
            else:
                return f"{question[: m.start()]}the {noun} of {entity}{question[after:]}", entity
        else:
            sub = entity
        return f"{question[: m.start()]}{sub}{question[m.end() :]}", entity
    return question, None


def _substitute_phrase(fragment: str, previous: str) -> str | None:
    """The previous question with its phrase led by the fragment's preposition replaced by the
    fragment: ("on Windows", "How do I install it on Linux?") -> "How do I install it on Windows?"."""
    words = fragment.split()
    if not words or words[0].lower() not in _PREPOSITIONS:
        return None
    prep = words[0].lower()
    # The last phrase with that preposition: questions end with their qualifiers.
    phrases = list(re.finditer(rf"\b{prep}\b\s+[^?.!,;]+", previous, re.IGNORECASE))
    if not phrases:
        return None
    m = phrases[-1]
    return f"{previous[: m.start()]}{fragment.rstrip('?.! ')}{previous[m.end() :]}"


def _with_terms(question: str, terms: Sequence[str]) -> str:
    have = {w.lower() for w in _tokens(question)}
    extra: list[str] = []
    for t in terms:
        words = [w.lower() for w in t.split()]
        if not all(w in have for w in words):
            extra.append(t)
            have.update(words)
    extra = extra[:_MAX_CARRIED_TERMS]
    return f"{question.rstrip()} ({' '.join(extra)})" if extra else question


class RuleCondenser:
    """The offline condenser: carries the earlier turns' salient terms into a dependent follow-up
    and leaves a self-contained question alone (see the module docstring for the rules).

    Example::

        RuleCondenser().condense("When was it built?",
                                 [Turn("user", "Who designed the Orrin Point lighthouse?")]).query
        # 'When was Orrin Point built?'
    """

    def condense(self, question: str, history: Sequence[Turn]) -> Condensed:
        reason = _dependence(question)
        topic = _topic(history) if reason else None
        if topic is None:
            return Condensed(question, question)
        text = _LEADING_CONJUNCTION.sub("", question, count=1).strip() or question
        about = _WHAT_ABOUT.match(text)
        if about:
            text = text[about.end() :].strip()
        fragment = about is not None or reason in ("leading conjunction", "fragment")
        if fragment and len(text.split()) <= 5:
            swapped = _substitute_phrase(text, topic.previous)
            if swapped is not None:
                return Condensed(
                    question, swapped, "rules", f"{reason}: phrase of the previous question replaced"
                )
        resolved, entity = _replace_pronouns(text, topic)
        if entity is not None:
            others = [e for e in topic.entities if e != entity][: _MAX_ENTITIES - 1]
            query = _with_terms(resolved, others)
            return Condensed(question, query, "rules", f"{reason}: pronoun resolved to {entity!r}")
        terms = [*topic.entities[:_MAX_ENTITIES], *topic.words]
        query = _with_terms(text, terms)
        if query == question:
            return Condensed(question, question, "unchanged", f"{reason}: nothing to carry over")
        return Condensed(question, query, "rules", f"{reason}: terms of earlier turns added")


# -- the LLM condenser ---------------------------------------------------------------------------------

CONDENSE_PROMPT = (
    "You rewrite the user's last question so that it can be understood without the conversation: "
    "replace pronouns and references with what they refer to and add the topic it leaves out. "
    "If it is already self-contained, repeat it unchanged. Do not answer it. "
    "Reply with the rewritten question only."
)
_REPLY_PREFIX = re.compile(
    r"^(?:standalone|rewritten|reformulated)?\s*(?:question|query)\s*:\s*", re.IGNORECASE
)
_MAX_TURN_CHARS = 1000
# A rewrite adds the topic, it does not write paragraphs: bounded by the question and the history.
_MAX_GROWTH_CHARS = 300


def _looks_like_question(text: str) -> bool:
    first = text.split()[0].lower().strip("¿¡\"'") if text.split() else ""
    return text.rstrip().endswith("?") or first in _QUESTION_START


def _transcript(history: Sequence[Turn], question: str) -> str:
    lines = [
        f"{t.role}: {' '.join(t.content.split())[:_MAX_TURN_CHARS]}" for t in history if t.role != "system"
    ]
    return "Conversation:\n" + "\n".join(lines) + f"\n\nLast question: {question}"


class LLMCondenser:
    """Rewrites follow-ups with a chat model; an unusable reply or a failed call falls back to
    ``fallback`` (the rules), with a warning saying why.

    Example::

        condenser = LLMCondenser(chat, RuleCondenser())
        condenser.condense("And on Windows?", history).query
    """

    def __init__(self, chat: ChatModel, fallback: Condenser) -> None:
        self.chat = chat
        self.fallback = fallback

    def problem(self, reply: str, question: str, history: Sequence[Turn]) -> str:
        """Why ``reply`` cannot stand for ``question`` ("" when it can)."""
        if not reply:
            return "empty reply"
        limit = len(question) + _MAX_GROWTH_CHARS
        if len(reply) > limit:
            return f"{len(reply)} characters, over the limit of {limit}"
        if _CHATTER.match(reply):
            return "chatter instead of a question"
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", reply) if s.strip()]
        # A rewrite is one question (or one query, for a query): several sentences are an answer.
        asked = "?" in question or _looks_like_question(question)
        if len(sentences) > 1 or (asked and not _looks_like_question(reply)):
            return "an answer or remark, not one question"
        known = set(content_words(question)) | {w for t in history for w in content_words(t.content)}
        if not set(content_words(reply)) & known:
            return "no word of the question or the conversation"
        return ""

    def condense(self, question: str, history: Sequence[Turn]) -> Condensed:
        if not any(t.role == "user" for t in history):
            return Condensed(question, question)
        messages = [
            ChatMessage("system", CONDENSE_PROMPT),
            ChatMessage("user", _transcript(history, question)),
        ]
        try:
            raw = self.chat.complete(messages).text
        except GenerationError as e:
            log.warning("condense: the LLM failed (%s); using the offline rules", e)
            return self.fallback.condense(question, history)
        reply = " ".join(_REPLY_PREFIX.sub("", raw.strip().strip("`\"' ")).strip("`\"' ").split())
        problem = self.problem(reply, question, history)
        if problem:
            log.warning("condense: unusable LLM reply %r (%s); using the offline rules", raw[:200], problem)
            fallback = self.fallback.condense(question, history)
            return Condensed(question, fallback.query, fallback.method, f"LLM reply refused ({problem})")
        if reply == question:
            return Condensed(question, question, "unchanged", "the LLM kept the question")
        return Condensed(question, reply, "llm", "rewritten by the LLM")


class NoCondenser:
    """``chat.condense = "off"``: every follow-up is searched as it is."""

    def condense(self, question: str, history: Sequence[Turn]) -> Condensed:
        return Condensed(question, question)


def split_messages(messages: Sequence[Turn | Mapping[str, object]]) -> tuple[str, list[Turn]]:
    """A chat's messages as (the question, the history before it): the question is the last user
    message, system messages are left out, the user and assistant turns before it are history.
    Raises :class:`~ragline.errors.ConfigError` naming a malformed message.

    Example::

        split_messages([{"role": "system", "content": "be brief"},
                        {"role": "user", "content": "Who built it?"}])
        # ('Who built it?', [])
    """
    turns: list[Turn] = []
    for i, m in enumerate(messages):
        if isinstance(m, Turn):
            turn = m
        elif isinstance(m, Mapping):
            role, content = m.get("role"), m.get("content")
            extra = sorted(set(m) - {"role", "content"})
            if extra:
                raise ConfigError(f"message {i} has unknown field(s) {extra}; give only 'role' and 'content'")
            if role not in ("system", "user", "assistant") or not isinstance(content, str):
                raise ConfigError(
                    f"message {i} is {dict(m)!r}; give {{'role': 'user' | 'assistant' | 'system', "
                    "'content': '...'}"
                )
            turn = Turn(role, content)
        else:
            raise ConfigError(
                f"message {i} is a {type(m).__name__}; "
                "give a Turn or a {'role': ..., 'content': ...} mapping"
            )
        if turn.role not in ("system", "user", "assistant"):
            raise ConfigError(f"message {i} has role {turn.role!r}; use 'user', 'assistant' or 'system'")
        if turn.role != "system":
            turns.append(turn)
    last = next((i for i in range(len(turns) - 1, -1, -1) if turns[i].role == "user"), None)
    if last is None or not turns[last].content.strip():
        raise ConfigError("the messages hold no user message with text; end them with {'role': 'user', ...}")
    if last != len(turns) - 1:
        raise ConfigError(
            "the last message is an assistant's; end the messages with the user's question (role 'user')"
        )
    return turns[last].content, turns[:last]
