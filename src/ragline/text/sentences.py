"""Sentence splitting as small pure functions over character spans.

A rule-based splitter in the spirit of Punkt (Kiss & Strunk, 2006, "Unsupervised Multilingual
Sentence Boundary Detection"), without its learned parameters: a boundary is sentence-final
punctuation followed by whitespace and a plausible sentence start, unless the word before the
period is a known abbreviation or an initial. Blank lines, Markdown headings and list items also
end a sentence. Spans, not strings, so callers keep exact offsets for citations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Lower-cased, without the final period.
_ABBREVIATIONS_TEXT = """
mr mrs ms dr prof sr jr st mt no nos vs etc e.g i.e cf al fig figs eq eqs approx dept est inc ltd
co corp jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n a.m p.m ph.d vol vols pp
op gen gov sen rep rev ed eds ca ft lb oz e.v
"""
ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())

_BOUNDARY = re.compile(
    r"""[.!?…]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9À-Ý])"""  # end punctuation, then a sentence start
    r"|\n[ \t]*\n"  # a blank line
    r"|\n(?=[ \t]*(?:#{1,6}\s|[-*+•]\s|\d+[.)]\s))"  # a heading or list item on the next line
)
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at ``text[dot]`` ends an abbreviation or an initial ("J. Smith")."""
    m = _WORD_BEFORE.search(text, max(0, dot - 12), dot + 1)
    if not m:
        return False
    word = m.group(1).lower()
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of ``text[start:end]``, trimmed of surrounding whitespace.

    >>> t = "Dr. Smith came. He left! Then: e.g. this."
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['Dr. Smith came.', 'He left!', 'Then: e.g. this.']
    >>> t = "## 19.4. Memory\\nIt is set. Here."
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['## 19.4. Memory', 'It is set.', 'Here.']
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cut = start
    for m in _BOUNDARY.finditer(text, start, end):
        mark = m.group(0)
        if mark[0] == "." and len(mark.rstrip("\"'”’)]")) == 1 and _is_abbreviation(text, m.start()):
            continue
        if mark[0] != "\n" and _in_heading(text, m.start()):
            # "## 19.4.1. Memory" is one heading, not a heading "19.4.1." and a sentence "Memory".
            continue
        _add(text, cut, m.end(), spans)
        cut = m.end()
    _add(text, cut, end, spans)
    return spans


def _in_heading(text: str, pos: int) -> bool:
    """Whether ``text[pos]`` lies on a Markdown heading line."""
    line = text[text.rfind("\n", 0, pos) + 1 : pos + 1].lstrip(" \t")
    return line.startswith("#") and line.lstrip("#").startswith((" ", "\t"))


def _add(text: str, a: int, b: int, spans: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b <= a:
        return
    if text[a] == "#":
        # A heading line is its own sentence even when a single newline follows it.
        nl = text.find("\n", a, b)
        if nl != -1:
            h = nl
            while text[h - 1].isspace():
                h -= 1
            spans.append((a, h))
            _add(text, nl + 1, b, spans)
            return
    spans.append((a, b))


# A heading's section number and the space after it: "16.15 " in "16.15 Icecast", "3 " in
# "3 Options", "3.391. " in "3.391. tilde".
SECTION_NUMBER = r"(?:\d+\.)*\d+\.?[ \t]+"
_LEADING_SECTION_NUMBER = re.compile(rf"^{SECTION_NUMBER}")


def without_section_number(heading: str) -> str:
    """``heading`` without its leading section number ("Icecast" for "16.15 Icecast")."""
    return _LEADING_SECTION_NUMBER.sub("", heading.strip(), count=1)


def is_heading(sentence: str) -> bool:
    """A Markdown heading line, which says where text is, not what it says."""
    return sentence.startswith("#") and sentence.lstrip("#").startswith(" ")


_CODE_START = ("```", ">>>", "$ ", "...", "~~~")
# Characters that make a line look like code rather than prose, as a deletion table.
_CODE_SYMBOLS = str.maketrans("", "", "(){}[]=<>;:_'\"`\\/|*#%")


def is_code(sentence: str) -> bool:
    """A code block or shell/REPL session rather than prose: worth reading, not worth quoting."""
    if sentence.lstrip().startswith(_CODE_START) or "\n>>>" in sentence or "```" in sentence:
        return True
    # A Markdown table row's pipes are its cell borders (the loaders write tables so), not code.
    stripped = sentence.strip()
    if stripped.startswith("|") and stripped.endswith("|"):
        sentence = stripped.strip("|").replace(" | ", "  ")
    # The symbols counted as the characters deleting them removes: str.translate runs in C (the
    # whole check 0.79 -> 0.48 ms an ask on SQuAD, against a loop over the characters).
    symbols = len(sentence) - len(sentence.translate(_CODE_SYMBOLS))
    return symbols > 0.12 * len(sentence)


_TABLE_ROW = " | "
_LABEL_END = (".", "!", "?", ":", ";", ",")
# A block this short without end punctuation is a label (a <dt> term, a field name) that says what
# the next sentence is about.
_LABEL_MAX_WORDS = 6
# An aside in brackets after a term says its type or default ("work_mem (integer)",
# "queue_run_delay (default: 300 seconds; before Postfix 2.4: 1000s)"): not words of the label.
# Each word a maximal run of non-space characters, so that a bracket never closed ("x (aaaa...")
# is rejected in linear time: "(?:[^()\s]+\s*){1,12}" tried every way to split a long word.
_ASIDE = re.compile(r"(?<=\S)[ \t]*\(\s*(?:[^()\s]+\s+){0,11}[^()\s]+\s*\)")


def label_words(piece: str) -> int:
    """Words of ``piece`` outside its asides in brackets (of at most 12 words each): how long it is
    as a label."""
    return len(_ASIDE.sub(" ", piece).split())


def row_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of ``text``'s sentences, a table's rows each a span of its own.

    The sentence splitter reads a table (rows without end punctuation) as one long sentence; a
    table of 200 error codes is then one piece, too long for any room in a context. And a row's
    cell may hold sentences of its own (a function table's one cell: signature, "Rounds to nearest
    integer. For numeric, ties are broken ...", example): the row is still one record, never cut
    at its sentences nor joined to the next row's.

    >>> t = "Codes:\\n\\n| 23505 | unique_violation |\\n| 40P01 | deadlock_detected |"
    >>> [t[a:b] for a, b in row_spans(t)]
    ['Codes:', '| 23505 | unique_violation |', '| 40P01 | deadlock_detected |']
    >>> t = "| round ( numeric ) Rounds. For numeric, ties go up. |\\n| sqrt ( numeric ) Square root |"
    >>> [t[a:b] for a, b in row_spans(t)]
    ['| round ( numeric ) Rounds. For numeric, ties go up. |', '| sqrt ( numeric ) Square root |']
    """
    spans: list[tuple[int, int]] = []
    at = 0
    for m in _BORDERED_ROWS.finditer(text):
        spans += _row_lines(text, sentence_spans(text, at, m.start()))
        cut = m.start()
        for line in m.group(0).split("\n"):
            a, b = cut + len(line) - len(line.lstrip()), cut + len(line.rstrip())
            if b > a:
                spans.append((a, b))
            cut += len(line) + 1
        at = m.end()
    return spans + _row_lines(text, sentence_spans(text, at))


# A run of lines each opening and closing with a cell border: a table's rows as the loaders write
# them, one or more cells each.
_BORDERED_ROWS = re.compile(r"(?m)^[ \t]*\|[^\n]*\|[ \t]*$(?:\n[ \t]*\|[^\n]*\|[ \t]*$)*")


def _row_lines(text: str, sentences: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``sentences``, one holding lines of a table without borders ("Name: | A\\nDefault: | 5")
    cut into its lines."""
    spans: list[tuple[int, int]] = []
    for a, b in sentences:
        # A code block is one piece whatever it holds ("[ CASCADE | RESTRICT ]" in a synopsis).
        if _TABLE_ROW in text[a:b] and "\n" in text[a:b] and not text[a:b].startswith("```"):
            cut = a
            for line in text[a:b].split("\n"):
                if line.strip():
                    spans.append((cut, cut + len(line)))
                cut += len(line) + 1
        else:
            spans.append((a, b))
    return spans


def answer_units(text: str) -> list[tuple[int, int]]:
    """(start, end) spans an answer can quote: sentences, but each table row on its own (a row
    "Default: | KeepAliveTimeout 5" is one fact) and a short label joined to the sentence after it
    (a definition list's term and its definition: "Handler\\n\\nAn internal representation ...").

    >>> t = "Handler\\n\\nAn internal action. More.\\n\\nName: | A\\nDefault: | 5"
    >>> [t[a:b] for a, b in answer_units(t)]
    ['Handler\\n\\nAn internal action.', 'More.', 'Name: | A', 'Default: | 5']
    """
    spans = row_spans(text)
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        a, b = spans[i]
        if i + 1 < len(spans) and _field_name_above(text, (a, b), spans[i + 1]):
            # "Default value:\n\n4096": a field's name on its own line and its value under it
            # (a DocBook <dt>/<dd> record) are one fact, as "Default: 4096" would be.
            out.append((a, spans[i + 1][1]))
            i += 2
            continue
        if (
            i + 1 < len(spans)
            # A term is a block of its own; a paragraph's last sentence without a full stop
            # ("... Thus, the need for it. Range: [0-120000], default 10000") is no term.
            and (a == 0 or text[a - 1] == "\n")
            and _is_label(text[a:b])
            # Not a table's caption above its rows; a grammar's alternatives in the line after
            # a term ("Grammar: session-keyfile ( <quoted_string> | none );") are no table.
            and not text[spans[i + 1][0] : spans[i + 1][1]].lstrip().startswith("|")
            and not text[spans[i + 1][0]].startswith("#")
            # Two labels in a row ("See: SSL/TLS Encryption" closing one glossary entry, then the
            # term "Filter" of the next): the second one opens the sentence after it.
            and not (i + 2 < len(spans) and _is_label(text[spans[i + 1][0] : spans[i + 1][1]]))
            # A record's second value line ("[Hostname]:Port" under "Type of value:") is no term
            # of the next field's name ("Default value:"), which takes the value under it.
            and not (i + 2 < len(spans) and _field_name_above(text, spans[i + 1], spans[i + 2]))
        ):
            out.append((a, spans[i + 1][1]))
            i += 2
            continue
        out.append((a, b))
        i += 1
    return out


# Words that make a short line ending in ":" a sentence announcing what follows ("The defaults
# are:", "as follows:"), not a field's name.
_ANNOUNCING = frozenset(
    {"is", "are", "was", "were", "be", "follows", "following", "include", "includes", "see"}
)
_FIELD_NAME_MAX_WORDS = 4


def _field_name_above(text: str, field: tuple[int, int], value: tuple[int, int]) -> bool:
    """Whether ``text[field]`` is a record field's name alone on its line ("Default value:",
    "Type of value:", "Effect if unset:") and ``text[value]`` the prose or value on the line
    after it (not a table, list, heading or code block, which stand on their own)."""
    a, b = field
    x, y = value
    name = text[a:b]
    if (
        not _names_a_field(name)
        or (a > 0 and text[a - 1] != "\n")
        or "\n" not in text[b:x]
        or text[b:x].strip()
    ):
        return False
    head = text[x:y].lstrip()
    return not head.startswith(("|", "#", "`", "-", "*", "•", ">")) and not name.startswith(("#", "|", "`"))


# A list item's bullet, not the dash of a command-line option's term ("-s file", "--window").
_BULLET = re.compile(r"[-*+•](?:\s|$)")


def is_option_term(piece: str) -> bool:
    """Whether ``piece`` opens with a command-line option ("-s file", "--depth=<n>"), not a
    bullet ("- item") or a rule ("---")."""
    return re.match(r"--?[A-Za-z0-9]", piece) is not None


# A field of a record on one line, its name and its value: "Tags: security", "Blocks: options".
_FIELD_LINE = re.compile(r"[A-Z][\w ]{0,24}:[ \t]+\S[^\n]*")


def is_field_line(piece: str) -> bool:
    """Whether ``piece`` is one line stating a record's field, name and value ("Tags: security"
    under a BIND option's name), or lines that each are ("Type: number\nDefault: 30" under a Mutt
    variable's heading): facts of the entry they sit in, not the term of a new one."""
    lines = [line for line in piece.strip().split("\n") if line.strip()]
    return bool(lines) and all(_FIELD_LINE.fullmatch(line.strip()) is not None for line in lines)


def _is_label(piece: str) -> bool:
    """A short block without end punctuation: a term, a field name (see ``_LABEL_MAX_WORDS``); an
    option's term ("-s file") is one, a list item is not, nor a field with its value."""
    return (
        not (piece.startswith(("#", "*", "|", "`")) or (piece.startswith("-") and not is_option_term(piece)))
        and not is_field_line(piece)
        and _TABLE_ROW not in piece
        and not piece.endswith(_LABEL_END)
        and label_words(piece) <= _LABEL_MAX_WORDS
    )


# An admonition's title ("### Note" inside a parameter's entry, as DocBook writes a note) is no
# section: the sentences after the note still belong to the entry it sits in.
ADMONITIONS = frozenset(
    {"note", "notes", "tip", "hint", "warning", "caution", "important", "attention", "danger"}
)


def is_admonition(title: str) -> bool:
    """Whether a heading or section title is an admonition's ("Note", "Warning:")."""
    return title.strip().rstrip(":").lower() in ADMONITIONS


@dataclass(frozen=True, slots=True)
class Opened:
    """What text before a point leaves open there: the last heading, and the definition term
    opened after it (the ``<dt>`` whose ``<dd>`` the point is inside), either may be None."""

    heading: str | None = None
    term: str | None = None


_BLOCKS = re.compile(r"\n[ \t]*\n")
_DELIMITER = re.compile(r"\|(?:[ \t]*:?-+:?[ \t]*\|)+")
_FENCES = ("```", "~~~")


def opened_before(before: str, after: str = "") -> Opened:
    """The heading and definition term that ``before`` leaves open for the text after it
    (``after``, which says whether a label last in ``before`` is followed by a table or heading,
    and so is no term). A passage cut inside an entry ("The default is 4MB.") thus keeps the
    entry's name ("work_mem (integer)") from the text before it::

        opened_before("## Memory\\n\\nwork_mem (integer)\\n\\nSets the base maximum.")
        # Opened(heading="Memory", term="work_mem (integer)")

    Code blocks and admonition headings ("### Note") open nothing."""
    blocks = [b.strip() for b in _BLOCKS.split(before)]
    blocks = [b for b in blocks if b]
    heading: str | None = None
    term: str | None = None
    in_fence = False
    for k, block in enumerate(blocks):
        fences = sum(1 for line in block.split("\n") if line.lstrip().startswith(_FENCES))
        if in_fence or block.startswith(_FENCES):
            in_fence = in_fence != (fences % 2 == 1)
            continue
        if block.startswith("|"):
            # A table the text after ``before`` goes on inside: its rows are under its column
            # names, as the chunker puts a cut table's header line last in its later pieces' path.
            lines = block.split("\n")
            goes_on = k == len(blocks) - 1 and before[len(before.rstrip()) :].count("\n") < 2
            if goes_on and len(lines) > 1 and _DELIMITER.fullmatch(lines[1].strip()):
                heading, term = lines[0].strip(), None
            continue
        if is_heading(block) and "\n" not in block:
            title = block.lstrip("#").strip().rstrip("#").strip()
            if title and not is_admonition(title):
                heading, term = title, None
            continue
        nxt = blocks[k + 1] if k + 1 < len(blocks) else after.lstrip().split("\n\n")[0].strip()
        prev = blocks[k - 1] if k else ""
        if (
            _is_label(block)
            and not nxt.startswith(("|", "#"))
            # Two labels in a row: the second opens the text after it ("See: X" closing one
            # glossary entry, then the next entry's term).
            and not (nxt and _is_label(nxt))
            # A record's value line under its field's name ("Type of value:" / "[Hostname]:Port"),
            # or above the next field's name, is a field's value, not a term.
            and not _is_field_name(prev)
            and not _is_field_name(nxt)
        ):
            term = block
    return Opened(heading, term)


def _is_field_name(block: str) -> bool:
    """A record field's name alone on its line ("Default value:")."""
    return "\n" not in block and _names_a_field(block)


def _names_a_field(name: str) -> bool:
    """Whether ``name`` reads as a record field's name: a few words, capitalised, then a colon
    ("Default value:", "Effect if unset:"), not a sentence announcing what follows."""
    words = name[:-1].split()
    return (
        name.endswith(":")
        and 0 < len(words) <= _FIELD_NAME_MAX_WORDS
        and name[:1].isupper()
        and not any(w.lower() in _ANNOUNCING for w in words)
    )
