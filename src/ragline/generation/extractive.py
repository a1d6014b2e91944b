"""The offline answerer: the context's best sentences, quoted with numbered citations.

Each sentence of the assembled context is scored against the question by embedding similarity
(the same model that retrieved it), IDF-weighted lexical coverage and the rank of its passage. A
few non-redundant sentences are chosen with maximal marginal relevance (Carbonell & Goldstein 1998,
"The use of MMR, diversity-based reranking for reordering documents and producing summaries").
The answer abstains when a logistic confidence over the best sentence's similarity and coverage
falls below ``abstain_threshold``; its weights and the threshold were fitted on SQuAD questions
whose articles were or were not indexed (``bench/tune_answerer.py``, docs/benchmarks.md).

Example::

    answerer = ExtractiveAnswerer(engine.embedder)
    answer = collect(answerer.stream("When was Python 3.11 released?", context))
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from ragline.embedding.base import Embedder, Vectors, l2_normalize
from ragline.errors import ConfigError
from ragline.generation.citations import strip_markers
from ragline.generation.entries import (
    SPELLED_TERM,
    answers_as_field,
    asked_identifiers,
    attribute_share,
    attribute_terms,
    compared,
    defined_term,
    defines,
    entry_identifier,
    entry_name,
    entry_strength,
    field_row,
    in_examples,
    is_identifier,
    is_subject,
    label_names,
    name_words,
    names,
    own_text,
    passage_labels,
    product_scope,
    row_entry,
    setting_like,
    term_of,
    term_value,
)
from ragline.generation.lexical import coverage, idf, terms
from ragline.generation.prompt import NOT_ENOUGH_INFORMATION
from ragline.generation.question import (
    DEFAULT_REFERENCE,
    QuestionNeed,
    about,
    acting_names,
    carries,
    classify,
    looked_up_by_meaning,
    possessive_names,
    scoped_products,
    states_default_by_number_only,
)
from ragline.generation.reader import Reader, Span
from ragline.generation.short import short_span, tidy_span
from ragline.text.identifiers import asked_item, asks_for_item, identifiers, looked_up_term
from ragline.text.navigation import answers_last, listing_spans
from ragline.text.sentences import (
    answer_units,
    is_code,
    is_heading,
    label_words,
    row_spans,
    sentence_spans,
    without_section_number,
)
from ragline.types import Answer, Citation, Context, Final, Passage, ShortAnswer, StreamEvent, Token

ABSTAIN_TEXT = NOT_ENOUGH_INFORMATION

# Fewer content terms than this and a "sentence" is a fragment (a label, a number, a heading).
MIN_TERMS = 3
# Cosine similarity above which two sentences say the same thing; the second is never added.
NEAR_DUPLICATE = 0.95
# Candidate sentences taken from each passage before the best of the rest.
PER_PASSAGE = 2

#: The stored sentence vectors of chunks (a store's ``fetch_sentence_vectors``): for each chunk id,
#: its text and one vector per sentence (``row_spans`` of the text), or None.
SentenceVectors = Callable[[Sequence[str]], Sequence[tuple[str, Vectors] | None]]


@dataclass(frozen=True, slots=True)
class SentenceWeights:
    """How a sentence's score is made (tuned on the SQuAD calibration split, never on test)."""

    similarity: float = 0.40
    coverage: float = 0.35
    rank: float = 0.10
    # Share of a question term's weight earned when only the title/section path holds it.
    title_coverage: float = 0.5
    # A further sentence joins the answer only while it scores this share of the best one
    # (1.0 = always one sentence: best SQuAD F1, 0.765 answer recall; 0.9: F1 -0.012, recall +0.04).
    relative_cutoff: float = 0.9
    # What the question asks for (issue 23, tuned on bench/docs_qa's dev split and the SQuAD
    # calibration split): a unit that carries the asked kind of answer (a default, a number, a
    # code, a definition...) and one about the asked entity outrank one that only repeats words.
    answer_type: float = 0.15
    entity: float = 0.15
    # The best unit's passage (its text, title and section path) must mention at least this share
    # of the named entities (identifiers, products: QuestionNeed.named), else the question is
    # about something the collection does not hold
    # ("What is the default port of Redis?") and the answer abstains.
    min_entity_share: float = 1.0
    # Documentation entries (generation/entries.py; tuned on bench/docs_qa dev): a unit that
    # states the asked kind of value in the entry of the asked identifier ("Default: | X 5" under
    # "## X Directive", "(5) SQLITE_BUSY" as its heading) earns ``entry``; a unit whose subject
    # is the term a definition question asks about earns ``subject``.
    entry: float = 0.3
    subject: float = 0.3
    # The least confidence of an answer whose first unit is a definition list's entry for the
    # term a definition question asks about (entries.defines): above the abstention threshold.
    glossary_confidence: float = 0.75
    # Kinds whose answer is a value stated in an entry; for these, a question naming an
    # identifier or product abstains when no unit of the context is such an entry (it shares
    # "default" with the collection, not the value it asks for).
    entry_kinds: frozenset[str] = frozenset({"default", "code"})


def _about(need: QuestionNeed, s: _Sentence) -> float:
    """How much ``s`` is about the asked entities: in the unit 1, in the unit before it or the
    title/section path 0.5 (see :func:`ragline.generation.question.about`)."""
    near = about(need, s.own | s.before, s.header)
    return 0.5 * (about(need, s.own, frozenset()) + near)


def _own_terms(shown: str, all_terms: set[str]) -> set[str]:
    """The unit's terms less those that name other entries ("$default_process_limit" in the
    entry of ``postscreen_pre_queue_limit``; see :func:`ragline.generation.entries.own_text`)."""
    return set(terms(own_text(shown))) if "$" in shown or "(" in shown else all_terms


def _label_names_entity(need: QuestionNeed, s: _Sentence) -> bool:
    """Whether the unit's entry label names an asked identifier the unit itself does not."""
    return any(is_identifier(e) and label_names(e, s.label) and not names(e, s.shown) for e in need.named)


def _label_terms(s: _Sentence, idents: tuple[str, ...]) -> set[str]:
    """The terms of the unit's label when it names one of the asked identifiers, else none."""
    if s.label and any(label_names(e, s.label) for e in idents):
        return set(terms(s.label))
    return set()


def column_cell(label: str, row: str, column: str) -> tuple[int, int] | None:
    """The span in ``row``, a table's body row ("| integer | 10 | no | none |"), of its cell under
    ``column`` of the column names on the label's last line ("type | default | mandatory | ..."; see
    :func:`ragline.generation.entries.unit_labels`), or None: not a row, no such column, an empty
    cell or a row of another width::

        column_cell("PollingInterval\ntype | default", "| integer | 10 |", "default")  # (12, 14)
    """
    read = _row_under_columns(label, row.partition("\n")[0])  # a row read on into the text after it
    if read is None:
        return None
    names = [n.lower() for n, _ in read]
    if column not in names:
        return None
    a, b = read[names.index(column)][1]
    return (a, b) if b > a else None


def default_row_of(words: AbstractSet[str], section_path: Sequence[str], text: str) -> bool:
    """Whether ``text``, a chunk under ``section_path`` (a table's header row last, as the chunker
    keeps it), holds a table row whose first cell is one word of ``words`` (terms, as
    :func:`ragline.generation.lexical.terms` reads them) with a value under a "Default" column:
    "| fontsize | ENGC | double | 14.0 | 1.0 | |" for ``{"fontsize"}``."""
    label = "\n".join(section_path)
    for line in text.split("\n"):
        cells = line.split("|") if line.startswith("|") else []
        first = terms(cells[1]) if len(cells) > 2 else []
        if len(first) == 1 and first[0] in words and column_cell(label, line, "default") is not None:
            return True
    return False


def asked_row_of(question: str, section_path: Sequence[str], text: str) -> bool:
    """Whether ``text``, a chunk under ``section_path`` (a table's header row last), holds a row
    that ``question`` looks up by one of its cells for the column it names (:func:`asked_cell`)."""
    label = "\n".join(section_path)
    return any(
        line.startswith("|") and asked_cell(question, label, line) is not None for line in text.split("\n")
    )


# A cell the question names must stand apart in it: "==" is no part of "!==".
_CELL_BEFORE = r"(?:^|(?<=[\s(\"'“‘,]))"
_CELL_AFTER = r"(?=$|[\s)\"'”’,.;:?])"
_KEY_MAX_WORDS = 4


def asked_cell(question: str, label: str, row: str) -> tuple[int, int] | None:
    """The span in ``row`` of its cell under the column the question names, when the question
    names another cell of the row as well: a table looked up by one of its cells::

        asked_cell("What is the C-like form of the ge operator?",
                   "English | Alias | C-like | Description", "| ge | | >= | Greater than or equal |")
        # the span of ">="

    None when no column is named or the row has no such key; an empty span when the asked cell
    is empty (the row still answers: "| | any_ne | !== |" for the English form of "!=="). A key
    that is only a common word ("in", "or") is no key: questions hold those anyway."""
    read = _row_under_columns(label, row.partition("\n")[0])
    if read is None or len(read) < 2:
        return None
    head = label.rsplit("\n", 1)[0] if "\n" in label else ""
    if head and entry_identifier(head) is not None:
        # The row is a record of the entry named above it ("BatchSize" over "| integer | 32 |
        # no |"): the entry is its key, not a cell that happens to be a word of the question
        # ("size" in "the default batch size").
        return None
    asked_terms = set(terms(question))
    line = row.partition("\n")[0]
    named = [j for j, (name, _) in enumerate(read) if terms(name) and set(terms(name)) <= asked_terms]
    for j in named:
        a, b = read[j][1]
        for k, (_, (c, d)) in enumerate(read):
            key = line[c:d].strip("`*")
            if k == j or not key or len(key.split()) > _KEY_MAX_WORDS:
                continue
            if key.isalpha() and not terms(key):
                continue
            pattern = _CELL_BEFORE + re.escape(key) + _CELL_AFTER
            if re.search(pattern, question, re.IGNORECASE) is not None:
                return a, b
    return None


def described_row(question: str, row: str) -> tuple[int, int] | None:
    """The span of ``row``'s first cell when the question looks the row up by what its other
    cells say (every content word of the phrase after "means"), else None::

        described_row("Which status flag means the battery is discharging?",
                      "| DISCHRG | The battery is discharging (inverter is providing load power) |")
        # the span of "DISCHRG"
    """
    meaning = looked_up_by_meaning(question)
    line = row.partition("\n")[0]
    if meaning is None or not line.startswith("|"):
        return None
    cells = _cells(line)
    if len(cells) < 2 or cells[0][1] <= cells[0][0]:
        return None
    want = set(terms(meaning))
    said = {t for c, d in cells[1:] for t in terms(line[c:d])}
    return cells[0] if want and want <= said else None


def _row_under_columns(label: str, row: str) -> list[tuple[str, tuple[int, int]]] | None:
    """Each column name on the label's last line with the span of ``row``'s cell under it, or
    None when ``row`` is no table row or has another number of cells than there are names."""
    if not row.startswith("|") or not label:
        return None
    line = label.rsplit("\n", 1)[-1].strip()
    # A chunk's section path holds its table's header row as written ("| Error Code | Condition
    # Name |"): its outer borders are no part of the first and last names.
    if len(line) > 1 and line.startswith("|") and line.endswith("|"):
        line = line[1:-1]
    names = [c.strip() for c in line.split(" | ")]
    cells = _cells(row)
    return list(zip(names, cells, strict=True)) if len(cells) == len(names) else None


# A table's header line, followed by its delimiter line and a body row (a one-row table's line is
# its data: "| smtp_accept_max | Use: main | ... |").
_DELIMITER = r"[ \t]*\|(?:[ \t]*:?-+:?[ \t]*\|)+[ \t]*"
_TABLE_HEADER = re.compile(rf"[ \t]*\|[^\n]*\|[ \t]*\n{_DELIMITER}\n[ \t]*\|")


def _default_row(need: QuestionNeed, scored: Sequence[ScoredSentence]) -> int | None:
    """Index in ``scored`` of the table row that states the default of the entry the best unit
    describes (same passage, the row's label that entry's label and the table's column names),
    when the best unit states no value itself; else None."""
    if need.kind != "default" or not scored or scored[0].kind >= 1.0 or not scored[0].label:
        return None
    top = scored[0]
    for j, s in enumerate(scored[1:], 1):
        if (
            s.passage == top.passage
            and s.label.rsplit("\n", 1)[0] == top.label
            and "\n" in s.label
            and column_cell(s.label, s.text, "default") is not None
        ):
            return j
    return None


# A sentence that opens by pointing back ("It is the default mode for the main message queue.",
# "He later ..."): what it points to is in the sentence before.
_POINTS_BACK = re.compile(r"(?:It|Its|He|His|She|Her|They|Their|This|These|That|Those)\b")
# A sentence that draws a consequence from the one before it.
_CONSEQUENCE = re.compile(
    r"(?:As\s+a\s+(?:consequence|result)|Consequently|Therefore|Thus|Hence|Accordingly"
    r"|For\s+(?:this|that|these|those)\s+reasons?)\b"
)
# What a sentence right after a configuration or command says of it: "This says to chroot() ...",
# "This allows the users barb and dave ...", "This will ...", "That configuration ...".
_EXPLAINS_ABOVE = re.compile(
    r"(?:This|That|These|Those)\s+(?:(?:configuration|config|example|setting|settings|line|lines"
    r"|command|directive|section|rule|rules)\s+)?(?:says|allows|means|will|would|makes|tells|causes"
    r"|lets|denies|blocks|restricts|limits|sets|enables|disables|configures|ensures|prevents|creates"
    r"|does|gives|has|is|are)\b"
)


def _with_antecedent(
    p: Passage, s: ScoredSentence, code: bool = False, reason: bool = False
) -> ScoredSentence:
    """``s`` with the sentence before it in its passage when it opens with a pronoun that points
    back to it (the answer then names what "It" is), else ``s``. With ``code`` (a command is
    asked for), a short code block that "This ..." explains ("``DefaultRoot ~ !ftp-special``"
    then "This says to chroot() every user who is not a member of group ftp-special ...") is
    quoted before it, with the sentence that introduces the block. With ``reason`` (a "why"
    question), so is the sentence a consequence is drawn from: "As a consequence, you normally
    will set the File retention period to be less than ..." says what to do; the sentence before
    it says why."""
    if not _POINTS_BACK.match(s.text) and not (reason and _CONSEQUENCE.match(s.text)):
        return s
    a = s.start - p.start
    units = [u for u in answer_units(p.text) if u[1] <= a]
    if not units:
        return s
    x, y = units[-1]
    before = p.text[x:y]
    if (
        code
        and _EXPLAINS_ABOVE.match(s.text)
        and is_code(before)
        and y - x <= _CODE_QUOTED
        and not p.text[y:a].strip()
        and p.text[y:a].count("\n\n") <= 1
    ):
        if len(units) > 1 and p.text[units[-2][0] : units[-2][1]].rstrip().endswith(":"):
            x = units[-2][0]  # "..., like so:" before the block
        return _led_by(s, p.text[x:a])
    if (
        is_heading(before)
        or is_code(before)
        or before.startswith(("|", "-", "*"))
        or p.text[y:a].count("\n\n")
    ):
        return s
    return _led_by(s, p.text[x:a])


def _led_by(s: ScoredSentence, lead: str) -> ScoredSentence:
    """``s`` quoted after ``lead``, the document's text right before it (its ``lead_in``)."""
    n = len(lead)
    span = None if s.span is None else (s.span[0] + n, s.span[1] + n)
    return replace(s, start=s.start - n, text=lead + s.text, span=span, lead_in=n)


def _without_lead(s: ScoredSentence) -> ScoredSentence:
    """``s`` without the text quoted before it (the inverse of :func:`_led_by`)."""
    n = s.lead_in
    span = None if s.span is None or s.span[0] < n else (s.span[0] - n, s.span[1] - n)
    return replace(s, start=s.start + n, text=s.text[n:], span=span, lead_in=0)


def _without_repeats(units: list[ScoredSentence]) -> list[ScoredSentence]:
    """``units`` without those that an earlier one already quotes: the sentence quoted before a
    unit that points back to it ("TRUNCATE quickly removes all rows ..." before "It has the same
    effect as ...") is no second piece of the answer, nor is the same sentence on another page
    (a module's page and its how-to both open with "The TransferRate directive is used to ...")."""
    kept: list[ScoredSentence] = []
    said: set[str] = set()
    for s in units:
        if s.lead_in and _words(s.text[: s.lead_in]) in said:
            # The sentence this one points back to is already quoted, from another page.
            s = _without_lead(s)
        if _words(s.text) in said:
            continue
        if not any(k.passage == s.passage and k.start <= s.start and s.end <= k.end for k in kept):
            kept.append(s)
            said.update({_words(s.text), _words(s.text[: s.lead_in]), _words(s.text[s.lead_in :])} - {""})
    return kept


def _words(text: str) -> str:
    """``text`` as compared for repeats: lower case, without citation markers, one space."""
    return " ".join(strip_markers(text).split()).lower()


def _documented_product(need: QuestionNeed, question: str, context: Context) -> set[str]:
    """The asked entities that are a product the question is scoped to ("... in SQLite?") or makes
    the subject of using ("Bacula" in "Which cipher does Bacula use ...?") and that at least half of the
    context's passages (two or more) name: the product the passages document."""
    # Not a name before a noun ("the File daemon"): that names a part, which the sentence must.
    products = {*acting_names(question), product_scope(need, question)}
    n = len(context.passages)
    if n < 2:
        return set()
    found: set[str] = set()
    held: list[set[str]] | None = None
    for e in need.entities:
        # A product is a name ("Bacula"), not a closing "for geography".
        if e not in products or not e[:1].isupper():
            continue
        if held is None:
            held = [set(terms(p.text)) | set(terms(p.header)) for p in context.passages]
        want = set(terms(e))
        naming = sum(want <= words for words in held)
        if want and 2 * naming >= n:
            found.add(e)
    return found


def _unknown_owner(question: str, context: Context) -> bool:
    """Whether ``question`` names a program in the possessive ("vsftpd's maximum rate") that no
    passage of ``context`` names, in its text or its headings."""
    owners = possessive_names(question)
    if not owners:
        return False
    known: set[str] = set()
    for p in context.passages:
        known.update(terms(p.text), terms(p.header))
    return any(not set(terms(o)) <= known for o in owners)


# Two or more capitalised words in a row ("Time Machine", "Proxmox VE"), each more than a letter.
_CAPITALISED_RUN = re.compile(r"(?<![\w.\-])[A-Z][\w\-]+(?:\s+[A-Z][\w\-]+)+")


def _unknown_name(question: str, context: Context) -> bool:
    """Whether ``question`` names something in two or more capitalised words (not its opening
    word) that no passage of ``context`` spells, in its text or headings, in any case, and most of
    whose words no passage writes as the question does: "the Bacula Director" is made of the names
    a manual writes, though it never writes them together."""
    opening = re.match(r"\s*\S+", question)
    start = opening.end() if opening else 0
    runs = [m.group(0).split() for m in _CAPITALISED_RUN.finditer(question, start)]
    if not runs:
        return False
    written = [" ".join(f"{p.header} {p.title} {p.text}".split()) for p in context.passages]
    spelled = [text.lower() for text in written]
    words: set[str] = set()
    for text in written:
        words.update(re.findall(r"[\w\-]+", text))
    for run in runs:
        # An acronym in the run is written loosely ("RTT" as "iRTT"): the name is its other words.
        named = [w for w in run if not w.isupper()]
        if len(named) < 2 or any(" ".join(run).lower() in text for text in spelled):
            continue
        # Most of its words unwritten: one misspelt or added word ("the Primier League", "the
        # East India Trading Company") is the passages' name asked loosely.
        if 2 * sum(w not in words for w in named) > len(named):
            return True
    return False


def _promote(
    scored: list[ScoredSentence], vecs: np.ndarray, j: int
) -> tuple[list[ScoredSentence], np.ndarray]:
    """``scored[j]`` moved to the top with the best unit's score, and the best unit's evidence
    (similarity, coverage) where it is higher, as the units of one entry share it."""
    top, unit = scored[0], scored[j]
    promoted = replace(
        unit,
        score=top.score,
        similarity=max(top.similarity, unit.similarity),
        coverage=max(top.coverage, unit.coverage),
    )
    order = [j, *(i for i in range(len(scored)) if i != j)]
    return [promoted, *(scored[i] for i in order[1:])], vecs[order]


def _answering_passages(question: str, context: Context) -> set[int]:
    """The passages whose units may answer: not a manual's index or table of contents, and not
    its release notes unless the question asks about versions or changes ("Fix 'write on backend
    0 failed' error" is no answer to how to keep backend 0 from failing over). When the context
    holds nothing else, every passage may answer."""
    content = {i for i, p in enumerate(context.passages) if not answers_last(question, p.title, p.text)}
    return content or set(range(len(context.passages)))


def _column_names_line(text: str, a: int) -> bool:
    """Whether the line at ``text[a:]`` is a table's header of column names: a delimiter line and a
    body row follow, and no cell is a field's label ("| Module Name: | imfile |" is data)."""
    m = _TABLE_HEADER.match(text, a)
    return m is not None and not any(c.strip().endswith(":") for c in text[a : text.find("\n", a)].split("|"))


def _cells(row: str) -> list[tuple[int, int]]:
    """The spans of a table row's cells ("| integer | 10 |": the spans of "integer" and "10"), by
    a scan rather than a regex: a lazy cell pattern backtracks without end on a long run of
    spaces with no closing "|"."""
    bars = [i for i, ch in enumerate(row) if ch == "|"]
    spans: list[tuple[int, int]] = []
    for a, b in pairwise(bars):
        a += 1
        while a < b and row[a] in " \t":
            a += 1
        while b > a and row[b - 1] in " \t":
            b -= 1
        spans.append((a, b))
    return spans


def _group_row(unit: str) -> bool:
    """Whether ``unit`` is a table row that heads a group of rows: its first cell filled, the
    others empty ("| Class 42 — Syntax Error or Access Rule Violation | |", a cell spanning the
    columns). It names the group, as a heading does; the rows under it hold the values."""
    if not (unit.startswith("|") and unit.endswith("|")) or "\n" in unit:
        return False
    cells = _cells(unit)
    return len(cells) >= 2 and cells[0][1] > cells[0][0] and all(b == a for a, b in cells[1:])


def _carries(need: QuestionNeed, s: _Sentence) -> float:
    """:func:`carries` of the unit, or of its label and the unit when the label names the asked
    identifier (the "(5)" of "### (5) SQLITE_BUSY" is the code's value); a table row with a value
    under a "Default" column states a default."""
    if need.kind == "default" and column_cell(s.label, s.shown, "default") is not None:
        return 1.0
    own = carries(need, s.shown)
    if (
        need.kind == "default"
        and own >= 1.0
        and states_default_by_number_only(s.shown)
        and short_span(need, "", s.shown) is None
    ):
        # A number beside the word "default" that no pattern reads as its value ("... on port
        # 8118, ... you will need to override the default"): less sure than "Default value:
        # 8118" or "The default is 8118".
        own = _LOOSE_DEFAULT
    if (
        need.kind == "default"
        and own < 1.0
        and s.label
        and _lists_value(s.label)
        and any(label_names(e, s.label) for e in (*need.named, *need.terms))
    ):
        # "autocreate_quota: -1" over its description: the listing shows each option's value
        # (Cyrus's imapd.conf says it shows the defaults, once, above them all).
        return 1.0
    if own < 1.0 and s.label and any(is_identifier(e) and label_names(e, s.label) for e in need.named):
        # A heading's section number ("5.4.4.4. WAIT FOR EVENT requires WAIT ON") is no value.
        label = _NUMBERED_LINE.sub("", s.label)
        return max(own, carries(need, f"{label}\n{s.shown}"))
    return own


# How surely a unit that holds the word "default" and a value, unread as one, states it.
_LOOSE_DEFAULT = 0.8
# The section number opening a heading line of a label.
_NUMBERED_LINE = re.compile(r"(?m)^[ \t]*(?:\d+(?:\.\d+)*\.|\d+(?:\.\d+)+)[ \t]+")


# Kinds whose answer sits in the entry of the asked setting or command: the unit carrying the kind
# inside the entry whose label names the asked identifier is the one to quote ("The default is
# Off in order to save the network traffic" under "HostnameLookups Directive").
_IN_ENTRY_KINDS = frozenset({"reason", "number", "date", "procedure"})
# Of those, the values the reader's re-ranking keeps pinned to the entry (ExtractiveAnswerer.reread),
# and the unit that sets two compared things against each other (the reader, trained on Wikipedia
# questions, has seen few comparisons).
_PINNED_VALUES = frozenset({"number", "date"})
_PINNED = _PINNED_VALUES | {"difference"}


def _entry(need: QuestionNeed, question: str, s: _Sentence, kind: float) -> float:
    """How surely ``s`` states the asked kind of value in the asked entity's entry: for default
    and code questions :func:`ragline.generation.entries.entry_strength`; for the kinds of
    ``_IN_ENTRY_KINDS``, 0.5 (a cue, not a pin) when it carries the kind under a label naming
    every asked identifier."""
    if asked_cell(question, s.label, s.shown) is not None or described_row(question, s.shown) is not None:
        # A table row the question looks up by one of its cells, for the column it names ("the
        # C-like form of the ge operator" over "| ge | | >= | Greater than or equal to |"), or by
        # what its description says ("Which status flag means the battery is discharging?").
        return 1.0
    if need.kind in ("default", "code"):
        strength = entry_strength(need, question, s.shown, s.label, kind)
        if need.kind == "default" and in_examples(s.label):
            # "| endcap=round join=round (default) | ..." in ST_Buffer's examples marks the call
            # it shows; the Description's "endcap style (defaults to "round")" states it.
            return 0.5 * strength
        return strength
    if need.kind in _IN_ENTRY_KINDS and kind >= 1.0 and s.label:
        idents = asked_identifiers(need, question)
        return 0.5 if idents and all(label_names(e, s.label) for e in idents) else 0.0
    if need.kind in ("other", "definition") and "\n" in s.label and term_of(s.text) is not None:
        # "What does CASCADE do in DROP TABLE?": the entry whose term is the asked identifier, on
        # the page the question's other names point to (its title, "DROP TABLE"), not the same
        # term on DROP VIEW's page nor a sentence that mentions it.
        idents = asked_identifiers(need, question)
        term = entry_name(s.label.rsplit("\n", 1)[-1])
        if idents and any(names(e, term) for e in idents):
            held = s.header | s.own
            if all(label_names(e, s.label) or set(terms(e)) <= held for e in idents):
                return 0.5
    if need.kind == "difference":
        sides = compared(question)
        settings = [x for x in sides if is_identifier(x) and " " not in x.strip()]
        if settings:
            # Two settings compared ("HIST_IGNORE_DUPS and HIST_IGNORE_SPACE"): each one's own
            # entry says what it does; a unit elsewhere that names both in passing does not. A
            # table row is its first cell's entry ("| OL | On line (mains is present) |").
            own = row_entry(s.shown)
            if own is not None and own in settings:
                return 0.5
            return 0.5 if s.label and any(label_names(x, s.label) for x in settings) else 0.0
        # Two things named in words ("the deny and drop ACL verbs"): the unit that sets one
        # against the other ("drop: This verb behaves like deny, except that ...") names both.
        heads = [terms(x)[:1] for x in sides]
        if kind >= 1.0 and len(heads) == 2 and all(heads) and all(h[0] in s.own for h in heads):
            return 0.5
    return 0.0


def _names_entry(line: str) -> bool:
    """Whether a label's line is an entry's name: a setting's ("thread_pool_max") or a function's
    signature ("STRING querysort(STRING)")."""
    return entry_identifier(line) is not None or re.search(r"\w\(", line) is not None


_NAME_MAX_WORDS = 2


# A command's heading in a tool's reference: one lower-case word ("shutdown", "net-autostart").
_COMMAND_HEADING = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def _lead(need: QuestionNeed, s: _Sentence, question: str) -> str:
    """The label to show before the unit: when it names the asked identifier the unit leaves
    out, or holds the asked value the unit lacks, or is the name a "Which function ...?" asks
    for."""
    if not s.label or is_heading(s.shown) or s.label.endswith(s.shown.partition("\n\n")[0]):
        return ""
    line = s.label.rsplit("\n", 1)[-1]
    # A row's label ends with its table's column names, one name for a one-column table
    # ("Function Description Example(s)" over a function table): no entry's name.
    row = s.shown.startswith("|") and _row_under_columns(s.label, s.shown.partition("\n")[0]) is not None
    if (
        not row
        and asks_for_item(question)
        and (
            (need.kind in ("name", "code") and _names_entry(line))
            # A command's one-word heading, whatever the question's verb makes its kind
            # ("shutdown" over "Gracefully shuts down a domain." for "Which virsh command
            # gracefully shuts down a domain?", read as a procedure).
            or (need.kind in ("name", "code", "procedure") and _COMMAND_HEADING.fullmatch(line) is not None)
        )
        and line not in s.shown
    ):
        # The unit describes the entry; its heading or term is the answer.
        return line
    if row:
        # A table row is shown with its column names (see _paired_row); before it, the entry it
        # belongs to when its heading names one ("PollingInterval").
        above = s.label.rsplit("\n", 1)[0].rsplit("\n", 1)[-1] if "\n" in s.label else ""
        # A parameter's heading is its name ("Protocol", "PollingInterval"), a section's is longer.
        return above if above and (len(above.split()) <= _NAME_MAX_WORDS or _names_entry(above)) else ""
    if _label_names_entity(need, s):
        return _label_line(need, s.label)
    labelled = any(is_identifier(e) and label_names(e, s.label) for e in need.named)
    holds_value = need.kind in ("default", "code", "number") and carries(need, s.label) >= 1.0
    return _label_line(need, s.label) if labelled and holds_value and carries(need, s.shown) < 1.0 else ""


# A field line of an entry: "- Default: 5000", "Units: seconds".
_FIELD = re.compile(r"\s*(?:[-*•]\s+)?[A-Za-z][\w ]{0,30}:\s*\S")


def _field_of(need: QuestionNeed, idents: Sequence[str], unit: str, label: str) -> bool:
    """Whether ``unit`` is a field line ("- Default: 5000") that states the asked kind of value
    inside the entry of an asked identifier (a sentence as short, "Defaults to 10.", stays with
    the description before it)."""
    return (
        need.kind in ("default", "code")
        and bool(label)
        and _FIELD.match(unit) is not None
        and any(label_names(e, label) for e in idents)
        and carries(need, unit) >= 1.0
    )


def _states_entry_default(need: QuestionNeed, idents: Sequence[str], unit: str, label: str) -> bool:
    """Whether ``unit`` is a sentence too short to be a candidate ("The default is 60.") that
    states the default inside the entry of an asked identifier, anywhere in it: a parameter's
    description often says what it does, then how it is set, then its default."""
    return (
        need.kind == "default"
        and bool(label)
        and any(label_names(e, label) for e in idents)
        and _states_value(need, unit)
    )


def _states_value(need: QuestionNeed, unit: str) -> bool:
    """Whether ``unit`` states a value of the asked kind: :func:`carries` it, or for a default a
    plain word closing "The default is ..." ("The default is fast.": no number or switch word,
    which :func:`carries` cannot tell from "The default is used.")."""
    stated = carries(need, unit)
    if stated >= 1.0:
        return True
    # Not for a quantity asked (a word is no "how long"), nor a reference to another setting
    # ("defaults to the idle_send_timeout parameter"), which :func:`short_span` would read.
    return (
        need.kind == "default"
        and not need.quantity
        and stated > 0.0
        and DEFAULT_REFERENCE.search(unit) is None
        and short_span(need, "", unit) is not None
    )


def _evidence_unit(need: QuestionNeed, scored: Sequence[ScoredSentence]) -> ScoredSentence:
    """The unit whose page must name what the question asks about: the best one, or for a
    comparison of two settings the best unit in either one's entry (the answer quotes both
    entries, whatever the reader ranked first)."""
    if need.kind == "difference":
        for s in scored:
            if s.entry > 0:
                return s
    return scored[0]


# A record's field that comments on the entry rather than describing it ("Notes:", "Example:").
_NOTES_FIELD = re.compile(r"\s*(?:notes?|examples?|see also|warning|caution|tip)\s*:\s*\n", re.IGNORECASE)


def _asked_names(need: QuestionNeed, context: Context) -> tuple[str, ...]:
    """The names the question asks for an entry of, without the product the context documents:
    "HAProxy" (capitals inside, so read as a setting's name) in "Which hash type does HAProxy use
    by default?" is named by the title of every page in the context ("HAProxy version 2.6 -
    Configuration Manual"), not a setting no entry states. A product only some pages' titles name
    ("Postfix MySQL Howto" beside other Postfix pages) is still asked for."""
    titles = {p.title for p in context.passages}
    return tuple(
        e for e in need.named if setting_like(e) or not titles or not all(names(e, t) for t in titles)
    )


def _described_entry(
    need: QuestionNeed, question: str, context: Context, scored: Sequence[ScoredSentence]
) -> str | None:
    """The setting a default question names no identifier of but describes, else None: the entry
    of the best unit that states no value itself while its entry does (a "Default: 5000" field
    under "thread_pool_max", or "(default: 5d)" in the term), when that unit scored best, or the
    best unit is prose outside any entry and this one covers more of the question (clearly more
    when the best unit states a value)."""
    if need.kind != "default" or not scored or need.codes:
        return None
    # An acronym ("ESI", "TLS") names a topic, not the setting: it does not settle the entry.
    if any(setting_like(e) for e in asked_identifiers(need, question)):
        return None
    # A record's notes ("Notes: Under high load client connections may queue up ...") mention
    # what neighbouring settings are about; its "Specifies:" field describes the setting.
    scored = [s for s in scored if not _NOTES_FIELD.match(s.text)] or scored
    top = scored[0]
    states = top.kind >= 1.0
    referred = _referred_entry(need, context, top, scored)
    if referred is not None:
        return referred
    better = _better_described(need, question, context, scored) if states else None
    if better is not None:
        return better
    for s in scored:
        # A directive named in words ("Statistics Retention = time") is named by its term line.
        name = (entry_identifier(s.label) or _spelled_term(s.label)) if s.label else None
        if name is None or s.kind >= 1.0:
            continue
        if s is not top and (
            (states and entry_identifier(top.label) is not None)
            or s.coverage < top.coverage + (_DESCRIBED_MARGIN if states else 0.0)
        ):
            return None
        # It must say what is asked ("port" in "the default port of Redis" is not in a
        # RedisConnPoolTTL description that only names Redis): half the attribute's terms, as an
        # entry must hold them to count without a name (entries.entry_strength).
        if attribute_share(attribute_terms(need, question), s.text, s.label, need) < 0.5:
            return None
        if s is not top and _actor_left_out(question, top, s):
            # "What port does Squid listen on by default?": the best unit names Squid ("Squid
            # normally uses port 3128."), this manual's listen-address entry describes its own
            # program's listening: another program's setting.
            return None
        if _entry_states_in(need, context, s.passage, s.label):
            return name
        if s is not top:
            return None
        # The best unit's own entry states no value ("sess.idle_limit: ..., defaults to the
        # idle_limit parameter"): the next description may be the setting's.
    return None


# A command-line flag: one or two dashes, then a name ("-y", "--prefix", "-c:v").
_FLAG = re.compile(r"--?[A-Za-z][\w:\-]*")
_FLAG_MENTION = re.compile(r"(?<![\w\-])--?[A-Za-z][\w:\-]*")


def _flags(text: str) -> set[str]:
    """The command-line flags ``text`` names, case-folded ("-y", "--prefix")."""
    return {m.group(0).rstrip(":-").casefold() for m in _FLAG_MENTION.finditer(text)}


def _heads_a_section(name: str, context: Context) -> bool:
    """Whether the innermost heading of a passage of ``context`` is ``name`` alone (its section
    number aside: "16.15 Icecast"), the heading of a part on it; not a heading that only
    mentions it ("Postfix manual - smtp-sink(1)" for SMTP)."""
    want = name.casefold()
    return any(
        without_section_number(p.header.rsplit(" > ", 1)[-1]).casefold() == want
        for p in context.passages
        if p.header
    )


def _section_owner_left_out(context: Context, best: ScoredSentence, scoped: Sequence[str]) -> bool:
    """Whether a product the question is scoped to heads a section of ``context`` (a manual's
    part on it) and the passage of ``best`` names it nowhere: a value found beside that section
    is another part's."""
    passage = context.passages[best.passage]
    own = set(terms(passage.text)) | set(terms(passage.header))
    for e in scoped:
        want = set(terms(e))
        if want and _heads_a_section(e, context) and not want <= own:
            return True
    return False


def _documents(want: set[str], context: Context) -> bool:
    """Whether at least half of the context's passages (text or header) name ``want``: the
    product a manual documents, not one it mentions."""
    naming = sum(want <= set(terms(p.text)) | set(terms(p.header)) for p in context.passages)
    return 2 * naming >= len(context.passages)


def _actor_left_out(question: str, top: ScoredSentence, s: ScoredSentence) -> bool:
    """Whether the question names a program doing the using or listening (``acting_names``) that
    the best unit ``top`` names and ``s`` (text and label) does not."""
    for name in acting_names(question):
        want = set(terms(name))
        if want and want <= set(terms(top.text)) and not want <= set(terms(s.text)) | set(terms(s.label)):
            return True
    return False


def _better_described(
    need: QuestionNeed, question: str, context: Context, scored: Sequence[ScoredSentence]
) -> str | None:
    """When the best unit states a value in its own entry, another entry whose description
    matches the question clearly better and which states a value too, else None: "What is the
    default name of the session key?" over session-keyfile's "If not specified, the default is
    /run/session.key." (its words are in the path) is session-keyname's, whose "Specifies the key
    name for the session key." the question paraphrases."""
    top = scored[0]
    own = entry_identifier(top.label) if top.label else None
    if own is None or re.search(rf"(?<![\w.-]){re.escape(own)}(?![\w-])", question, re.IGNORECASE):
        return None  # the question spells the best unit's entry ("... (max-cache-ttl)?")
    described: dict[str, ScoredSentence] = {}
    for s in scored:
        name = entry_identifier(s.label) if s.label else None
        if name is not None and s.kind < 1.0 and name not in described:
            described[name] = s
    if not described:
        return None
    best = max(described, key=lambda n: described[n].similarity)
    # The best unit and its own entry's description are what the other description must beat.
    rival = max(top.similarity, described[own].similarity if own in described else 0.0)
    if (
        best == own
        or described[best].similarity < rival + _BETTER_DESCRIBED
        or described[best].coverage < top.coverage
        or attribute_share(attribute_terms(need, question), described[best].text, described[best].label, need)
        < 0.5
        or not _entry_states_in(need, context, described[best].passage, described[best].label)
    ):
        return None
    return best


# How much closer to the question (cosine) another entry's description must be than both the best
# unit and its own entry's description to take its place.
_BETTER_DESCRIBED = 0.03


def _entry_named_by_word(need: QuestionNeed, question: str, scored: Sequence[ScoredSentence]) -> str | None:
    """The term line of an entry in the context whose name the question spells in plain words
    ("ssl (boolean)" for "ssl"; "syslog_facility (string)" for "syslog facility"), when it names
    no identifier of its own; else None. A word-shaped name is no identifier to the question
    parser, so the entry was not known to be the asked one. Of several, the name of most words:
    "syslog facility" asks for syslog_facility, not for its neighbour syslog."""
    if need.kind != "default" or not scored or any(is_identifier(e) for e in need.named):
        return None
    lowered = question.lower()
    words = set(re.findall(r"[a-z][\w-]*", lowered))
    best: str | None = None
    most = 0
    for s in scored:
        term = s.label.rsplit("\n", 1)[-1].strip() if s.label else ""
        listed = term_value(term)
        # "poptimeout: 10m": a one-word option listed with its value.
        name = [listed[0]] if listed is not None else entry_name(term).split()
        # A term with its type or default in brackets ("ssl (boolean)"), all lower case: a
        # setting's name, not a heading's word.
        if len(name) != 1 or name[0] == term:
            continue
        parts = re.split(r"[_-]", name[0])
        if not all(p.isalpha() and p.islower() for p in parts):
            continue
        # Spelled in words, a name must be what is asked ("What syslog facility ...", "the
        # default syslog facility", "syslog facility by default"), not the subject of another
        # setting's question ("Where does the logging collector write its files by default?").
        spelled_as = r"[\s_-]+".join(map(re.escape, parts))
        spelled = (
            name[0] in words
            if len(parts) == 1
            else re.search(
                rf"\b(?:what|which|default|of|is)\s+(?:the\s+)?{spelled_as}\b|\b{spelled_as}\s+(?:by\s+)?default\b",
                lowered,
            )
            is not None
        )
        if spelled and len(parts) > most:
            best, most = term, len(parts)
    if best is None:
        # A numbered heading that is the setting's name alone ("7.3.1. debug" for "What is the
        # default value of debug?"): the heading line is the entry's term.
        for s in scored:
            heading = entry_identifier(s.label) if s.label else None
            if heading is not None and heading.isalpha() and heading.islower() and heading in words:
                return s.label.rsplit("\n", 1)[-1].strip()
    return best


def _headed_by(term: str, label: str) -> bool:
    """Whether the label's last line, its section number aside, is ``term`` (in any case), or
    names it with its abbreviation: "30.3. Write-Ahead Logging (WAL)" heads both
    "write-ahead logging" and "WAL"."""
    line = " ".join(without_section_number(label.rsplit("\n", 1)[-1]).split())
    if not line:
        return False
    names = {line}
    m = re.fullmatch(r"(?P<name>.+?)\s*\((?P<short>[^()]{1,20})\)", line)
    if m is not None:
        names |= {m.group("name"), m.group("short")}
    want = " ".join(term.split()).casefold()
    return any(n.casefold() == want for n in names)


def _listed_value(s: ScoredSentence, n: int) -> ShortAnswer | None:
    """The value of the option line that opens ``s`` ("autocreate_quota: -1"), else None."""
    line = s.text.split("\n", 1)[0]
    listed = term_value(line)
    if listed is None or not s.label or s.label.rsplit("\n", 1)[-1].strip() != line.strip():
        return None
    at = line.rindex(listed[1])
    return ShortAnswer(text=listed[1], n=n, start=s.start + at, end=s.start + at + len(listed[1]))


def _lists_value(label: str) -> bool:
    """Whether the label's last line is an option listed with its value (entries.term_value)."""
    return term_value(label.rsplit("\n", 1)[-1]) is not None


def _spelled_term(label: str) -> str | None:
    """The label's last line when it is a directive's term named in words (SPELLED_TERM)."""
    line = label.rsplit("\n", 1)[-1].strip()
    return line if SPELLED_TERM.fullmatch(line) is not None else None


def _entries_spelled(need: QuestionNeed, question: str, scored: Sequence[ScoredSentence]) -> tuple[str, ...]:
    """The term lines of the context's entries whose name of two or more words the default
    question spells whole ("Maximum Concurrent Jobs = number" for "What is the default Maximum
    Concurrent Jobs of the File daemon?"), when it names no identifier; else none."""
    if need.kind != "default" or not scored or any(is_identifier(e) for e in need.named):
        return ()
    lowered = " ".join(question.lower().split())
    found: list[str] = []
    for s in scored:
        line = _spelled_term(s.label) if s.label else None
        if line is None or line in found:
            continue
        name = line.split(" = ", 1)[0].lower()
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", lowered):
            found.append(line)
    return tuple(found)


def _referred_entry(
    need: QuestionNeed, context: Context, top: ScoredSentence, scored: Sequence[ScoredSentence]
) -> str | None:
    """The one setting that the best unit, prose outside any entry stating no value, refers the
    reader to ("The Exim daemon can limit the number of simultaneous incoming connections it is
    prepared to handle (see the smtp_accept_max option)."), when that setting's entry is in the
    context and states the asked value; else None."""
    if top.kind >= 1.0 or (top.label and entry_identifier(top.label) is not None):
        return None
    named = {n for n in identifiers(top.text) if setting_like(n)}
    if len(named) != 1:
        return None
    (name,) = named
    for s in scored:
        if s.label and entry_identifier(s.label) == name:
            return name if _entry_states_in(need, context, s.passage, s.label) else None
    return None


def value_entry(
    need: QuestionNeed, context: Context, scored: Sequence[ScoredSentence]
) -> QuestionNeed | None:
    """A number question asked of what a setting governs ("How long does Exim keep messages whose
    spool files are corrupted?"), when the best unit is that setting's description and states no
    number while its entry states a default ("| keep_malformed | ... | Default: 4d |"): the value
    asked is the setting's default, so the question is asked as a default question naming it;
    else None."""
    if need.kind != "number" or not scored or need.codes or scored[0].kind >= 1.0:
        return None
    # A question that names the setting asks what its entry says, not its default.
    if need.named:
        return None
    top = scored[0]
    name = entry_identifier(top.label) if top.label else None
    if name is None:
        return None
    as_default = replace(need, kind="default", named=(*need.named, name))
    return as_default if _entry_states(as_default, context.passages[top.passage], top.label) else None


# How much more of the question a setting's description must cover than the best unit, prose
# outside any entry that states a value ("... ESI includes up to the default limit of
# max_esi_depth"), to name it; as much is enough when the best unit states none ("Send timeout
# ..., defaults to the idle_send_timeout parameter").
_DESCRIBED_MARGIN = 0.25


def _entry_states_in(need: QuestionNeed, context: Context, passage: int, label: str) -> bool:
    """:func:`_entry_states` in any passage of the page that holds ``passage``: an entry cut
    between chunks may state its default in a passage of its own ("Default value: 0" above the
    notes that scored best)."""
    doc = context.passages[passage].doc_id
    return any(_entry_states(need, p, label) for p in context.passages if p.doc_id == doc)


def _entry_states(need: QuestionNeed, p: Passage, label: str) -> bool:
    """Whether the entry under ``label`` in ``p`` states the asked kind of value: in its term
    ("maximal_queue_lifetime (default: 5d)") or in one of its units ("- Default: 5000"), or in a
    short sentence that closes its description ("The default is 10.")."""
    if carries(need, label.rsplit("\n", 1)[-1]) >= 1.0 or (need.kind == "default" and _lists_value(label)):
        return True
    units = answer_units(p.text)
    labels = passage_labels(p, units)
    for u, ((a, b), lab) in enumerate(zip(units, labels, strict=True)):
        shown = strip_markers(p.text[a:b])
        # Only a unit the scoring keeps as a candidate, or the short sentence such a candidate
        # takes in.
        if lab == label and (
            (carries(need, shown) >= 1.0 and (len(terms(shown)) >= MIN_TERMS or _FIELD.match(shown)))
            or _default_closes(need, p.text, units, labels, u)
        ):
            return True
    return False


# A sentence whose default is the one of the setting named before it: "By default it is ...",
# "It defaults to ...", "Its default value is ...".
_POINTS_BACK_DEFAULT = re.compile(
    r"\s*(?:by\s+default,?\s+(?:it|this|its\s+value)\s+(?:is|are)|(?:it|this)\s+defaults\s+to"
    r"|its\s+default(?:\s+value)?\s+is)\b",
    re.IGNORECASE,
)
# A sentence that opens with the default: "Default is 600 (10 minutes).", "The default value is 5".
_OPENS_DEFAULT = re.compile(r"\s*(?:the\s+)?default(?:\s+value)?\s+is\b|\s*defaults?\s*:", re.IGNORECASE)


def _entry_named(word: str, label: str) -> bool:
    """Whether a unit under ``label`` sits in the entry whose term (the label's last line, quotes
    aside) is ``word``, alone or before a comma and its value ("‘warning, 24’")."""
    line = label.rsplit("\n", 1)[-1].strip(" \t‘’'\"`*")
    return line.split(",", 1)[0].strip(" ‘’'\"`*").casefold() == word.casefold()


def _in_looked_up_entry(looked: str | None, label: str, text: str) -> bool:
    """Whether a unit (``label``, ``text``) sits in the entry of the word a lookup question names
    (``looked``): its label's last line or its own first line is that entry's term."""
    return looked is not None and (
        _entry_named(looked, label) or _entry_named(looked, text.split("\n", 1)[0])
    )


def _entry_of_term(term: str, s: _Sentence) -> bool:
    """Whether ``s`` sits in the entry whose term (its label's last line) is ``term``."""
    line = s.label.rsplit("\n", 1)[-1]
    return bool(line) and defines(term, f"{line}\n\n{s.shown}")


def _default_closes(
    need: QuestionNeed, text: str, units: Sequence[tuple[int, int]], labels: Sequence[str], u: int
) -> bool:
    """Whether ``units[u]`` states no value and the next unit, in the same paragraph and entry, is
    a sentence too short to be a candidate that states it ("The default is 10." after
    "Specifies the time interval in seconds to check the streaming replication delay.")."""
    if u + 1 >= len(units) or labels[u + 1] != labels[u]:
        return False
    (a, b), (x, y) = units[u], units[u + 1]
    nxt = strip_markers(text[x:y])
    return (
        "\n\n" not in text[b:x]
        # As a unit's own terms are counted; or, after an entry's term and the one sentence that
        # describes it, a short sentence opening with the default ("TIMEOUT = ival / The number
        # of seconds to wait. Default is 600 (10 minutes).": a value with its unit has terms
        # enough of its own, and the three are the whole entry).
        and (
            len(set(terms(nxt))) < MIN_TERMS
            or (
                _OPENS_DEFAULT.match(nxt) is not None
                and label_words(nxt) <= 8
                and term_of(text[a:b]) is not None
            )
            # "... is declared by the mate.config preference. By default it is an empty string":
            # the pronoun's setting is named in the sentence before.
            or _POINTS_BACK_DEFAULT.match(nxt) is not None
        )
        and _states_value(need, nxt)
        and carries(need, strip_markers(text[a:b])) < 1.0
    )


def _label_line(need: QuestionNeed, label: str) -> str:
    """The line of a label (heading, definition term) that names an asked identifier, else its
    last line; never the term the unit itself opens with."""
    lines = label.split("\n")
    named = [x for x in lines if any(is_identifier(e) and label_names(e, x) for e in need.named)]
    return (named or lines)[-1]


def _entry_evidence(top: ScoredSentence, scored: list[ScoredSentence]) -> ScoredSentence:
    """``top`` with the best similarity and coverage of its entry's units: a field row
    ("Default: | AccessFileName .htaccess") shares few words with the question, the entry's
    description beside it shares them, and the confidence is about the entry."""
    if not top.entry:
        return top
    # A table row's label ends with the table's column names; its entry is the label above them.
    entry = top.label
    if top.text.startswith("|") and "\n" in entry and " | " in entry.rsplit("\n", 1)[-1]:
        entry = entry.rsplit("\n", 1)[0]
    same = [s for s in scored if s.passage == top.passage and s.label in (top.label, entry)]
    return replace(
        top,
        similarity=max(s.similarity for s in same),
        coverage=max(s.coverage for s in same),
    )


def _term_name(s: ScoredSentence, n: int) -> ShortAnswer | None:
    """The entry's name when ``s`` opens with its entry's term line ("memory_cache_enabled
    (boolean)" above its description), else None."""
    head = s.text.partition("\n\n")[0].strip()
    # A term of several lines names one option its ways ("-c" over "--clean"): the label keeps
    # the last, and so does the short answer.
    last = head.rsplit("\n", 1)[-1].strip()
    if not s.label or "\n\n" not in s.text or s.label.rsplit("\n", 1)[-1].strip() != last:
        return None
    name = entry_identifier(last)
    at = s.text.find(name) if name else -1
    if name is None or at < 0:
        return None
    return ShortAnswer(text=name, n=n, start=s.start + at, end=s.start + at + len(name))


def _named_item(question: str, units: Sequence[ScoredSentence]) -> ShortAnswer | None:
    """The name the first of ``units`` gives an entry of the asked kind, before or after the kind's
    word ("Then add the MasqueradeAddress directive ...", "the module mod_copy") for "Which
    directive ...?", when that name is an identifier the question does not itself name; else
    None. ``units`` are the answer's, numbered from 1 in order."""
    item = asked_item(question)
    if item is None:
        return None
    for n, s in enumerate(units, 1):
        text = strip_markers(s.text)
        if text != s.text:
            continue  # offsets would not be the document's
        found = _item_named(question, item, text)
        if found is not None:
            a, name = found
            return ShortAnswer(text=name, n=n, start=s.start + a, end=s.start + a + len(name))
    return None


def _item_named(question: str, item: str, text: str) -> tuple[int, str] | None:
    """Where ``text`` names an entry of the kind ``item`` ("option") by an identifier before or
    after the kind's word ("The -t option directs ...", "the directive DefaultRoot"), that the
    question does not itself name: (offset, name), else None."""
    named = {t.casefold() for t in identifiers(question)}
    for m in _item_pattern(item).finditer(text):
        key = "a" if m.group("a") is not None else "b"
        name = m.group(key).rstrip(".")
        if is_identifier(name) and name.casefold() not in named and not name.isupper():
            return m.start(key), name
    return None


# The kinds of item a configuration reference lists as entries (an entry's label names one).
_SETTING_ITEMS = frozenset({"parameter", "option", "setting", "directive", "variable", "flag"})


class _AskedItem(NamedTuple):
    """What a "Which X command ...?" question asks for, read once per question: the kind of item
    (``asked_item``), the capitalised name before it that says whose ("MySQL" in "Which MySQL
    command ...?", case-folded, else None) and the question's own words (case-folded)."""

    item: str
    whose: str | None
    asked: frozenset[str]

    def names(self, text: str) -> bool:
        """Whether ``text`` names an entry of the asked kind that the question does not ("the
        OPTIMIZE TABLE command", "the command pg_dump")."""
        for m in _item_pattern(self.item).finditer(text):
            name = (m.group("a") if m.group("a") is not None else m.group("b")).strip(".-")
            # A name is shaped as one: an identifier ("dbcheck_tool", "pg_dump"), a word in
            # capitals ("OPTIMIZE TABLE", "VACUUM"), or a word with a digit, dash or dot
            # ("bscan-2"); "the command and parameters such as" names none.
            shaped = (
                is_identifier(name) or (name.isupper() and len(name) > 1) or re.search(r"[a-z][\d.\-_]", name)
            )
            if shaped and any(c.isalpha() for c in name) and name.casefold() not in self.asked:
                return True
        return False

    def anothers(self, text: str) -> bool:
        """Whether ``text`` names an entry of the asked kind without naming whose the question asks
        for ("PostgreSQL has a VACUUM command" for "Which MySQL command ...?")."""
        return self.whose is not None and self.whose not in _folded_words(text) and self.names(text)

    def names_own(self, text: str) -> bool:
        """:meth:`names`, and names whose it is when the question does."""
        return self.names(text) and (self.whose is None or self.whose in _folded_words(text))


def _asked_item(need: QuestionNeed, question: str) -> _AskedItem | None:
    """The :class:`_AskedItem` of a name or procedure question that asks which item, else None."""
    item = asked_item(question) if need.kind in ("procedure", "name") else None
    if item is None:
        return None
    m = re.match(rf"\s*(?:which|what)\s+(?P<w>[\w.\-]+)\s+{item}s?\b", question, re.IGNORECASE)
    whose = m.group("w").casefold() if m is not None and m.group("w")[0].isupper() else None
    return _AskedItem(item, whose, _folded_words(question))


def _folded_words(text: str) -> frozenset[str]:
    return frozenset(t.casefold() for t in re.findall(r"[\w.\-]+", text))


@lru_cache(maxsize=32)
def _item_pattern(item: str) -> re.Pattern[str]:
    word = rf"{item}s?"
    # A name starts where a run of name characters does: each run is read once, not from each of
    # its characters (a 100,000-character token would otherwise be read 100,000 times).
    return re.compile(
        rf"`?(?<![\w.\-])(?P<a>[\w.\-]++)`?\s+{word}\b|\b{word}\s+`?(?P<b>[\w.\-]+)`?", re.IGNORECASE
    )


# A function table's row opens with the function's signature: "| trunc ( numeric ) → numeric ...".
_SIGNATURE = re.compile(r"\|[ \t]*([A-Za-z_][\w.]*)[ \t]*\(")


def _signature_name(s: ScoredSentence, n: int) -> ShortAnswer | None:
    """The function's name when ``s`` is a table row opening with its signature, else None."""
    m = _SIGNATURE.match(s.text)
    if m is None:
        return None
    return ShortAnswer(text=m.group(1), n=n, start=s.start + m.start(1), end=s.start + m.end(1))


def _short_in_label(
    need: QuestionNeed, question: str, p: Passage, s: ScoredSentence, n: int
) -> ShortAnswer | None:
    """The short answer inside the label shown before ``s`` (its heading or term, found above the
    unit in the passage, so the span keeps document offsets), or None."""
    at = p.text.rfind(s.lead, 0, s.start - p.start)
    found = short_span(need, question, s.lead) if at >= 0 else None
    if found is None:
        return None
    a, b = tidy_span(s.lead, *found)
    return ShortAnswer(text=s.lead[a:b], n=n, start=p.start + at + a, end=p.start + at + b)


def _stored_spans(text: str, n: int) -> list[tuple[int, int]] | None:
    """The spans of a chunk's ``n`` stored sentence vectors, or None when they are not one per
    sentence. Sources indexed since a table's rows were sentences of their own split ``text`` by
    :func:`row_spans`, older ones by :func:`sentence_spans`; where the two differ and both count
    ``n``, which one made the vectors is unknown and none is used. "Late" vectors may be fewer
    (truncation) and are pooled differently: not a unit's embedding either way."""
    rows = row_spans(text)
    if rows == (sentences := sentence_spans(text)):
        return rows if len(rows) == n else None
    if len(rows) == n and len(sentences) != n:
        return rows
    if len(sentences) == n and len(rows) != n:
        return sentences
    return None


def _head(title: str) -> str:
    """What goes before a unit the reader reads: its title, as in training ("Title: unit")."""
    return f"{title}: " if title.strip() else ""


def _reread(s: ScoredSentence, head: str, span: Span | None, mix: ReaderMix, prior: float) -> ScoredSentence:
    """``s`` scored by the reader's verdict plus ``prior``, its span moved into ``s.text``."""
    if span is None:
        return replace(s, score=prior, reader_logit=-20.0, reader_margin=-20.0)
    a, b = span.start - len(head), span.end - len(head)
    inside = (a, b) if a >= 0 and b > a else None
    return replace(
        s, score=mix.verdict(span) + prior, span=inside, reader_logit=span.logit, reader_margin=span.margin
    )


# The kinds of question a command answers, quoted with the sentence that introduces it.
_QUOTES_CODE = frozenset({"procedure", "other"})
# A block its unit introduces ("... must be written as one line using the following format:") is
# part of the answer, except to a question for a value: there the block would look like the value
# the sentence does not state ("the default configuration file contains the following stanza:").
_VALUE_KINDS = frozenset({"default", "number", "date"})
# A code block longer than this is a listing to read, not a command to quote with its sentence.
_CODE_QUOTED = 300


# "By setting below in pgpool.conf will avoid failover of backend0." then the setting: a
# sentence that points at what follows it introduces the block as a colon does.
_POINTS_BELOW = re.compile(
    r"\b(?:(?:setting|settings|command|line|lines|example) below|(?:as )?shown below|the following)\b",
    re.IGNORECASE,
)


def _code_after(text: str, units: list[tuple[int, int]], u: int) -> int | None:
    """The end of the short code block right after ``units[u]`` when the unit introduces it
    ("To make the server re-read its configuration files, send it a signal with:"), or when a
    short introduction between them does ("..., using the PRAGMA foreign_keys command. For
    example:" then the block), else None."""
    a, b = units[u]
    unit = text[a:b].rstrip()
    if unit.endswith(":") or _runs_into_block(unit) or _POINTS_BELOW.search(unit):
        nxt = u + 1
    elif u + 2 < len(units) and _introduces(text[units[u + 1][0] : units[u + 1][1]]):
        nxt = u + 2
    else:
        return None
    if nxt >= len(units):
        return None
    x, y = units[nxt]
    block = text[x:y]
    # "## Synopsis" is the next section's heading, not a block the unit introduces.
    return y if is_code(block) and not is_heading(block) and y - x <= _CODE_QUOTED else None


# A unit that ends by announcing the default: "the default is:", "The default values are:", "the
# default log format is used:" (not "the default configuration contains the following stanza:").
_DEFAULT_IS = re.compile(r"\bdefaults?(?:\s+[\w-]+){0,3}\s+(?:is|are)(?:\s+used)?\s*:\s*$", re.IGNORECASE)
# What may follow as the value: a code block of a few lines, or a few short list items.
_VALUE_LINES = 3
_VALUE_ITEMS = 6
_VALUE_ITEM_CHARS = 80


def _default_after(text: str, units: list[tuple[int, int]], u: int) -> int | None:
    """The end of the value that ``units[u]`` announces ("If no -s options are given, the default
    is:" then "-s default,100m" as code, or "The default values are:" then "- .window = 8", ...),
    else None: the unit alone states no value."""
    a, b = units[u]
    if not _DEFAULT_IS.search(text[a:b]) or u + 1 >= len(units):
        return None
    x, y = units[u + 1]
    block = text[x:y]
    if is_code(block):
        return y if len(block.strip().strip("`").strip().splitlines()) <= _VALUE_LINES else None
    end = None
    for x, y in units[u + 1 : u + 1 + _VALUE_ITEMS]:
        item = text[x:y]
        if not item.startswith(("- ", "* ")) or len(item) > _VALUE_ITEM_CHARS or "\n" in item:
            break
        end = y
    return end


# A list item: "- Stop the server.", "* ...", "3. Restore the dump."
_ITEM = re.compile(r"(?:[-*•]|\d{1,2}[.)])[ \t]+\S")
# A procedure's steps quoted with the sentence before them: at most this many, this long.
_STEPS_MAX = 12
_STEPS_CHARS = 1500


def _steps_after(text: str, units: list[tuple[int, int]], u: int) -> int | None:
    """The end of the list of steps right after ``units[u]``, a sentence of prose (two items or
    more, the whole list up to :data:`_STEPS_MAX` items and :data:`_STEPS_CHARS` characters), else
    None: a procedure asked for is its steps, not the first two the answer reads on into."""
    a, b = units[u]
    if _ITEM.match(text, a) or is_heading(text[a:b]):
        return None
    end, count = None, 0
    for x, y in units[u + 1 :]:
        if not _ITEM.match(text, x) or y - a > _STEPS_CHARS or count == _STEPS_MAX:
            break
        end, count = y, count + 1
    return end if count >= 2 else None


def _runs_into_block(unit: str) -> bool:
    """Whether the sentence stops short, its end in the block after it ("A common way of starting
    the daemon at boot is to use a command such as" then the command): no closing punctuation,
    several words, not a heading or a term line."""
    last = unit.rsplit("\n", 1)[-1]
    return last[-1:].isalnum() and len(last.split()) >= _RUNS_INTO_MIN_WORDS and not is_heading(last)


_RUNS_INTO_MIN_WORDS = 6

# "For example:", "As follows:", "Example:": says only that a block comes.
_INTRODUCTION_MAX_WORDS = 3


# "To do so, use the -t argument:" between "The first step is to see how upsdrvctl will behave
# without actually turning off the power." and the command: it says how to do what the sentence
# before it names, so it introduces the block for that sentence however many words it has.
_DOES_WHAT_BEFORE = re.compile(
    r"(?:To (?:do|achieve|accomplish) (?:so|this|that)|For (?:this|that)"
    # "When configuring Bacula, use:" after "To build Bacula with encryption support, you will
    # need the OpenSSL libraries ...": the step's moment, then the block that is the step.
    r"|When \w+ing\b[^:,]{0,60}, (?:use|run|type|enter|add|say))\b",
    re.IGNORECASE,
)
_POINTING_INTRODUCTION_MAX_WORDS = 12


def _introduces(unit: str) -> bool:
    words = len(unit.split())
    return unit.rstrip().endswith(":") and (
        words <= _INTRODUCTION_MAX_WORDS
        or (words <= _POINTING_INTRODUCTION_MAX_WORDS and _DOES_WHAT_BEFORE.match(unit.lstrip()) is not None)
    )


def _shown_inline(text: str) -> str:
    """``text`` on one line, a fenced code block in it as inline code ("with: `pg_ctl reload`")."""
    text = _FENCED.sub(lambda m: "`" + " ".join(m.group(1).split()) + "`", text)
    # A table's "| --- | --- |" line is layout, not words to read; a record's row reads as its
    # name and fields ("smtp_accept_max (Use: main; Type: integer; Default: 20)").
    text = _DELIMITER_LINE.sub("", text)
    text = _ROW_LINE.sub(lambda m: _record_inline(m.group(0)), text)
    return " ".join(text.split())


def _paired_row(label: str, text: str) -> str | None:
    """``text`` whose first line is a table row, that row shown cell by cell under the column
    names on the label's last line ("Error Code: 23505; Condition Name: unique_violation"), or
    None when the first line is no row of that table."""
    row, nl, rest = text.partition("\n")
    read = _row_under_columns(label, row)
    if read is None:
        return None
    if len(read) == 1:
        # A one-column table's row is its cell; the column's name says nothing of this row.
        a, b = read[0][1]
        paired = row[a:b]
    else:
        paired = "; ".join(f"{n}: {row[a:b]}" for n, (a, b) in read if b > a)
    return paired + (f".{nl}{rest}" if nl else "")


def _record_inline(line: str) -> str:
    row = field_row(line)
    return line if row is None else f"{row[0]} ({'; '.join(row[1])})"


_ROW_LINE = re.compile(r"(?m)^[ \t]*\|.*\|[ \t]*$")


_FENCED = re.compile(r"```[\w+\-]*\n(.*?)\n?```", re.DOTALL)
_DELIMITER_LINE = re.compile(rf"(?m)^{_DELIMITER}$")


def _follow_on(
    p: Passage, units: list[tuple[int, int]], u: int, n: int, quote_code: bool = False
) -> tuple[int, int] | None:
    """Document offsets of the (up to) ``n`` units after ``units[u]`` in passage ``p``: the
    sentences that go on where it stops ("X was founded by Y." then "He later ..."; a parameter's
    description, then "The default is ..."). None when the passage ends there or a heading or
    code follows; a heading, code or another entry's term also ends the run early. With
    ``quote_code`` (a command is asked for), a short block that the last sentence read introduces
    ("... is to use a command such as" then the command) ends the run, quoted."""
    end = -1
    row = _ROW_LINE.fullmatch(p.text[slice(*units[u])]) is not None
    for j in range(u + 1, min(len(units), u + 1 + n)):
        a, b = units[j]
        # A definition list's next term opens another setting's entry ("maintenance_work_mem
        # (integer)" after work_mem's "The default value is four megabytes (4MB).").
        if is_heading(p.text[a:b]) or is_code(p.text[a:b]) or term_of(p.text[a:b]) is not None:
            break
        # A table's next row is another record ("| 23514 | check_violation |" after "| 23505 |
        # unique_violation |"); prose after a row (an option's one-row table, its "| --- |" line,
        # then its description) still goes on from it.
        piece = p.text[a:b]
        if row and _ROW_LINE.fullmatch(piece) is not None and not _DELIMITER_LINE.fullmatch(piece):
            break
        end = b
        block = _code_after(p.text, units, j) if quote_code else None
        if block is not None:
            end = block
            break
    return (p.start + units[u + 1][0], p.start + end) if end >= 0 else None


def _unit_text(p: Passage, text: str) -> str:
    """What a unit is embedded as: its passage's header (title, section path) on a line before it,
    as ingest embeds each sentence of a chunk (``chunking.sentence_vectors = "separate"``), so a
    vector the collection stored and one embedded now are the same vector."""
    return f"{p.header}\n{text}" if p.header else text


@dataclass(frozen=True, slots=True)
class ConfidenceModel:
    """``sigmoid(bias + w_similarity * similarity + w_coverage * coverage)`` of the best sentence."""

    # Fitted by logistic regression on 300 answerable + 300 unanswerable SQuAD calibration-split
    # questions (bench/tune_answerer.py; AUC 0.976 there, similarity alone 0.953).
    bias: float = -10.96
    w_similarity: float = 16.79
    w_coverage: float = 7.46

    def __call__(self, similarity: float, cov: float) -> float:
        z = self.bias + self.w_similarity * similarity + self.w_coverage * cov
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True, slots=True)
class ReaderMix:
    """How the reader's verdicts combine with the sentence scores (tuned on the SQuAD calibration
    split and bench/docs_qa's dev split; docs/benchmarks.md, "Extractive reader")."""

    # Units of the best scored ones that the reader reads (its cost grows with each).
    candidates: int = 4
    # The reader's verdict on a unit: this share of its answer head's probability, the rest its
    # span head's (sigmoid of the best span's margin over the no-answer span). On 160 calibration
    # questions the answer head alone ranked best (top unit holds gold 0.769 vs 0.744 at 0.5).
    signal: float = 1.0
    # A unit's rank is the reader's verdict plus this share of its sentence score relative to the
    # best one's (the sentence score knows the question's need and the asked entity).
    score: float = 0.5
    # Confidence = sigmoid(bias + w_logit * answer logit + w_margin * span margin +
    # w_similarity * similarity + w_coverage * coverage) of the chosen unit: logistic regression
    # on 80 answerable + 80 near-miss calibration questions (partial index; AUC 0.983), the bias
    # shifted so that the best-F1 threshold of the answer's confidence (this one averaged with the
    # sentence score's) lands on answer.abstain_threshold's 0.5 (bench/tune_reader_mix.py).
    # Refitted for the round-3 reader (hard negatives from the answerer's own units): its answer
    # head is surer of fewer units, and the previous weights made answerable questions abstain.
    bias: float = -7.612
    w_logit: float = 0.654
    w_margin: float = 0.177
    w_similarity: float = 17.047
    w_coverage: float = 3.756
    # Kinds whose answer is no short span (steps, a comparison, a definition: the sentence is the
    # answer): no Answer.short from the reader.
    no_short: frozenset[str] = frozenset({"procedure", "difference", "definition", "overview"})
    # Kinds whose short answer the typed extraction finds in a documentation entry ("Default: |
    # KeepAliveTimeout 5" -> "5"), forms the reader never saw in SQuAD.
    typed_first: frozenset[str] = frozenset({"default", "code"})
    # For these kinds a unit that states the asked value (question.carries: "The default value for
    # --window is 10") earns this much over one that does not (the entry's opening "pack.window
    # The size of the window used by git-pack-objects(1) ...", which the reader prefers): the
    # reader, trained on SQuAD, never learnt that a default question wants the value.
    kind: float = 0.3
    kind_first: frozenset[str] = frozenset({"default"})
    # Kinds the reader does not re-rank: an overview ("What do we know about X?") is answered by
    # several sentences in the sentence scores' order, not by the one span a factoid reader finds.
    unread: frozenset[str] = frozenset({"overview"})
    # A further unit joins the answer while its rank is this share of the best one's (the
    # sentence-only answer's ``SentenceWeights.relative_cutoff`` is 0.9). The reader trained on
    # the answerer's own top units gives its runners-up low verdicts, so 0.9 kept 1.2 units an
    # answer and lost gold answers a second unit held (SQuAD calibration: gold in the answer
    # text 0.86 -> 0.83 at 0.9, 0.88 at 0.6 with 1.8 units). Not for ``typed_first`` kinds.
    relative_cutoff: float = 0.6
    # The first ``follow`` units read (by sentence score) are read again with the
    # ``follow_units`` units after them ("Title: unit next"): an answer often sits in a sentence
    # that goes on from the one sharing the question's words and shares none itself ("The
    # complexity class P is ... an efficient algorithm." then "This hypothesis is called the
    # Cobham-Edmonds thesis."), which the pre-selection never embeds (SQuAD calibration, 300
    # questions: 21 of 50 misses). Where the reader's span falls after the first unit, the pair
    # takes that unit's place in the ranking, quoted whole; its short answer is the span after
    # only when that span's score (start + end logits) beats the first unit's own best span by
    # ``follow_span`` (more often it was the worse span). docs/benchmarks.md, "Follow-on".
    follow: int = 2
    follow_units: int = 2
    follow_span: float = 2.0

    def verdict_of(self, s: ScoredSentence) -> float:
        """:meth:`verdict` of a unit the reader read (its logit and margin; 0 if it read none)."""
        if s.reader_logit is None or s.reader_margin is None:
            return 0.0
        return self.signal * _sigmoid(s.reader_logit) + (1.0 - self.signal) * _sigmoid(s.reader_margin)

    def verdict(self, span: Span) -> float:
        """How sure the reader is that the unit it read answers the question, in [0, 1]."""
        return self.signal * span.probability + (1.0 - self.signal) * _sigmoid(span.margin)

    def confidence(self, s: ScoredSentence) -> float:
        z = (
            self.bias
            + self.w_logit * max(-20.0, s.reader_logit if s.reader_logit is not None else -20.0)
            + self.w_margin * max(-20.0, s.reader_margin if s.reader_margin is not None else -20.0)
            + self.w_similarity * s.similarity
            + self.w_coverage * s.coverage
        )
        return _sigmoid(z)


def _about_side(side: str, s: ScoredSentence | _Sentence) -> bool:
    """Whether ``s`` is about ``side`` of a comparison: in the entry whose label names it, or with
    it as the unit's subject (a mention in another entry's text is not: "It is safe to set this
    value larger than work_mem." under ``maintenance_work_mem``)."""
    return label_names(side, s.label) or is_subject(side, s.text) or row_entry(s.text) == side


def _each_side(
    sides: tuple[str, ...], chosen: list[ScoredSentence], scored: list[ScoredSentence]
) -> list[ScoredSentence]:
    """``chosen`` with, for each compared side no chosen unit is about, the best scored unit that
    is ("the difference between work_mem and maintenance_work_mem" wants both entries, where the
    sentence scores and the reader pick two units of one)."""
    out = list(chosen)
    for side in sides:
        if any(_about_side(side, s) for s in out):
            continue
        extra = next(
            (s for s in scored if _about_side(side, s) and not any(_overlaps(s, c) for c in out)), None
        )
        if extra is not None:
            out.append(extra)
    return out


def _overlaps(a: ScoredSentence, b: ScoredSentence) -> bool:
    """Whether two units share text: the same passage and intersecting document offsets, or the
    same words on two pages (a manual repeats a setting's description on each command's page;
    each unit is embedded under its own page's title, so the vectors alone differ)."""
    if a.passage == b.passage:
        return a.start < b.end and b.start < a.end
    return " ".join(a.text.split()) == " ".join(b.text.split())


def _logit(s: ScoredSentence) -> float:
    return -20.0 if s.reader_logit is None else s.reader_logit


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


class _Sentence(NamedTuple):
    passage: int
    start: int
    end: int
    text: str
    # The text without the document's own citation markers: what is scored, embedded and answered.
    shown: str
    terms: set[str]
    # Terms of the passage's title and section path.
    header: frozenset[str]
    # Terms of the unit before it in the same passage ("this macro", "it" point back there).
    before: frozenset[str] = frozenset()
    # The entry it belongs to: the nearest heading above it (see generation/entries.py).
    label: str = ""
    # Document offsets of the unit after it in the same passage (None: a heading, code or the
    # passage's end follows): what the reader reads after it (:meth:`ExtractiveAnswerer.reread`).
    after: tuple[int, int] | None = None
    # Its terms less those that name other entries (:func:`_own_terms`): what :func:`_about` counts.
    own: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    """A context sentence and how well it answers the question (offsets into its document)."""

    passage: int
    start: int
    end: int
    text: str
    coverage: float
    similarity: float
    score: float
    # Share of the question's asked entities the unit (or its neighbourhood) mentions.
    entity_share: float = 1.0
    # The reader's answer span in ``text`` (offsets into it) and its logit, when it read the unit.
    span: tuple[int, int] | None = None
    reader_logit: float | None = None
    reader_margin: float | None = None
    # How surely the unit states the asked kind of value in the asked entity's entry, in [0, 1],
    # and whether its subject is the term a definition question asks about (1; 1.5 for the first
    # such unit of its page; see entries.py).
    entry: float = 0.0
    subject: float = 0.0
    # How well it holds the asked kind of answer (question.carries), in [0, 1].
    kind: float = 0.0
    # The entry's label (see entries.py).
    label: str = ""
    # Shown before the unit in the answer when it names what the unit leaves out (the asked
    # identifier, or the value: "(5) SQLITE_BUSY: The SQLITE_BUSY result code indicates ...").
    lead: str = ""
    # Document offsets of the unit after it in its passage, when one follows (see _Sentence).
    after: tuple[int, int] | None = None
    # Whether this is a read unit joined to the unit after it, which holds the reader's span
    # (see ReaderMix.follow).
    follow_on: bool = False
    # Characters at the start of ``text`` that are the sentence before the unit, quoted because the
    # unit opens by pointing back to it ("It is ..."; see _with_antecedent): cited on their own.
    lead_in: int = 0


class ExtractiveAnswerer:
    """Answers with the context's own sentences; see the module docstring."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_sentences: int = 3,
        candidate_sentences: int = 8,
        mmr_lambda: float = 0.7,
        abstain_threshold: float = 0.5,
        confidence: ConfidenceModel | None = None,
        weights: SentenceWeights | None = None,
        reader: Reader | None = None,
        mix: ReaderMix | None = None,
    ) -> None:
        if max_sentences < 1 or candidate_sentences < 1:
            raise ConfigError(
                f"max_sentences ({max_sentences}) and candidate_sentences ({candidate_sentences}) "
                "must be at least 1"
            )
        if not 0.0 <= mmr_lambda <= 1.0 or not 0.0 <= abstain_threshold <= 1.0:
            raise ConfigError(
                f"mmr_lambda ({mmr_lambda}) and abstain_threshold ({abstain_threshold}) must lie in [0, 1]"
            )
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.candidate_sentences = candidate_sentences
        self.mmr_lambda = mmr_lambda
        self.abstain_threshold = abstain_threshold
        self.confidence = confidence or ConfidenceModel()
        self.weights = weights or SentenceWeights()
        # The learned reader re-ranks the best units and finds the short answer; without it the
        # sentence scores decide alone (the model file is optional: a source checkout may lack it).
        self.reader = reader
        self.mix = mix or ReaderMix()
        # Where the collection's stored sentence vectors come from (see :meth:`over`); None: every
        # candidate unit is embedded at query time.
        self.stored: SentenceVectors | None = None

    def over(self, stored: SentenceVectors | None) -> ExtractiveAnswerer:
        """This answerer reading candidate units' vectors from ``stored`` (a collection's stored
        sentence vectors) where a unit is one of its chunk's stored sentences; a shallow copy, so
        answerers shared between collections stay independent.

        Example::

            answerer.over(store.fetch_sentence_vectors).stream(question, context)
        """
        other = copy.copy(self)
        other.stored = stored
        return other

    def unit_vectors(self, context: Context, units: Sequence[_Sentence]) -> Vectors:
        """Each unit's embedding (``header + "\\n" + unit``, unit length): the vector the collection
        stored for it where the unit is one of its chunk's sentences (embedding 8 units cold cost
        ~36 ms of a ~150 ms ``ask`` on the quiet machine), the rest embedded now (through the
        embedder's in-memory cache, keyed by text)."""
        out = np.zeros((len(units), self.embedder.dimension), dtype=np.float32)
        reused = self._stored_rows(context, units)
        for j, v in reused.items():
            out[j] = v
        missing = [j for j in range(len(units)) if j not in reused]
        if missing:
            texts = [_unit_text(context.passages[units[j].passage], units[j].text) for j in missing]
            out[missing] = self.embedder.embed_documents(texts)
        return out

    def _stored_rows(self, context: Context, units: Sequence[_Sentence]) -> dict[int, Vectors]:
        """Stored sentence vectors of ``units`` by index: a unit gets one when its document span is
        exactly a sentence of a chunk that covers it (table rows and a label joined to its
        definition are answer units, not stored sentences, and are embedded now)."""
        if self.stored is None or not units:
            return {}
        covering: dict[int, list[tuple[str, int]]] = {}
        for j, u in enumerate(units):
            for c in context.passages[u.passage].chunks:
                if c.start <= u.start and u.end <= c.end:
                    covering.setdefault(j, []).append((c.chunk_id, c.start))
        ids = list(dict.fromkeys(cid for spans in covering.values() for cid, _ in spans))
        if not ids:
            return {}
        by_span: dict[tuple[int, int], Vectors] = {}
        texts: dict[tuple[int, int], str] = {}
        starts = {cid: start for spans in covering.values() for cid, start in spans}
        for cid, got in zip(ids, self.stored(ids), strict=True):
            if got is None:
                continue
            text, vecs = got
            spans = _stored_spans(text, len(vecs))
            if spans is None:
                continue
            base = starts[cid]
            for (a, b), v in zip(spans, vecs, strict=True):
                by_span[(base + a, base + b)] = v
                texts[(base + a, base + b)] = text[a:b]
        out: dict[int, Vectors] = {}
        for j, u in enumerate(units):
            key = (u.start, u.end)
            if key in by_span and texts[key] == u.text:
                out[j] = by_span[key]
        if out:
            # Stored as float16: back to unit length, as a fresh embedding is.
            rows = l2_normalize(np.asarray(list(out.values()), dtype=np.float32))
            out = dict(zip(out, rows, strict=True))
        return out

    def warm_up(self) -> None:
        """Load the reader's graph now rather than on the first question."""
        if self.reader is not None:
            self.reader.warm_up()

    # -- scoring ---------------------------------------------------------------------------------

    def score(
        self, question: str, context: Context, need: QuestionNeed | None = None
    ) -> tuple[list[ScoredSentence], np.ndarray]:
        """Candidate units, best first, and their embeddings (rows in the same order)."""
        need = need or classify(question)
        q_terms = need.content_terms(set(terms(question)))
        found: list[_Sentence] = []
        idents = asked_identifiers(need, question)
        looked = looked_up_term(question) if need.kind != "definition" else None
        readable = _answering_passages(question, context)
        for i, p in enumerate(context.passages):
            if i not in readable:
                continue
            # A sentence says "it was completed in 1889"; its title says what "it" is.
            header = frozenset(terms(p.header))
            before: frozenset[str] = frozenset()
            units = answer_units(p.text)
            labels = passage_labels(p, units)
            # A chapter page's table of contents ("5.3.6. Raw mode" then "5.4. Backend Settings")
            # reads as a term and its description; it answers nothing.
            listings = listing_spans(p.text)
            for u, ((a, b), label) in enumerate(zip(units, labels, strict=True)):
                text = p.text[a:b]
                # A row the question looks up ("| xor | ^^ | Logical XOR | tr.dst[0:3] == ... |")
                # answers, for all the code in its example cell, however few words it has.
                looked_up = asked_cell(question, label, text) is not None
                if (
                    is_heading(text)
                    or (
                        is_code(text)
                        and not _states_entry_default(need, idents, text, label)
                        and not looked_up
                    )
                    or _column_names_line(p.text, a)
                    or _group_row(text)
                ):
                    # A table's column names are no answer; its rows may be. Nor is code, but a
                    # short field stating the asked entry's default is no code for all its
                    # brackets and colons ("Range: [0,100], default: 3", "Default: '10 minutes'.").
                    continue
                if any(x <= a < y for x, y in listings):
                    continue
                shown = strip_markers(text)
                t = set(terms(shown))
                # The term a lookup names, alone ("‘qpal’"), and the value under it ("352x288"):
                # one unit, however few words the two have.
                pair = (
                    looked is not None
                    and u + 1 < len(units)
                    and _entry_named(looked, shown)
                    and "\n" not in shown.strip()
                    and not is_heading(p.text[units[u + 1][0] : units[u + 1][1]])
                )
                # A field of the asked entry ("- Default: 5000" under "thread_pool_max") is short
                # and is the answer; so is a row's cell under a "Default" column.
                enough = (
                    len(t) >= MIN_TERMS
                    or looked_up
                    or _in_looked_up_entry(looked, label, "")
                    or pair
                    or _field_of(need, idents, shown, label)
                    or (need.kind == "default" and column_cell(label, shown, "default") is not None)
                    or (
                        _states_entry_default(need, idents, shown, label)
                        # Not when the unit before already reads on into it (_default_closes).
                        and not (found and found[-1].passage == i and found[-1].end > p.start + a)
                    )
                )
                after = end = None
                # "The default values are:" is short, and with the list after it the answer.
                announced = _default_after(p.text, units, u)
                if enough or announced is not None:
                    enough = True
                    after = _follow_on(p, units, u, self.mix.follow_units, need.kind in _QUOTES_CODE)
                    # Not for a value: a value's sentence that introduces a block ("the default
                    # configuration file contains the following stanza:") states no value, and
                    # the block would make it look as if it did (_VALUE_KINDS).
                    end = _code_after(p.text, units, u) if need.kind not in _VALUE_KINDS else None
                    if end is None:
                        end = announced
                    if end is None and pair:
                        end = units[u + 1][1]
                    if end is None and need.kind == "procedure":
                        # "The following steps upgrade a cluster ..." then the steps: the
                        # procedure is the list, quoted whole with the sentence that opens it.
                        end = _steps_after(p.text, units, u)
                    if (
                        end is None
                        and need.kind == "default"
                        and _default_closes(need, p.text, units, labels, u)
                    ):
                        # "Specifies the interval to check the delay. The default is 10.": the
                        # description and the short sentence closing it are one answer.
                        end = units[u + 1][1]
                    if end is not None:
                        # "... send it a signal with:" is no answer without the command under it.
                        text, shown, after = p.text[a:end], strip_markers(p.text[a:end]), None
                        t |= set(terms(shown))
                own = frozenset(_own_terms(shown, t))
                if enough:
                    found.append(
                        _Sentence(
                            i,
                            p.start + a,
                            p.start + (end or b),
                            text,
                            shown,
                            t,
                            header,
                            before,
                            label,
                            after,
                            own,
                        )
                    )
                before = own
        if not found:
            return [], np.zeros((0, 0), dtype=np.float32)
        weights = idf([f.terms | f.header for f in found])
        default = math.log(1.0 + len(found))  # a question term no sentence has: rarest of all
        w = self.weights
        # A unit inside the entry of an asked identifier (its label names it: "The default is Off
        # in order to ..." under "HostnameLookups Directive") holds the label's terms as its own.
        covs = [
            coverage(
                q_terms,
                f.terms | _label_terms(f, idents),
                weights,
                default,
                f.header,
                w.title_coverage,
            )
            for f in found
        ]
        priors = [1.0 / (1.0 + math.log(context.passages[f.passage].rank)) for f in found]
        kinds = [_carries(need, f) for f in found]
        # "Which cipher does Bacula use ...?": the product most passages document says whose
        # cipher, not which sentence states it ("The implementation uses 128bit AES-CBC.").
        documented = _documented_product(need, question, context)
        about_need = replace(need, entities=tuple(e for e in need.entities if e not in documented))
        abouts = [_about(about_need, f) for f in found]
        entries = [_entry(need, question, f, k) for f, k in zip(found, kinds, strict=True)]
        term = defined_term(need, question)
        subjects = [
            float(
                (term is not None and is_subject(term, f.shown))
                # The entry a value is looked up by ("‘warning, 24’" for "Which numeric log level
                # corresponds to warning?", "‘qpal’" over "352x288").
                or _in_looked_up_entry(looked, f.label, f.shown)
                or answers_as_field(question, f.shown, f.label)
                # The entry whose term is the asked one ("TCP Previous segment not captured" over
                # "Set when the current sequence number is greater than ..."): its text says
                # what the term means, though no sentence of it names the term.
                or (term is not None and _entry_of_term(term, f))
                # The table row whose first cell is the asked term ("| TRIM | UPS is trimming
                # incoming voltage |" for "What does the status flag TRIM mean?").
                or (term is not None and f.shown.startswith("|") and defines(term, f.shown))
            )
            for f in found
        ]
        # A page defines its subject before it details it ("2. Description: The VACUUM command
        # rebuilds ..." before "3. How VACUUM works"): the first such unit of each document
        # counts half as much again.
        first: dict[str, int] = {}
        for i, f in enumerate(found):
            doc = context.passages[f.passage].doc_id
            if subjects[i] and (doc not in first or f.start < found[first[doc]].start):
                first[doc] = i
        for i in first.values():
            subjects[i] = 1.5
        # "Which MySQL command can compact the catalog?": the unit that names a command ("MySQL
        # has the OPTIMIZE TABLE command that you can use.") answers; its neighbours share more
        # of the question's words and name none.
        asked = _asked_item(need, question)
        # A unit inside a setting's entry names it by its label ("memory_cache_enabled (boolean)"
        # over "Setting to on enables the memory cache."), as much as a sentence that names one.
        items = [
            float(
                asked is not None
                and (
                    asked.names_own(f.shown)
                    or (asked.item in _SETTING_ITEMS and bool(f.label and entry_identifier(f.label)))
                )
            )
            for f in found
        ]
        bonus = [
            w.entry * e + w.subject * sub + w.answer_type * it
            for e, sub, it in zip(entries, subjects, items, strict=True)
        ]
        # What the question needs counts before embedding too: the unit stating the default may
        # share fewer words with the question than its neighbours do.
        pre = [
            c + 0.25 * r + w.answer_type * k + w.entity * e + x
            for c, r, k, e, x in zip(covs, priors, kinds, abouts, bonus, strict=True)
        ]
        # Embedding every sentence costs more than the rest of ask; lexical coverage and the
        # passage rank pick the candidates worth embedding, and an entry that states the asked
        # value (or a definition's subject) always gets a say, whichever passage holds it.
        must = [i for i in sorted(range(len(found)), key=lambda i: -pre[i]) if bonus[i] > 0]
        if need.kind == "default":
            # A parameter's table row ("| word | udp | no |" under "Protocol") shares no word with
            # the question, its heading does: it gets a say when the heading names what is asked.
            must += [
                i
                for i, f in enumerate(found)
                if i not in must
                and column_cell(f.label, f.shown, "default") is not None
                and (set(terms(f.label.rsplit("\n", 1)[0])) | name_words(f.label)) & q_terms
            ][: self.candidate_sentences // 4]
        if need.kind == "difference":
            # Each compared side's best unit gets a say (stream() makes sure the answer has one).
            for side in compared(question):
                about = [i for i in range(len(found)) if _about_side(side, found[i])]
                if about:
                    best_side = max(about, key=lambda i: pre[i])
                    if best_side not in must:
                        must.insert(0, best_side)
        keep = self._candidates(found, pre, must[: self.candidate_sentences // 2])
        # Long sentences are embedded by their opening: the model's cost grows with length and the
        # model keeps the first embedding.max_tokens. Each unit is embedded as ingest embeds a
        # sentence (header, then the sentence), so the stored sentence vectors serve most units.
        vecs = self.unit_vectors(context, [found[i] for i in keep])
        sims = vecs @ self.embedder.embed_query(question)
        scored = [
            ScoredSentence(
                passage=found[i].passage,
                start=found[i].start,
                end=found[i].end,
                text=found[i].text,
                coverage=covs[i],
                similarity=float(s),
                score=w.similarity * float(s)
                + w.coverage * covs[i]
                + w.rank * priors[i]
                + w.answer_type * kinds[i]
                + w.entity * abouts[i]
                + bonus[i],
                entity_share=abouts[i],
                entry=entries[i],
                subject=subjects[i],
                kind=kinds[i],
                label=found[i].label,
                lead=_lead(need, found[i], question),
                after=found[i].after,
            )
            for i, s in zip(keep, sims, strict=True)
        ]
        order = sorted(range(len(scored)), key=lambda j: -scored[j].score)
        return [scored[j] for j in order], vecs[order]

    def _candidates(self, found: list[_Sentence], pre: list[float], must: list[int]) -> list[int]:
        """Indexes of the sentences worth embedding: ``must`` first, then each passage's best by
        coverage, best passages first (so a passage whose wording differs from the question still
        gets a say), then the best of the rest."""
        by_passage: dict[int, list[int]] = {}
        for i in sorted(range(len(found)), key=lambda i: -pre[i]):
            if i not in must:
                by_passage.setdefault(found[i].passage, []).append(i)
        keep: list[int] = []
        for rows in by_passage.values():
            keep.extend(rows[:PER_PASSAGE])
        keep.sort(key=lambda i: found[i].passage)
        keep = must + keep[: self.candidate_sentences - len(must)]
        chosen = set(keep)
        rest = [i for rows in by_passage.values() for i in rows if i not in chosen]
        rest.sort(key=lambda i: -pre[i])
        return keep + rest[: self.candidate_sentences - len(keep)]

    def reread(
        self,
        question: str,
        context: Context,
        scored: list[ScoredSentence],
        vecs: np.ndarray,
        need: QuestionNeed | None = None,
    ) -> tuple[list[ScoredSentence], np.ndarray, float]:
        """The best units re-ranked by the reader, with its spans, and the answer's confidence."""
        assert self.reader is not None
        need = need or classify(question)
        k = min(self.mix.candidates, len(scored))
        if need.kind in self.weights.entry_kinds and not any(
            s.entry >= 1.0 and s.kind >= 1.0 for s in scored[:k]
        ):
            # The asked entry's own value ("If not specified, the default is local-ddns." under
            # session-keyname) shares few words with the question, so its neighbours' sentences
            # outrank it; the reader weighs the entry only among what it reads.
            late = next(
                (j for j in range(k, len(scored)) if scored[j].entry >= 1.0 and scored[j].kind >= 1.0), None
            )
            if late is not None:
                order = [*range(k - 1), late, *(j for j in range(k - 1, len(scored)) if j != late)]
                scored = [scored[j] for j in order]
                vecs = vecs[order]
        heads = [_head(context.passages[s.passage].title) for s in scored[:k]]
        picked = self._follow_picks(context, scored[:k])
        # The pairs do not depend on the single reads, so every window is read in one call (the
        # reader runs them side by side); each is read alone, so nothing read beside it matters.
        texts = [h + s.text for h, s in zip(heads, scored[:k], strict=True)]
        spans = self.reader.read(question, texts + [heads[j] + text for j, text in picked])
        spans, pair_spans = spans[:k], spans[k:]
        best = scored[0].score or 1.0
        # For a value stated in an entry ("Default: | X 5"), the entry outranks prose the reader
        # prefers (the reader was trained on Wikipedia sentences, never on field rows); so does
        # a definition whose subject is the asked term, and (by the half that _entry gives them)
        # a number or date stated under the asked identifier's own label ("The SQLITE_ROW result
        # code ..." under "(100) SQLITE_ROW" against "... result codes: SQLITE_OK, SQLITE_ROW").
        # Not a reason: "Because AUTOINCREMENT changes ..." under "AUTOINCREMENT" is prose the
        # reader judges better (docs dev s23).
        priors: list[float] = []
        read: list[ScoredSentence] = []
        # The reader, trained on prose, cannot read a table row: a row that states the asked
        # default in a "Default" column gets the best verdict the reader gave any unit.
        rows = {
            j
            for j, s in enumerate(scored[:k])
            if need.kind == "default" and column_cell(s.label, s.text, "default") is not None
        }
        best_verdict = max((self.mix.verdict(sp) for sp in spans if sp is not None), default=0.0)
        for j, (s, h, span) in enumerate(zip(scored[:k], heads, spans, strict=True)):
            looked_up = asked_cell(question, s.label, s.text) is not None
            pinned = (
                s.entry if need.kind in self.weights.entry_kinds or need.kind in _PINNED or looked_up else 0.0
            )
            stated = self.mix.kind * s.kind if need.kind in self.mix.kind_first else 0.0
            priors.append(self.mix.score * s.score / best + pinned + s.subject + stated)
            read.append(_reread(s, h, span, self.mix, priors[-1]))
            if j in rows:
                read[-1] = replace(read[-1], score=best_verdict + priors[-1])
        for j, pair in self._follow_ons(scored[:k], heads, spans, picked, pair_spans):
            # The pair takes its first unit's place: the reader, reading on, put the answer
            # after it. Its rank is the better of the two reads (the pair's own verdict is often
            # a shade below a first unit that shares the question's words); its vector and
            # evidence (similarity, coverage) are the first unit's.
            one = read[j]
            prior = priors[j]
            if need.kind in self.mix.kind_first:
                # The value may sit in the unit read on ("pack.window The size of the window
                # ... Defaults to 10."): the pair states what its first unit alone did not.
                kind = carries(need, strip_markers(pair.text))
                prior += self.mix.kind * (kind - one.kind)
                pair = replace(pair, kind=kind)
            read[j] = replace(
                pair,
                score=max(self.mix.verdict_of(pair), self.mix.verdict_of(one)) + prior,
                reader_logit=max(_logit(pair), _logit(one)),
            )
        # The reader reads "PostgreSQL has a VACUUM command that will compact your database" as
        # the answer to "Which MySQL command can compact ...?": another program's command goes
        # after every unit that is not one.
        asked = _asked_item(need, question)
        others = [asked is not None and asked.anothers(s.text) for s in read]
        if not all(others):
            read = [replace(s, score=-1.0) if other else s for s, other in zip(read, others, strict=True)]
        order = sorted(range(k), key=lambda j: (others[j], -read[j].score))
        rest = [replace(s, score=-1.0) for s in scored[k:]]
        top = read[order[0]]
        confidence = self.mix.confidence(_entry_evidence(top, scored))
        return [read[j] for j in order] + rest, np.concatenate([vecs[:k][order], vecs[k:]]), confidence

    def _follow_picks(self, context: Context, units: list[ScoredSentence]) -> list[tuple[int, str]]:
        """The first ``mix.follow`` units to read again with the unit after them (one not read
        on its own): (index of the unit, the pair's text)."""
        read_at = {s.start for s in units}
        picked: list[tuple[int, str]] = []
        for j, s in enumerate(units[: self.mix.follow]):
            if s.after is not None and s.after[0] not in read_at:
                p = context.passages[s.passage]
                picked.append((j, p.text[s.start - p.start : s.after[1] - p.start]))
        return picked

    def _follow_ons(
        self,
        units: list[ScoredSentence],
        heads: list[str],
        singles: Sequence[Span | None],
        picked: list[tuple[int, str]],
        spans: Sequence[Span | None],
    ) -> list[tuple[int, ScoredSentence]]:
        """The pairs of :meth:`_follow_picks` whose reader span falls after their first unit:
        (index of that unit, the pair as one unit, its rank still to be set)."""
        out: list[tuple[int, ScoredSentence]] = []
        for (j, text), span in zip(picked, spans, strict=True):
            s, one = units[j], singles[j]
            assert s.after is not None
            # A span in the first unit is that unit's own answer, which its single read ranks.
            if span is None or span.start - len(heads[j]) < s.after[0] - s.start:
                continue
            pair = replace(s, end=s.start + len(text), text=text, after=None, follow_on=True)
            if one is not None and span.span_score < one.span_score + self.mix.follow_span:
                # The short answer stays the first unit's unless the span after it scores
                # clearly higher (SQuAD calibration: the span after it was worse more often).
                span = replace(one, logit=span.logit, probability=span.probability)
            out.append((j, _reread(pair, heads[j], span, self.mix, 0.0)))
        return out

    def select(
        self, scored: list[ScoredSentence], vecs: np.ndarray, cutoff: float | None = None
    ) -> list[ScoredSentence]:
        """Up to ``max_sentences`` relevant, mutually non-redundant sentences (MMR), each scoring
        at least ``cutoff`` (default ``weights.relative_cutoff``) of the best."""
        if not scored:
            return []
        cutoff = self.weights.relative_cutoff if cutoff is None else cutoff
        chosen = [0]
        best = scored[0].score
        while len(chosen) < self.max_sentences:
            pick, pick_value = -1, -math.inf
            for j in range(1, len(scored)):
                if j in chosen or scored[j].score < cutoff * best:
                    continue
                if any(_overlaps(scored[c], scored[j]) for c in chosen):
                    # A unit read on with the units after it (ReaderMix.follow) keeps its own
                    # vector, so the units it now quotes would be chosen again beside it.
                    continue
                redundancy = float(np.max(vecs[chosen] @ vecs[j]))
                if redundancy >= NEAR_DUPLICATE:
                    continue
                value = self.mmr_lambda * scored[j].score - (1.0 - self.mmr_lambda) * redundancy
                if value > pick_value:
                    pick, pick_value = j, value
            if pick < 0:
                break
            chosen.append(pick)
        return [scored[j] for j in chosen]

    # -- answering -------------------------------------------------------------------------------

    def stream(self, question: str, context: Context) -> Iterator[StreamEvent]:
        need = classify(question)
        scored, vecs = self.score(question, context, need)
        term = _entry_named_by_word(need, question, scored)
        if term is not None:
            # "What is the default of ssl?": a one-word setting name reads as a plain word, and
            # the best units were its neighbours' ("ssl_prefer_server_ciphers ... The default
            # value is false."); the context's entry of that name is what is asked about.
            need = replace(need, terms=(term,))
            scored, vecs = self.score(question, context, need)
        spelled = _entries_spelled(need, question, scored) if term is None else ()
        if spelled:
            # "What is the default Maximum Concurrent Jobs of the File daemon?": a directive named
            # in words is no identifier to the question's parser, so its entries' "The default is
            # set to 2." held none of its words; the entries of that name (one per resource or
            # daemon) are what is asked about, and the rest of the question picks among them.
            need = replace(need, terms=(*need.terms, *spelled))
            scored, vecs = self.score(question, context, need)
        described = (
            _described_entry(need, question, context, scored) if term is None and not spelled else None
        )
        if described is not None:
            # The question paraphrases one setting's description ("How long does Varnish wait
            # for the first byte from a backend by default?" for first_byte_timeout's "Default
            # timeout for receiving first byte from backend"): asked as if it named the setting,
            # the entry's own "Default: 60.000" outranks the description that states no value.
            need = replace(need, named=(*need.named, described))
            if not is_identifier(described):
                # A name shaped like a word ("listen-address", "buffer-limit") is no identifier
                # to the question's parser; found as an entry's heading, it pins that entry.
                need = replace(need, terms=(*need.terms, described))
            scored, vecs = self.score(question, context, need)
        as_default = value_entry(need, context, scored)
        if as_default is not None:
            need = as_default
            scored, vecs = self.score(question, context, need)
        row = _default_row(need, scored)
        if row is not None:
            # The best unit describes a parameter whose table row (under the same heading) gives
            # its default in a "Default" column ("Type of protocol to use for forwarding." under
            # "Protocol", above "| word | udp | no |"): the row answers.
            scored, vecs = _promote(scored, vecs, row)
        confidence = 0.0
        cutoff = self.weights.relative_cutoff
        # The sentence scores' best unit, before the reader re-ranks: either one's page naming the
        # asked entities shows the collection knows them.
        first = scored[0] if scored else None
        if scored:
            top = _entry_evidence(scored[0], scored)
            confidence = self.confidence(top.similarity, top.coverage)
        if scored and self.reader is not None and need.kind not in self.mix.unread:
            # Not for a value stated in an entry: the runner-up there is the neighbouring
            # setting's "Default:" row, another setting's value.
            if need.kind not in self.mix.typed_first:
                cutoff = self.mix.relative_cutoff
            scored, vecs, read_confidence = self.reread(question, context, scored, vecs, need)
            # Both calibrated on SQuAD near misses; the reader's alone was sure (0.86) of httpd's
            # graceful restart for "How do I restart Tomcat gracefully?", the sentence score was
            # not (0.03): the mean needs both to agree (bench/docs_qa dev, docs/benchmarks.md).
            # Not when the answer is a definition whose subject is the asked term: the reader's
            # verdict is about a factoid span, and the round-3 reader doubts a glossary entry
            # ("Spool: A directory where ...": 0.35 against the sentence score's 0.53).
            if not scored[0].subject:
                confidence = 0.5 * (confidence + read_confidence)
        term = defined_term(need, question)
        if scored and (
            (term is not None and defines(term, scored[0].text))
            # The first paragraph under a section headed by the asked term ("Single Instance
            # Store" over "... the server attempts to store as few copies of a message as
            # possible."): a concepts page's entry for it.
            or (term is not None and scored[0].subject >= 1.5 and _headed_by(term, scored[0].label))
            # The record field of the named entry that says what is asked ("Effect if unset:"
            # under temporary-directory for "What happens when temporary-directory is not set?").
            or answers_as_field(question, scored[0].text, scored[0].label)
            # The entry a lookup names by its one word ("‘warning, 24’ / Show all warnings ...").
            or (
                need.kind != "definition"
                and _in_looked_up_entry(looked_up_term(question), scored[0].label, scored[0].text)
            )
        ):
            # The document's own glossary entry for the asked term: the sentence score, fitted on
            # SQuAD prose, has no feature for it and sat at the threshold ("What is a spool?"
            # over "Spool\n\nA directory where ...": 0.53 with the fp32 embedder, 0.41 with int8).
            # A question scoped to another product still abstains below.
            confidence = max(confidence, self.weights.glossary_confidence)
        if scored and (need.codes or need.kind == "default") and scored[0].entry >= 1.0:
            # The table row that lists the asked code ("| 23502 | not_null_violation |" for "What
            # does SQLSTATE 23502 mean?") shares one word with the question and sits near the
            # threshold by the sentence score; the code itself is the evidence. So is the asked
            # setting's own default ("| integer | 64 | no |" under "BatchLimit" for "the default
            # batch limit"): a product the question names is still checked below.
            confidence = max(confidence, self.weights.glossary_confidence)
        if scored and asked_cell(question, scored[0].label, scored[0].text) is not None:
            # A table looked up by a cell the question names, for the column it names: the cell
            # is the evidence, however few words the row shares with the question.
            confidence = max(confidence, self.weights.glossary_confidence)
        scoped = scoped_products(question)
        if need.kind in self.weights.entry_kinds:
            # "Which port does Redis listen on by default?": a setting's value is asked of the
            # capitalised name; answering with another product's port is the failure to avoid.
            # (Only for these kinds: in prose questions a capitalised word is often worded
            # differently by the page, and requiring it made SQuAD abstain.)
            scoped += tuple(e for e in need.entities if e not in need.named and e not in scoped)
            scoped += tuple(e for e in possessive_names(question) if e not in need.named and e not in scoped)
        if (
            scored
            and (need.named or scoped)
            and self.named_share(need, question, context, (_evidence_unit(need, scored), first), scoped)
            < self.weights.min_entity_share
        ):
            # The question is about something no chosen passage mentions: sharing "default port"
            # with the collection is not knowing Redis's default port, nor is httpd's graceful
            # restart "the Tomcat server"'s, whatever kind of question asks it.
            confidence = min(confidence, self.abstain_threshold / 2)
        if scored and need.kind == "default" and _section_owner_left_out(context, scored[0], scoped):
            # "What is the default port of an Icecast server?" over FFmpeg's protocols: the
            # Icecast section is in the context, the default chosen ("port ... by default is
            # 1935") is rtmp's, the section beside it.
            confidence = min(confidence, self.abstain_threshold / 2)
        if scored and _unknown_name(question, context):
            # "How do I restore files from a Time Machine backup on macOS?": a name of two words
            # or more that no passage spells is something else than what the passages document,
            # whatever words ("restore files", "MacOS") they share with the question.
            confidence = min(confidence, self.abstain_threshold / 2)
        if scored and _unknown_owner(question, context):
            # "Which option sets vsftpd's maximum anonymous transfer rate?": whatever is asked,
            # a program named in the possessive that no passage of the context names is another
            # program than the one this collection documents (ProFTPD's TransferRate).
            confidence = min(confidence, self.abstain_threshold / 2)
        if (
            scored
            and (_asked_names(need, context) or need.codes)
            and need.kind in self.weights.entry_kinds
            and not any(s.entry for s in scored)
        ):
            # A value asked of a named thing ("the default port of Redis") that no entry of the
            # context states: the collection mentions Redis and states defaults, not this one;
            # nor does a code table that does not list the asked code ("error code 99999").
            confidence = min(confidence, self.abstain_threshold / 2)
        if confidence < self.abstain_threshold:
            yield Token(ABSTAIN_TEXT)
            yield Final(self._answer(question, ABSTAIN_TEXT, [], True, confidence))
            return
        citations: list[Citation] = []
        pieces: list[str] = []
        short: ShortAnswer | None = None
        chosen = self.select(scored, vecs, cutoff)
        if need.kind == "difference":
            chosen = _each_side(compared(question), chosen, scored)
        quote_code = need.kind in _QUOTES_CODE
        chosen = _without_repeats(
            [
                _with_antecedent(context.passages[s.passage], s, quote_code, need.kind == "reason")
                for s in chosen
            ]
        )
        # "Which directive ...?": the directive a chosen sentence names ("Then add the
        # MasqueradeAddress directive ..."), before the reader's span or a heading's words.
        named_item = _named_item(question, chosen)
        for n, s in enumerate(chosen, 1):
            p = context.passages[s.passage]
            span = p.chunk_at(s.start)
            citations.append(
                Citation(
                    n=n,
                    chunk_id=span.chunk_id,
                    doc_id=p.doc_id,
                    source=p.source,
                    title=p.title,
                    section_path=p.section_path,
                    page=span.page,
                    start=s.start,
                    end=s.end,
                    quote=s.text,
                )
            )
            cell = asked_cell(question, s.label, s.text) or described_row(question, s.text)
            if cell is not None and cell[1] <= cell[0]:
                cell = None  # the asked column is empty in this row: no short answer from it
            if cell is None and need.kind == "default":
                cell = column_cell(s.label, s.text, "default")
            if short is None and cell is not None:
                # The row's cell under the column the question names, or under "Default".
                a, b = cell
                short = ShortAnswer(text=s.text[a:b], n=n, start=s.start + a, end=s.start + b)
            if short is None and need.kind == "default":
                # "autocreate_quota: -1" opening the unit: the listed value.
                short = _listed_value(s, n)
            if short is None and named_item is not None and named_item.n == n:
                short = named_item
            if short is None and s.lead and named_item is None:
                # The value is in the entry's label ("(5) SQLITE_BUSY"), not in the sentence.
                short = _short_in_label(need, question, p, s, n)
            # (Whatever the kind: "Which option makes pg_dump drop objects ...?" reads as a
            # procedure, and its answer is still the option's name.)
            if short is None and asks_for_item(question):
                # "Which parameter turns on the cache?" over "memory_cache_enabled (boolean)\n\n
                # Setting to on enables the memory cache.": the entry's name is the answer.
                short = _term_name(s, n) or _signature_name(s, n)
            if short is None and named_item is None:
                # (A unit further on that names the asked item answers instead of a span here.)
                short = self._span_short(need, question, s, n)
            # The quote keeps the document's exact text (it matches start/end); the answer drops the
            # document's own [n] markers so that every marker in it is one of these citations.
            lead = f"{s.lead}: " if s.lead else ""
            # The sentence quoted before a unit that points back to it carries the citation too:
            # every sentence of the answer names what supports it.
            before = f"{_shown_inline(strip_markers(s.text[: s.lead_in]))} [{n}] " if s.lead_in else ""
            body = strip_markers(s.text[s.lead_in :])
            piece = f"{lead}{before}{_shown_inline(_paired_row(s.label, body) or body)} [{n}]"
            yield Token(piece if n == 1 else " " + piece)
            pieces.append(piece)
        answer = self._answer(question, " ".join(pieces), citations, False, confidence)
        yield Final(replace(answer, short=short) if short is not None else answer)

    def _span_short(self, need: QuestionNeed, question: str, s: ScoredSentence, n: int) -> ShortAnswer | None:
        """The reader's span in ``s`` as the short answer, or the typed span (``short_span``) for
        the kinds the typed rules answer first."""
        if self.reader is not None and need.kind not in self.mix.typed_first:
            if s.span is None or need.kind in self.mix.no_short:
                return None
            a, b = tidy_span(s.text, *s.span)
            # A span across a block break joins a definition list's term to its text
            # ("integer)\n\nSets the amount of memory"): no phrase of the page.
            if "\n\n" in s.text[a:b]:
                return None
            return ShortAnswer(text=s.text[a:b], n=n, start=s.start + a, end=s.start + b)
        found = short_span(need, question, s.text)
        if found is None:
            return None
        a, b = tidy_span(s.text, *found)
        return ShortAnswer(text=s.text[a:b], n=n, start=s.start + a, end=s.start + b)

    @classmethod
    def named_share(
        cls,
        need: QuestionNeed,
        question: str,
        context: Context,
        units: Sequence[ScoredSentence | None],
        scoped: tuple[str, ...],
    ) -> float:
        """The best :meth:`_entity_share` of ``units``' pages: the unit the reader ranked first
        and the sentence scores' best may sit on different pages, and either page naming the
        asked entities shows the collection knows them ("Both RCS and GLOBAL_RCS are set by
        default." under the reader's pick from a module page that names only RCS)."""
        return max(
            (cls._entity_share(need, question, context, u, scoped) for u in units if u is not None),
            default=0.0,
        )

    @staticmethod
    def _entity_share(
        need: QuestionNeed, question: str, context: Context, best: ScoredSentence, scoped: tuple[str, ...]
    ) -> float:
        """Share of the named entities (identifiers, products) that the best unit's page (the text,
        title and section path of its passages in the context) mentions (not the whole context:
        it named "Microsoft" somewhere for an SQL Server question). A product the question is
        scoped to ("... in PostgreSQL?", "the Tomcat server") may instead be named by most (and at
        least two) of the context's pages, and any name by the title of one of them: a manual's
        page on one setting need not repeat the product's name."""
        by_doc: dict[str, set[str]] = {}
        for p in context.passages:
            by_doc.setdefault(p.doc_id, set()).update(terms(p.text), terms(p.header))
            # A command-line flag is named with its dashes ("-y" is not the y of "x and y").
            by_doc[p.doc_id].update(_flags(p.text))
        # Any passage of the best unit's page: its other sections name the product it documents
        # ("httpd" on the page whose "Graceful Restart" section answers).
        page = by_doc[context.passages[best.passage].doc_id]
        products = {product_scope(need, question), *scoped}
        asked = need.named + tuple(e for e in scoped if e not in need.named)
        # The owner of a possessive ("apcupsd's network information server") must be named by
        # the answering passage itself: NUT's overview page names the apcupsd bridge driver two
        # sections below its own default port, which is not apcupsd's.
        owners = set(possessive_names(question)) & set(scoped)
        passage = context.passages[best.passage]
        own = set(terms(passage.text)) | set(terms(passage.header)) | _flags(passage.text)
        hits = 0
        for e in asked:
            want = {e.casefold()} if _FLAG.fullmatch(e) else set(terms(e))
            if e in owners:
                hits += want <= own
                continue
            naming = sum(want <= d for d in by_doc.values())
            if e in products and want <= page and not want <= own and not _documents(want, context):
                # A product the page names somewhere, but neither the answering passage nor half
                # the context's passages: PostGIS's one-page manual names MapServer once, and
                # ST_AsMVT's "Defaults to 256" is no MapServer tile size.
                continue
            # A name in the title of a page of the context ("FFmpeg FAQ") is what the collection
            # documents: its developer guide's "3.4 Naming conventions" need not repeat it.
            titled = any(want <= set(terms(p.title)) for p in context.passages)
            if want <= page or titled or (e in products and naming >= 2 and 2 * naming > len(by_doc)):
                hits += 1
        return hits / len(asked)

    @staticmethod
    def _answer(
        question: str, text: str, citations: list[Citation], abstained: bool, confidence: float
    ) -> Answer:
        return Answer(
            question=question,
            text=text,
            citations=citations,
            abstained=abstained,
            mode="extractive",
            confidence=confidence,
            trace_id="",
        )
