"""The one place a store is made from settings: every collection, summaries collection and
re-embedded copy the engine opens goes through :func:`make_store`, so all get the configured
backend, index settings and ``read_consistency_s``.

Example::

    store = make_store(settings.store, data_dir / "collections" / "docs", dimension=384, model_id="minilm")
"""

from __future__ import annotations

from pathlib import Path

from ragline.errors import ConfigError
from ragline.settings import StoreSettings
from ragline.store.base import Store


def make_store(settings: StoreSettings, path: Path, *, dimension: int, model_id: str) -> Store:
    """The collection at ``path`` on the configured backend (``store.backend``), for vectors of
    ``dimension`` from ``model_id``. Opens lazily: nothing is read or written until first use."""
    if settings.backend == "milvus":
        from ragline.store.milvus import MilvusStore

        if settings.uri is None:  # StoreSettings refuses this; a hand-built one may not
            raise ConfigError("store.backend = 'milvus' needs store.uri (a .db file or http://host:19530)")
        return MilvusStore(
            path,
            dimension=dimension,
            model_id=model_id,
            uri=settings.uri,
            token=settings.token.get_secret_value() if settings.token else None,
            user=settings.user,
            password=settings.password.get_secret_value() if settings.password else None,
            ann_ef=settings.ann_ef,
            ann_ef_construction=settings.ann_ef_construction,
        )
    if settings.backend == "memory":
        from ragline.store.memory import MemoryStore

        return MemoryStore(path, dimension=dimension, model_id=model_id)
    from ragline.store.lance import LanceStore

    return LanceStore(
        path,
        dimension=dimension,
        model_id=model_id,
        ann_threshold=settings.ann_threshold,
        ann_ef=settings.ann_ef,
        ann_partitions=settings.ann_partitions,
        ann_refine_factor=settings.ann_refine_factor,
        ann_refine_max_rows=settings.ann_refine_max_rows,
        ann_ef_construction=settings.ann_ef_construction,
        read_consistency_s=settings.read_consistency_s,
        retention_days=settings.retention_days,
        sentence_vector_dtype=settings.sentence_vector_dtype,
        sentence_index=settings.sentence_index,
        ann_engine=settings.ann_engine,
        held_columns_mb=settings.held_columns_mb,
    )
