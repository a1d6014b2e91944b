"""Exact-duplicate removal across loaded documents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ragline.types import Document


@dataclass(frozen=True, slots=True)
class DedupResult:
    """Documents to keep, and each dropped duplicate with the id of the document it duplicates."""

    kept: list[Document]
    duplicates: list[tuple[Document, str]]


def dedup_documents(docs: Iterable[Document], seen: dict[str, str] | None = None) -> DedupResult:
    """Drop documents whose :attr:`Document.content_hash` was already seen; first one wins, order kept.

    ``seen`` (content hash -> id of the first document) carries what earlier calls saw, so one
    ingest run dedups across files; it is updated in place.
    """
    first_by_hash: dict[str, str] = {} if seen is None else seen
    kept: list[Document] = []
    duplicates: list[tuple[Document, str]] = []
    for doc in docs:
        digest = doc.content_hash
        original = first_by_hash.get(digest)
        if original is None:
            first_by_hash[digest] = doc.id
            kept.append(doc)
        else:
            duplicates.append((doc, original))
    return DedupResult(kept=kept, duplicates=duplicates)
