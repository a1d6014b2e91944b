"""Token-aware span arithmetic shared by the chunkers.

A document is tokenized once (:class:`TokenizedText`); every size question after that is a pair of
binary searches over the token start offsets, and every cut is a character offset into the text.
:func:`split_span` is the recursive splitter all chunkers use.

Example::

    tt = TokenizedText.of(doc.text, tokenizer)
    for start, end in split_span(tt, 0, len(doc.text), budget=200, overlap=32):
        print(doc.text[start:end])
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence

from ragline.errors import ConfigError
from ragline.text.tokenizer import Tokenizer
from ragline.types import Chunk, Document, Metadata, content_hash, stable_id

#: A cut at a higher-level separator wins as long as the chunk keeps at least 1/MIN_FILL of its budget;
#: below that a lower-level separator nearer the budget is used, so chunks do not become slivers.
MIN_FILL = 3
#: Chunks whose estimated embed text comes this close to ``max_tokens`` are re-counted exactly, which
#: only matters for tokenizers whose counts are not additive across whitespace (BPE variants).
LIMIT_MARGIN = 4

# Each separator level as "greedy prefix, then the separator": ``match(text, lo, hi)`` finds the last
# occurrence in one C-level pass. The flag says whether the cut goes after the separator (punctuation
# stays with its sentence) or before it (whitespace is dropped by stripping).
_LEVELS: tuple[tuple[re.Pattern[str], bool], ...] = tuple(
    (re.compile(r"(?s:.*)(" + sep + ")"), after)
    for sep, after in (
        (r"\n[^\S\n]*\n", False),  # paragraph break
        (r"\n", False),  # line break
        (r"[.!?…][\"'”’)\]]*(?=\s)|[。！？]", True),  # sentence end
        (r";(?=\s)|；", True),
        (r",(?=\s)|[，、]", True),
        (r"\s", False),  # any space between words
    )
)
_NON_SPACE = re.compile(r"\S")
_LAST_NON_SPACE = re.compile(r"(?s:.*)\S")

#: Callback telling :func:`split_span` how many tokens too long the chunk ``text[start:end]`` is.
Excess = Callable[[int, int], int]


def is_gap(ch: str) -> bool:
    """True if ``ch`` separates words for a BERT-style tokenizer (whitespace that is not a control char)."""
    # ASCII control "spaces" like \x0b or \x1c are deleted by the normalizer, gluing their neighbours.
    return ch in " \t\n\r" or (ch > "\x9f" and ch.isspace())


def lstrip_at(text: str, start: int, end: int) -> int:
    """First non-whitespace offset in ``text[start:end]``, or ``end`` if there is none."""
    m = _NON_SPACE.search(text, start, end)
    return m.start() if m else end


def rstrip_at(text: str, start: int, end: int) -> int:
    """Offset just after the last non-whitespace character of ``text[start:end]``, or ``start``."""
    m = _LAST_NON_SPACE.match(text, start, end)
    return m.end() if m else start


class TokenizedText:
    """A text with the start offset of each of its tokens, tokenized once.

    Example::

        tt = TokenizedText.of("hello big world", tokenizer)
        tt.count(0, 9)  # 2 tokens start in "hello big"
    """

    __slots__ = ("starts", "text")

    def __init__(self, text: str, spans: Sequence[tuple[int, int]]) -> None:
        self.text = text
        starts = [s for s, _ in spans]
        # Cheap when already ordered (the usual case); the binary searches need it.
        starts.sort()
        self.starts = starts

    @classmethod
    def of(cls, text: str, tokenizer: Tokenizer) -> TokenizedText:
        return cls(text, tokenizer.token_spans(text))

    def count(self, start: int, end: int) -> int:
        """Number of tokens that start in ``text[start:end]``."""
        return bisect_left(self.starts, end) - bisect_left(self.starts, start)


def _best_cut(text: str, lo: int, hi: int) -> int:
    """Cut offset in ``(lo, hi]`` at the highest-level separator present, else ``hi`` (a token start)."""
    for pattern, after in _LEVELS:
        m = pattern.match(text, lo + 1, hi)
        if m:
            return m.end(1) if after else m.start(1)
    return hi


def split_span(
    tt: TokenizedText,
    start: int,
    end: int,
    budget: int,
    overlap: int = 0,
    *,
    excess: Excess | None = None,
) -> list[tuple[int, int]]:
    """Cut ``tt.text[start:end]`` into stripped ``(start, end)`` spans of at most ``budget`` tokens.

    Each chunk is packed greedily up to the budget, then cut at the highest-level separator found in
    the part of the window that keeps at least ``1/MIN_FILL`` of the budget: paragraph break, line
    break, sentence end, ``;``, ``,``, whitespace, and finally a token boundary (a word longer than
    the budget is cut between its tokens, never inside one). Consecutive chunks repeat about
    ``overlap`` tokens, starting at a word boundary; if the overlap window holds no word boundary
    there is no overlap. Every non-whitespace character of the range lies in some span.

    ``excess(start, end)`` may report that a chunk is too long after all (exact re-count); the chunk
    is then shortened by that many tokens.

    Example::

        split_span(TokenizedText.of(text, tok), 0, len(text), budget=128, overlap=16)
    """
    if budget < 1:
        raise ConfigError(f"budget must be at least 1 token, got {budget}; raise the chunk size")
    if not 0 <= overlap < budget:
        raise ConfigError(f"overlap must be in [0, budget={budget}), got {overlap}; lower the overlap")
    text, starts = tt.text, tt.starts
    s = lstrip_at(text, start, end)
    b = rstrip_at(text, s, end)
    if s >= b:
        return []
    n_b = bisect_left(starts, b)
    min_fill = max(1, budget // MIN_FILL)
    out: list[tuple[int, int]] = []
    # After an overlap, the next chunk must reach past the previous cut: index of the first token it
    # must hold, and that token's offset (-1: no constraint).
    floor_tok = 0
    floor = -1
    while True:
        s_tok = bisect_left(starts, s)
        if n_b - s_tok <= budget:
            c = b
        else:
            hi = starts[s_tok + budget]
            lo = max(starts[s_tok + min_fill - 1], floor)
            c = _best_cut(text, lo, hi) if hi > lo else hi
            if c <= max(s, floor):
                # Several tokens share one offset (one char expanding to many tokens): take the
                # whole character; the slack cannot be avoided without cutting inside it.
                i = bisect_right(starts, max(s, floor))
                c = starts[i] if i < n_b else b
        e = rstrip_at(text, s, c)
        if excess is not None:
            over = excess(s, e)
            while over > 0:
                c_tok = bisect_left(starts, c)
                new_tok = max(c_tok - over, s_tok + 1, floor_tok + 1)
                if new_tok >= c_tok or starts[new_tok] <= max(s, floor):
                    break  # one token is the least a chunk can hold
                c = starts[new_tok]
                e = rstrip_at(text, s, c)
                over = excess(s, e)
        out.append((s, e))
        if c >= b:
            break
        nxt = lstrip_at(text, c, b)
        if nxt >= b:
            break
        c_tok = bisect_left(starts, c)
        if overlap > 0:
            for j in range(max(c_tok - overlap, s_tok + 1), c_tok):
                p = starts[j]
                if p > s and (is_gap(text[p]) or is_gap(text[p - 1])):
                    q = lstrip_at(text, p, c)
                    if s < q < c:
                        nxt = q
                        break
        floor_tok = c_tok
        floor = starts[c_tok] if c_tok < len(starts) else b
        s = nxt
    return out


def make_excess(tt: TokenizedText, tokenizer: Tokenizer, budget: int, prefix: str = "") -> Excess:
    """An :data:`Excess` check: chunk text within ``budget`` and embed text within ``max_tokens``.

    ``prefix`` is the section path line put before the chunk text in ``Chunk.embed_text``. Counts
    from the document's tokens are exact for chunks that start at a word boundary, so the tokenizer
    only runs again for chunks starting mid-word or estimated within ``LIMIT_MARGIN`` of the limit.
    """
    text = tt.text
    limit = tokenizer.max_tokens
    prefix_tokens = tokenizer.count(prefix) + 1 if prefix else 0

    def excess(start: int, end: int) -> int:
        n = tt.count(start, end)
        over = 0
        if start > 0 and not is_gap(text[start - 1]):
            # The first token lost its word context ("##ing" becomes "ing"...): count it again.
            n = tokenizer.count(text[start:end])
            over = n - budget
        if n + prefix_tokens > limit - LIMIT_MARGIN:
            embed = f"{prefix}\n{text[start:end]}" if prefix else text[start:end]
            over = max(over, tokenizer.count(embed) - limit)
        return max(0, over)

    return excess


def check_sizes(tokenizer: Tokenizer, chunk_size: int, chunk_overlap: int) -> tuple[int, int]:
    """Validate chunker sizes; return ``(size, overlap)`` with the size clamped to ``max_tokens``."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be a positive number of tokens, got {chunk_size!r}")
    if isinstance(chunk_overlap, bool) or not isinstance(chunk_overlap, int) or chunk_overlap < 0:
        raise ConfigError(f"chunk_overlap must be a non-negative number of tokens, got {chunk_overlap!r}")
    if chunk_overlap >= chunk_size:
        raise ConfigError(
            f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size}); "
            "lower the overlap or raise the size"
        )
    max_tokens = getattr(tokenizer, "max_tokens", None)
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ConfigError(f"tokenizer.max_tokens must be a positive int, got {max_tokens!r}")
    size = min(chunk_size, max_tokens)
    return size, scale_overlap(chunk_overlap, chunk_size, size)


def scale_overlap(overlap: int, size: int, budget: int) -> int:
    """``overlap`` for a chunk budget shrunk from ``size`` to ``budget``, keeping the same ratio."""
    return overlap if budget >= size else overlap * budget // size


def _page_lookup(doc: Document) -> Callable[[int], int] | None:
    pages = doc.page_starts
    if not pages:
        return None
    if list(pages) == sorted(pages):
        # Same answer as Document.page_at, in O(log pages) per call.
        return lambda offset: max(1, bisect_right(pages, offset))
    return lambda offset: doc.page_at(offset) or 1


def fit_title(title: str, tokenizer: Tokenizer) -> str:
    """``title`` cut (at a token boundary, with an ellipsis) to a quarter of the model limit.

    Every chunk's embedded text starts with its document's title, so a runaway title (a JSON
    field holding a paragraph) must not eat the chunk budget.
    """
    limit = tokenizer.max_tokens // 4
    if not title or tokenizer.count(title) <= limit:
        return title
    spans = tokenizer.token_spans(title)
    return title[: spans[max(0, limit - 2)][1]].rstrip() + "…"


def build_chunks(
    doc: Document,
    pieces: Sequence[tuple[int, int, tuple[str, ...], str | None]],
    title: str | None = None,
) -> list[Chunk]:
    """Chunks for ``(start, end, section_path, parent_id)`` pieces, numbered in the given order.

    Example::

        build_chunks(doc, [(0, 11, ("Intro",), None)])
    """
    page = _page_lookup(doc)
    chunks: list[Chunk] = []
    for position, (start, end, path, parent_id) in enumerate(pieces):
        text = doc.text[start:end]
        metadata: Metadata = dict(doc.metadata)
        if page is not None:
            metadata["page"] = page(start)
            metadata["page_end"] = page(end - 1)
        chunks.append(
            Chunk(
                id=stable_id(doc.id, str(position), content_hash(text)),
                doc_id=doc.id,
                text=text,
                position=position,
                start=start,
                end=end,
                section_path=path,
                parent_id=parent_id,
                metadata=metadata,
                source=doc.source,
                title=doc.title if title is None else title,
                access=doc.access,
            )
        )
    return chunks
