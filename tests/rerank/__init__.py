"""Tests of ``ragline.rerank``, and the hit builder they share."""

from __future__ import annotations

from ragline.types import Chunk, Hit, MetadataValue, RetrieverScore, stable_id


def make_hit(text: str, score: float = 1.0, rank: int = 1, **metadata: MetadataValue) -> Hit:
    """A hit on a one-chunk document holding ``text``, with a dense-retriever opinion attached."""
    doc_id = stable_id("doc", text)
    chunk = Chunk(
        id=stable_id(doc_id, "0", text),
        doc_id=doc_id,
        text=text,
        position=0,
        start=0,
        end=len(text),
        metadata=dict(metadata),
    )
    return Hit(chunk=chunk, score=score, retrievers={"dense": RetrieverScore(rank=rank, score=score)})


def make_hits(*texts: str) -> list[Hit]:
    """Hits on ``texts`` in that order, with decreasing first-stage scores 1/1, 1/2, ..."""
    return [make_hit(t, score=1.0 / i, rank=i) for i, t in enumerate(texts, start=1)]


def texts(hits: list[Hit]) -> list[str]:
    return [h.chunk.text for h in hits]
