"""Inter-process file locks (POSIX ``flock``), released by the OS if the holder dies.

Used to keep one writer per collection and one exporter per ONNX model cache entry.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


@contextlib.contextmanager
def file_lock(path: Path, what: str = "") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing), waiting for other holders.

    Example::

        with file_lock(collection_dir / ".write.lock", "collection 'docs'"):
            ...
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("waiting for another process writing %s (lock %s)", what or path, path)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
