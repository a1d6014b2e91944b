"""Markdown files (.md, .markdown), with optional YAML front matter."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ragline.cleaning.text import clean_text
from ragline.loaders._common import decode_text, flatten_metadata, make_document, read_bytes, source_of
from ragline.types import Document, Metadata, MetadataValue

_FM_KEY = re.compile(r"^([A-Za-z0-9_][^:]*?)\s*:(?:[ \t]+(.*))?$")
_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_H1 = re.compile(r"^ {0,3}# +(.+?)(?: +#+)? *$")


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """Scalar ``key: value`` pairs of a YAML front-matter block and the text after it."""

    values: dict[str, MetadataValue] = field(default_factory=dict)
    body: str = ""


def _scalar(raw: str) -> MetadataValue | None:
    """A YAML plain/quoted scalar as a Python value; None for null, lists and mappings."""
    value = raw.strip()
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        try:
            decoded = json.loads(value)
        except ValueError:
            return value[1:-1]
        return decoded if isinstance(decoded, str) else value[1:-1]
    if value.startswith("'") and value.endswith("'") and len(value) >= 2:
        return value[1:-1].replace("''", "'")
    # A plain scalar ends at an inline comment.
    value = value.split(" #", 1)[0].rstrip()
    if not value or value in ("~", "null", "Null", "NULL") or value[0] in "[{&*!|>":
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if _INT.match(value):
        return int(value.replace("_", ""))
    if _FLOAT.match(value):
        return float(value)
    return value


def parse_front_matter(text: str) -> FrontMatter:
    """Split a leading ``---`` YAML block from ``text``; only top-level scalar pairs are kept.

    A deliberately small parser (no YAML dependency): nested mappings, lists and anchors are
    skipped; ``|``/``>`` block scalars are read. Text without a closed block is returned unchanged.
    """
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return FrontMatter(body=text)
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        return FrontMatter(body=text)
    values: dict[str, MetadataValue] = {}
    i = 1
    while i < end:
        line = lines[i]
        i += 1
        match = _FM_KEY.match(line)
        if match is None or line.lstrip().startswith("#"):
            continue
        key, raw = match.group(1), (match.group(2) or "").strip()
        if raw[:1] in ("|", ">"):
            block: list[str] = []
            while i < end and (not lines[i].strip() or lines[i][:1] in (" ", "\t")):
                block.append(lines[i].strip())
                i += 1
            joined = ("\n" if raw[0] == "|" else " ").join(block).strip()
            if joined:
                values[key] = joined
            continue
        value = _scalar(raw)
        if value is not None:
            values[key] = value
    return FrontMatter(values=values, body="\n".join(lines[end + 1 :]))


def first_h1(text: str) -> str:
    """Text of the first ``# `` heading outside fenced code blocks, or ""."""
    fence = ""
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            if not fence:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = ""
            continue
        if not fence:
            heading = _H1.match(line)
            if heading:
                return heading.group(1).strip()
    return ""


class MarkdownLoader:
    """Loads a Markdown file as one document, keeping its Markdown (headings stay ``#`` lines)."""

    extensions: tuple[str, ...] = (".md", ".markdown")

    def load(self, path: Path) -> list[Document]:
        """One document; front-matter scalars become metadata, ``title`` the document title."""
        raw = decode_text(read_bytes(path), path).replace("\r\n", "\n").replace("\r", "\n")
        front = parse_front_matter(raw)
        text = clean_text(front.body)
        values = dict(front.values)
        fm_title = values.pop("title", None)
        title = str(fm_title) if fm_title is not None else first_h1(text) or path.stem
        if not text:
            return []
        metadata: Metadata = flatten_metadata(values)
        return [make_document(path, source_of(path), text, title=title, metadata=metadata, cleaned=True)]
