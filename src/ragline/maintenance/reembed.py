"""Re-embed a collection with another model, built aside and swapped in.

Example::

    n = reembed(coll, model_path, embedder, ingestor_for, open_store, progress)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from ragline.collection import META_FILE, Collection
from ragline.embedding.base import Embedder
from ragline.ingest.pipeline import Ingestor, IngestProgress, copy_beside_store
from ragline.store.base import Store


def reembed(
    coll: Collection,
    model_path: Path,
    embedder: Embedder,
    ingestor_for: Callable[[Store, Embedder], Ingestor],
    open_store: Callable[[Path, Embedder], Store],
    progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Every chunk of ``coll`` embedded by ``embedder`` (the model at ``model_path``) into a copy
    beside it, which then replaces it: searches see the old index or the new one, never a mix.
    Returns the chunks re-embedded. The caller holds the collection's write lock."""
    store = coll.store
    chunks = store.all_chunks()
    sections = store.get_sections(sorted({c.parent_id for c in chunks if c.parent_id}))
    tmp = coll.path.with_name(f".{coll.path.name}.reembed")
    if tmp.exists():
        shutil.rmtree(tmp)
    target = open_store(tmp, embedder)

    def report(p: IngestProgress) -> None:
        if progress is not None:
            progress("re-embedding", p.chunks_embedded, len(chunks))

    # The ingest's own batching: the same vectors, sentence vectors and token states it would make.
    ingestor_for(target, embedder).reindex(chunks, sections, store.source_hashes(), report)
    target.finalize()
    copy_beside_store(coll.path, tmp)
    meta_path = tmp / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["model_path"] = str(model_path)
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    old = coll.path.with_name(f".{coll.path.name}.old")
    if old.exists():
        shutil.rmtree(old)
    # Two renames: a crash between them leaves the old index at .old, never a mix.
    coll.path.rename(old)
    tmp.rename(coll.path)
    shutil.rmtree(old)
    return len(chunks)
