"""Sources that sync: web pages, SQL rows, git repositories and S3 buckets kept in step with a
collection (``ragline sources add``, ``ragline sync``). One module per source type behind the
:class:`~ragline.sources.base.Source` protocol; definitions and cursors in ``registry``; one sync
in ``sync``.

Example::

    from ragline.sources import SourceRegistry, definition_from
    registry = SourceRegistry(engine.settings.data_dir)
    registry.add(definition_from(name="docs", collection="docs",
                                 config={"type": "web", "urls": ["https://example.org/docs/"]}))
    report = engine.sync_source("docs")
    print(report.added, report.unchanged, report.deleted)
"""

from ragline.sources.base import Scan, Source
from ragline.sources.registry import SourceDefinition, SourceRegistry, SourceState, definition_from
from ragline.sources.sync import SyncReport

__all__ = [
    "Scan",
    "Source",
    "SourceDefinition",
    "SourceRegistry",
    "SourceState",
    "SyncReport",
    "definition_from",
]
