"""Files of a git repository at a ref, incremental by commit diff.

``repo`` is a local repository (read in place) or any URL ``git clone`` can reach (mirrored into
the data directory and fetched on each sync). The first sync lists the tree at ``ref``; later ones
read ``git diff --raw old new`` between the commit synced last and the ref's commit now, so only
added and modified files are fetched and deleted ones are deleted. A file's version is its blob
id; its source key is ``<repo>@<ref>:<path>``.

Example::

    ragline sources add handbook --type git --repo https://git.example.org/handbook.git \\
        --ref main --include "docs/*.md" --collection handbook
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field

from ragline.errors import ConfigError, LoaderError
from ragline.ingest.pipeline import SourceItem
from ragline.settings import Settings
from ragline.sources.base import Cursor, Scan, SourceConfig, check_size, load_bytes, loadable
from ragline.types import Document

# Regular files only: symlinks (120000) and submodules (160000) have no content of their own.
_FILE_MODES = ("100644", "100755")
# A clone or fetch of a large repository may take a while; a hung remote must not hang a sync.
_NETWORK_TIMEOUT_S = 3600


class GitConfig(SourceConfig):
    """Options of a git source: the repository, the ref to follow, optional path globs."""

    type: Literal["git"] = "git"
    repo: str = Field(min_length=1)
    ref: str = Field(default="HEAD", min_length=1, pattern=r"^[^\s~^:?*\[\\]+$")
    # fnmatch globs on the path in the repository ("docs/*.md"); none: every file a loader reads.
    include: tuple[str, ...] = ()

    def claims(self, name: str) -> tuple[str, ...]:
        return (f"{_display(self.repo)}@{self.ref}:",)


_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


def _display(repo: str) -> str:
    """The repository as source keys show it: an absolute path, or the URL without credentials."""
    if "://" in repo:
        parts = urlsplit(repo)
        netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    if _SCP_LIKE.match(repo):
        return repo  # user@host:path (ssh): no password in it
    return str(Path(repo).expanduser().resolve())


class GitSource:
    """Syncs the files of a repository at a ref (see the module docstring)."""

    def __init__(self, config: GitConfig, settings: Settings, mirror_dir: Path) -> None:
        self.config = config
        self.settings = settings
        self.mirror_dir = mirror_dir
        self.prefix = config.claims("")[0]
        self._where = mirror_dir

    def owns(self, key: str, cursor: Mapping[str, Any]) -> bool:
        return key.startswith(self.prefix)

    def close(self) -> None:
        """Nothing held open: every git call is its own process."""

    # -- git ------------------------------------------------------------------------------------

    def _git_dir(self) -> Path:
        local = Path(self.config.repo).expanduser()
        if local.is_dir():
            return local
        if not (self.mirror_dir / "HEAD").is_file():
            self.mirror_dir.parent.mkdir(parents=True, exist_ok=True)
            self._run(
                ["clone", "--mirror", "--quiet", self.config.repo, str(self.mirror_dir)],
                cwd=None,
                timeout=_NETWORK_TIMEOUT_S,
            )
        else:
            self._run(
                ["fetch", "--prune", "--quiet", "origin"], cwd=self.mirror_dir, timeout=_NETWORK_TIMEOUT_S
            )
        return self.mirror_dir

    def _run(
        self, args: Sequence[str], *, cwd: Path | Literal["repo"] | None = "repo", timeout: float = 600
    ) -> bytes:
        where = self._where if cwd == "repo" else cwd
        cmd = ["git", *(["-C", str(where)] if where is not None else []), *args]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except FileNotFoundError as exc:
            raise ConfigError("the git source needs the git command; install git") from exc
        except subprocess.TimeoutExpired as exc:
            raise ConfigError(f"git {args[0]} on {_display(self.config.repo)} timed out") from exc
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ConfigError(
                f"git {args[0]} failed on {_display(self.config.repo)}: {err[-1] if err else done.returncode}"
            )
        return done.stdout

    def _commit(self) -> str:
        try:
            out = self._run(["rev-parse", "--verify", "--quiet", f"{self.config.ref}^{{commit}}"])
        except ConfigError as exc:
            raise ConfigError(
                f"ref {self.config.ref!r} is not a commit in {_display(self.config.repo)}; "
                "give a branch, tag or commit that exists (--ref)"
            ) from exc
        return out.decode().strip()

    def _wanted(self, path: str) -> bool:
        if loadable(path) is not None:
            return False
        return not self.config.include or any(fnmatch.fnmatch(path, g) for g in self.config.include)

    def _tree(self, commit: str, paths: Sequence[str] = ()) -> dict[str, str]:
        """path -> blob id of the regular files at ``commit`` (only ``paths`` when given)."""
        out = self._run(["ls-tree", "-r", "-z", "--full-tree", commit, "--", *paths])
        files: dict[str, str] = {}
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            mode, kind, blob = meta.decode().split()
            if kind == "blob" and mode in _FILE_MODES:
                files[path.decode("utf-8", "surrogateescape")] = blob
        return files

    def _diff(self, old: str, new: str) -> tuple[dict[str, str], list[str]]:
        """(changed path -> new blob id, deleted paths) between two commits."""
        out = self._run(["diff", "--raw", "-z", "--no-renames", "--no-abbrev", old, new])
        fields = out.split(b"\0")
        changed: dict[str, str] = {}
        deleted: list[str] = []
        for i in range(0, len(fields) - 1, 2):
            meta, path = fields[i].decode(), fields[i + 1].decode("utf-8", "surrogateescape")
            if not meta:
                continue
            _old_mode, new_mode, _old_blob, new_blob, status = meta.lstrip(":").split()
            if status == "D" or new_mode not in _FILE_MODES:
                deleted.append(path)  # a file turned symlink or submodule is gone as a file too
            else:
                changed[path] = new_blob
        return changed, deleted

    def _is_commit(self, sha: str) -> bool:
        try:
            self._run(["cat-file", "-e", f"{sha}^{{commit}}"])
        except ConfigError:
            return False
        return True

    # -- the scan -------------------------------------------------------------------------------

    def scan(self, cursor: Mapping[str, Any]) -> Scan:
        self._where = self._git_dir()
        commit = self._commit()
        old = cursor.get("commit")
        retry = [str(p) for p in cursor.get("retry", [])]
        if isinstance(old, str) and self._is_commit(old):
            changed, deleted = self._diff(old, commit) if old != commit else ({}, [])
            # Files whose load failed last time are tried again though the diff does not name them.
            again = [p for p in retry if p not in changed and p not in deleted]
            changed.update(self._tree(commit, again) if again else {})
            complete = False
        else:
            # First sync, or the synced commit is gone (history rewritten): list everything.
            changed, deleted, complete = self._tree(commit), [], True
        scan = Scan(items=iter(()), complete=complete)
        files = sorted(p for p in changed if self._wanted(p))
        scan.skipped = [(self.prefix + p, loadable(p) or "") for p in sorted(changed) if loadable(p)]
        scan.gone = [self.prefix + p for p in deleted]

        def remember(failed: set[str]) -> Cursor:
            return {"commit": commit, "retry": sorted(k[len(self.prefix) :] for k in failed)}

        scan.cursor = remember
        scan.items = self._items(scan, commit, {p: changed[p] for p in files})
        return scan

    def _items(self, scan: Scan, commit: str, files: dict[str, str]) -> Iterator[SourceItem]:
        for path, blob in files.items():
            key = self.prefix + path
            yield SourceItem(key, blob, partial(self._load, scan, key, path, blob, commit))

    def _load(self, scan: Scan, key: str, path: str, blob: str, commit: str) -> list[Document]:
        try:
            size = int(self._run(["cat-file", "-s", blob]).decode())
            check_size(key, size, self.settings.loaders)
            data = self._run(["cat-file", "blob", blob])
        except ConfigError as exc:
            raise LoaderError(key, str(exc)) from exc
        scan.fetched += 1
        meta = {"repo_path": path, "commit": commit}
        return load_bytes(key, path, data, self.settings.loaders, meta)
