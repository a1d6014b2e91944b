"""Move a data directory from before tenant namespaces to one namespace per tenant
(``ragline migrate-tenants``): other tenants' rows leave the default tenant's collections.

Example::

    moved = migrate_tenants(engine)   # {"acme": 1200, "globex": 300}
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from ragline.collection import META_FILE, Collection
from ragline.store.base import Store
from ragline.types import DEFAULT_TENANT


class Namespaces(Protocol):
    """What the migration needs of the engine."""

    def collections(self, tenant: str = DEFAULT_TENANT) -> list[str]: ...

    def collection_path(self, name: str, tenant: str = DEFAULT_TENANT) -> Path: ...

    def collection(
        self, collection: str | None = None, *, tenant: str = DEFAULT_TENANT, must_exist: bool = False
    ) -> Collection: ...

    def summaries_store(
        self, collection: str | None = None, tenant: str = DEFAULT_TENANT
    ) -> Store | None: ...

    def write_lock(self, store: Store) -> AbstractContextManager[None]: ...


def _retain(ns: Namespaces, name: str, tenant: str) -> int:
    """Trim a collection (and its summaries) to ``tenant``'s rows; returns its chunks left."""
    own = ns.collection(name, tenant=tenant, must_exist=True).store
    own.retain_tenant(tenant)
    summaries = ns.summaries_store(name, tenant)
    if summaries is not None:
        summaries.retain_tenant(tenant)
    return own.stats().chunks


def migrate_tenants(ns: Namespaces, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Give each tenant found in the default tenant's collections a collection of its own (copied
    whole, then trimmed, so every row keeps its vectors and token states), then trim the default
    tenant's. Returns the chunks moved per tenant; safe to run again after a crash."""
    moved: dict[str, int] = {}
    for name in ns.collections():
        coll = ns.collection(name)
        if not (coll.path / META_FILE).is_file():
            continue
        with ns.write_lock(coll.store):
            others = sorted(coll.store.tenants() - {DEFAULT_TENANT})
            for tenant in others:
                dest = ns.collection_path(name, tenant)
                if not dest.exists():
                    tmp = dest.with_name(f".{name}.migrating")
                    if tmp.exists():
                        shutil.rmtree(tmp)
                    shutil.copytree(coll.path, tmp)
                    tmp.rename(dest)
                moved[tenant] = moved.get(tenant, 0) + _retain(ns, name, tenant)
                if progress is not None:
                    progress(f"collection {name!r}: tenant {tenant!r} moved to {dest}")
            if others:
                _retain(ns, name, DEFAULT_TENANT)
    return moved
