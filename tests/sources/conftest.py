"""What the source tests share: an engine on the in-process store, adding a source, and what a
principal can read of a collection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ragline.engine import Engine
from ragline.errors import CollectionNotFound
from ragline.sources import SourceRegistry, definition_from
from ragline.types import Principal
from tests.helpers import fast_engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    # No politeness delay against the test's own servers.
    return fast_engine(tmp_path / "data", sources={"web_delay_s": 0})


def add_source(
    engine: Engine, name: str, config: dict[str, Any], collection: str = "c", **access: Any
) -> None:
    SourceRegistry(engine.settings.data_dir).add(
        definition_from(name=name, collection=collection, config=config, **access)
    )


def readable(engine: Engine, collection: str, principal: Principal | None = None) -> set[str]:
    """The sources of the documents ``principal`` may read (none when its tenant lacks the collection)."""
    try:
        docs = engine.documents(collection=collection, principal=principal, limit=1000)
    except CollectionNotFound:
        return set()
    return {d.source for d in docs}


def counts(report: Any) -> dict[str, int]:
    return {k: getattr(report, k) for k in ("fetched", "added", "updated", "unchanged", "deleted")} | {
        "failed": len(report.failed)
    }
