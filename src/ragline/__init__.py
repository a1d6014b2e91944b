"""ragline: a production RAG engine that runs embedded on one machine.

Example::

    import ragline
    engine = ragline.open(".ragline")
    engine.ingest(["docs/"])
    for hit in engine.search("how do I install on linux", top_k=5):
        print(hit.score, hit.chunk.source, hit.chunk.text[:80])

Package layout (each subpackage's docstring says what it may import):
``types``/``errors``/``settings`` are the shared base; ``loaders`` -> ``cleaning`` -> ``chunking`` ->
``embedding`` -> ``store`` are the ingest stages; ``retrieval`` searches the store; ``ingest`` runs
the ingest pipeline; ``engine`` ties everything together; ``cli`` and ``eval`` sit on top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pathlib import Path

    from ragline.engine import Engine


def open(path: str | Path | None = None, **settings: Any) -> Engine:
    """Open (or create) a ragline data directory and return an :class:`~ragline.engine.Engine`.

    ``path`` defaults to ``./.ragline``; keyword arguments are :class:`~ragline.settings.Settings` fields.
    """
    from ragline.engine import Engine
    from ragline.settings import load_settings

    if path is not None:
        settings["data_dir"] = path
    return Engine(load_settings(**settings))


__all__ = ["__version__", "open"]
