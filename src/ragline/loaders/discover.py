"""Finds the loadable files under the paths a user names."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ragline.errors import LoaderError
from ragline.loaders.registry import SUPPORTED_EXTENSIONS, unsupported_reason

_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    """Files to load (resolved, sorted, unique), and files skipped with why: explicitly named ones
    that are unsupported, and any that are not regular files (FIFOs, sockets, devices, broken links)."""

    files: list[Path]
    skipped: list[tuple[Path, str]]


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob where ``*``/``?`` stay within one path segment and ``**`` spans segments.

    A pattern without ``/`` matches at any depth (``*.md`` == ``**/*.md``); a leading ``/``
    anchors it at the root folder.
    """
    pattern = pattern.strip().rstrip("/")
    if pattern.startswith("/"):
        pattern = pattern.lstrip("/")
    elif "/" not in pattern:
        pattern = "**/" + pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (close := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : close]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = close + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(relative: str, pattern: str) -> bool:
    """Whether a ``/``-separated relative path, or one of its parent folders, matches ``pattern``.

    Matching parent folders lets ``drafts`` or ``docs/old`` select everything below them.
    """
    regex = _glob_regex(pattern)
    parts = relative.split("/")
    return any(regex.match("/".join(parts[:end])) for end in range(len(parts), 0, -1))


def _not_regular(path: Path) -> str | None:
    """Why ``path`` (symlinks followed) cannot be read as a file, or None for a regular file.

    Only the inode is looked at: opening a FIFO blocks until a writer appears, so the ingest would
    hang, and a device or socket is never a document.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if path.is_symlink():
            return "broken symbolic link"
        return f"cannot read file: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    )
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    return f"not a regular file ({kind})"


def _walk(
    root: Path, include: Sequence[str], exclude: Sequence[str], skipped: list[tuple[Path, str]]
) -> list[Path]:
    found: list[Path] = []
    # Symlinked folders are not followed: they can form cycles and lead outside the tree.
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _SKIPPED_DIRS]
        current = Path(dirpath)
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
                continue
            path = current / name
            relative = path.relative_to(root).as_posix()
            if include and not any(glob_match(relative, p) for p in include):
                continue
            if any(glob_match(relative, p) for p in exclude):
                continue
            why = _not_regular(path)
            if why is None:
                found.append(path)
            else:
                skipped.append((path, why))
    return found


def discover(
    paths: Sequence[Path], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> DiscoveryResult:
    """Expand ``paths`` into the supported files to load.

    Folders are walked recursively, skipping hidden entries, ``__pycache__`` and ``node_modules``;
    their unsupported files are silently left out, and files that are not regular (FIFOs, sockets,
    devices, broken links) are skipped with the reason, never opened. ``include``/``exclude``
    globs are matched against paths relative to each folder (see :func:`glob_match`); exclude
    wins. Files named explicitly bypass the globs and are skipped, with the reason, only if
    unsupported or not regular. A path that does not exist raises :class:`LoaderError`.
    """
    files: set[Path] = set()
    skipped: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            files.update(p.resolve() for p in _walk(path, include, exclude, skipped))
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_EXTENSIONS:
                files.add(path.resolve())
            else:
                skipped.append((path, unsupported_reason(path)))
        elif not path.exists():
            raise LoaderError(str(path), "does not exist")
        else:
            skipped.append((path, _not_regular(path) or "not a regular file"))
    return DiscoveryResult(files=sorted(files), skipped=skipped)
