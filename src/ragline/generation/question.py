"""What a question asks for: a small rule-based classifier and the entity it is about.

The offline answerer picks a sentence; a sentence that repeats the question's words is not yet one
that answers it. ``classify`` reads the question's need (a default value, a number, a code, a name,
a date, a definition, a procedure, a reason, a difference) from its wording, and the asked entity
from the terms a reader would look up: identifiers (``KeepAliveTimeout``, ``SQLITE_BUSY``,
``cache_size``), capitalised words that do not open the question, quoted literals, and the product
named by a closing "in/of/for X". ``carries`` says how well a candidate unit holds an answer of that
kind, so that a question about a setting's default is answered by the unit that states a default.

Example::

    need = classify("What is the default value of KeepAliveTimeout?")
    need.kind, need.entities          # ('default', ('KeepAliveTimeout',))
    carries(need, "Default: | KeepAliveTimeout 5")   # 1.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ragline.generation.lexical import terms

QuestionKind = Literal[
    "default",
    "number",
    "code",
    "name",
    "date",
    "definition",
    "procedure",
    "reason",
    "difference",
    "overview",
    "other",
]
# Kinds whose answer is a short span worth returning as ``Answer.short``.
SHORT_KINDS: frozenset[str] = frozenset({"default", "number", "code", "name", "date"})


def _any(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives))


# "Which status flag means the battery is discharging?", "What word stands for ...?": a name looked
# up by what it means (not "What does X mean?", nor "means the same as": a synonym). Matched on the
# question with its whitespace collapsed, so that no two runs of spaces compete (quadratic on a
# long run); ``what`` is the meaning looked up.
_BY_MEANING = re.compile(
    r"^(?:which|what)(?! (?:does|do|did|is|are|was|were)\b)(?: [\w\-]+){1,3}"
    r" (?:means|stands for|indicates|signifies|denotes)(?! the same\b) (?P<what>.+?) ?\??$",
    re.IGNORECASE,
)


# Checked in order; the first rule that matches decides. Lower-cased question text.
_RULES: tuple[tuple[QuestionKind, re.Pattern[str]], ...] = (
    # A request for what the documents say about a subject, not one fact: several sentences answer
    # it, and a factoid reader would pick one span of them.
    (
        "overview",
        _any(
            r"^\s*what (?:do|does|did) (?:we|you|they|the \w+) (?:know|say) about\b",
            r"^\s*what can you tell me about\b",
            r"^\s*tell me (?:about|more)\b",
            r"^\s*(?:describe|summari[sz]e)\b",
            r"^\s*give (?:me )?(?:an? )?(?:overview|summary)\b",
        ),
    ),
    ("reason", _any(r"^\s*why\b", r"\bwhat is the reason\b", r"\bfor what reason\b", r"\bwhat causes\b")),
    (
        "default",
        _any(
            r"\bdefaults?\b",
            r"\bdefaulting\b",
            r"\bby default\b",
            # What holds when nothing is configured: "... when no -s option is given?".
            r"\b(?:when|if)\s+no\s+\S+(?:\s+\S+)?\s+(?:is|are)\s+(?:given|specified|set|configured)\b",
        ),
    ),
    (
        "difference",
        _any(
            r"\bdiffer(?:ence|s|ent)?\b",
            r"\bcompared?\b",
            r"\bversus\b",
            r"\bvs\.?\b",
            r"\bwhat does .+ change\b",
        ),
    ),
    # A name looked up by what it means is asked as a code is (before "which ... flag", a
    # procedure's wording).
    ("code", _BY_MEANING),
    (
        "procedure",
        _any(
            r"^\s*how (?:do|can|should|would|to)\b",
            r"\bhow to\b",
            r"\bsteps? to\b",
            r"\bwhich (?:\S+ )?(?:option|command|dot-command|flag|switch)\b",
        ),
    ),
    ("date", _any(r"^\s*when\b", r"\bwhat (?:year|date|day|month|century)\b", r"\bin which year\b")),
    (
        "code",
        _any(
            r"\b(?:error|result|status|exit|return|response) codes?\b",
            # "Which code means a foreign key violation?", "What is the SQLSTATE for ...?"
            r"^\s*(?:which|what)(?: \w+)? codes?\b",
            r"\bsqlstate\b",
            r"\b(?:which|what) signal\b",
            r"\bcode (?:number|value)\b",
            r"\bsignal\b",
        ),
    ),
    (
        "number",
        _any(
            r"^\s*how (?:many|much|long|large|big|old|far|often)\b",
            # "Within how many milliseconds ...?", "For how long ...?": the preposition first.
            r"^\s*(?:within|for|after|in|by|to|at|from|under|over|up to)\s+how (?:many|much|long|often)\b",
            r"\bwhat (?:is the )?(?:number|size|value|percentage|amount|maximum|minimum|limit)\b",
            # "What is the largest value X accepts?": a bound, asked with an adjective.
            r"\b(?:largest|smallest|highest|lowest|greatest|biggest) (?:possible |allowed )?"
            r"(?:value|number|size|amount)\b",
            r"\bat most\b",
            r"\bat what\b",
            r"\bnumeric\b",
            r"\bmaximum\b",
            r"\bminimum\b",
            r"\bwhat speedup\b",
            r"\bwhat (?:\w+ )?(?:size|number|length|limit|timeout|port)\b",
        ),
    ),
    (
        "definition",
        _any(
            r"^\s*what (?:is|are|was|were) (?:a|an|the)?\s*[\w\-.]+(?: [\w\-.]+){0,3}\s*\??$",
            # Ending there (or "in Polish"): "What does Varnish do with a compressed object when
            # ...?" asks what happens, not what Varnish is.
            r"^\s*what does .+ (?:do|mean|stand for)(?: in \w+)?\s*\??$",
            # "What does the relayhost parameter specify?": what a setting is for.
            r"^\s*what does (?:the |a |an )?\S+ (?:parameter|setting|option|directive|variable|field)"
            r" (?:specify|control|set|configure|determine|define)\b",
            # "What does REPORTTIME control?": the name alone, the question ending there.
            r"^\s*what does (?:the |a |an )?\S+ (?:specify|control|set|configure|determine|define)\s*\??$",
            r"^\s*define\b",
            r"\bwhat is meant by\b",
            r"^\s*what (?:is|are) (?:a|an)\b",
        ),
    ),
    (
        "name",
        _any(
            r"^\s*(?:who|which|whom)\b",
            r"\bwhat (?:is the )?(?:name|called)\b",
            r"^\s*what (?:\w+ )?(?:are|is) the\b",
            r"^\s*where\b",
        ),
    ),
)

# An identifier: CamelCase inside a word, snake_case, a digit with letters, ALL CAPS, ".ext",
# "-flag", or a dotted name (git's "gc.auto").
_IDENT = re.compile(
    r"^(?:[A-Za-z]+[A-Z][a-z]\w*|\w*_\w+|[A-Za-z]+\d\w*|[A-Z]{2,}\w*|\.\w+|-\w+"
    r"|[A-Za-z][A-Za-z0-9]+(?:\.[A-Za-z][\w\-]+)+"
    # A scoped name: "Aptitude::ProblemResolver::StepLimit", "Net::HTTP".
    r"|[A-Za-z][\w\-]*(?:::[A-Za-z][\w\-]*)+)$"
)
_TOKEN = re.compile(r"[\w.\-]+(?:::[\w.\-]+)*(?:'[\w]+)?")
_QUOTED = re.compile(r"[\"“'‘`]([^\"”'’`]{2,40})[\"”'’`]")
# "... in nginx?", "... of Redis?", "... for SQLite?": the product a question's last phrase names.
_TRAILING_SCOPE = re.compile(
    r"\b(?:in|of|for|on|by) (?:an? |the )?([\w.\-]+(?: [A-Z][\w.\-]*)*)\s*(?:\?\s*)?$"
)
# Capitalised words that are not names of things: question words and words that start sentences.
_NOT_ENTITIES = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "the",
        "a",
        "an",
        "in",
        "of",
        "for",
        "on",
        "to",
        "by",
        "with",
        "i",
        "my",
        "if",
        # The kind of code asked for ("Which SQLSTATE code ...?"), like "error code": no entity
        # the page must name.
        "sqlstate",
    ]
)
# Generic words that a trailing "of X" names without naming an entity.
_GENERIC_SCOPE = frozenset(
    [
        "value",
        "values",
        "setting",
        "settings",
        "default",
        "number",
        "size",
        "code",
        "codes",
        "name",
        "type",
        "kind",
        "way",
        "file",
        "files",
        "database",
        "server",
        "command",
        "option",
        "options",
        "limit",
        "time",
        "connection",
        "connections",
        "page",
        "pages",
        "table",
        "tables",
        "it",
        "this",
        "that",
        "them",
        "data",
        # Idioms that close a question without naming anything: "What do X and Y have in
        # common?", "What is the hottest month on average?".
        "common",
        "general",
        "total",
        "average",
        "particular",
        "practice",
    ]
)


# Words that say what kind of answer is wanted, not what it is about: "the default value of X"
# is answered by a row "Default: | X 5" that never says "value".
NEED_WORDS: frozenset[str] = frozenset(
    terms(
        "default defaults value values setting settings numeric number code codes result name kind type"
        # What kind of entry is asked for ("Which parameter sets the virtual IP address?"): every
        # entry of a parameter list says "This parameter can only be set at server start."
        " parameter parameters option options directive directives variable variables"
    )
)


@dataclass(frozen=True, slots=True)
class QuestionNeed:
    """What a question asks for and what about: ``kind`` and the asked ``entities`` (as written)."""

    kind: QuestionKind
    entities: tuple[str, ...]
    # The entities a collection must mention to answer at all: identifiers, quoted literals and
    # the product of a closing "in/of/for X" ("Redis", "HAProxy", "SQLITE_BUSY"). A capitalised
    # name inside a sentence ("When did the Broncos win?") is not one: documents often word it
    # differently, and requiring it made SQuAD answers abstain (answer recall 0.82 -> 0.77).
    named: tuple[str, ...] = ()
    # The code values a code question names ("Which condition has the error code 23503?"): its
    # answer is the name listed beside the code.
    codes: tuple[str, ...] = ()
    # A default asked as a quantity ("How many connections are allowed by default?"): the answer
    # is a number, not a default stated in words ("The default value is localhost").
    quantity: bool = False
    # Definition-list terms of the context whose one-word name the question holds ("ssl
    # (boolean)" for "What is the default of ssl?"): set by the answerer, which sees the context;
    # the entry they head is asked about as an identifier's is.
    terms: tuple[str, ...] = ()

    def content_terms(self, question_terms: set[str]) -> set[str]:
        """``question_terms`` without the words naming the asked kind (when any other remains)."""
        if self.kind in ("other", "overview"):
            return question_terms
        rest = question_terms - NEED_WORDS
        return rest or question_terms

    @property
    def entity_terms(self) -> frozenset[str]:
        """The entities' content terms (stemmed, lower-cased: what :func:`terms` yields)."""
        return frozenset(t for e in self.entities for t in terms(e))


def question_kind(question: str) -> QuestionKind:
    """The kind of answer ``question`` asks for (``other`` when no rule matches)."""
    q = " ".join(question.lower().split())
    for kind, pattern in _RULES:
        if pattern.search(q):
            return kind
    return "other"


def entities(question: str, *, named_only: bool = False) -> tuple[str, ...]:
    """The things ``question`` is about: identifiers, capitalised words past the first, quoted
    literals and the product of a closing "in/of/for X" (see the module docstring); with
    ``named_only``, no plain capitalised words (see :attr:`QuestionNeed.named`)."""
    found: list[str] = [m.group(1) for m in _QUOTED.finditer(question)]
    tokens = _TOKEN.findall(question)
    for i, tok in enumerate(tokens):
        word = tok.strip(".-") if not tok.startswith((".", "-")) else tok
        if not word or word.lower() in _NOT_ENTITIES:
            continue
        if _IDENT.match(word) or (i > 0 and word[0].isupper() and not named_only):
            found.append(word)
    scope = trailing_scope(question)
    if scope is not None:
        found.append(scope)
    out: list[str] = []
    seen: set[str] = set()
    for e in found:
        if e.lower() not in seen and terms(e):
            seen.add(e.lower())
            out.append(e)
    return tuple(out)


def trailing_scope(question: str) -> str | None:
    """The product a closing "in/of/for X" names ("Redis" in "What is the default port of
    Redis?"), or None (generic words such as "value" or "table" name none)."""
    m = _TRAILING_SCOPE.search(question)
    if not m:
        return None
    scope = m.group(1)
    return None if scope.lower() in _GENERIC_SCOPE or scope.lower() in _NOT_ENTITIES else scope


# A name before a noun that says it is a product ("the Tomcat server", "an Oracle table"): the
# question is scoped to that product whatever it asks. Setting-like nouns ("the TimeOut
# directive", "the VACUUM command") are left out: those name an entry, not a product.
_PRODUCT_NOUN = re.compile(
    r"(?<=\s)([A-Z][\w.\-]*)\s+(?:servers?|databases?|tables?|clusters?|instances?|installations?"
    r"|configuration|daemons?|services?|clients?|deployments?)\b"
)


# The same with a name written in lower case, as users type "nginx" or "redis", after "the" only
# ("reload the nginx configuration"); the words that say which one of the product's own servers
# or configurations are not names.
_LOWER_PRODUCT_NOUN = re.compile(
    r"\bthe\s+([a-z][a-z0-9.\-]{2,})\s+(?:servers?|databases?|clusters?|daemons?|services?"
    r"|configuration|config|installation|shell|editor|browser)\b"
)
_NOT_PRODUCTS = frozenset(
    re.findall(
        r"\w+",
        "main whole entire default current new old same other running local remote global "
        "primary secondary backup test production development master slave replica standby web "
        "mail proxy file files system user users server client dns http https smtp ssh ftp sql "
        "database application app base basic full initial active live public private internal "
        "external login interactive parent restricted sub command line text",
    )
)


_PRODUCT_NAME = re.compile(r"[A-Z][a-z]+[A-Z]{2,}")


def scoped_products(question: str) -> tuple[str, ...]:
    """The products a question is scoped to by a noun after their name ("Tomcat" in "How do I
    restart the Tomcat server gracefully?", "Oracle" in "... in an Oracle table?", "nginx" in
    "How do I reload the nginx configuration?").

    >>> scoped_products("How do I restart the Tomcat server gracefully?")
    ('Tomcat',)
    """
    found = [m.group(1) for m in _PRODUCT_NOUN.finditer(question)]
    # "MySQL", "MongoDB", "PostgreSQL" anywhere: a word closing in capitals after lower case is a
    # product's name, not a sentence's capitalised word nor a setting ("KeepAliveTimeout").
    found += [w for w in _TOKEN.findall(question) if _PRODUCT_NAME.fullmatch(w)]
    found += [m.group(1) for m in _LOWER_PRODUCT_NOUN.finditer(question) if m.group(1) not in _NOT_PRODUCTS]
    return tuple(dict.fromkeys(e for e in found if e.lower() not in _NOT_ENTITIES and terms(e)))


# "apcupsd's network information server", "nginx's default port": a lower-case name in the
# possessive owns what is asked. Common nouns take the possessive too ("the country's capital",
# "the engine's speed"), so the answerer reads these only for a setting's value or a code, where
# a question about another program's default must not take this manual's.
_POSSESSIVE = re.compile(r"(?<![\w.\-])([a-z][a-z0-9.\-]{2,})['’]s\b")
_NOT_OWNERS = frozenset(
    re.findall(
        r"\w+",
        "it one everyone someone anyone nobody everybody somebody anybody today yesterday tomorrow "
        "world children women men people user users server client system program file manual "
        "document page database table process session connection application",
    )
)


def possessive_names(question: str) -> tuple[str, ...]:
    """Lower-case names in the possessive ("apcupsd" in "What is the default port of apcupsd's
    network information server?"); see ``_POSSESSIVE`` for where they count.

    >>> possessive_names("What is the default port of apcupsd's network information server?")
    ('apcupsd',)
    >>> possessive_names("Which industry's competitive positions are affected?")
    ()
    """
    found = (m.group(1) for m in _POSSESSIVE.finditer(question) if not _determined(question, m.start()))
    return tuple(
        dict.fromkeys(w for w in found if w not in _NOT_OWNERS and w not in _NOT_PRODUCTS and terms(w))
    )


def _determined(question: str, at: int) -> bool:
    """Whether a determiner stands just before ``question[at:]`` (see ``_DETERMINED``); only the
    80 characters before are read, so that thousands of possessives cost no more than one each."""
    return _DETERMINED.search(question, max(0, at - _DETERMINER_WINDOW), at) is not None


_DETERMINER_WINDOW = 80
# A common noun's possessive follows a determiner, at most one word before it ("which industry's
# positions", "a developing economy's level"); a program is named bare ("vsftpd's rate").
_DETERMINED = re.compile(
    r"\b(?:which|what|whose)\s+$|\b(?:a|an|the|each|every|this|that|these|those|its|their|his|her|our|your"
    r"|my|any|some|no|one|another)\s+(?:[\w\-]+\s+)?$",
    re.IGNORECASE,
)


# "... the default syslog facility NUT uses?", "Which port does PostgreSQL listen on?": the name
# that does the using or listening is the program whose setting is asked, as a closing "in X"
# says; an entry need not repeat it.
_ACTS = "use|listen|bind|log|write|send|store|keep|run|read|accept|expect|create|connect|wait"
_ACTING = re.compile(
    rf"(?:\b(?:does|do|did|will|can|should|would)\s+([\w.\-]+)\s+(?:{_ACTS})\b)|(?:\b([\w.\-]+)\s+(?:{_ACTS})s\b)"
)
# The acting verb closing a question ("... NUT uses?", "... listens on by default?"), read on the
# question with its whitespace collapsed: one optional space between the parts (runs of "\s*" side
# by side backtrack in polynomial time on a long run of spaces).
_ACTING_AT_END = re.compile(rf"\b(?:{_ACTS})s?(?: (?:on|to|for|in))?(?: by default)? ?\??$")


def acting_verb_terms(question: str) -> frozenset[str]:
    """The terms of the acting verb that closes ``question`` when it names an actor ("use" in
    "What is the default syslog facility NUT uses?"), else none: what the program does with a
    setting says nothing about which setting it is."""
    if not acting_names(question):
        return frozenset()
    flat = " ".join(question.split())
    return frozenset(t for m in _ACTING_AT_END.finditer(flat) for t in terms(m.group(0)))


def looked_up_by_meaning(question: str) -> str | None:
    """The meaning a question looks a name up by ("the battery is discharging" in "Which status
    flag means the battery is discharging?"), else None (see ``_BY_MEANING``)."""
    m = _BY_MEANING.match(" ".join(question.split()))
    return m.group("what") if m else None


def acting_names(question: str) -> tuple[str, ...]:
    """The names a question makes the subject of using, listening, writing and the like ("NUT"
    in "What is the default syslog facility NUT uses?").

    >>> acting_names("Which port does PostgreSQL listen on by default?")
    ('PostgreSQL',)
    """
    found = (m.group(1) or m.group(2) for m in _ACTING.finditer(question))
    return tuple(dict.fromkeys(w for w in found if w.lower() not in _NOT_ENTITIES))


_QUANTITY = re.compile(r"^\s*how (?:many|much|long|large|big|old|far|often)\b")
# A port is a number: "Default: no" under imap_idle (whose text names dovecot) is no answer to
# "What is the default port of Dovecot's IMAP server?".
_PORT = re.compile(r"\b(?:tcp |udp )?port(?: number)?\b(?!s)")


def classify(question: str) -> QuestionNeed:
    """The question's need: its kind and asked entities.

    >>> classify("Which signal causes a graceful stop of the Apache server?")
    QuestionNeed(kind='code', entities=('Apache',), named=(), codes=(), quantity=False)
    """
    kind = question_kind(question)
    codes = tuple(_CODE_VALUE.findall(question)) if kind == "code" else ()
    q = " ".join(question.lower().split())
    quantity = kind == "default" and (_QUANTITY.search(q) is not None or _PORT.search(q) is not None)
    return QuestionNeed(kind, entities(question), entities(question, named_only=True), codes, quantity)


# -- what a candidate unit carries ------------------------------------------------------------------

# A number with its unit, spaced or glued; the glued forms are a configuration file's ("256kB",
# "5min", "24h", "4d", "100us": PostgreSQL's memory and time units, Exim's times).
_NUMBER = re.compile(
    r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?"
    r"(?:\s?(?:%|ms|s|seconds?|minutes?|hours?|days?|bytes?|[KMG]i?B|pages?)|(?:kB|TB|B|min|h|d|us))?(?![\w])"
)
_CODE_TOKEN = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b[A-Z]{3,}[0-9]*\b|\(\d+\)|\b\d{1,3}\b")
# A code's value: a number in parentheses or alone, or a five-character SQLSTATE ("23505", "40P01").
_CODE_VALUE = re.compile(r"(?<![\w.])(?=[0-9A-Z]*\d)[0-9A-Z]{5}(?![\w.])|(?<![\w.])\d{1,4}(?![\w.])")
# A code's name: SQLITE_BUSY, ENOENT, unique_violation.
_CODE_LABEL = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b[A-Z]{3,}\d*\b|\b[a-z]+(?:_[a-z0-9]+)+\b")
_CODE_NAME = re.compile(r"[A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{3,}\d*")
_SNAKE = re.compile(r"[a-z]+(?:_[a-z0-9]+)+")
_CODE_NUMBER = re.compile(r"\(-?\d+\)|(?<![\w.])-?\d+(?![\w.])")
# Not "non-default": "specifying a non-default default_process_limit" states no default.
# "Squid normally uses port 3128": what a program does unless told otherwise is its default.
# "If not specified, this attribute is set to 200": what holds when nothing is set is the default,
# though the word is not written (Tomcat's configuration reference words most defaults so).
# "If no code is given, an HTTP response of 302 ... will be returned": so is what holds when none is.
UNSET = (
    r"\b(?:if|when)\s+(?:(?:it|this(?:\s+value)?|the\s+\w+)\s+is\s+)?(?:not\s+(?:specified|set|given|configured|supplied"
    r"|provided|present)|unset|unspecified|omitted)\b"
    r"|\b(?:if|when)\s+no\s+\w+(?:\s+\w+)?\s+is\s+(?:specified|set|given|configured|supplied|provided)\b"
)
# "In the standard PostGIS installation, postgis.enable_outdb_rasters is set to False": what a
# fresh installation has is the default.
STANDARD_SETUP = r"\b(?:standard|stock|fresh)\s+(?:\w+\s+)?(?:installation|install|configuration|setup)\b"
_DEFAULT_WORD = re.compile(
    r"(?<!non-)(?<!non)\bdefaults?\b|\bdefaulting\b|\b(?:normally|usually)\s+(?:uses?|listens?|runs?)\b"
    rf"|{STANDARD_SETUP}|\bout\s+of\s+the\s+box\b",
    re.IGNORECASE,
)
# Not a field's name ("Effect if unset: ...", beside Privoxy's "Default value:" field).
_UNSET = re.compile(rf"(?:{UNSET})(?!\s*:)", re.IGNORECASE)
_DEFAULT_QUOTED = re.compile(r"\bdefaults?\s+(?:value\s+)?(?:is|are|to)\s+[‘'\"“`]\S", re.IGNORECASE)
# "The default is /tmp/pgpool_logs.", "defaults to ~/.pgpoolkey": a path is a value.
_DEFAULT_PATH = re.compile(
    r"\bdefaults?\s+(?:value\s+)?(?:is|are|to)\s+[‘'\"“`]?(?:~|\.{1,2})?/[\w.]", re.IGNORECASE
)
# ("Default is LOG_DAEMON.": the word opens the sentence too.)
_DEFAULT_TOKEN = re.compile(
    r"\bdefaults?\s+(?:value\s+)?(?:is|are|to)\s+[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)+\b", re.IGNORECASE
)
# A default that is another setting's value: "defaults to the connect_timeout parameter",
# "Default: .connect_timeout attribute from the Backend definition".
# Possessive quantifiers: no whitespace run can be split between two of them and retried (a unit
# of 5,000 spaces after "default" took 0.6-1.8 s with plain ones).
DEFAULT_REFERENCE = re.compile(
    r"\bdefaults?\b(?:\s++(?:value\s++)?is\b)?\s*+(?:(?:to\b|:)\s*+)?(?:(?:the|that\s++of\s++the)\s++)?"
    r"\.?[\w.$]++\s++(?:parameter|attribute|setting|option|variable|directive)\b",
    re.IGNORECASE,
)
_DEFINING = re.compile(
    r"\b(?:is|are|means|refers to|stands for|describes|denotes)\b|^[^.:|]{1,60}(?::| -|—) "
)
_STEP = re.compile(
    r"(?m)^\s*(?:\d+[.)]|[-*•])\s|\b(?:run|use|set|enable|add|type|issue|invoke|call|create|edit)\b",
    re.IGNORECASE,
)
_REASON = re.compile(
    r"\b(?:because|since|so that|in order to|to avoid|to save|to prevent|due to|reason|therefore|"
    r"thus|hence|as a result|otherwise|(?:that|this|which)(?:'s|\s+is)\s+why|"
    # A manual gives the reason not to do something as a warning: "Be aware that this socket
    # might be deleted by a cron job."
    r"be aware|beware|caution|warning|at risk|the risk)\b",
    re.IGNORECASE,
)
_CONTRAST = re.compile(
    r"\b(?:while|whereas|instead of|unlike|rather than|but|however|except|difference|differs?|only|than)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(?:1[5-9]\d\d|20\d\d)\b|\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\b"
)
_CAPITALISED = re.compile(r"\b[A-Z][\w\-]+")


def has_number(text: str) -> bool:
    return _NUMBER.search(text) is not None


# A count spelled out ("nine", "three hundred"); not "one", which is mostly a pronoun.
_NUMBER_WORD = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen"
    r"|(?:twen|thir|for|fif|six|seven|eigh|nine)ty|hundreds?|thousands?|millions?|billions?|dozens?)\b",
    re.IGNORECASE,
)
_SET_BY_DEFAULT = re.compile(r"\b(?:is|are)\s+(?:not\s+)?set\s+by\s+default\b", re.IGNORECASE)
# An aside naming the default in plain words: "Internal field separators (by default space, tab,
# newline and NUL)", "(default: the host name)".
_DEFAULT_ASIDE = re.compile(r"\((?:by\s+)?default\b[:\s]+[^()\s][^()]{0,80}\)", re.IGNORECASE)


# "The default interval is zero", "defaults to two": the value spelled as a number word.
_DEFAULT_IN_WORDS = re.compile(
    rf"\bdefaults?\b(?:\s+\w+)?\s+(?:is|are|to)\s+(?:zero|{_NUMBER_WORD.pattern})(?![\w-])", re.IGNORECASE
)


_ASIDES = re.compile(r"\([^()]*\)")


_ON_OFF = re.compile(
    r"(?:\b(?:is|are|to|be|was|default|defaults|value)\s+|[:=|]\s*|^\s*)(?:on|off)\b|\b(?:on|off)\s+by\s+default\b",
    re.IGNORECASE,
)


def _states_default_in_words(text: str) -> bool:
    """Whether ``text``, which holds the word "default", states a value other than by a bare
    number beside it: a switch word, a field ("Default: | X"), a quoted value, a path, an
    option's state ("are set by default") or an aside ("(by default space, tab, ...)")."""
    return (
        re.search(
            r"\b(?:none|true|false|enabled|disabled|unlimited|infinite|empty|unset)\b", text, re.IGNORECASE
        )
        is not None
        # "on" and "off" as a value, not as prepositions ("runs on port 8118", "depends on").
        or _ON_OFF.search(text) is not None
        # "Default: | X value", not a sentence that ends in "the following stanza:", nor a colon
        # in an aside ("The default value is large enough ... (note: this applies only to ...)")
        # or in a scoped name ("Aptitude::ProblemResolver::StepLimit").
        or re.search(r"(?<!:):(?!:)\s*\S", _ASIDES.sub("", text)) is not None
        # "The default is ‘+%N:%i> ’": a quoted value.
        or _DEFAULT_QUOTED.search(text) is not None
        or _DEFAULT_PATH.search(text) is not None
        # "the default is local-ddns", "defaults to hmac-sha256": a name joined by - _ or . is a
        # literal value, as a number is.
        or _DEFAULT_TOKEN.search(text) is not None
        # "The default interval is zero which disables the heartbeat.": a count in words.
        or _DEFAULT_IN_WORDS.search(text) is not None
        # "Both RCS and GLOBAL_RCS are set by default": an option's state is its value.
        or _SET_BY_DEFAULT.search(text) is not None
        # "... is set to DISABLE_ALL": a constant's name is a literal value.
        or re.search(r"\bset\s+to\s+[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", text) is not None
        or _DEFAULT_ASIDE.search(text) is not None
    )


def states_default_by_number_only(text: str) -> bool:
    """Whether a default is seen in ``text`` only through a number in it (see :func:`carries`):
    "... on port 8118 ... override the default" may state no default at all."""
    return _DEFAULT_WORD.search(text) is not None and has_number(text) and not _states_default_in_words(text)


def carries(need: QuestionNeed, text: str) -> float:
    """How well ``text`` (a candidate unit) holds an answer of ``need.kind``, in [0, 1]."""
    kind = need.kind
    if kind == "default":
        if not _DEFAULT_WORD.search(text):
            # Without the word, the condition must open a clause that states a value ("If not
            # specified, this attribute is set to 200"): "... used by git-pack-objects(1) when no
            # window size is given on the command line." says what the setting is for.
            unset = _UNSET.search(text)
            rest = text[unset.end() :] if unset else ""
            if not rest.lstrip().startswith(","):
                return 0.0
            rest = re.split(r"[.;](?:\s|$)", rest.lstrip()[1:], maxsplit=1)[0]
            return 1.0 if has_number(rest) or _states_default_in_words(rest) else 0.0
        if need.quantity and not any(ch.isdigit() for ch in text):
            return 0.3
        if DEFAULT_REFERENCE.search(text) and not has_number(text):
            # "... defaults to the idle_send_timeout parameter": another entry holds the value.
            return 0.6
        # "Default: | KeepAliveTimeout 5", "The default is 100", "is off by default".
        return 1.0 if has_number(text) or _states_default_in_words(text) else 0.6
    if kind == "number":
        # "There are nine log message types": a count is often spelled out.
        return 1.0 if has_number(text) or _NUMBER_WORD.search(text) else 0.0
    if kind == "code":
        if any(_CODE_NAME.fullmatch(e) or _SNAKE.fullmatch(e) for e in need.entities):
            # The question names the code ("the value of SQLITE_BUSY"): its number is the answer.
            return 1.0 if _CODE_NUMBER.search(text) or _CODE_VALUE.search(text) else 0.0
        if need.codes:
            # The question names the value ("error code 23503"): the name beside it is the answer.
            return 1.0 if _CODE_LABEL.search(text) else 0.0
        return 1.0 if _CODE_TOKEN.search(text) or _CODE_VALUE.search(text) else 0.0
    if kind == "date":
        return 1.0 if _DATE.search(text) else 0.0
    if kind == "name":
        return 1.0 if _CAPITALISED.search(text[1:]) else 0.3
    if kind == "definition":
        return 1.0 if _DEFINING.search(text) else 0.0
    if kind == "procedure":
        # A unit quoted with the command it introduces (extractive._code_after) shows the step.
        return 1.0 if _STEP.search(text) or "```" in text else 0.0
    if kind == "reason":
        return 1.0 if _REASON.search(text) else 0.0
    if kind == "difference":
        return 1.0 if _CONTRAST.search(text) else 0.0
    return 0.0


def about(need: QuestionNeed, unit_terms: set[str] | frozenset[str], header_terms: frozenset[str]) -> float:
    """Share of the asked entities whose terms all appear in the unit (1) or only in its title or
    section path (0.5); 1.0 when the question names no entity."""
    if not need.entities:
        return 1.0
    total = 0.0
    for e in need.entities:
        ts = set(terms(e))
        if ts <= unit_terms:
            total += 1.0
        elif ts <= (set(unit_terms) | header_terms):
            total += 0.5
    return total / len(need.entities)
