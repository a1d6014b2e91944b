"""Semantic chunking: cut where the meaning of neighbouring sentences changes.

The method is Greg Kamradt's "semantic chunking", level 4 of his "5 Levels of Text Splitting"
(github.com/FullStackRetrieval-com/RetrievalTutorials, ``5_Levels_Of_Text_Splitting.ipynb``): split
into sentences, embed them with a buffer of neighbouring sentences, compare the text on the two
sides of each sentence gap, and break where the similarity is unusually low for this document
(below a percentile of its own similarities, so the rule adapts to how uniform the text is). The
windows compared across a gap are disjoint, as in TextTiling (Hearst 1997), rather than Kamradt's
overlapping ones: see :func:`gap_windows`.

Additions here: Markdown headings always start a chunk and set ``section_path`` (sections as the
structure chunker finds them), chunks never exceed ``chunk_size`` tokens (an oversized group is cut
again at its weakest link), and a single sentence longer than a chunk is split by the recursive
splitter. Chunks do not overlap: the boundaries are meant to be clean topic shifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from ragline.chunking.base import ChunkedDocument
from ragline.chunking.sentence import (
    BlockBudget,
    Piece,
    SentenceBlock,
    block_budget,
    sentence_blocks,
)
from ragline.chunking.spans import MIN_FILL, TokenizedText, build_chunks, check_sizes, fit_title
from ragline.chunking.structure import SectionSplitter
from ragline.embedding.base import Embedder, l2_normalize
from ragline.errors import ConfigError
from ragline.text.tokenizer import Tokenizer
from ragline.types import Document

Floats = npt.NDArray[np.float32]


def gap_similarities(left: Floats, right: Floats) -> Floats:
    """Row-wise cosine similarity of unit vectors: how alike the text on two sides of each gap is.

    The boundary signal of Kamradt's semantic chunking (G. Kamradt, "5 Levels of Text Splitting")
    and of TextTiling (Hearst 1997): a topic shift shows up as a dip in this similarity.
    """
    sims: Floats = np.einsum("ij,ij->i", left, right).astype(np.float32, copy=False)
    return sims


def gap_windows(
    units: tuple[tuple[int, int], ...], buffer: int
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """For each gap between consecutive units, the spans compared across it.

    The left window is the unit before the gap plus ``buffer`` units before it, the right window
    the unit after the gap plus ``buffer`` after it (clipped to the block). Kamradt's notebook
    embeds each sentence with neighbours on both sides and compares consecutive windows; those
    windows share all but two sentences, which flattens the dip at a topic shift (all-MiniLM-L6-v2
    on the three-topic text of ``tests/chunking/test_semantic.py``: the first shift scored 0.81,
    above the median 0.72). Disjoint windows on the two sides of the gap, as in TextTiling's block
    comparison (Hearst 1997, "TextTiling: Segmenting Text into Multi-paragraph Subtopic
    Passages"), keep the dip sharp (0.08 and -0.04 at the shifts against a median of 0.34).
    """
    n = len(units)
    return [
        ((units[max(0, i - buffer)][0], units[i][1]), (units[i + 1][0], units[min(n - 1, i + 1 + buffer)][1]))
        for i in range(n - 1)
    ]


@dataclass(frozen=True, slots=True)
class _Group:
    """Units ``first..last`` (inclusive) of one block."""

    first: int
    last: int


class SemanticChunker:
    """Chunks end where the embedding similarity of neighbouring sentences drops (Kamradt).

    At each gap between sentences, the sentence before it plus ``buffer`` earlier ones is compared
    with the sentence after it plus ``buffer`` later ones (cosine of their embeddings); a boundary
    goes at every gap whose similarity falls below the ``percentile``-th percentile of the
    document's gap similarities (20: about one gap in five becomes a boundary; lower means fewer,
    longer chunks). Markdown headings start a new chunk and give ``section_path``
    exactly as :class:`~ragline.chunking.structure.StructureChunker` does. Groups over
    ``chunk_size`` tokens are cut again at their least similar sentence gap; a sentence longer
    than a chunk is split by the recursive splitter. Chunks do not overlap.

    Example::

        chunker = SemanticChunker(HFTokenizer(packaged_model_dir()), OnnxEmbedder(), chunk_size=200)
        [c.text for c in chunker.chunk(doc).chunks]  # one chunk per topic
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        embedder: Embedder,
        chunk_size: int = 200,
        percentile: float = 20.0,
        *,
        buffer: int = 1,
    ) -> None:
        check_sizes(tokenizer, chunk_size, 0)
        numeric = isinstance(percentile, int | float) and not isinstance(percentile, bool)
        if not numeric or not 0 < percentile < 100:
            raise ConfigError(f"percentile must be in (0, 100), got {percentile!r}")
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 0:
            raise ConfigError(f"buffer must be a non-negative number of sentences, got {buffer!r}")
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.chunk_size = chunk_size
        self.percentile = float(percentile)
        self.buffer = buffer

    @cached_property
    def _splitter(self) -> SectionSplitter:
        return SectionSplitter(self.tokenizer, self.chunk_size, 0)

    def chunk(self, doc: Document) -> ChunkedDocument:
        if not doc.text or doc.text.isspace():
            return ChunkedDocument([])
        text = doc.text
        tt = TokenizedText.of(text, self.tokenizer)
        title = fit_title(doc.title, self.tokenizer)
        blocks = sentence_blocks(text)
        sims = self.similarities(text, blocks)
        flat = np.concatenate(sims) if sims else np.zeros(0, dtype=np.float32)
        # With no similarities (one sentence per section) there is nothing to cut.
        threshold = float(np.percentile(flat, self.percentile)) if len(flat) else -np.inf
        pieces: list[Piece] = []
        for block, block_sims in zip(blocks, sims, strict=True):
            bb = block_budget(self._splitter, tt, block.path, title)
            cuts = [i for i, s in enumerate(block_sims) if s < threshold]
            first = 0
            for last in [*cuts, len(block.units) - 1]:
                pieces.extend(self._fit(bb, block, block_sims, _Group(first, last)))
                first = last + 1
        return ChunkedDocument(build_chunks(doc, [(s, e, path, None) for s, e, path in pieces], title))

    def similarities(self, text: str, blocks: list[SentenceBlock]) -> list[Floats]:
        """Per block, the similarity across each gap between sentences (one batched embed call)."""
        spans: dict[tuple[int, int], int] = {}  # each distinct window is embedded once
        pairs: list[list[tuple[int, int]]] = []
        for block in blocks:
            pairs.append(
                [
                    (spans.setdefault(left, len(spans)), spans.setdefault(right, len(spans)))
                    for left, right in gap_windows(block.units, self.buffer)
                ]
            )
        if not spans:
            return [np.zeros(0, dtype=np.float32) for _ in blocks]
        vectors = self.embedder.embed_documents([text[s:e] for s, e in spans])
        # Normalised again: the protocol promises unit vectors, but a remote embedder may not keep it.
        unit = l2_normalize(np.asarray(vectors, dtype=np.float32))
        out: list[Floats] = []
        for block_pairs in pairs:
            if not block_pairs:
                out.append(np.zeros(0, dtype=np.float32))
                continue
            left, right = (np.array(side, dtype=np.intp) for side in zip(*block_pairs, strict=True))
            out.append(gap_similarities(unit[left], unit[right]))
        return out

    @staticmethod
    def _fit(bb: BlockBudget, block: SentenceBlock, sims: Floats, group: _Group) -> list[Piece]:
        """The group as chunks within budget, cut at its weakest links, in document order."""
        units = block.units
        out: list[Piece] = []
        min_fill = max(1, bb.budget // MIN_FILL)
        # Explicit stack (right half pushed first) keeps order without deep recursion on long groups.
        stack = [group]
        while stack:
            g = stack.pop()
            start, end = units[g.first][0], units[g.last][1]
            if g.first == g.last or bb.fits(start, end):
                out.extend(bb.pieces(start, end))
                continue
            # Cut at the least similar gap whose both sides keep a third of a chunk, so forced cuts
            # do not leave one-sentence slivers; any gap when no such cut exists.
            gaps = range(g.first, g.last)
            count = bb.tt.count
            balanced = [
                k
                for k in gaps
                if count(start, units[k][1]) >= min_fill and count(units[k + 1][0], end) >= min_fill
            ]
            k = min(balanced or gaps, key=lambda i: (float(sims[i]), i))
            stack.append(_Group(k + 1, g.last))
            stack.append(_Group(g.first, k))
        return out
