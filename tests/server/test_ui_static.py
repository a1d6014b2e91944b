"""The web UI's scripts never turn text into markup: a static check over the shipped files (the
browser test, tests/server/test_ui_browser.py, shows documents holding HTML rendered as text)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ragline.server

UI = Path(ragline.server.__file__).parent / "ui"
# Every DOM API that parses a string as HTML or runs it as code.
HTML_SINKS = re.compile(
    r"\.(?:inner|outer)HTML\b|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser"
    r"|\beval\s*\(|\bnew\s+Function\b|setTimeout\s*\(\s*[\"'`]|\.srcdoc\b|javascript:",
)


@pytest.mark.parametrize("name", ["app.js", "index.html"])
def test_ui_has_no_html_sinks(name: str) -> None:
    text = (UI / name).read_text(encoding="utf-8")
    assert text, f"{UI / name} is empty"
    found = [(text.count("\n", 0, m.start()) + 1, m[0]) for m in HTML_SINKS.finditer(text)]
    assert found == [], f"{name} parses text as HTML or code at (line, call): {found}"


def test_the_check_catches_a_sink() -> None:
    assert HTML_SINKS.search("el.innerHTML = hit.text;")
    assert HTML_SINKS.search("node.insertAdjacentHTML('beforeend', s)")
    assert not HTML_SINKS.search("el.textContent = hit.text; // never through innerHTML")


def test_the_upload_picker_offers_every_supported_file_type() -> None:
    from ragline.loaders.registry import SUPPORTED_EXTENSIONS

    accept = re.search(r'accept="([^"]*)"', (UI / "index.html").read_text(encoding="utf-8"))
    assert accept is not None
    assert set(accept[1].split(",")) == SUPPORTED_EXTENSIONS
