"""Release notes and history questions, told from a page title and a question."""

from __future__ import annotations

import pytest

from ragline.text.history import asks_about_history, is_release_notes


@pytest.mark.parametrize(
    "title",
    [
        "Release 4.2.10",
        "E.1. Release 15.4",
        "Release Notes",
        "Release History Of SQLite",
        "Changes in Varnish 6.0 — Varnish version 7.1.1 documentation",
        "SQLite Changes From Version 3.4.2 To 3.5.0",
        "What’s new / Upgrading — Varnish version 7.1.1 documentation",
        "Upgrading to Varnish 7.0",
        "Recent SQLite News",
        "Changelog",
    ],
)
def test_release_note_titles(title: str) -> None:
    assert is_release_notes(title)


@pytest.mark.parametrize(
    "title",
    [
        "The Release Process",
        "SQLite Copyright Release Template",
        "CHANGE MASTER TO",
        "Newsgroups",
        "5.9. Failover",
    ],
)
def test_other_titles_are_not_release_notes(title: str) -> None:
    assert not is_release_notes(title)


@pytest.mark.parametrize(
    "question",
    [
        "In which version was statement_level_load_balance added?",
        "What changed in the handling of backend_flag?",
        "Was the memory leak in the watchdog fixed?",
        "What is new in 4.3?",
        "How do I upgrade from 4.2?",
        "Since when is SCRAM authentication supported?",
    ],
)
def test_questions_about_versions_or_changes(question: str) -> None:
    assert asks_about_history(question)


@pytest.mark.parametrize(
    "question",
    [
        "How can I keep backend 0 from failing over while I restart it?",
        "What is the default value of max_pool?",
        "Why does pg_terminate_backend() trigger a failover?",
    ],
)
def test_questions_about_how_things_are(question: str) -> None:
    assert not asks_about_history(question)
