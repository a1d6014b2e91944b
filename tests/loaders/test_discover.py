from __future__ import annotations

import os
from pathlib import Path

import pytest

from ragline.errors import LoaderError
from ragline.loaders.discover import DiscoveryResult, discover, glob_match


def _touch(root: Path, *relatives: str) -> None:
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    _touch(
        root,
        "index.md",
        "guide/install.md",
        "guide/setup.rst",
        "guide/deep/more.md",
        "drafts/wip.md",
        "drafts/old/ancient.md",
        "data/table.csv",
        "image.png",
        "Makefile",
        ".hidden.md",
        ".git/config.md",
        "node_modules/pkg/readme.md",
        "guide/__pycache__/cached.txt",
        "UPPER.MD",
    )
    return root


def _relative(result: DiscoveryResult, root: Path) -> list[str]:
    return [p.relative_to(root.resolve()).as_posix() for p in result.files]


def test_walks_recursively_skipping_hidden_and_unsupported(tree: Path) -> None:
    result = discover([tree])
    assert _relative(result, tree) == [
        "UPPER.MD",
        "data/table.csv",
        "drafts/old/ancient.md",
        "drafts/wip.md",
        "guide/deep/more.md",
        "guide/install.md",
        "guide/setup.rst",
        "index.md",
    ]
    assert result.skipped == []
    assert all(p.is_absolute() for p in result.files)


def test_include_and_exclude_globs(tree: Path) -> None:
    result = discover([tree], include=("**/*.md",), exclude=("drafts/**",))
    assert _relative(result, tree) == ["guide/deep/more.md", "guide/install.md", "index.md"]


def test_pattern_without_slash_matches_at_any_depth_and_folder_names(tree: Path) -> None:
    assert _relative(discover([tree], include=("*.rst", "*.csv")), tree) == [
        "data/table.csv",
        "guide/setup.rst",
    ]
    assert "drafts/old/ancient.md" not in _relative(discover([tree], exclude=("old",)), tree)
    # "guide/*" also matches the folder "guide/deep", so everything below it is included.
    assert _relative(discover([tree], include=("guide/*",)), tree) == [
        "guide/deep/more.md",
        "guide/install.md",
        "guide/setup.rst",
    ]
    assert _relative(discover([tree], include=("guide/*.md",)), tree) == ["guide/install.md"]


def test_explicit_files_unique_and_sorted_with_unsupported_skipped(tree: Path) -> None:
    result = discover(
        [
            tree / "index.md",
            tree / "image.png",
            tree,
            tree / "guide" / ".." / "index.md",
            tree / "drafts" / "wip.md",
        ],
        exclude=("drafts/**",),
    )
    rel = _relative(result, tree)
    assert rel.count("index.md") == 1
    assert rel == sorted(rel, key=lambda r: str(tree.resolve() / r))
    # An explicitly named file bypasses the folder globs.
    assert "drafts/wip.md" in rel and "drafts/old/ancient.md" not in rel
    assert len(result.skipped) == 1
    skipped_path, reason = result.skipped[0]
    assert skipped_path == tree / "image.png"
    assert reason.startswith("unsupported file type '.png'; supported: ")


def test_explicit_hidden_file_is_included(tree: Path) -> None:
    result = discover([tree / ".hidden.md"])
    assert result.files == [(tree / ".hidden.md").resolve()]


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="does not exist") as info:
        discover([tmp_path / "nope"])
    assert info.value.path == str(tmp_path / "nope")


@pytest.mark.parametrize(
    ("relative", "pattern", "expected"),
    [
        ("a.md", "**/*.md", True),
        ("x/y/a.md", "**/*.md", True),
        ("x/a.md", "*.md", True),
        ("x/a.md", "/*.md", False),
        ("a.md", "/*.md", True),
        ("x/a.md", "x/*", True),
        ("x/y/a.md", "x/*", True),  # via the parent folder "x/y"
        ("x/y/a.md", "x/*.md", False),
        ("drafts/a/b.md", "drafts/**", True),
        ("notdrafts/a.md", "drafts/**", False),
        ("docs/drafts/a.md", "drafts", True),
        ("a1.md", "a?.md", True),
        ("ab.md", "a[!b].md", False),
        ("ac.md", "a[!b].md", True),
        ("a.md", "A.md", False),
    ],
)
def test_glob_match(relative: str, pattern: str, expected: bool) -> None:
    assert glob_match(relative, pattern) is expected


def test_fifo_and_socket_in_a_folder_are_skipped_with_a_reason_never_opened(tmp_path: Path) -> None:
    # Issue 21: a FIFO inside an ingested folder hung the ingest (opening it blocks forever).
    import socket

    root = tmp_path / "docs"
    _touch(root, "real.txt", "sub/also.md")
    os.mkfifo(root / "pipe.txt")
    os.mkfifo(root / "sub" / "pipe.md")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(root / "sock.txt"))
    (root / "dangling.txt").symlink_to(root / "gone.txt")
    (root / "link.txt").symlink_to(root / "real.txt")
    try:
        result = discover([root])
    finally:
        sock.close()
    assert _relative(result, root) == ["real.txt", "sub/also.md"]
    reasons = {p.relative_to(root).as_posix(): why for p, why in result.skipped}
    assert reasons == {
        "pipe.txt": "not a regular file (a FIFO)",
        "sub/pipe.md": "not a regular file (a FIFO)",
        "sock.txt": "not a regular file (a socket)",
        "dangling.txt": "broken symbolic link",
    }


def test_explicitly_named_fifo_is_skipped_with_its_kind(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    result = discover([tmp_path / "pipe.txt"])
    assert result.files == []
    assert result.skipped == [(tmp_path / "pipe.txt", "not a regular file (a FIFO)")]
