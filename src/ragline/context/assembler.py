"""Context assembly: ranked hits -> passages that fit a token budget.

Retrieval units and synthesis units are decoupled: a small chunk finds the evidence, and the
answerer reads the sentences around it (``window``) or its whole parent section (``parent``).
Overlapping or touching spans of one document merge into one passage, so no text is given twice.
Passages are admitted best-first until the budget is spent (a manual's index or table of contents,
and release notes a question does not ask about, last: ``text/navigation.answers_last``); one that
does not fit is trimmed at sentence boundaries around its retrieved chunk, never mid-word.

Example::

    assembler = ContextAssembler(store, counter, budget=1024, expand="window", window_sentences=2)
    context = assembler.run(hits)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ragline.errors import ConfigError
from ragline.store.base import Store
from ragline.store.filters import Filter
from ragline.text.identifiers import identifiers
from ragline.text.navigation import answers_last
from ragline.text.sentences import Opened, opened_before, row_spans, sentence_spans
from ragline.text.token_counters import TokenCounter
from ragline.text.words import content_words
from ragline.types import Chunk, ChunkSpan, Context, Hit, Passage, header_of

Expand = Literal["none", "window", "parent"]
Order = Literal["score", "document"]
# Below this many free tokens, no further passage is worth its header.
_MIN_USEFUL_TOKENS = 12
_NOTHING_OPEN = Opened()


@dataclass(slots=True)
class _Unit:
    """A span of one document under construction (offsets into the document's text)."""

    doc_id: str
    start: int
    end: int
    text: str
    chunks: list[ChunkSpan]
    score: float
    rank: int
    hit: Chunk
    # The section path of the chunk the unit's text starts in, and the heading and definition
    # term open at its start from the text before it (see ``text.sentences.opened_before``).
    path: tuple[str, ...] = ()
    opened: Opened = _NOTHING_OPEN

    def absorb(self, other: _Unit) -> None:
        """Merge ``other`` (same document, starting inside or right after this unit)."""
        if other.end > self.end:
            overlap = self.end - other.start
            self.text += _gap(-overlap) + other.text[max(0, overlap) :]
            self.end = other.end
        known = {c.chunk_id for c in self.chunks}
        for c in other.chunks:
            if c.chunk_id not in known:
                self.chunks.append(c)
            elif c.retrieved:
                self.chunks = [
                    replace(x, retrieved=True) if x.chunk_id == c.chunk_id else x for x in self.chunks
                ]
        if other.rank < self.rank:
            self.rank, self.hit = other.rank, other.hit
        self.score = max(self.score, other.score)


def _gap(n: int, before: str = "", after: str = "") -> str:
    # Chunks cover all non-blank text, so what lies between two of them is whitespace; keep its
    # length so offsets stay exact. One character between a table row's closing border and the
    # next row's opening one is the line break between rows: read as a space, two rows would
    # join into one line, one row of twice the cells.
    if n <= 0:
        return ""
    if n == 1:
        return "\n" if before.endswith("|") and after.startswith("|") else " "
    return "\n" + " " * (n - 2) + "\n"


def _span(c: Chunk, retrieved: bool) -> ChunkSpan:
    page = c.metadata.get("page")
    return ChunkSpan(c.id, c.start, c.end, retrieved, page if isinstance(page, int) else None)


def _stitch(chunks: Sequence[Chunk]) -> tuple[int, str]:
    """Document text from ``start`` of the first to ``end`` of the last of consecutive chunks."""
    start, text, end = chunks[0].start, chunks[0].text, chunks[0].end
    for c in chunks[1:]:
        if c.end <= end:
            continue
        overlap = end - c.start
        rest = c.text[max(0, overlap) :]
        text += _gap(-overlap, text, rest) + rest
        end = c.end
    return start, text


class ContextAssembler:
    """Builds a :class:`~ragline.types.Context` from hits; see the module docstring."""

    def __init__(
        self,
        store: Store,
        counter: TokenCounter,
        *,
        budget: int = 1024,
        expand: Expand = "window",
        window_sentences: int = 2,
        order: Order = "score",
    ) -> None:
        if budget < 1:
            raise ConfigError(f"context budget must be at least 1 token, got {budget}")
        if expand not in ("none", "window", "parent"):
            raise ConfigError(f"context expansion {expand!r} is unknown; use none, window or parent")
        if order not in ("score", "document"):
            raise ConfigError(f"context order {order!r} is unknown; use score or document")
        self.store = store
        self.counter = counter
        self.budget = budget
        self.expand = expand
        self.window_sentences = window_sentences
        self.order = order

    def run(
        self,
        hits: Sequence[Hit],
        budget: int | None = None,
        *,
        scope: Filter | None = None,
        query: str = "",
    ) -> Context:
        """``hits`` expanded, merged and fitted into ``budget`` tokens. ``scope`` is the caller's
        access filter: expansion reads only chunks it matches, as the search did. ``query`` (the
        question) says which sentences of a passage too long for the room left to keep."""
        budgets = [self.budget if budget is None else budget]
        return self.run_budgets(hits, budgets, scope=scope, query=query)[0]

    def run_budgets(
        self,
        hits: Sequence[Hit],
        budgets: Sequence[int],
        *,
        scope: Filter | None = None,
        query: str = "",
    ) -> list[Context]:
        """One context per budget; expansion, merging and token counts are done once for all."""
        for b in budgets:
            if b < 1:
                raise ConfigError(f"context budget must be at least 1 token, got {b}")
        units = _distinct(self._merge(self._units(hits, scope), query))
        counts = self.counter.count_batch([u.text for u in units]) if units else []
        heads = self.counter.count_batch([header_of(u.hit.title, u.hit.section_path) for u in units])
        heads = [n + 1 if n else 0 for n in heads]  # +1: the line break after a header
        # A name the query spells whole ("VIR_ERR_NO_DOMAIN") is a word of its own: its parts
        # ("vir", "err", "domain") are in every row of its table.
        want = frozenset(content_words(query)) | frozenset(n.casefold() for n in identifiers(query))
        return [self._context(units, counts, heads, b, want) for b in budgets]

    def _context(
        self, units: list[_Unit], counts: list[int], heads: list[int], budget: int, want: frozenset[str]
    ) -> Context:
        passages, dropped = self._fit(units, counts, heads, budget, want)
        if self.order == "document":
            first_rank: dict[str, int] = {}
            for p in sorted(passages, key=lambda p: p.rank):
                first_rank.setdefault(p.doc_id, p.rank)
            passages.sort(key=lambda p: (first_rank[p.doc_id], p.start))
        return Context(
            passages=passages, tokens=sum(p.tokens for p in passages), budget=budget, dropped=dropped
        )

    # -- expansion -------------------------------------------------------------------------------

    def _units(self, hits: Sequence[Hit], scope: Filter | None) -> list[_Unit]:
        if self.expand == "parent":
            # Section ids hash the section's own text, and a section is reached only through a hit
            # the caller may read whose text lies inside it: it holds nothing that hit's document
            # does not, so no access filter is needed here.
            return self._parent_units(hits)
        if self.expand == "window" and self.window_sentences > 0:
            return self._window_units(hits, scope)
        return [
            _Unit(
                h.chunk.doc_id,
                h.chunk.start,
                h.chunk.end,
                h.chunk.text,
                [_span(h.chunk, True)],
                h.score,
                r,
                h.chunk,
                h.chunk.section_path,
            )
            for r, h in enumerate(hits, 1)
        ]

    def _parent_units(self, hits: Sequence[Hit]) -> list[_Unit]:
        parent_ids = list(dict.fromkeys(h.chunk.parent_id for h in hits if h.chunk.parent_id))
        sections = {s.id: s for s in self.store.get_sections(parent_ids)}
        units = []
        for r, h in enumerate(hits, 1):
            c = h.chunk
            s = sections.get(c.parent_id or "")
            if s is None:
                units.append(
                    _Unit(c.doc_id, c.start, c.end, c.text, [_span(c, True)], h.score, r, c, c.section_path)
                )
            else:
                units.append(
                    _Unit(c.doc_id, s.start, s.end, s.text, [_span(c, True)], h.score, r, c, s.section_path)
                )
        return units

    def _window_units(self, hits: Sequence[Hit], scope: Filter | None) -> list[_Unit]:
        # A window of n sentences rarely reaches past the neighbouring chunks, so one store call
        # fetches them for every hit. A neighbour must be readable by the caller (``scope``) and
        # come from the hit's own source: a document id alone may be shared by two documents.
        keys = [(h.chunk.doc_id, h.chunk.position + d) for h in hits for d in (-1, 1)]
        neighbours = {(c.source, c.doc_id, c.position): c for c in self.store.chunks_at(keys, filters=scope)}
        units = []
        for r, h in enumerate(hits, 1):
            c = h.chunk
            before = neighbours.get((c.source, c.doc_id, c.position - 1))
            after = neighbours.get((c.source, c.doc_id, c.position + 1))
            run = [x for x in (before, c, after) if x is not None]
            seg_start, seg_text = _stitch(run)
            spans = sentence_spans(seg_text)
            inside = [
                i for i, (a, b) in enumerate(spans) if a + seg_start < c.end and b + seg_start > c.start
            ]
            if not inside:
                units.append(
                    _Unit(c.doc_id, c.start, c.end, c.text, [_span(c, True)], h.score, r, c, c.section_path)
                )
                continue
            lo = max(0, inside[0] - self.window_sentences)
            hi = min(len(spans) - 1, inside[-1] + self.window_sentences)
            a, b = spans[lo][0], spans[hi][1]
            start, end = seg_start + a, seg_start + b
            chunk_spans = [_span(x, x is c) for x in run if x.start < end and x.end > start]
            # The window may start in the chunk before the hit, in another section or entry: its
            # first sentence belongs to what the text before it leaves open.
            lead = next((x for x in run if x.start <= start < x.end), c)
            opened = opened_before(seg_text[:a], seg_text[a:b])
            units.append(
                _Unit(
                    c.doc_id, start, end, seg_text[a:b], chunk_spans, h.score, r, c, lead.section_path, opened
                )
            )
        return units

    # -- merging and fitting -----------------------------------------------------------------------

    @staticmethod
    def _merge(units: list[_Unit], query: str = "") -> list[_Unit]:
        by_doc: dict[str, list[_Unit]] = {}
        for u in units:
            by_doc.setdefault(u.doc_id, []).append(u)
        merged: list[_Unit] = []
        for doc_units in by_doc.values():
            doc_units.sort(key=lambda u: (u.start, -u.end))
            current = doc_units[0]
            for u in doc_units[1:]:
                # Touching spans (at most a separator apart) read as one passage.
                if u.start <= current.end + 2:
                    current.absorb(u)
                else:
                    merged.append(current)
                    current = u
            merged.append(current)
        # A manual's index or table of contents names every identifier it lists, so an exact-name
        # search ranks it high, yet it answers nothing: it gets the room the content leaves. So do
        # release notes (they name the settings they changed) unless the question asks about changes.
        merged.sort(key=lambda u: (answers_last(query, u.hit.title, u.text), u.rank))
        return merged

    def _fit(
        self, units: list[_Unit], counts: list[int], heads: list[int], budget: int, want: frozenset[str]
    ) -> tuple[list[Passage], int]:
        passages: list[Passage] = []
        dropped = 0
        left = budget
        for u, n, head in zip(units, counts, heads, strict=True):
            if left < _MIN_USEFUL_TOKENS and passages:
                dropped += 1
                continue
            if head + n <= left:
                passages.append(self._passage(u, head + n))
                left -= head + n
                continue
            trimmed = self._trim(u, left - head, first=not passages, want=want)
            if trimmed is None:
                dropped += 1
                continue
            n = self.counter.count(trimmed.text)
            passages.append(self._passage(trimmed, head + n))
            left -= head + n
        return passages, dropped

    def _trim(self, u: _Unit, room: int, *, first: bool, want: frozenset[str] = frozenset()) -> _Unit | None:
        """The sentences around the unit's best retrieved chunk that fit ``room`` tokens: from the
        chunk's sentence that shares most words with the query (``want``), else its first."""
        if room <= 0:
            return None
        # A table's rows are pieces of their own: a long table is one "sentence" to the splitter,
        # and a unit holding it would otherwise fit whole or not at all.
        spans = row_spans(u.text)
        if not spans:
            return None
        counts = self.counter.count_batch([u.text[a:b] for a, b in spans])
        anchor = u.hit.start - u.start
        seed = next((i for i, (_, b) in enumerate(spans) if b > anchor), 0)
        if want:
            # A chunk can hold more than the room left (a long chunk last in the context); its
            # opening sentences may be about the entry before the one the question asks for. And
            # a unit merged from several retrieved chunks (a page's introduction and, further
            # down its table, the row asked about) keeps the piece of any of them that shares
            # most words with the question.
            hit = [(c.start - u.start, c.end - u.start) for c in u.chunks if c.retrieved]
            inside = [i for i, (a, b) in enumerate(spans) if any(b > x and a < y for x, y in hit)]
            words = [want.intersection(_words_and_names(u.text[a:b])) for a, b in spans]
            # A question word in many of the unit's pieces says less about which one is asked
            # for: "error code" is in a table's header row and its introduction, "deadlock" in
            # one row. Each shared word counts 1 / the number of pieces holding it.
            df = Counter(w for ws in words for w in ws)
            shared = {i: sum(1.0 / df[w] for w in words[i]) for i in inside}
            best = max(inside, key=lambda i: (shared[i], -i), default=seed)
            if shared.get(best, 0.0) > shared.get(seed, 0.0):
                seed = best
        lo = hi = seed
        used = counts[seed]
        if used > room:
            # Only the passage that leads the context is worth a cut inside a sentence.
            return self._cut_words(u, spans[seed], room) if first else None
        # Grow forward first: the retrieved chunk starts at the seed sentence.
        while True:
            grew = False
            if hi + 1 < len(spans) and used + counts[hi + 1] <= room:
                hi += 1
                used += counts[hi]
                grew = True
            if lo > 0 and used + counts[lo - 1] <= room:
                lo -= 1
                used += counts[lo]
                grew = True
            if not grew:
                break
        a, b = spans[lo][0], spans[hi][1]
        text = u.text[a:b]
        # Token counts of parts may undercount their concatenation by a token or two.
        while self.counter.count(text) > room and hi > lo:
            hi -= 1
            b = spans[hi][1]
            text = u.text[a:b]
        return self._sub(u, a, b)

    def _cut_words(self, u: _Unit, span: tuple[int, int], room: int) -> _Unit | None:
        a, b = span
        words = u.text[a:b].split(" ")
        lo, hi = 0, len(words)
        # Binary search on the number of leading words that fit.
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.counter.count(" ".join(words[:mid])) <= room:
                lo = mid
            else:
                hi = mid - 1
        if lo == 0:
            return None
        return self._sub(u, a, a + len(" ".join(words[:lo])))

    @staticmethod
    def _sub(u: _Unit, a: int, b: int) -> _Unit:
        start, end = u.start + a, u.start + b
        chunks = [c for c in u.chunks if c.start < end and c.end > start] or u.chunks[:1]
        # What the cut-off text opens (a heading, an entry's term) outranks what it started in.
        cut = opened_before(u.text[:a], u.text[a:b]) if a else _NOTHING_OPEN
        if cut.heading is not None:
            opened = cut
        elif cut.term is not None:
            opened = Opened(u.opened.heading, cut.term)
        else:
            opened = u.opened
        return _Unit(u.doc_id, start, end, u.text[a:b], chunks, u.score, u.rank, u.hit, u.path, opened)

    @staticmethod
    def _passage(u: _Unit, tokens: int) -> Passage:
        c = u.hit
        return Passage(
            doc_id=u.doc_id,
            text=u.text,
            start=u.start,
            end=u.end,
            chunks=tuple(sorted(u.chunks, key=lambda s: s.start)),
            score=u.score,
            rank=u.rank,
            tokens=tokens,
            source=c.source,
            title=c.title,
            section_path=c.section_path,
            metadata=c.metadata,
            starts_in=_starts_in(u),
            entry=u.opened.term or "",
        )


# A passage whose word 5-grams another passage ranked above it already holds (at least this
# share of them) repeats it: a manual shipped both chunked and as one page, or the same table in
# two guides, would otherwise fill the room twice with one text.
_SHINGLE = 5
_REPEATED = 0.9


def _words_and_names(text: str) -> set[str]:
    """The content words of ``text`` and the identifiers it spells, case-folded."""
    return {*content_words(text), *(n.casefold() for n in identifiers(text))}


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words[i : i + _SHINGLE]) for i in range(max(1, len(words) - _SHINGLE + 1))}


def _distinct(units: list[_Unit]) -> list[_Unit]:
    """``units`` (in their order of precedence) without those that repeat an earlier one."""
    kept: list[_Unit] = []
    seen: list[set[tuple[str, ...]]] = []
    for u in units:
        grams = _shingles(u.text)
        if any(len(grams & other) >= _REPEATED * len(grams) for other in seen):
            continue
        kept.append(u)
        seen.append(grams)
    return kept


def _starts_in(u: _Unit) -> tuple[str, ...]:
    """The section the unit's first sentence is in, when a heading in the text before it says so:
    the path of the chunk it starts in, ending with that heading; else () (the retrieved chunk's
    path stands: the chunk the unit starts in may be a table's first piece, whose path lacks the
    column names the later pieces carry)."""
    heading = u.opened.heading
    if heading is None:
        return ()
    return u.path if u.path and u.path[-1] == heading else (*u.path, heading)
