"""One sync of one source into its collection: scan, ingest what changed, delete what is gone.

Items go through the ingest pipeline (:meth:`Ingestor.run_items`), so a sync shares everything
an ingest does: unchanged versions skipped unfetched, chunk texts already embedded taken from the
embedding cache, one atomic commit per item, per-item errors reported without stopping the rest.
The caller holds the collection's write lock (``Engine.sync_source``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ragline.ingest.pipeline import Ingestor, IngestProgress, SourceItem
from ragline.settings import Settings
from ragline.sources.registry import SourceRegistry, SourceState, open_source
from ragline.store.base import Store


@dataclass(slots=True)
class SyncReport:
    """What one sync did. ``listed``: items upstream (changed ones only, for a git diff);
    ``fetched``: items downloaded; ``added``/``updated``: items written new or replaced;
    ``unchanged``: items whose version the collection held (nothing embedded); ``deleted``: items
    removed from the collection; ``failed``: (item, reason) not read this time (kept as they were);
    ``skipped``: (item, reason) no loader reads or robots.txt forbids."""

    source: str
    tenant: str
    collection: str
    kind: str
    listed: int = 0
    fetched: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    documents: int = 0
    chunks_indexed: int = 0
    chunks_embedded: int = 0
    # (document id, the original it nearly duplicates): items' documents not indexed.
    near_duplicates: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    finished_at: str = ""


def run_sync(
    registry: SourceRegistry,
    state: SourceState,
    store: Store,
    ingestor: Ingestor,
    settings: Settings,
    progress: Callable[[IngestProgress], None] | None = None,
) -> SyncReport:
    """Sync ``state``'s source into ``store`` and save its new cursor; returns the report."""
    started = time.perf_counter()
    d = state.definition
    report = SyncReport(d.name, d.tenant, d.collection, d.kind)
    source = open_source(d, settings, registry.work_dir(d.name, d.tenant))
    cursor = state.cursor
    try:
        before = store.source_hashes()
        scan = source.scan(cursor)
        listed: set[str] = set()

        def items() -> Iterator[SourceItem]:
            for item in scan.items:
                listed.add(item.source)
                yield item

        def sweep(seen: set[str]) -> Iterable[str]:
            gone = set(scan.gone)
            if scan.complete:
                gone |= {k for k in store.source_hashes() if k not in seen and source.owns(k, cursor)}
            return gone

        done = ingestor.run_items(items(), access=d.access, sweep=sweep, progress=progress)
        after = store.source_hashes()
    finally:
        source.close()
    report.listed = len(listed)
    report.fetched = scan.fetched
    report.unchanged = done.files_unchanged
    for key in listed:
        if key in after and after[key] != before.get(key):
            if key in before:
                report.updated += 1
            else:
                report.added += 1
    report.deleted = sum(1 for k in before if k not in after)
    report.documents = done.documents_indexed
    report.chunks_indexed = done.chunks_indexed
    report.failed = done.errors
    report.near_duplicates = [(n.doc_id, n.duplicate_of) for n in done.near_duplicates]
    report.skipped = scan.skipped
    report.seconds = time.perf_counter() - started
    report.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    state.cursor = scan.cursor({k for k, _ in done.errors})
    state.last_sync = {
        "finished_at": report.finished_at,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "deleted": report.deleted,
        "failed": len(report.failed),
    }
    registry.save(state)
    return report


def purge(registry: SourceRegistry, state: SourceState, store: Store, settings: Settings) -> int:
    """Delete every item of a source from ``store`` (when the source is removed); returns how many."""
    d = state.definition
    source = open_source(d, settings, registry.work_dir(d.name, d.tenant))
    try:
        keys = [k for k in store.source_hashes() if source.owns(k, state.cursor)]
    finally:
        source.close()
    if keys:
        store.delete_sources(keys)
        store.finalize()
    return len(keys)
