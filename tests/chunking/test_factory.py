from __future__ import annotations

import random
import re

import pytest

from ragline.chunking.base import Chunker
from ragline.chunking.factory import make_chunker
from ragline.chunking.parent_child import ParentChildChunker
from ragline.chunking.recursive import RecursiveChunker
from ragline.chunking.structure import StructureChunker
from ragline.settings import ChunkingSettings
from ragline.types import Document
from tests.chunking.gen import ENGLISH


@pytest.mark.parametrize(
    ("strategy", "cls"),
    [("recursive", RecursiveChunker), ("structure", StructureChunker), ("parent-child", ParentChildChunker)],
)
def test_strategy_maps_to_chunker(tok, strategy: str, cls: type) -> None:
    settings = ChunkingSettings(strategy=strategy, chunk_size=96, chunk_overlap=12, parent_size=512)  # type: ignore[arg-type]
    outer = make_chunker(settings, tok)
    chunker = outer.inner
    assert type(chunker) is cls
    assert isinstance(chunker, Chunker) and isinstance(outer, Chunker)
    assert (chunker.chunk_size, chunker.chunk_overlap) == (96, 12)  # type: ignore[attr-defined]
    if cls is ParentChildChunker:
        assert chunker.parent_size == 512  # type: ignore[attr-defined]


def test_default_settings_chunk_markdown(tok) -> None:
    chunker = make_chunker(ChunkingSettings(), tok)
    out = chunker.chunk(Document("d", "s", "# Title\n\nHello there."))
    assert [c.section_path for c in out.chunks] == [("Title",)]


class _WordTokenizer:
    """Whitespace/punctuation tokenizer: measures the chunkers' own overhead, not the HF tokenizer's."""

    max_tokens = 254
    _TOKEN = re.compile(r"\w+|[^\w\s]")

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._TOKEN.finditer(text)]

    def count(self, text: str) -> int:
        return len(self._TOKEN.findall(text))

    def count_batch(self, texts: list[str]) -> list[int]:
        return [self.count(t) for t in texts]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["recursive", "structure", "parent-child"])
def test_five_thousand_documents_all_chunk(strategy: str) -> None:
    # Speed is measured in bench/ingest.py, not asserted here.
    rng = random.Random(0)
    words = ENGLISH
    docs = [
        Document(f"d{i}", "s", "\n\n".join(" ".join(rng.choice(words) for _ in range(100)) for _ in range(3)))
        for i in range(5000)
    ]
    chunker = make_chunker(ChunkingSettings(strategy=strategy), _WordTokenizer())  # type: ignore[arg-type]
    chunked = [chunker.chunk(d).chunks for d in docs]
    assert all(chunked), "every document yields at least one chunk"
    assert sum(len(c) for c in chunked) >= 5000
