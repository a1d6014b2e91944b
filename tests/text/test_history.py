"""Release notes and history questions, told from a page title and a question."""

from __future__ import annotations

import pytest

from ragline.text.history import asks_about_history, is_release_notes


@pytest.mark.parametrize(
    ("title", "release_notes"),
    [
        ("Release 4.2.10", True),
        ("E.1. Release 15.4", True),
        ("Release Notes", True),
        ("Release History Of SQLite", True),
        ("Changes in Varnish 6.0 — Varnish version 7.1.1 documentation", True),
        ("SQLite Changes From Version 3.4.2 To 3.5.0", True),
        ("What’s new / Upgrading — Varnish version 7.1.1 documentation", True),
        ("Upgrading to Varnish 7.0", True),
        ("Recent SQLite News", True),
        ("Changelog", True),
        ("The Release Process", False),
        ("SQLite Copyright Release Template", False),
        ("CHANGE MASTER TO", False),
        ("Newsgroups", False),
        ("5.9. Failover", False),
    ],
)
def test_release_note_titles(title: str, release_notes: bool) -> None:
    assert is_release_notes(title) is release_notes


@pytest.mark.parametrize(
    ("question", "history"),
    [
        ("In which version was statement_level_load_balance added?", True),
        ("What changed in the handling of backend_flag?", True),
        ("Was the memory leak in the watchdog fixed?", True),
        ("What is new in 4.3?", True),
        ("How do I upgrade from 4.2?", True),
        ("Since when is SCRAM authentication supported?", True),
        ("How can I keep backend 0 from failing over while I restart it?", False),
        ("What is the default value of max_pool?", False),
        ("Why does pg_terminate_backend() trigger a failover?", False),
    ],
)
def test_questions_about_versions_or_changes(question: str, history: bool) -> None:
    assert asks_about_history(question) is history
