"""Code-aware chunking: source files cut at functions and classes, parsed with tree-sitter.

Documents of a code file type (``file_type`` in :data:`ragline.types.CODE_LANGUAGES`, as the code
loader writes them) are parsed with the grammar for their ``language`` from
``tree-sitter-language-pack`` (compiled grammars inside the wheel; nothing is downloaded). Each
definition (function, method, class, struct, interface, impl, module...) becomes a section whose
path is the file name and the names of the definitions around it, e.g. ``("app.py", "Cart",
"total")``; comments and attributes just before a definition belong to it. A definition that fits
one chunk is one chunk; a larger one is cut at the definitions inside it (a class at its methods),
and a function with none is split like prose (at blank lines, then lines). Code between
definitions (imports, constants) is a section of the enclosing path; a short one joins the next
definition (or the previous, at the end).

Other documents go to the configured chunker. A code document whose language has no grammar here,
or any code document when the grammar package is missing, is chunked by the recursive chunker,
with the reason logged once per language.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ragline.chunking.base import ChunkedDocument, Chunker
from ragline.chunking.recursive import RecursiveChunker
from ragline.chunking.spans import TokenizedText, build_chunks, fit_title
from ragline.chunking.structure import SectionSpan, SectionSplitter
from ragline.text.tokenizer import Tokenizer
from ragline.types import CODE_LANGUAGES, Document

log = logging.getLogger(__name__)

_PYTHON = {"function_definition", "class_definition"}
_JS = {"function_declaration", "generator_function_declaration", "class_declaration", "method_definition"}
_TS = _JS | {
    "abstract_class_declaration",
    "interface_declaration",
    "enum_declaration",
    "type_alias_declaration",
    "internal_module",
}
_C = {"function_definition", "struct_specifier", "union_specifier", "enum_specifier"}
#: Grammar name -> node types that are definitions (a chunk each, named in the section path).
DEFINITIONS: dict[str, frozenset[str]] = {
    "python": frozenset(_PYTHON),
    "javascript": frozenset(_JS),
    "typescript": frozenset(_TS),
    "tsx": frozenset(_TS),
    "go": frozenset({"function_declaration", "method_declaration", "type_declaration"}),
    "java": frozenset(
        {
            "class_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
            "annotation_type_declaration",
            "method_declaration",
            "constructor_declaration",
        }
    ),
    "kotlin": frozenset({"class_declaration", "object_declaration", "function_declaration"}),
    "scala": frozenset({"class_definition", "object_definition", "trait_definition", "function_definition"}),
    "rust": frozenset(
        {
            "function_item",
            "impl_item",
            "struct_item",
            "enum_item",
            "trait_item",
            "mod_item",
            "macro_definition",
        }
    ),
    "c": frozenset(_C),
    "cpp": frozenset(_C | {"class_specifier", "namespace_definition"}),
    "csharp": frozenset(
        {
            "class_declaration",
            "interface_declaration",
            "struct_declaration",
            "enum_declaration",
            "record_declaration",
            "method_declaration",
            "constructor_declaration",
            "namespace_declaration",
        }
    ),
    "ruby": frozenset({"method", "singleton_method", "class", "module"}),
    "php": frozenset(
        {
            "function_definition",
            "class_declaration",
            "method_declaration",
            "interface_declaration",
            "trait_declaration",
        }
    ),
    "swift": frozenset({"class_declaration", "function_declaration", "protocol_declaration"}),
    "lua": frozenset({"function_declaration"}),
    "bash": frozenset({"function_definition"}),
}
# Nodes that wrap a definition (decorators, ``export``, templates): the definition starts with them.
_WRAPPERS = frozenset({"decorated_definition", "export_statement", "template_declaration"})
# Type specifiers are definitions only with a body (``struct point {...}``), not where they name a
# type (``struct point *p``).
_NEEDS_BODY = frozenset({"struct_specifier", "union_specifier", "enum_specifier", "class_specifier"})
# Sibling nodes just before a definition that belong to it: doc comments, Rust attributes.
_LEADING = ("comment", "attribute_item")
_NAME_TYPES = ("identifier", "constant", "name", "word")
# Deepest nesting searched for definitions inside a node (blocks inside blocks).
_MAX_DEPTH = 12


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    path: tuple[str, ...]
    definition: bool


def code_language(doc: Document) -> str | None:
    """The language of a code document (its ``file_type`` is a code extension), else None."""
    file_type = doc.metadata.get("file_type")
    if not isinstance(file_type, str) or f".{file_type}" not in CODE_LANGUAGES:
        return None
    language = doc.metadata.get("language")
    return language if isinstance(language, str) else CODE_LANGUAGES[f".{file_type}"]


class _Offsets:
    """Byte offsets of the UTF-8 text (what tree-sitter reports) to character offsets."""

    def __init__(self, text: str, data: bytes) -> None:
        self._ascii = len(data) == len(text)
        if not self._ascii:
            starts, pos = [], 0
            for ch in text:
                starts.append(pos)
                pos += len(ch.encode("utf-8"))
            starts.append(pos)  # the end of the text
            self._starts = starts

    def char(self, byte: int) -> int:
        if self._ascii:
            return byte
        return bisect_right(self._starts, byte) - 1


class _Outline:
    """Cuts one parsed file into spans (see the module docstring)."""

    def __init__(self, data: bytes, offsets: _Offsets, kinds: frozenset[str], fits: Any) -> None:
        self.data = data
        self.offsets = offsets
        self.kinds = kinds
        # fits(start, end, path) -> bool: the span is one chunk under its path's budget.
        self.fits = fits

    def _text(self, node: Any) -> str:
        return str(self.data[node.start_byte : node.end_byte].decode("utf-8", "replace"))

    def is_definition(self, node: Any) -> bool:
        if node.type not in self.kinds:
            return False
        return node.type not in _NEEDS_BODY or node.child_by_field_name("body") is not None

    def definitions(self, node: Any, depth: int = 0) -> Iterator[Any]:
        """The outermost definitions below ``node``, in order."""
        for child in node.named_children:
            if self.is_definition(child):
                yield child
            elif depth < _MAX_DEPTH and child.named_child_count:
                yield from self.definitions(child, depth + 1)

    def name(self, node: Any) -> str:
        """A definition's name: its ``name`` field, else the declarator (C, C++), the implemented
        type (Rust ``impl``), the type spec (Go), else its first identifier."""
        named = node.child_by_field_name("name")
        if named is not None:
            return " ".join(self._text(named).split())
        declarator = node.child_by_field_name("declarator")
        while declarator is not None and declarator.child_by_field_name("declarator") is not None:
            declarator = declarator.child_by_field_name("declarator")
        if declarator is not None:
            return " ".join(self._text(declarator).split())
        implemented = node.child_by_field_name("type")
        if implemented is not None:
            trait = node.child_by_field_name("trait")
            prefix = f"{self._text(trait)} for " if trait is not None else ""
            return prefix + self._text(implemented)
        for child in node.named_children:
            if child.type == "type_spec":
                return self.name(child)
            if child.type.endswith(_NAME_TYPES):
                return self._text(child)
        return str(node.type)

    def start_of(self, node: Any, floor: int) -> int:
        """Where a definition's span starts: its wrapper, then the comments and attributes right
        before it (never before ``floor``, the end of the previous span)."""
        while node.parent is not None and node.parent.type in _WRAPPERS:
            node = node.parent
        start: int = node.start_byte
        prev = node.prev_named_sibling
        while prev is not None and prev.type.endswith(_LEADING) and prev.start_byte >= floor:
            start = prev.start_byte
            prev = prev.prev_named_sibling
        return start

    def spans(self, node: Any, lo: int, hi: int, path: tuple[str, ...]) -> list[_Span]:
        """Spans covering bytes ``[lo, hi)`` of ``node``: its definitions and the code between."""
        out: list[_Span] = []
        cursor = lo
        for child in self.definitions(node):
            start = max(self.start_of(child, cursor), cursor)
            end = min(child.end_byte, hi)
            if start >= end:
                continue
            if start > cursor:
                out.append(_Span(cursor, start, path, False))
            inner = (*path, self.name(child))
            if self.fits(start, end, inner):
                out.append(_Span(start, end, inner, True))
            else:
                nested = self.spans(child, start, end, inner)
                out.extend(nested if any(s.definition for s in nested) else [_Span(start, end, inner, True)])
            cursor = end
        if cursor < hi:
            out.append(_Span(cursor, hi, path, False))
        return out


def _join_small(spans: list[_Span], small: Any) -> list[_Span]:
    """Code between definitions that is short (``small(start, end)``) joins the next definition,
    or the previous one at the end."""
    out: list[_Span] = []
    pending: _Span | None = None
    for span in spans:
        if pending is not None:
            span = _Span(pending.start, span.end, span.path, span.definition)
            pending = None
        if not span.definition and small(span.start, span.end):
            pending = span
            continue
        out.append(span)
    if pending is not None:
        if out:
            last = out[-1]
            out[-1] = _Span(last.start, pending.end, last.path, last.definition)
        else:
            out.append(pending)
    return out


class CodeChunker:
    """Chunks code documents at functions and classes (see the module docstring).

    Example::

        chunker = CodeChunker(HFTokenizer(packaged_model_dir()), chunk_size=200, chunk_overlap=32)
        [c.section_path for c in chunker.chunk(doc).chunks]  # [("app.py", "Cart", "total"), ...]
    """

    def __init__(self, tokenizer: Tokenizer, chunk_size: int = 200, chunk_overlap: int = 32) -> None:
        self.tokenizer = tokenizer
        self._splitter = SectionSplitter(tokenizer, chunk_size, chunk_overlap)
        self._fallback = RecursiveChunker(tokenizer, chunk_size, chunk_overlap)
        # Languages found to have no parser: chunked by the fallback.
        self._unparsable: set[str] = set()
        self._logged: set[str] = set()

    def _fall_back(self, language: str, reason: str) -> None:
        if language not in self._logged:
            self._logged.add(language)
            log.info(
                "code-aware chunking: %s; %s files are chunked by the recursive chunker", reason, language
            )

    def _parser(self, language: str) -> Any:
        """A new parser for ``language`` (tree-sitter parsers are not thread-safe and ingests
        share this chunker; one costs ~2 us), or None with the reason logged once."""
        if language in self._unparsable:
            return None
        parser = None
        if language not in DEFINITIONS:
            self._fall_back(language, f"no definition rules for language {language!r}")
        else:
            try:
                from tree_sitter_language_pack import get_parser
            except ImportError:
                self._fall_back(
                    language,
                    "the tree-sitter grammars are not installed (pip install 'ragline[code]', "
                    "i.e. tree-sitter-language-pack<1)",
                )
            else:
                try:
                    parser = get_parser(language)  # type: ignore[arg-type]
                except (LookupError, ValueError, OSError) as exc:
                    self._fall_back(language, f"no tree-sitter grammar for {language!r} ({exc})")
        if parser is None:
            self._unparsable.add(language)
        return parser

    def chunk(self, doc: Document) -> ChunkedDocument:
        language = code_language(doc) or ""
        parser = self._parser(language) if language else None
        if parser is None:
            return self._fallback.chunk(doc)
        if not doc.text or doc.text.isspace():
            return ChunkedDocument([])
        data = doc.text.encode("utf-8")
        offsets = _Offsets(doc.text, data)
        tt = TokenizedText.of(doc.text, self.tokenizer)
        title = fit_title(doc.title, self.tokenizer)
        file_name = doc.metadata.get("file_name")
        root_path = (str(file_name) if file_name else doc.title or "code",)
        splitter = self._splitter

        def fits(lo: int, hi: int, path: tuple[str, ...]) -> bool:
            return splitter.fits(tt, offsets.char(lo), offsets.char(hi), path, title)

        def small(lo: int, hi: int) -> bool:
            return tt.count(offsets.char(lo), offsets.char(hi)) < splitter.size // 4

        outline = _Outline(data, offsets, DEFINITIONS[language], fits)
        tree = parser.parse(data)
        spans = _join_small(outline.spans(tree.root_node, 0, len(data), root_path), small)
        sections = [SectionSpan(offsets.char(s.start), offsets.char(s.end), s.path) for s in spans]
        pieces = splitter.pieces(tt, sections, title, merge=False)
        return ChunkedDocument(build_chunks(doc, [(s, e, path, None) for s, e, path in pieces], title))


class CodeAwareChunker:
    """Code documents to :class:`CodeChunker`, every other document to ``inner``.

    Example::

        chunker = CodeAwareChunker(StructureChunker(tok), CodeChunker(tok))
    """

    def __init__(self, inner: Chunker, code: CodeChunker) -> None:
        self.inner = inner
        self.code = code

    def chunk(self, doc: Document) -> ChunkedDocument:
        if code_language(doc) is not None:
            return self.code.chunk(doc)
        return self.inner.chunk(doc)
