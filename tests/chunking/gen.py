"""Seeded random documents and the invariants every chunker must keep (hypothesis is not installed)."""

from __future__ import annotations

import random

from ragline.chunking.base import ChunkedDocument
from ragline.text.tokenizer import HFTokenizer
from ragline.types import Document

ENGLISH = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "was",
    "for",
    "on",
    "that",
    "with",
    "as",
    "by",
    "at",
    "from",
    "which",
    "an",
    "be",
    "this",
    "are",
    "or",
    "have",
    "had",
    "not",
    "but",
    "it",
    "were",
    "they",
    "their",
    "one",
    "all",
    "has",
    "been",
    "more",
    "also",
    "who",
    "its",
    "new",
    "can",
    "after",
    "first",
    "two",
    "other",
    "some",
    "time",
    "would",
    "about",
    "into",
    "only",
    "may",
    "such",
    "these",
    "over",
    "most",
    "many",
    "than",
    "then",
    "when",
    "people",
    "made",
    "used",
    "world",
    "install",
    "configure",
    "server",
    "database",
    "network",
    "retrieval",
    "embedding",
    "tokenizer",
    "chunk",
    "section",
]
UNICODE = [
    "naïve",
    "café",
    "中文字符",
    "日本語のテキスト",
    "🙂🚀",
    "Ünïcödé",
    "ǅemal",
    "e\u0301te",
    "İstanbul",
    "ﬁne",
]
ODD = ["\u200b", "\x00", "\u00a0", "\u3000", "\x0b", "\x1c", "\t", "\r\n", "zero\u200bwidth", "x\x00y"]
PUNCT = [".", ",", ";", "!", "?", ":", "—", "…", "。", "，", "(", ")", '"']


def _word(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        return rng.choice(ENGLISH)
    if r < 0.75:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 14)))
    if r < 0.85:
        return rng.choice(UNICODE)
    if r < 0.92:
        return rng.choice(ODD)
    if r < 0.985:
        return str(rng.randint(0, 10**6))
    # A "word" longer than any chunk: letters, digits and symbols without spaces.
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789/-_.中é"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(120, 1500)))


def _paragraph(rng: random.Random, words: int, punctuate: bool) -> str:
    out: list[str] = []
    for _ in range(words):
        out.append(_word(rng))
        if punctuate and rng.random() < 0.12:
            out[-1] += rng.choice(PUNCT)
        if punctuate and rng.random() < 0.03:
            out.append("\n")
    return " ".join(out)


def random_text(rng: random.Random, markdown: bool = True) -> str:
    """A document mixing prose, long words, unicode, headings, fences and odd whitespace."""
    punctuate = rng.random() < 0.7
    blocks: list[str] = []
    for _ in range(rng.randint(0, 14)):
        r = rng.random()
        if markdown and r < 0.25:
            level = rng.randint(1, 6)
            closing = " " + "#" * rng.randint(1, 3) if rng.random() < 0.2 else ""
            blocks.append("#" * level + " " + _paragraph(rng, rng.randint(1, 5), False) + closing)
        elif markdown and r < 0.32:
            title = _paragraph(rng, rng.randint(1, 4), False).replace("\n", " ")
            blocks.append(title + "\n" + rng.choice("=-") * rng.randint(1, 8))
        elif markdown and r < 0.38:
            fence = rng.choice(["```", "~~~", "````"])
            inner = "\n".join(
                rng.choice(
                    ["# comment", "## not a heading", "x = 1", "---", "=====", _paragraph(rng, 8, True)]
                )
                for _ in range(rng.randint(1, 8))
            )
            blocks.append(f"{fence}python\n{inner}\n{fence}")
        elif markdown and r < 0.42:
            blocks.append(rng.choice(["---", "***", "- item one\n- item two", "> quoted text\n---"]))
        elif r < 0.47:
            blocks.append(rng.choice(["", "   ", "\t", " \n "]))
        else:
            blocks.append(_paragraph(rng, rng.randint(1, 400), punctuate))
    sep = rng.choice(["\n\n", "\n", "\n\n\n", "\r\n\r\n", "\n \n"])
    text = sep.join(blocks)
    if rng.random() < 0.2:
        text = "  \n" + text + "\n\n  "
    return text


def random_docs(seed: int, n: int, markdown: bool = True) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        page_starts: tuple[int, ...] = ()
        text = random_text(rng, markdown)
        if text and rng.random() < 0.3:
            page_starts = tuple(sorted({0, *(rng.randrange(len(text)) for _ in range(rng.randint(0, 5)))}))
        # Titles head every chunk's embedded text, so long ones must shrink the chunk budget.
        title = rng.choice(["", "", _paragraph(rng, rng.randint(1, 6), False), _paragraph(rng, 60, False)])
        docs.append(
            Document(
                id=f"doc-{seed}-{i}",
                source=f"src/{i}.md",
                text=text,
                metadata={"k": i},
                page_starts=page_starts,
                title=title,
            )
        )
    return docs


def random_table(rng: random.Random) -> str:
    """A Markdown table: header, delimiter, 0-25 rows of short or long cells."""
    width = rng.randint(1, 4)
    header = "| " + " | ".join(_paragraph(rng, rng.randint(1, 3), False) for _ in range(width)) + " |"
    rows = [
        "| " + " | ".join(_paragraph(rng, rng.choice([1, 2, 3, 30]), False) for _ in range(width)) + " |"
        for _ in range(rng.randint(0, 25))
    ]
    return "\n".join([header, "|" + " --- |" * width, *rows]).replace("\n\n", " ")


def random_docs_with_tables(seed: int, n: int) -> list[Document]:
    """:func:`random_docs` with Markdown tables put between their blocks."""
    rng = random.Random(seed)
    docs = []
    for doc in random_docs(seed, n):
        blocks = doc.text.split("\n\n")
        for _ in range(rng.randint(1, 3)):
            blocks.insert(rng.randint(0, len(blocks)), random_table(rng))
        docs.append(Document(id=doc.id, source=doc.source, text="\n\n".join(blocks), title=doc.title))
    return docs


def check_invariants(doc: Document, out: ChunkedDocument, tok: HFTokenizer, chunk_size: int) -> None:
    """Assert the contract every chunker shares; raises AssertionError naming the broken rule."""
    text = doc.text
    chunks = out.chunks
    size = min(chunk_size, tok.max_tokens)
    covered = bytearray(len(text))
    prev_start = -1
    for i, c in enumerate(chunks):
        assert c.position == i, (doc.id, i, c.position)
        assert c.text == text[c.start : c.end], (doc.id, i)
        assert c.text and c.text == c.text.strip(), (doc.id, i, c.text[:40])
        assert c.start > prev_start, (doc.id, i, "chunks not ordered by start")
        prev_start = c.start
        assert c.doc_id == doc.id and c.source == doc.source and doc.title.startswith(c.title.rstrip("…"))
        assert tok.count(c.embed_text) <= tok.max_tokens, (doc.id, i, tok.count(c.embed_text))
        assert tok.count(c.text) <= size, (doc.id, i, tok.count(c.text), size, c.text[:80])
        assert all(c.metadata[k] == v for k, v in doc.metadata.items())
        if doc.page_starts:
            assert c.metadata["page"] == doc.page_at(c.start)
            assert c.metadata["page_end"] == doc.page_at(c.end - 1)
        else:
            assert "page" not in c.metadata
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    missing = [j for j, ch in enumerate(text) if not covered[j] and not ch.isspace()]
    assert not missing, (doc.id, "uncovered", [text[j - 5 : j + 5] for j in missing[:3]])
