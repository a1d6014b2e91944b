from __future__ import annotations

from pathlib import Path

from ragline.loaders.markdown import MarkdownLoader, parse_front_matter

_DOC = """---
title: "Install Guide"
version: 2
ratio: 0.5
draft: false
date: 2024-05-01
tags: [setup, linux]
authors:
  - Ada
  - Grace
nested:
  key: value
summary: >
  Folded text
  on two lines
category: docs # a comment
odd key!: yes
---
# Installing

Run the installer.

```bash
# not a heading
make install
```
"""


def test_front_matter_becomes_metadata_and_title(tmp_path: Path) -> None:
    path = tmp_path / "install.md"
    path.write_text(_DOC)
    [doc] = MarkdownLoader().load(path)
    assert doc.title == "Install Guide"
    assert doc.metadata == {
        "version": 2,
        "ratio": 0.5,
        "draft": False,
        "date": "2024-05-01",
        "summary": "Folded text on two lines",
        "category": "docs",
        "odd_key_": "yes",
        "file_name": "install.md",
        "file_type": "md",
    }
    assert doc.text.startswith("# Installing\n\nRun the installer.")
    assert "---" not in doc.text and "title:" not in doc.text
    assert "```bash\n# not a heading\nmake install\n```" in doc.text


def test_title_falls_back_to_first_h1_outside_code(tmp_path: Path) -> None:
    path = tmp_path / "readme.markdown"
    path.write_text("```\n# fake\n```\n\nintro\n\n## Sub\n\n# Real Title\n")
    [doc] = MarkdownLoader().load(path)
    assert doc.title == "Real Title"
    assert doc.metadata["file_type"] == "markdown"


def test_title_falls_back_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "release-notes.md"
    path.write_text("Just text.\n\n## Only a level-two heading\n")
    [doc] = MarkdownLoader().load(path)
    assert doc.title == "release-notes"
    assert doc.text == "Just text.\n\n## Only a level-two heading"


def test_unclosed_front_matter_is_left_as_text() -> None:
    front = parse_front_matter("---\ntitle: x\nno closing line")
    assert front.values == {}
    assert front.body == "---\ntitle: x\nno closing line"


def test_thematic_break_later_in_file_is_not_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("# A\n\n---\n\nkey: value\n\n---\n")
    [doc] = MarkdownLoader().load(path)
    assert "key: value" in doc.text
    assert doc.metadata == {"file_name": "a.md", "file_type": "md"}
