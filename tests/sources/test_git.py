"""The git source on repositories built with git in a temporary folder: files at a ref, then only
the commit diff (changed files fetched, deleted ones deleted), a clone URL mirrored, tenant scope."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from ragline.engine import Engine
from ragline.errors import ConfigError
from ragline.types import Principal
from tests.helpers import FAST_AND_REAL
from tests.sources.conftest import add_source, counts, readable

pytestmark = pytest.mark.integration  # runs the git command


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "HOME": str(repo.parent),
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)
    return out.stdout.decode().strip()


def commit(repo: Path, files: dict[str, str | None], message: str = "change") -> str:
    for rel, text in files.items():
        path = repo / rel
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "handbook"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(
        root,
        {
            "docs/install.md": "# Install\n\nRun the installer for the walrus edition.\n",
            "docs/usage.md": "# Usage\n\nThe narwhal command lists everything.\n",
            "notes.txt": "Loose notes about puffins.\n",
            "logo.png": "not an image, and no loader reads .png",
        },
    )
    return root


@FAST_AND_REAL
def test_files_at_a_ref_then_only_the_commit_diff(open_engine: Any, tmp_path: Path, repo: Path) -> None:
    engine = open_engine(tmp_path / "data")
    add_source(engine, "hb", {"type": "git", "repo": str(repo), "ref": "main"})
    prefix = f"{repo}@main:"
    first = engine.sync_source("hb")
    assert counts(first) == {
        "fetched": 3,
        "added": 3,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "failed": 0,
    }
    assert readable(engine, "c") == {prefix + p for p in ("docs/install.md", "docs/usage.md", "notes.txt")}
    assert (prefix + "logo.png", "unsupported file type '.png'") in first.skipped
    hit = engine.search("walrus edition", collection="c", mode="keyword")[0]
    assert hit.chunk.source == prefix + "docs/install.md"
    assert hit.chunk.metadata["repo_path"] == "docs/install.md"

    again = engine.sync_source("hb")
    # Same commit: an empty diff, nothing listed, fetched or embedded.
    assert counts(again) == {
        "fetched": 0,
        "added": 0,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "failed": 0,
    }
    assert again.listed == 0 and again.chunks_embedded == 0

    head = commit(
        repo,
        {
            "docs/usage.md": "# Usage\n\nThe narwhal command now sorts by orca.\n",
            "docs/faq.md": "# FAQ\n\nPelicans are welcome.\n",
            "notes.txt": None,
        },
    )
    third = engine.sync_source("hb")
    assert counts(third) == {
        "fetched": 2,
        "added": 1,
        "updated": 1,
        "unchanged": 0,
        "deleted": 1,
        "failed": 0,
    }
    assert third.listed == 2  # install.md is not in the diff: not even looked at
    assert readable(engine, "c") == {prefix + p for p in ("docs/install.md", "docs/usage.md", "docs/faq.md")}
    assert engine.search("orca", collection="c", mode="keyword")[0].chunk.metadata["commit"] == head
    assert not engine.search("puffins", collection="c", mode="keyword")


def test_a_clone_url_is_mirrored_and_fetched(engine: Engine, repo: Path) -> None:
    url = f"file://{repo}"
    add_source(engine, "hb", {"type": "git", "repo": url, "include": ["docs/*.md"]}, tenant="acme")
    assert engine.sync_source("hb", tenant="acme").added == 2  # notes.txt is not included
    commit(repo, {"docs/install.md": None})
    report = engine.sync_source("hb", tenant="acme")
    assert (report.deleted, report.fetched) == (1, 0)
    assert readable(engine, "c", Principal("acme")) == {f"{url}@HEAD:docs/usage.md"}
    assert readable(engine, "c", Principal("globex")) == set()


def test_rewritten_history_lists_everything_again(engine: Engine, repo: Path) -> None:
    add_source(engine, "hb", {"type": "git", "repo": str(repo), "ref": "main"})
    engine.sync_source("hb")
    git(repo, "checkout", "-q", "--orphan", "fresh")
    git(repo, "rm", "-q", "-r", "--cached", ".")
    for p in ("docs", "notes.txt", "logo.png"):
        subprocess.run(["rm", "-rf", str(repo / p)], check=True)
    commit(repo, {"readme.md": "# Readme\n\nOnly this is left.\n"})
    git(repo, "branch", "-f", "main", "fresh")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    report = engine.sync_source("hb")
    assert (report.added, report.deleted) == (1, 3)
    assert readable(engine, "c") == {f"{repo}@main:readme.md"}


def test_an_unknown_ref_is_named(engine: Engine, repo: Path) -> None:
    add_source(engine, "hb", {"type": "git", "repo": str(repo), "ref": "nope"})
    with pytest.raises(ConfigError, match="ref 'nope' is not a commit"):
        engine.sync_source("hb")
