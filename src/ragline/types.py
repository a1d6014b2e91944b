"""The types that flow through the pipeline: Document -> Chunk -> Hit.

Ids are stable: a document's id comes from its source and its place in that source (or an id the
source supplies), a chunk's id from its document id, position and text. Re-ingesting the same file
yields the same ids, so upserts replace rather than duplicate.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

MetadataValue = str | int | float | bool
Metadata = dict[str, MetadataValue]
# The *_prf lists are the second, pseudo-relevance-feedback searches (retrieval.prf_fusion = "add").
RetrieverName = Literal["dense", "dense_sentences", "keyword", "dense_prf", "keyword_prf"]
SearchMode = Literal["dense", "keyword", "hybrid"]


def content_hash(text: str) -> str:
    """Hex SHA-256 of ``text`` (UTF-8): the identity of a piece of content."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_id(*parts: str) -> str:
    """A short stable id from ``parts``: 32 hex chars of SHA-256 over the NUL-joined parts."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]


def header_of(title: str, section_path: tuple[str, ...]) -> str:
    """``Title > Section > Subsection``, the title left out when the path already starts with it."""
    parts = list(section_path)
    if title and (not parts or parts[0] != title):
        parts.insert(0, title)
    return " > ".join(parts)


# Source-code file types: the code loader's extensions and the language it records in a document's
# ``language`` metadata (tree-sitter grammar names); the code-aware chunker treats documents whose
# ``file_type`` is one of these as code.
CODE_LANGUAGES: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".tsx": "tsx", ".go": "go",
    ".java": "java", ".kt": "kotlin", ".scala": "scala", ".rs": "rust", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".swift": "swift", ".lua": "lua", ".sh": "bash",
    ".bash": "bash", ".r": "r", ".jl": "julia", ".ex": "elixir", ".exs": "elixir",
    ".hs": "haskell", ".ml": "ocaml", ".dart": "dart", ".sql": "sql",
}  # fmt: skip

DEFAULT_TENANT = "default"
# Group names end up in filters, URLs and log lines: a safe alphabet, as for tenants.
GROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$")


def parse_groups(text: str) -> tuple[str, ...]:
    """Comma-separated group names, checked and sorted: ``"hr, eng"`` -> ``("eng", "hr")``;
    a ValueError names the bad ones."""
    groups = [g.strip() for g in text.split(",") if g.strip()]
    bad = [g for g in groups if not GROUP_RE.match(g)]
    if bad:
        raise ValueError(
            f"group name(s) {bad} are invalid; use letters, digits, '.' or '-' (max 64, no spaces)"
        )
    return tuple(sorted(set(groups)))


@dataclass(frozen=True, slots=True)
class Access:
    """Who may read a document: its tenant, the groups allowed to read it, the clearance it needs.

    No groups means every caller of the tenant may read it (subject to clearance). Set at ingest;
    every search filters on it inside the store query.
    """

    tenant: str = DEFAULT_TENANT
    groups: tuple[str, ...] = ()
    clearance: int = 0


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a search: a tenant, the caller's groups and clearance.

    Example::

        engine.search("budget", principal=Principal(tenant="acme", groups=("finance",)))
    """

    tenant: str = DEFAULT_TENANT
    groups: tuple[str, ...] = ()
    clearance: int = 0

    def can_read(self, access: Access) -> bool:
        """The reference rule every store's ACL filter is tested against."""
        return (
            access.tenant == self.tenant
            and (not access.groups or bool(set(access.groups) & set(self.groups)))
            and access.clearance <= self.clearance
        )


@dataclass(frozen=True, slots=True)
class Document:
    """One logical document loaded from a source.

    ``source`` is the file path (or URI) it came from; several documents may share a source
    (rows of a CSV, lines of a JSONL file). ``metadata`` holds scalar values only, so that every
    key can be filtered on in the store.
    """

    id: str
    source: str
    text: str
    metadata: Metadata = field(default_factory=dict)
    title: str = ""
    # Character offsets in ``text`` where each page begins (PDFs); empty when pages don't apply.
    page_starts: tuple[int, ...] = ()
    access: Access = Access()

    def page_at(self, offset: int) -> int | None:
        """1-based page number holding character ``offset``, or None for paginated-less documents."""
        if not self.page_starts:
            return None
        page = 0
        for i, start in enumerate(self.page_starts):
            if start <= offset:
                page = i
            else:
                break
        return page + 1

    @property
    def content_hash(self) -> str:
        return content_hash(self.title + "\x00" + self.text)


@dataclass(frozen=True, slots=True)
class Section:
    """A parent section of a document: what a generator reads when a child chunk is retrieved."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    section_path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable piece of a document.

    ``start``/``end`` are character offsets into the document's (cleaned) text, so
    ``doc.text[start:end] == text``. ``embed_text`` is what gets embedded and keyword-indexed: the
    section path prefixed to the text, so that "Install > Linux" context is searchable.
    """

    id: str
    doc_id: str
    text: str
    position: int
    start: int
    end: int
    section_path: tuple[str, ...] = ()
    parent_id: str | None = None
    metadata: Metadata = field(default_factory=dict)
    source: str = ""
    title: str = ""
    access: Access = Access()

    @property
    def section(self) -> str:
        return " > ".join(self.section_path)

    @property
    def header(self) -> str:
        """Document title and section path, e.g. ``Guide > Install > Linux`` (title not repeated)."""
        return header_of(self.title, self.section_path)

    @property
    def embed_text(self) -> str:
        header = self.header
        return f"{header}\n{self.text}" if header else self.text


@dataclass(frozen=True, slots=True)
class RetrieverScore:
    """One retriever's opinion of a chunk: its 1-based rank and raw score."""

    rank: int
    score: float


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: the chunk, its fused score and what each retriever said about it."""

    chunk: Chunk
    score: float
    retrievers: dict[RetrieverName, RetrieverScore] = field(default_factory=dict)


AnswerMode = Literal["extractive", "llm", "degraded"]


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """Where one chunk lies inside a passage's document; ``retrieved`` is False for added neighbours."""

    chunk_id: str
    start: int
    end: int
    retrieved: bool = True
    page: int | None = None


@dataclass(frozen=True, slots=True)
class Passage:
    """One contiguous span of a document handed to the answerer: merged, expanded hits.

    ``start``/``end`` are character offsets into the document's text, so two passages of the same
    document never overlap. ``score`` is the best fused score of the hits it holds.
    ``section_path`` is the best retrieved chunk's (its header is the passage's); ``starts_in``,
    when not empty, the section path of the passage's first sentence where it is another: a
    heading between the start of the chunk it starts in and its own (a window reaching back).
    """

    doc_id: str
    text: str
    start: int
    end: int
    chunks: tuple[ChunkSpan, ...]
    score: float
    rank: int
    tokens: int
    source: str = ""
    title: str = ""
    section_path: tuple[str, ...] = ()
    metadata: Metadata = field(default_factory=dict)
    starts_in: tuple[str, ...] = ()
    # The definition term whose entry the passage starts inside ("work_mem (integer)" above a
    # passage cut after it, "The default is 4MB."), else "": section paths name sections only.
    entry: str = ""

    @property
    def header(self) -> str:
        return header_of(self.title, self.section_path)

    def chunk_at(self, offset: int) -> ChunkSpan:
        """The chunk covering document offset ``offset`` (a retrieved one when several overlap)."""
        covering = [c for c in self.chunks if c.start <= offset < c.end]
        if not covering:
            return min(self.chunks, key=lambda c: min(abs(c.start - offset), abs(c.end - offset)))
        return next((c for c in covering if c.retrieved), covering[0])


@dataclass(frozen=True, slots=True)
class Context:
    """The passages an answer is built from, in prompt order ([1] is ``passages[0]``)."""

    passages: list[Passage]
    tokens: int
    budget: int
    # Passages that ranked but did not fit the budget.
    dropped: int = 0

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.passages)


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered source of an answer: which chunk, document, section, page and character span."""

    n: int
    chunk_id: str
    doc_id: str
    source: str
    title: str
    section_path: tuple[str, ...]
    page: int | None
    start: int
    end: int
    quote: str


SupportJudgeName = Literal["offline", "llm"]


@dataclass(frozen=True, slots=True)
class SentenceSupport:
    """Whether one answer sentence is supported by the passages it cites.

    ``start``/``end`` index ``Answer.text`` (both -1 for a sentence removed by
    ``answer.unsupported = "remove"``). ``citations`` are the sentence's ``[n]`` numbers;
    ``score`` is the support of all of them together (0..1), ``supported`` that score against the
    judge's threshold (a sentence citing nothing is unsupported). ``passage`` is the cited source
    that supports it best, ``precise`` the citations that are not irrelevant to it in ALCE's sense
    (Gao et al. 2023): each supports the sentence alone, or the others do not without it.
    """

    sentence: str
    start: int
    end: int
    citations: tuple[int, ...]
    score: float
    supported: bool
    passage: int | None
    precise: tuple[int, ...]
    judge: SupportJudgeName
    removed: bool = False


@dataclass(frozen=True, slots=True)
class ShortAnswer:
    """The value an answer states (a default, number, code, name or date), cited: ``n`` is the
    citation whose quote holds it and ``start``/``end`` its offsets in that document."""

    text: str
    n: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens spent by the generator and their estimated cost (None when the price is unknown)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class AnswerDebug:
    """What produced an answer: the hits with their scores, the assembled context, the final prompt,
    and the query retrieval ran with (the question itself unless a follow-up was rewritten)."""

    hits: list[Hit]
    context: Context
    prompt: str
    query: str = ""
    # How a follow-up became ``query`` (None when the question came without history).
    condensed: Condensed | None = None


@dataclass(frozen=True, slots=True)
class CachedFrom:
    """Where a cached answer came from: ``kind`` "exact" (the same question, same scope) or
    "semantic" (a question whose embedding was within the calibrated cosine ``similarity``);
    ``question`` is the question the answer was generated for, ``age_s`` how long ago."""

    kind: Literal["exact", "semantic"]
    question: str
    similarity: float
    age_s: float


@dataclass(frozen=True, slots=True)
class Answer:
    """A grounded answer. ``text`` cites its sources as ``[n]`` matching ``citations[i].n``.

    ``mode`` is ``extractive`` (offline answerer), ``llm``, or ``degraded`` (every LLM failed and
    the extractive answerer stood in; ``errors`` says why). ``timings_ms`` holds one entry per
    pipeline stage. ``debug`` is set only when asked for.
    """

    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    mode: AnswerMode
    confidence: float
    trace_id: str
    usage: Usage = field(default_factory=Usage)
    timings_ms: dict[str, float] = field(default_factory=dict)
    # Citations the generator wrote that pointed at no passage of the context (removed from text).
    invalid_citations: int = 0
    errors: tuple[str, ...] = ()
    debug: AnswerDebug | None = None
    # Set when the answer came from the answer cache (ragline.cache) instead of the generator.
    cached: CachedFrom | None = None
    # Per-sentence citation support (answer.unsupported != "keep" or asked for); empty when unchecked.
    support: tuple[SentenceSupport, ...] = ()
    # The short answer beside the quoted evidence, when the question asks for a value.
    short: ShortAnswer | None = None


@dataclass(frozen=True, slots=True)
class Token:
    """A streamed piece of answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class Restart:
    """The text streamed so far is void (the model failed mid-answer); a new attempt follows."""

    reason: str


@dataclass(frozen=True, slots=True)
class Final:
    """The last event of a stream: the complete answer with its citations."""

    answer: Answer


StreamEvent = Token | Restart | Final

ChatRole = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of a conversation: who said it and what.

    Example::

        engine.chat([Turn("user", "How do I install ragline on Linux?"), Turn("assistant", "..."),
                     Turn("user", "And on Windows?")])
    """

    role: ChatRole
    content: str


CondenseMethod = Literal["unchanged", "rules", "llm"]


@dataclass(frozen=True, slots=True)
class Condensed:
    """A follow-up question and the standalone query retrieval runs with.

    ``method`` is ``unchanged`` when the question needed no history (``query == question``),
    ``rules`` when the offline condenser rewrote it, ``llm`` when the LLM did; ``reason`` says why
    (which dependence was seen, or why an LLM reply was refused).
    """

    question: str
    query: str
    method: CondenseMethod = "unchanged"
    reason: str = ""


def tenant_of(principal: Principal | None) -> str:
    """The tenant a caller acts in: its own, or the default tenant for a local caller."""
    return DEFAULT_TENANT if principal is None else principal.tenant
