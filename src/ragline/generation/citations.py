"""Citation markers in generated text: find them, drop those that point at no source, map the rest.

Example::

    check = parse_citations("Install with pip [1]. See also [9].", n_sources=2)
    check.text, check.cited, check.invalid  # ("Install with pip [1]. See also.", (1,), 1)
    citations = citations_for(context, check.cited)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragline.types import Citation, Context, Passage

QUOTE_CHARS = 300

_REF = r"(?:sources?\s*)?\d{1,6}(?:\s*[-–—]\s*\d{1,6})?"
# A bracket holding only citation references: [1], [1, 3], [1-3], [Source 2], [1; 2].
_MARKER = re.compile(rf"\[\s*{_REF}(?:\s*[,;]\s*{_REF})*\s*\]", re.IGNORECASE)
_ONE_REF = re.compile(r"(?:sources?\s*)?(\d{1,6})(?:\s*[-–—]\s*(\d{1,6}))?", re.IGNORECASE)
# Code is left alone: ``a[1]`` in a snippet is an index, not a citation.
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.DOTALL)
# Stands in for a removed marker until the whitespace around it is tidied.
_GAP = "\x00"
_GAP_RUN = re.compile(rf"(?P<before>[ \t]*){_GAP}(?:[ \t]*{_GAP})*(?P<after>[ \t]*)")
_PUNCT_AFTER = re.compile(r"[.,;:!?)\]}]")


@dataclass(frozen=True, slots=True)
class CitationCheck:
    """Generated text with its invalid citation markers removed.

    ``cited`` holds the valid source numbers in order of first appearance; ``invalid`` counts the
    references (a number or a range) that pointed outside ``1..n_sources``. Recognised markers are
    rewritten in the canonical form ``[1]`` / ``[1, 2, 3]``.
    """

    text: str
    cited: tuple[int, ...]
    invalid: int


def _expand(ref: re.Match[str], n_sources: int) -> tuple[list[int], bool]:
    """The valid numbers of one reference, and whether any part of it was invalid."""
    start = int(ref[1])
    end = int(ref[2]) if ref[2] is not None else start
    if end < start:
        return [], True
    valid = [k for k in range(max(start, 1), min(end, n_sources) + 1)]
    return valid, len(valid) != end - start + 1


def _tidy_gap(m: re.Match[str], text: str) -> str:
    before, after = m["before"], m["after"]
    prev = text[m.start() - 1] if m.start() > 0 else "\n"
    nxt = text[m.end()] if m.end() < len(text) else "\n"
    if prev == "\n" or nxt == "\n" or _PUNCT_AFTER.match(nxt):
        return ""
    return " " if before or after else ""


def _substitute(text: str, rewrite: Callable[[re.Match[str]], str], *, in_code: bool) -> str:
    """``text`` with each marker replaced by ``rewrite(match)`` (``_GAP`` drops it), tidied."""
    clean = text.replace(_GAP, "")
    if in_code:
        joined = _MARKER.sub(rewrite, clean)
    else:
        parts: list[str] = []
        pos = 0
        for code in _CODE.finditer(clean):
            parts.append(_MARKER.sub(rewrite, clean[pos : code.start()]))
            parts.append(code[0])
            pos = code.end()
        parts.append(_MARKER.sub(rewrite, clean[pos:]))
        joined = "".join(parts)
    return _GAP_RUN.sub(lambda m: _tidy_gap(m, joined), joined)


def parse_citations(text: str, n_sources: int) -> CitationCheck:
    """Find ``[n]``-style markers in ``text`` and keep those that name one of ``n_sources`` sources."""
    cited: dict[int, None] = {}
    invalid = 0

    def rewrite(m: re.Match[str]) -> str:
        nonlocal invalid
        numbers: dict[int, None] = {}
        for ref in _ONE_REF.finditer(m[0]):
            valid, bad = _expand(ref, n_sources)
            invalid += bad
            numbers.update(dict.fromkeys(valid))
        cited.update(numbers)
        return f"[{', '.join(map(str, numbers))}]" if numbers else _GAP

    tidied = _substitute(text, rewrite, in_code=False)
    return CitationCheck(text=tidied.strip(), cited=tuple(cited), invalid=invalid)


def strip_markers(text: str, *, in_code: bool = True) -> str:
    """``text`` without the citation markers it holds, for source text quoted or shown to a model.

    A document's own ``[2]`` (a footnote, or one planted to borrow another source's authority) must
    never read as a citation of the answer or of the prompt's numbered sources. ``in_code=False``
    keeps markers inside code spans (``rows[2]`` is an index), as :func:`parse_citations` does.
    """
    return _substitute(text, lambda _: _GAP, in_code=in_code)


def _quote(text: str, limit: int = QUOTE_CHARS) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    # A single huge word (a URL, a hash) is cut mid-word rather than quoted empty.
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _citation(n: int, passage: Passage) -> Citation:
    span = next((c for c in passage.chunks if c.retrieved), passage.chunks[0] if passage.chunks else None)
    return Citation(
        n=n,
        chunk_id=span.chunk_id if span else "",
        doc_id=passage.doc_id,
        source=passage.source,
        title=passage.title,
        section_path=passage.section_path,
        page=span.page if span else None,
        start=passage.start,
        end=passage.end,
        quote=_quote(passage.text),
    )


def citations_for(context: Context, cited: Sequence[int]) -> list[Citation]:
    """One :class:`Citation` per cited number, in the order given; ``n`` is ``context.passages[n-1]``."""
    out: list[Citation] = []
    seen: set[int] = set()
    for n in cited:
        if not 1 <= n <= len(context.passages):
            raise ValueError(
                f"citation [{n}] names no passage: the context holds {len(context.passages)}; "
                "pass the numbers from parse_citations(text, len(context.passages))"
            )
        if n not in seen:
            seen.add(n)
            out.append(_citation(n, context.passages[n - 1]))
    return out
