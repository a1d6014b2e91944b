"""Where a unit sits in its document's structure, and whether it is the entry that answers.

Documentation states facts in entries: a heading per setting or result code ("## KeepAliveTimeout
Directive", "### (5) SQLITE_BUSY"), a definition list's term before its description ("work_mem
(integer)" then "... The default value is four megabytes"), a field table ("Default: | X 5"). The
sentence that holds the value often does not repeat the entity's name; the entry's label does. So
each candidate unit carries its *label*: the nearest heading above it in the passage (else the
passage's innermost section), and the answerer asks of unit and label together

- whether they name the asked identifiers (``SQLITE_BUSY``, never ``SQLITE_BUSY_RECOVERY``),
- whether they state the asked kind of value (the "(5)" of a result code's heading),
- whether they cover the question's attribute terms (the "port" of "the default port of Redis"):
  a unit that states *a* default of *a* Redis setting does not state Redis's default port;
- for a definition, whether the asked term is the unit's subject ("The VACUUM command rebuilds
  ...", not "The VACUUM INTO command is ...").

Example::

    labels = unit_labels("## Timeout Directive\\n\\nDefault: | Timeout 60", [(22, 40)], ("Core",))
    labels  # ['Timeout Directive']
    names("SQLITE_BUSY", "(5) SQLITE_BUSY")          # True
    names("SQLITE_BUSY", "SQLITE_BUSY_RECOVERY")     # False
    names("auto_vacuum", "the auto-vacuum setting")  # True
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache

from ragline.generation.lexical import terms
from ragline.generation.question import (
    DEFAULT_REFERENCE,
    NEED_WORDS,
    QuestionNeed,
    acting_names,
    acting_verb_terms,
    carries,
    scoped_products,
    trailing_scope,
)
from ragline.text.identifiers import asked_term, dotted, humps, identifiers, question_shape
from ragline.text.reference import is_reference_section
from ragline.text.sentences import is_admonition, is_field_line, is_option_term, label_words
from ragline.types import Passage

# A Markdown table's header line and its delimiter line (ragline.loaders.tables writes them).
_TABLE_HEAD = re.compile(r"(?m)^[ \t]*(\|.*\|)[ \t]*\n[ \t]*\|(?:[ \t]*:?-+:?[ \t]*\|)+[ \t]*$")
_HEADING = re.compile(r"(?m)^[ \t]*#{1,6}[ \t]+(.+?)[ \t#]*$")
# Nouns that may follow the defined term before its verb ("The VACUUM command rebuilds ...").
_KIND_NOUNS = frozenset(
    terms(
        "command statement directive module option function pragma setting parameter keyword "
        "clause operator mode method flag field type program utility tool file variable attribute property "
        "filter"
    )
)
# A noun's ending (-tion, -ment, -ness, -ity, ...) on the word after the term: the term only
# qualifies it ("the router configuration", "the queue management").
_COMPOUND_HEAD = re.compile(r"(?:tions?|sions?|ments?|ness|ity|ities|ances?|ences?)$", re.IGNORECASE)
# Words after the term that make it part of a longer subject.
_LINKS = frozenset(["with", "of", "for", "from", "and", "or", "into", "that", "which", "to"])
# A block this short without end punctuation is a term or label (as in text.sentences).
_TERM_MAX_WORDS = 6
# A question's closing "in X" / "on X": where the asked thing lives, not the asked thing.
_CLOSING_IN = re.compile(r"\b(?:in|on)\s+(?:an?\s+|the\s+)?[\w.\-]+\s*(?:\?\s*)?$", re.IGNORECASE)
_ARTICLE = re.compile(r"^\s*(?:[-*•]\s+)?(?:the|an?)\s+", re.IGNORECASE)
# A capitalised name between the article and the term: "The PostGIS geography data type".
_PRODUCT_BEFORE = re.compile(r"[A-Z][\w.\-]*\s+")


def term_of(unit: str) -> str | None:
    """The definition-list term or field label that opens ``unit`` ("work_mem (integer)" in
    "work_mem (integer)\n\nSets the base maximum ..."; see ``text.sentences.answer_units``)."""
    head, sep, _ = unit.partition("\n\n")
    head = head.strip()
    if not sep or head.startswith(("#", "|", "*")) or " | " in head or is_field_line(head):
        return None
    if head.startswith("-") and not is_option_term(head):
        return None  # a list item, not an option's term ("-s file")
    if label_words(head) > _TERM_MAX_WORDS or head.endswith((".", ":", "?", "!", ";", ",")):
        return None
    return head


# A cell that states one field of a record: "Default: 20", "Type: integer".
_FIELD_CELL = re.compile(r"[A-Za-z][\w ]{0,24}:\s*\S.*")


def field_row(unit: str) -> tuple[str, list[str]] | None:
    """A record row's name and fields: a one-line table row whose first cell is a name and whose
    other cells are all fields ("| smtp_accept_max | Use: main | Type: integer | Default: 20 |", as
    Exim's specification heads each option; its description follows the row), else None::

        field_row("| keep_malformed | Default: 4d |")  # ("keep_malformed", ["Default: 4d"])
        field_row("| 23505 | unique_violation |")      # None
    """
    line = unit.strip()
    if "\n" in line or not line.startswith("|") or not line.endswith("|"):
        return None
    name, *fields = (c.strip() for c in line.strip("|").split(" | "))
    if not fields or not re.fullmatch(r"[\w.\-]+", name) or name.strip("-") == "":
        return None
    return (name, fields) if all(_FIELD_CELL.fullmatch(c) for c in fields) else None


# A row's first cell with text: groff indents a man page's option lists with empty cells ("| | -f |
# | Examine the filesystem ... |").
_FIRST_CELL = re.compile(r"\|(?:[ \t]*\|)*[ \t]*([^|\n]+?)\s*\|")


def row_entry(unit: str) -> str | None:
    """The name a table row opens with, when its first cell is one identifier and the row goes
    on with more cells, else None::

        row_entry("| maxThreads | The maximum number of ... threads ... |")  # "maxThreads"
        row_entry("| 403 | Forbidden |")                                  # None
    """
    m = _FIRST_CELL.match(unit)
    if m is None or not unit[m.end() :].strip():
        return None
    cell = m.group(1).strip("`*'\" ")
    # A name starts with a letter: "| 403 | Forbidden |" is a code's row, answered by its name.
    return (
        cell if " " not in cell and (cell[:1].isalpha() or cell[:1] == "_") and is_identifier(cell) else None
    )


def field_row_name(unit: str) -> str | None:
    """The name a record row (see :func:`field_row`) opens its entry with, else None::

    field_row_name("| keep_malformed | Use: main | Type: time | Default: 4d |")  # "keep_malformed"
    """
    row = field_row(unit)
    return row[0] if row is not None else None


def unit_labels(
    text: str, spans: Sequence[tuple[int, int]], section_path: Sequence[str], entry: str = ""
) -> list[str]:
    """For each unit ``text[a:b]`` of ``spans``, the label of the entry it belongs to: the last
    heading line above it in ``text`` (else the innermost of ``section_path``), and on a second
    line the definition-list term that opened the entry since that heading, if any (the units of
    a ``<dd>`` after its first sentence do not repeat the ``<dt>``'s name). ``entry`` is the term
    open where ``text`` starts (``Passage.entry``: a passage cut inside a ``<dd>``)."""
    # An admonition's title ("### Note" inside a parameter's entry, as DocBook writes a note) is
    # no section: the sentences after the note still belong to the entry it sits in.
    found = [m for m in _HEADING.finditer(text) if not is_admonition(m.group(1))]
    heads = [(m.start(), m.group(1).strip()) for m in found]
    levels = [len(m.group(0).lstrip(" \t")) - len(m.group(0).lstrip(" \t").lstrip("#")) for m in found]
    starts = [h[0] for h in heads]
    # Units before the passage's first heading sit in the section the passage starts in; its
    # section path names that one unless it names the first heading (the path of a later chunk).
    sections = [x for x in section_path if not is_admonition(x)]
    fallback = sections[-1] if sections else ""
    # A reference entry's own sections ("Description", "Parameters", "Examples" under "ST_Buffer"
    # or "CREATE TABLE") name no entry: the label keeps the entry's name above them.
    outer = next((x for x in reversed(sections) if not is_reference_section(x)), "")
    if is_reference_section(fallback) and outer:
        fallback = f"{outer}\n{fallback}"
    if heads and fallback == heads[0][1]:
        fallback = ""
    # The headings open above each one (a stack by level: linear in the passage's headings).
    stack: list[tuple[int, str]] = []
    seen: set[int] = set()
    for k, (at, title) in enumerate(heads):
        while stack and stack[-1][0] >= levels[k]:
            stack.pop()
        above = stack[-1][1] if stack else (outer or None) if levels[k] not in seen else None
        stack.append((levels[k], title))
        seen.add(levels[k])
        if is_reference_section(title) and above is not None and not is_reference_section(above):
            heads[k] = (at, f"{above}\n{title}")
    # A later piece of a record's entry (the chunker carries "| name | Use | ... |" in its section
    # path): the entry is the record's name, as under its row; the row alone states its fields.
    fallback = field_row_name(fallback) or fallback
    tables = [(m.start(), m.end(), m.group(1).strip()) for m in _TABLE_HEAD.finditer(text)]
    out: list[str] = []
    term: str | None = entry or None
    last_heading = -1
    for a, b in spans:
        i = bisect_right(starts, a) - 1
        if i != last_heading:
            term, last_heading = None, i
        heading = heads[i][1] if i >= 0 else fallback
        opened = term_of(text[a:b]) or field_row_name(text[a:b]) or named_by_field(text[a:b])
        if opened is not None:
            term = opened
        out.append("\n".join(x for x in (heading, term, _column_names(tables, text, a)) if x))
    return out


# A record's field that names the entry the fields after it describe: "Option:
# Aptitude::ProblemResolver::StepLimit" above "Default: 5000" and "Description: ..." (DocBook's
# segmented lists, as aptitude's configuration reference writes its options).
_NAME_FIELD = re.compile(
    r"(?:Option|Parameter|Setting|Directive|Variable|Property|Attribute|Key|Name)[ \t]*:[ \t]*"
    r"(?P<name>[A-Za-z][\w.\-]*(?:::[A-Za-z][\w.\-]*)*)"
)


def named_by_field(unit: str) -> str | None:
    """The entry's name when ``unit`` is one line naming it as a record's field ("Option: X"),
    else None::

        named_by_field("Option: Aptitude::Log")   # "Aptitude::Log"
        named_by_field("Default: 5000")           # None
    """
    m = _NAME_FIELD.fullmatch(unit.strip())
    return m.group("name") if m is not None and is_identifier(m.group("name")) else None


def passage_labels(p: Passage, units: Sequence[tuple[int, int]]) -> list[str]:
    """:func:`unit_labels` of a context passage's units, from the section and definition entry the
    passage starts in (``Passage.starts_in``, else its section path; ``Passage.entry``)."""
    return unit_labels(p.text, units, p.starts_in or p.section_path, p.entry)


def _column_names(tables: list[tuple[int, int, str]], text: str, a: int) -> str | None:
    """The header row of the table whose body row starts at ``a`` ("Error Code | Condition
    Name"), so that a row "| 23505 | unique_violation |" says what its cells are; None outside
    tables and for field tables, whose first row is data ("| Description: | ... |")."""
    for start, end, header in tables:
        if end <= a and text[end:a].count("\n\n") == 0 and text[start:a].count("\n") >= 2:
            cells = [c.strip() for c in header.strip("|").split(" | ")]
            if any(c.endswith(":") for c in cells):
                return None
            return " | ".join(c for c in cells if c)
    return None


def names(entity: str, text: str) -> bool:
    """Whether ``text`` names ``entity`` as a whole word (case-folded; ``_`` joins words, so
    ``SQLITE_BUSY`` is not named by ``SQLITE_BUSY_RECOVERY``)."""
    # "auto_vacuum", "auto-vacuum" and "auto vacuum" are one name; a longer name is another.
    parts = [re.escape(w) for w in re.split(r"[_\-\s]+", entity.strip("_- ")) if w]
    if not parts:
        return False
    # An option keeps its dashes: "-bt" is named by "-bt", not by the "bt" of "abt" or "a-bt".
    dashes = entity.strip()[: len(entity.strip()) - len(entity.strip().lstrip("-"))]
    pattern = re.escape(dashes) + r"[_\-\s]".join(parts)
    return re.search(rf"(?<![\w\-]){pattern}(?![\w]|-\w)", text, re.IGNORECASE) is not None


# What a term line says besides the entry's own name: an aside after it ("work_mem (integer)",
# "postscreen_pre_queue_limit (default: $default_process_limit)") and a reference to another
# setting's value ("$relayhost"). A leading "(5)" is the entry's value, not an aside.
_REFERENCE = r"\$\{?[A-Za-z_]\w*\}?"
_ASIDE = re.compile(rf"(?<=\S)[ \t]*\([^()\n]*\)|{_REFERENCE}")


# A command-line option's name ("-bt", "--force"): the entry of that option answers.
_OPTION = re.compile(r"--?[A-Za-z][\w\-]*")


def is_identifier(entity: str) -> bool:
    """A setting's, code's or function's name (``KeepAliveTimeout``, ``SQLITE_BUSY``,
    ``gc.auto``), not a word."""
    return (
        any(ch.isupper() for ch in entity[1:])
        or _OPTION.fullmatch(entity) is not None
        or "_" in entity
        or any(ch.isdigit() for ch in entity)
        or dotted(entity)
        # "enable-edit-actions", "max-client-connections": three or more words joined by hyphens
        # name a setting; two ("read-only", "buffer-limit") may be a plain word.
        or (_HYPHENATED_NAME.fullmatch(entity) is not None and entity.count("-") >= 2)
    )


def entry_name(line: str) -> str:
    """A label's or term's line without what names other entries::

    entry_name("address_verify_relayhost (default: $relayhost)")  # "address_verify_relayhost"
    entry_name("(5) SQLITE_BUSY")                                 # "(5) SQLITE_BUSY"
    """
    return _ASIDE.sub(" ", line)


# A definition term that names a directive in words and shows its value's form after an equals
# sign ("Maximum Concurrent Jobs = number", "FD Port = port-number"): Bacula's and Samba's layout.
SPELLED_TERM = re.compile(r"(?P<name>[A-Za-z][\w-]*(?: [A-Za-z][\w-]*){1,5}) = \S.{0,60}")


# A listing's line that shows an option with its value ("autocreate_quota: -1", "maxfds= 256",
# "sievedir: /usr/sieve", "configdirectory: <none>"), as Cyrus's and many man pages list options
# with their defaults; the value must look like one: a number, a path, a bracketed placeholder, a
# quoted string or a switch word ("Maximum Concurrent Jobs = number" shows a type, not a value).
TERM_VALUE = re.compile(
    r"(?P<name>[A-Za-z][\w.\-]*)(?::|\s?=)\s+(?P<value>-?\d[\w.:,]*|/[\w./\-{}$]*|<[^<>\n]{1,30}>"
    r"|\"[^\"\n]{0,40}\"|'[^'\n]{0,40}'|yes|no|on|off|true|false)"
)


def term_value(line: str) -> tuple[str, str] | None:
    """(name, value) of a listing's line that is an option and its value alone (TERM_VALUE)::

    term_value("autocreate_quota: -1")   # ("autocreate_quota", "-1")
    term_value("Name = name")            # None
    """
    m = TERM_VALUE.fullmatch(line.strip())
    return (m.group("name"), m.group("value")) if m is not None else None


def label_names(entity: str, label: str) -> bool:
    """Whether an entry's label (headings and the definition term, one a line) names ``entity``
    as the entry's own name: the setting whose default is "$relayhost" is not the entry of
    ``relayhost``, which a question about ``relayhost`` asks for."""
    if entity.endswith(")") or SPELLED_TERM.fullmatch(entity) is not None or term_value(entity) is not None:
        # A whole term line ("ssl (boolean)", "Maximum Concurrent Jobs = number";
        # QuestionNeed.terms) is named by that line alone.
        return any(line.strip() == entity for line in label.split("\n"))
    return any(
        names(entity, entry_name(line)) and not _dotted_longer(entity, line) for line in label.split("\n")
    )


def _dotted_longer(entity: str, line: str) -> bool:
    """Whether ``line`` names ``entity`` only as the last part of a dotted name: "sess.idle_limit"
    is another variable's entry than ``idle_limit``'s (the one it defaults to)."""
    return re.search(rf"\w\.{re.escape(entity)}(?![\w.])", line, re.IGNORECASE) is not None and not re.search(
        rf"(?<![\w.]){re.escape(entity)}(?![\w.])", line, re.IGNORECASE
    )


def own_text(unit: str) -> str:
    """``unit`` without what names other entries: the asides of the term that opens it (see
    :func:`entry_name`) and references to another setting's value in its text."""
    term = term_of(unit)
    if term is not None:
        unit = entry_name(term) + unit[unit.index(term) + len(term) :]
    # "..., defaults to the idle_limit parameter": that parameter's entry holds the value.
    unit = DEFAULT_REFERENCE.sub(" ", unit)
    return re.sub(_REFERENCE, " ", unit) if "$" in unit else unit


@lru_cache(maxsize=256)
def attribute_terms(need: QuestionNeed, question: str) -> frozenset[str]:
    """The question's terms that say which property is asked ("port" in "What is the default port
    of Redis?"): its content terms less the asked kind's words and the entities' terms."""
    entity_terms = {t for e in need.entities for t in terms(e)}
    # "... the default syslog facility NUT uses?": what the program does with the setting says
    # nothing about which setting it is.
    acting = acting_verb_terms(question)
    return frozenset(terms(question)) - NEED_WORDS - entity_terms - acting


def attribute_share(attrs: AbstractSet[str], unit: str, label: str, need: QuestionNeed) -> float:
    """Share of ``attrs`` that the unit or its label holds, or that an asked identifier spells
    ("timeout" in ``SSLOCSPResponderTimeout``: the setting's name says what it sets)."""
    if not attrs:
        return 1.0
    held = set(terms(unit)) | set(terms(label)) | name_words(label)
    idents = " ".join(e.lower() for e in need.entities if is_identifier(e))
    return sum(t in held or t in idents for t in attrs) / len(attrs)


_NAME = re.compile(r"\b\w*(?:[a-z][A-Z]|[_.]\w)\w*")
_NAME_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


@lru_cache(maxsize=1 << 12)
def name_words(label: str) -> frozenset[str]:
    """The terms that the names in ``label`` spell (``core.bigFileThreshold``: core, big, file,
    threshold): a setting's name says what it sets, as an asked identifier's does."""
    parts = (w for m in _NAME.finditer(label) for w in _NAME_PART.findall(m.group(0)))
    return frozenset(terms(" ".join(parts)))


# Both asked once per candidate unit of one question: cached by (need, question).
@lru_cache(maxsize=256)
def asked_identifiers(need: QuestionNeed, question: str) -> tuple[str, ...]:
    """The setting, code or function names the question asks about; a product it is scoped to
    ("... in SQLite?", "... of PostgreSQL?") is not one, however it is spelled, nor is a closing
    "in X" beside another name ("the default of CacheDefaultExpire in mod_cache": the module the
    setting belongs to)."""
    scope = trailing_scope(question)
    idents = [e for e in need.named if is_identifier(e) and not _modifier(e, question)]
    container = scope is not None and len(idents) > 1 and _CLOSING_IN.search(question) is not None
    # "an SQLite database file": a product's name before its noun says whose file, as a closing
    # "in SQLite" does; the entry need not spell it.
    products = {p for p in scoped_products(question) if not setting_like(p)}
    # "... the default syslog facility NUT uses?": the program doing the using is no entry's name;
    # a CamelCase setting may "use" a value too ("Which file name does DirectoryIndex use?").
    products |= {p for p in acting_names(question) if not setting_like(p) and humps(p) == 0}
    named = tuple(
        e
        for e in idents
        if (e != scope or (setting_like(e) and not container) or _thing_named(e, question))
        and e not in products
    )
    # A code's value ("error code 23503") pins its table row as a setting's name pins its entry,
    # and so does a one-word setting's term line ("ssl (boolean)": named whole, it matches that
    # line only, not the "SSL Settings" heading above every SSL parameter).
    return named + tuple(c for c in need.codes if c not in named) + need.terms


# Nouns that an acronym before them only qualifies: "the Postfix SMTP server" asks about the
# server, whose entry need not spell out "SMTP" ("smtpd_client_connection_count_limit").
_QUALIFIED = re.compile(
    r"\s+(?:servers?|clients?|ports?|protocols?|requests?|responses?|connections?|sessions?"
    r"|daemons?|services?|headers?|traffic|proxy|proxies|connectors?|listeners?|endpoints?|sockets?"
    r"|lookups?|certificates?|queries|query|packets?|messages?|thresholds?|timeouts?|intervals?)\b",
    re.IGNORECASE,
)


def _modifier(entity: str, question: str) -> bool:
    """Whether ``entity``, an acronym (letters only, upper case), only qualifies the noun after it
    in ``question`` ("SMTP server", "TCP port", "HTTP request")."""
    if not (entity.isalpha() and entity.isupper()):
        return False
    at = re.search(rf"(?<![\w\-]){re.escape(entity)}(?![\w\-])", question)
    return at is not None and _QUALIFIED.match(question, at.end()) is not None


def product_scope(need: QuestionNeed, question: str) -> str | None:
    """The product the question is scoped to ("PostgreSQL" in "... in PostgreSQL?"), when it is
    one of the named entities and not a setting's name (see :func:`asked_identifiers`)."""
    scope = trailing_scope(question)
    if scope is None or scope not in need.named or setting_like(scope) or _thing_named(scope, question):
        return None
    return scope


def _thing_named(name: str, question: str) -> bool:
    """Whether ``name``, capitalised words run together ("DelayTable"), closes the question after
    "the" ("the default location of the DelayTable?"): a product is named bare ("... of
    PostgreSQL?"), a setting or a file as a thing."""
    return (
        _CAMEL_WORDS.fullmatch(name) is not None
        and re.search(rf"\bthe {re.escape(name)}\s*(?:\?\s*)?$", question) is not None
    )


_CAMEL_WORDS = re.compile(r"(?:[A-Z][a-z0-9]+){2,}")


def setting_like(name: str) -> bool:
    """A closing "by/of X" that is a setting's name rather than a product's: an underscore, a
    digit, a dotted name (``gc.auto``) or two inner capitals after lower case (``AccessFileName``;
    not ``SQLite``, ``PostgreSQL`` or ``MySQL``), or three or more words joined by hyphens
    (``fstrm-set-buffer-hint``, as :func:`is_identifier` reads them)."""
    return (
        "_" in name
        or any(ch.isdigit() for ch in name)
        or humps(name) >= 2
        or dotted(name)
        or (_HYPHENATED_NAME.fullmatch(name) is not None and name.count("-") >= 2)
    )


# An acronym: two to eight capitals ("DNSSEC", "TLS", "ESI").
_ACRONYM = re.compile(r"[A-Z]{2,8}")


def identifiers_named(idents: Sequence[str], unit: str, label: str) -> float:
    """Share of ``idents`` that the unit or its label names (products and plain names may be
    named anywhere on the page; a setting's or code's name must be in its entry); 1.0 for none.
    A unit inside another setting's entry that names the asked one in passing ("If neither
    merge.renameLimit nor diff.renameLimit are specified, ..." under ``merge.renameLimit``)
    counts half: the asked setting's own entry states its value."""
    if not idents:
        return 1.0
    row = row_entry(unit)
    if row is not None:
        # A row of a two-column "Attribute | Description" table is the entry of the name in its
        # first cell, as a term heads a definition list's entry.
        label = f"{label}\n{row}"
    if any(setting_like(e) and label_names(e, label) for e in idents):
        # The entry is the asked setting's: an acronym the question also names ("DNSSEC" in "How
        # often does named check the DNSSEC key repository?", dnssec-loadkeys-interval's entry)
        # is the topic the setting is about, not a second name its value sentence must repeat.
        idents = [e for e in idents if not _ACRONYM.fullmatch(e)] or idents
    own = own_text(unit)
    other = _entry_of_another(label, idents)
    return sum(
        1.0 if label_names(e, label) else (0.5 if other else 1.0) if names(e, own) else 0.0 for e in idents
    ) / len(idents)


_SECTION_NUMBER = re.compile(r"\d+(?:\.\d+)*\.|\d+(?:\.\d+)+")


def entry_identifier(label: str) -> str | None:
    """The setting's or function's name that the label's last line opens with, when that line is
    an entry's term or heading ("thread_pool_max", "maximal_queue_lifetime (default: 5d)"), else
    None::

        entry_identifier("varnishd\nthread_pool_max")   # "thread_pool_max"
        entry_identifier("OPTIONS")                      # None
    """
    line = label.rsplit("\n", 1)[-1]
    row = field_row_name(line)
    if row is not None:
        # A one-row record heads the entry ("| smtp_accept_max | Use: main | ... |").
        return row if is_identifier(row) else None
    name = entry_name(line).split()
    numbered = len(name) > 1 and _SECTION_NUMBER.fullmatch(name[0]) is not None
    if numbered:
        name = name[1:]  # "3. Incoming SMTP messages": a numbered heading, "3." is no name
    if numbered and len(name) == 1 and re.fullmatch(r"[a-z][a-z0-9_\-.]*", name[0]):
        # "7.2.1. confdir": a numbered heading that is one lower-case word names its entry;
        # a section's own title is capitalised.
        return name[0]
    # A man page's section heading ("OPTIONS", "CONFIGURATION") is no entry; a definition term
    # under a heading (the label's second line) in capitals is a parameter's name ("TIMEFMT",
    # "HISTSIZE <S>"), unless a keyword stands before the name ("PRAGMA read_uncommitted").
    term = "\n" in label and " | " not in line and all(re.fullmatch(r"<\w+>", w) for w in name[1:])
    if not name or (name[0].isalpha() and name[0].isupper() and not term):
        return None
    word = name[0].strip(":`'\"*")
    if word and len(name) == 1 and _HYPHENATED_NAME.fullmatch(word):
        # A heading or term that is one hyphenated lower-case name and nothing else
        # ("7.4.8. buffer-limit", "max-client-connections"): a setting, as Privoxy, HAProxy and
        # many others name theirs; in prose such a word ("read-only") is no heading of its own.
        return word
    return word if word and is_identifier(word) else None


_HYPHENATED_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")


def _entry_of_another(label: str, idents: Sequence[str]) -> bool:
    """Whether the label's last line is the term of an entry for another identifier."""
    return entry_identifier(label) is not None and not any(
        names(e, label.rsplit("\n", 1)[-1]) for e in idents
    )


def entry_strength(need: QuestionNeed, question: str, unit: str, label: str, kind: float) -> float:
    """How surely ``unit`` (under ``label``) is the entry stating the asked value, in [0, 1]: 0
    unless it carries the asked kind (``kind`` = :func:`carries`) and names the asked identifiers;
    1 when the question asks about an identifier (the name pins the entry); else by the asked
    attribute's terms, half in unit and label together (at least half of them), half in the label
    alone ("Signal: USR1" under "Graceful Restart" for the signal of a graceful restart). A unit
    that names its value in words ("Read Committed is the default isolation level": ``kind``
    0.6) counts half.
    """
    if kind < 0.6:
        return 0.0
    scale = 1.0 if kind >= 1.0 else 0.5
    idents = asked_identifiers(need, question)
    # One asked name in the entry pins it; the others may describe it ("a string or BLOB").
    named = identifiers_named(idents, unit, label)
    if named == 0.0:
        return 0.0
    if idents:
        return scale * named
    attrs = attribute_terms(need, question)
    share = attribute_share(attrs, unit, label, need)
    if share < 0.5:
        return 0.0
    return scale * (0.5 * share + 0.5 * attribute_share(attrs, "", label, need))


def defined_term(need: QuestionNeed, question: str) -> str | None:
    """The term a definition question asks about ("reverse proxy", "VACUUM"), else None."""
    return asked_term(question) if need.kind == "definition" else None


# The two things a comparison asks about: "the difference between X and Y", "How does X differ
# from Y?", "X vs. Y".
_BETWEEN = re.compile(r"\bbetween\s+(?P<a>.+?)\s+and\s+(?P<b>.+?)\s*[?.]?\s*$", re.IGNORECASE)
_DIFFER = re.compile(
    r"\b(?:does|do|is|are)\s+(?P<a>.+?)\s+differ(?:ent)?\s+from\s+(?P<b>.+?)\s*[?.]?\s*$", re.IGNORECASE
)
_VERSUS = re.compile(r"(?P<a>[\w.\-]+)\s+(?:vs\.?|versus)\s+(?P<b>[\w.\-]+)", re.IGNORECASE)
_SIDE_MAX_WORDS = 4


def compared(question: str) -> tuple[str, ...]:
    """The two sides a comparison question names: its identifiers when it names two or more
    (``work_mem``, ``maintenance_work_mem``), else the phrases around "between ... and ...",
    "... differ from ..." or "... vs ..." (articles dropped; each of at most four words)."""
    names = identifiers(question)
    if len(names) >= 2:
        return names[:2]
    shaped = question_shape(question)
    if shaped is None:
        return ()
    for pattern in (_BETWEEN, _DIFFER, _VERSUS):
        m = pattern.search(shaped)
        if m:
            sides = tuple(_ARTICLE.sub("", m.group(g), count=1).strip() for g in ("a", "b"))
            if all(0 < len(x.split()) <= _SIDE_MAX_WORDS for x in sides):
                a, b = sides
                if len(a.split()) == 1 and len(b.split()) > 1 and is_identifier(b.split()[0]):
                    # "the OL and OB status flags": the noun after the second name is both's.
                    return a, b.split()[0]
                return sides
    return ()


def _bare(term: str) -> str:
    """``term`` without a closing noun that says what kind of thing it is ("relayhost" for "relayhost
    parameter": a definition list's term is the name alone)."""
    head, _, last = term.strip().rpartition(" ")
    return head if head and terms(last)[:1] and terms(last)[0] in _KIND_NOUNS else term


_HEADING_NUMBER = re.compile(r"^(?:\d+\.)+\d*\s+")


def defines(term: str, unit: str) -> bool:
    """Whether ``unit`` is a definition list's entry for ``term``: "Term\n\nDescription", the term
    alone above its description (articles, case and a plural ending aside)::

        defines("a spool", "Spool\n\nA directory where Harbor keeps request bodies ...")  # True
    """
    head, sep, tail = unit.partition("\n\n")
    asked_names: tuple[str, ...] = (term, _bare(term))
    row = _FIRST_CELL.match(unit)
    if row is not None and unit[row.end() :].strip(" |\n"):
        # A table's row is its first cell's entry ("| TRIM | UPS is trimming incoming voltage |"),
        # which a question may name after the kind of thing it is ("the status flag TRIM").
        head, tail = row.group(1).strip("`*'\" "), unit[row.end() :]
        last = term.split()[-1] if term.split() else ""
        asked_names += (last,) if is_identifier(last) else ()
    elif not sep or not tail.strip():
        return False
    # "relayhost (default: empty)", "work_mem (integer)": the term without its aside; "3.391.
    # tilde": a numbered heading's term without its number.
    name = _ARTICLE.sub("", " ".join(entry_name(head).split()), count=1).lower()
    name = _HEADING_NUMBER.sub("", name, count=1)
    for asked in dict.fromkeys(asked_names):
        body = _ARTICLE.sub("", asked.strip(), count=1).lower()
        if body and re.fullmatch(re.escape(body) + r"(e?s)?", name) is not None:
            return True
    return False


def _named_at_end(body: str, unit: str) -> bool:
    """Whether ``unit`` ends by naming what it describes: "... processed by a background worker
    thread called the ban lurker." (the sentence that introduces the term defines it)."""
    if not body.strip():
        return False
    pattern = rf"\b(?:called|named|known\s+as|referred\s+to\s+as)\s+{_named_term(body)}\s*[.)]?\s*$"
    return re.search(pattern, unit.strip(), re.IGNORECASE) is not None


def _named_term(body: str) -> str:
    """A pattern for ``body`` as a sentence names it: an article, quotes and a plural ending
    optional ("the ban lurker", '"cluster"', "Spools")."""
    return rf"(?:the\s+|an?\s+)?[\"'“‘`]?{re.escape(body.strip())}(?:e?s)?[\"'”’`]?"


_BULLET_OPEN = re.compile(r"^\s*[-*•]\s+")
# A word that follows a sentence's subject: the word before it is the subject's head noun.
_VERBS_AFTER_NOUN = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "can",
        "cannot",
        "will",
        "would",
        "must",
        "should",
        "may",
        "might",
        "has",
        "have",
        "does",
        "do",
    ]
)


def _defined_in_terms(body: str, unit: str) -> bool:
    """Whether ``unit`` defines ``body`` after a phrase that says whose terms it uses, or with the
    term in quotes: 'In Slony-I terms, a "cluster" is a named set of ...', '"Spool" means ...'."""
    if not body.strip():
        return False
    pattern = (
        rf"^\s*(?:(?:in|for|within)\s[^,.;\n]{{1,40}},\s*)?{_named_term(body)}"
        r"\s+(?:is|are|refers\s+to|means|denotes)\b"
    )
    return re.match(pattern, unit, re.IGNORECASE) is not None


def is_subject(term: str, unit: str) -> bool:
    """Whether ``unit`` opens with ``term`` as its subject: "[The] term [noun] verb ..." or a
    definition list's "Term\\n\\nDescription" (no other words between the term and the rest)."""
    head, sep, tail = unit.partition("\n\n")
    if sep and len(head.split()) <= 6 and not head.rstrip().endswith((".", ":", "?", "!")):
        # A definition list's term or a field label before the sentence ("Description\n\nThe
        # VACUUM command rebuilds ..."): the term itself, or the sentence after it, may open; a
        # setting's term is its name alone ("relayhost (default: empty)" for "the relayhost
        # parameter").
        # The sentence after it only: its own blocks are no terms of it (and a run of thousands
        # of short blocks would recurse as deep).
        return is_subject(term, head) or is_subject(term, tail.split("\n\n", 1)[0]) or defines(term, unit)
    # A list item's bullet ("- slon is Russian for ...") is no word of the sentence.
    unit = _BULLET_OPEN.sub("", unit, count=1)
    rest = _ARTICLE.sub("", unit, count=1)
    body = _ARTICLE.sub("", term, count=1)
    if _named_at_end(body, unit) or _defined_in_terms(body, unit):
        return True
    product = _PRODUCT_BEFORE.match(rest) if rest is not unit and _ARTICLE.match(unit) else None
    if product is not None and rest[product.end() :].lower().startswith(body.lower()):
        # "The PostGIS geography data type provides ...": the product's name says whose type.
        rest = rest[product.end() :]
    if not rest.lower().startswith(body.lower()):
        return False
    after = rest[len(body) :]
    plural = re.match(r"e?s(?=[\s:,(])", after)
    if plural:
        after = after[plural.end() :]  # "Tablespaces in PostgreSQL allow ..." for "a tablespace"
    if not after.strip():
        return True  # the whole of a definition list's term
    if not (after[0].isspace() or after[0] in ":,(-"):
        return False
    words = after.split()
    if not words:
        return False
    # "The VACUUM command rebuilds" is about VACUUM; "The VACUUM INTO command" is about VACUUM INTO.
    if terms(words[0])[:1] and terms(words[0])[0] in _KIND_NOUNS:
        words = words[1:] or [""]
    if words[0][:1] in "[<{|":
        # A synopsis ("VACUUM [schema-name] [INTO filename]") names the term and defines nothing.
        return False
    if words[0].lower() in _LINKS:
        # "The VACUUM command with an INTO clause is ..." is about the command with the clause.
        return False
    if len(words) > 1 and words[0].isalpha() and words[0].islower() and words[1].lower() in _VERBS_AFTER_NOUN:
        # "The cluster name is specified ..." is about the name: the term only qualifies it.
        return False
    if _COMPOUND_HEAD.search(words[0]):
        # "The router configuration comes next ..." is about the configuration, not the router.
        return False
    return after.startswith(("\n", ":", " -", " (", ",")) or not words[0][:1].isupper()


# What a question asks of an entry, and the record fields that say it: "What happens if X is
# unset?" is its "Effect if unset:", "What does X specify?" its "Specifies:", "What does X do?" its
# "Effect:" or "Description:" (DocBook and man-page records write an entry as such fields).
_FIELD_ASKS = (
    (
        re.compile(r"\bwhat\s+happens\b.*\b(?:unset|not\s+set|omitted|not\s+specified|left\s+out)\b", re.I),
        re.compile(
            r"\s*(?:effect\s+)?(?:if|when)\s+(?:unset|not\s+set|omitted|not\s+specified)\s*:\s*\n", re.I
        ),
    ),
    (
        re.compile(
            r"\bwhat\s+(?:does|do)\b.*\b(?:specify|specifies|control|controls|define|defines)\b", re.I
        ),
        re.compile(r"\s*(?:specifies|description|purpose|summary)\s*:\s*\n", re.I),
    ),
    (
        re.compile(r"\bwhat\s+(?:does|do)\b.*\bdo\s*\??\s*$", re.I),
        re.compile(r"\s*(?:effect|description|purpose|specifies|summary)\s*:\s*\n", re.I),
    ),
    (
        re.compile(r"\bwhat\s+(?:is|are)\b.*\b(?:for|used\s+for)\s*\??\s*$", re.I),
        re.compile(r"\s*(?:typical\s+use|purpose|description)\s*:\s*\n", re.I),
    ),
)


def answers_as_field(question: str, unit: str, label: str) -> bool:
    """Whether ``unit`` is the record field of the entry the question names that answers what it
    asks ("Effect if unset:\n\nNo temporary files are created." under "temporary-directory" for
    "What happens when temporary-directory is not set?")::

        answers_as_field("What does the buffer-limit option specify?",
                         "Specifies:\n\nMaximum size of the buffer.", "7.4.8. buffer-limit")  # True
    """
    # The question's side first, once per question: most ask nothing a field answers, and this
    # runs for every candidate unit of an ask.
    fields = _asked_fields(question)
    if not fields or not any(field.match(unit) for field in fields):
        return False
    name = entry_identifier(label) if label else None
    return (
        name is not None
        and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", question, re.IGNORECASE) is not None
    )


@lru_cache(maxsize=256)
def _asked_fields(question: str) -> tuple[re.Pattern[str], ...]:
    """The record fields whose name answers what ``question`` asks (see ``_FIELD_ASKS``)."""
    return tuple(field for asks, field in _FIELD_ASKS if asks.search(question))


def states_entry_default(need: QuestionNeed, question: str, section_path: Sequence[str], text: str) -> bool:
    """Whether a chunk under ``section_path`` with ``text`` is inside the entry of every asked
    identifier (a heading of its path names it) and states a default: the passage a default
    question about that entry wants, whatever else its page's other chunks share with the
    question ("(default is 8)" in ST_Buffer's Description, below its Synopsis and Examples)."""
    idents = [e for e in asked_identifiers(need, question) if not e.endswith(")")]
    if need.kind != "default" or not idents:
        return False
    # An entry's examples mark the call they show "(default)" in passing: not the statement.
    if in_examples("\n".join(section_path)):
        return False
    label = "\n".join(section_path)
    return all(label_names(e, label) for e in idents) and carries(need, text) >= 1.0


_EXAMPLE_SECTIONS = frozenset({"example", "examples", "see also"})


def in_examples(label: str) -> bool:
    """Whether a unit's label (headings, one a line) puts it in an entry's Examples section."""
    return any(line.strip().lower() in _EXAMPLE_SECTIONS for line in label.split("\n"))
