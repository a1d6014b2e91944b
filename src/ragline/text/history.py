"""Release notes and the questions that want them, told from a page title and a question.

A manual ingested whole brings its release history: pgpool-II's 170 "Release 4.2.10" pages are 43 %
of its chunks, SQLite's "Release History" and news pages a fifth of its site, Varnish's "Changes in
Varnish 6.0" and "Upgrading to Varnish 7.0" pages as many chunks as its reference. A change entry
names the setting it touched ("Fix 'write on backend 0 failed' error", "Rename configuration
parameter socket_dir"), so it ranks beside the page that documents the setting, yet it tells what
changed, not what holds. Context assembly admits release notes after the other passages unless the
question asks about versions or changes (``context/assembler.py``).

Example::

    is_release_notes("Release 4.2.10")  # True
    is_release_notes("Changes in Varnish 6.0 — Varnish version 7.1.1 documentation")  # True
    asks_about_history("In which version was statement_level_load_balance added?")  # True
    asks_about_history("How can I keep backend 0 from failing over?")  # False
"""

from __future__ import annotations

import re

# "Release 4.2.10", "E.1. Release 15.4", "Release Notes", "Release History Of SQLite", "Changes in
# Varnish 6.0", "SQLite Changes From Version 3.4.2 To 3.5.0", "What's new in ...", "Upgrading to
# Varnish 7.0", "Recent SQLite News", "Changelog". Not "The Release Process" or "CHANGE MASTER".
_RELEASE_TITLE = re.compile(
    r"\bRelease \d|\b[Rr]elease (?:[Nn]otes?|[Hh]istory)\b|\bChanges (?:[Ii]n|[Ff]rom|[Ss]ince)\b"
    r"|\bChange[Ll]og\b|\bWhat.s [Nn]ew\b|\bUpgrading to\b|\bNews\b"
)
# A question about versions or changes wants the release notes.
_HISTORY_QUESTION = re.compile(
    r"\b(?:versions?|releases?|released|changed?|changes|new|added|introduced|removed|deprecated|"
    r"renamed|obsolete|fix|fixes|fixed|bugs?|since|upgrad\w*|migrat\w*|history|news|"
    r"changelog|compatib\w*)\b|\b\d+\.\d+(?:\.\d+)?\b",
    re.IGNORECASE,
)


def is_release_notes(title: str) -> bool:
    """Whether a page title names release notes, a change log, news or an upgrade guide."""
    return bool(_RELEASE_TITLE.search(title))


def asks_about_history(question: str) -> bool:
    """Whether a question asks about versions, releases or changes (so release notes answer it)."""
    return bool(_HISTORY_QUESTION.search(question))
