"""Text normalisation applied to every loaded document."""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

# Vertical separators become newlines rather than disappearing, so the words on either side of a
# form feed (PDF page breaks) or a Unicode line separator are not glued together.
_NEWLINE_CHARS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_KEPT_CONTROLS = "\n\t" + _NEWLINE_CHARS
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})

_NEWLINES = re.compile(f"[{re.escape(_NEWLINE_CHARS)}]")
_SPACE_RUN = re.compile(r" {2,}")
_TRAILING_SPACES = re.compile(r" +\n")
_NEWLINE_RUN = re.compile(r"\n{3,}")
_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f]")


def _char_class(code_points: list[int]) -> re.Pattern[str]:
    """A compiled ``[...]`` regex matching exactly ``code_points`` (given sorted)."""
    ranges: list[tuple[int, int]] = []
    for cp in code_points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    body = "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges
    )
    return re.compile(f"[{body}]")


@cache
def _removed_chars() -> re.Pattern[str]:
    """Control, format (zero-width, soft hyphen, BOM, bidi marks) and surrogate code points."""
    return _char_class(
        [
            cp
            for cp in range(sys.maxunicode + 1)
            if unicodedata.category(chr(cp)) in _REMOVED_CATEGORIES and chr(cp) not in _KEPT_CONTROLS
        ]
    )


@cache
def _unicode_spaces() -> re.Pattern[str]:
    """Space separators other than U+0020 that NFKC leaves alone (e.g. U+1680)."""
    return _char_class(
        [cp for cp in range(sys.maxunicode + 1) if cp != 0x20 and unicodedata.category(chr(cp)) == "Zs"]
    )


def _printable(text: str) -> bool:
    """Fast C-level check that ``text`` holds no control/format/separator characters but LF/space."""
    return text.replace("\n", " ").isprintable()


def clean_text(text: str) -> str:
    """Normalise ``text`` for indexing; idempotent: ``clean_text(clean_text(x)) == clean_text(x)``.

    NFKC normalisation; CRLF/CR -> LF; control, format (zero-width, soft hyphen, BOM) and surrogate
    characters removed, tabs and Unicode spaces -> ' ', line/paragraph separators -> LF; runs of
    spaces collapsed, trailing spaces of lines removed, 3+ newlines collapsed to 2, ends stripped.
    """
    # The substring/printable checks skip regex passes that usually find nothing: this runs once
    # per document, and corpora have hundreds of thousands of them.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text:
        text = text.replace("\t", " ")
    if not _printable(text):
        text = _NEWLINES.sub("\n", text)
        text = _ASCII_CONTROLS.sub("", text) if text.isascii() else _removed_chars().sub("", text)
    if not text.isascii():
        # Removal happens before NFKC so that characters brought together by removing e.g. a
        # zero-width space are composed now rather than on a second call (idempotence).
        text = unicodedata.normalize("NFKC", text)
        if not _printable(text):
            text = _unicode_spaces().sub(" ", text)
    if "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    if " \n" in text:
        text = _TRAILING_SPACES.sub("\n", text)
    if "\n\n\n" in text:
        text = _NEWLINE_RUN.sub("\n\n", text)
    return text.strip(" \n")


_TRAILING_BLANKS = re.compile(r"[ \t]+\n")


def clean_code(text: str) -> str:
    """Normalise source code for indexing, keeping its layout; idempotent.

    Unlike :func:`clean_text`, indentation (spaces and tabs) and string literals stay as written
    (no NFKC, no collapsing of space runs): code is read by a parser and by people. CRLF/CR -> LF;
    control, format and surrogate characters removed (tabs and line breaks kept); trailing spaces
    of lines removed, 3+ newlines collapsed to 2, blank lines at both ends stripped.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.replace("\n", " ").replace("\t", " ").isprintable():
        text = _NEWLINES.sub("\n", text)
        # Both patterns spare tabs and line feeds.
        text = _ASCII_CONTROLS.sub("", text) if text.isascii() else _removed_chars().sub("", text)
    text = _TRAILING_BLANKS.sub("\n", text + "\n")
    if "\n\n\n" in text:
        text = _NEWLINE_RUN.sub("\n\n", text)
    return text.strip("\n")
