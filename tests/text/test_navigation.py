"""Navigation pages (a manual's index, table of contents, site map) told from title and text."""

from __future__ import annotations

import pytest

from ragline.text.navigation import NAVIGATION_PROSE, is_navigation, navigation_title, prose_share

# Index chunks as six manuals' pages come out of the HTML loader and chunker.
_REF = "The Exim command line [Command line options]"
EXIM_INDEX = f"-MCQ\n\n{_REF}\n\n-Mg\n\n{_REF}"
ZSH_INDEX = "| | ALIASES | | 16.2.6 Input/Output |\n| | ALIAS_FUNC_DEF | | 16.2.9 Scripts and Functions |"
SQLITE_INDEX = "- B-tree - backup API - backup method - bare aggregate terms - BEGIN - BEGIN EXCLUSIVE"
POSTGRES_INDEX = "work_mem configuration parameter, Resource Consumption\n\nwrite-ahead log, Reliability"
PROSE = (
    "CREATE INDEX constructs an index on the specified column(s) of the specified relation. "
    "Indexes are primarily used to enhance database performance."
)


@pytest.mark.parametrize(
    "title",
    [
        "Index",
        "63. Concept Index",
        "Options Index (zsh)",
        "Index — rsyslog 8.2302.0 documentation",
        "Table of Contents (zsh)",
        "SQLite Site Map",
        "Sitemap - Apache HTTP Server Version 2.4",
    ],
)
def test_listing_titles_are_navigation_titles(title: str) -> None:
    assert navigation_title(title)


@pytest.mark.parametrize(
    "title", ["CREATE INDEX", "git-update-index(1)", "Indexes", "Partial Indexes", "Reindexing", "The Guide"]
)
def test_an_sql_keyword_a_command_name_or_a_plural_is_not(title: str) -> None:
    assert not navigation_title(title)


@pytest.mark.parametrize("text", [EXIM_INDEX, ZSH_INDEX, SQLITE_INDEX, POSTGRES_INDEX])
def test_index_entries_hold_no_prose(text: str) -> None:
    assert prose_share(text) < NAVIGATION_PROSE
    assert is_navigation("Index", text)


def test_content_under_a_listing_title_is_not_navigation() -> None:
    # "11.2. Index Types" or an index page's own introduction explain themselves in sentences.
    assert prose_share(PROSE) == 1.0
    assert not is_navigation("11.2. Index Types", PROSE)
    # Half prose, half entries: the page's introduction above its first entries.
    assert not is_navigation("Index", PROSE + "\n\n" + POSTGRES_INDEX)
    # A listing under a content page's title is that page's content (an option table).
    assert not is_navigation("5. The Exim command line", EXIM_INDEX)


def test_no_words_is_no_prose() -> None:
    assert prose_share("") == 0.0
    assert prose_share("| --- | --- |") == 0.0


def test_answers_last_holds_indexes_always_and_release_notes_unless_changes_are_asked() -> None:
    from ragline.text.navigation import answers_last

    how = "How do I keep backend 0 from failing over?"
    assert answers_last(how, "Index", POSTGRES_INDEX)
    assert answers_last(how, "Release 4.2.10", "Fix failover of backend 0 while it restarts. (bug 711)")
    assert not answers_last("Which release fixed failover of backend 0?", "Release 4.2.10", "Fix failover.")
    assert not answers_last("", "Release 4.2.10", "Fix failover.")  # no question: the order stands
    assert not answers_last(how, "3.7. Shutting Down", PROSE)


def test_a_table_of_contents_inside_a_page_is_a_listing() -> None:
    from ragline.text.navigation import listing_spans

    toc = "\n\n".join(["5.3.5. Slony mode", "5.3.6. Raw mode", "5.4. Backend", "5.4.1. Backend Data"])
    text = f"# Chapter 5. Server Configuration\n\nTable of Contents\n\n{toc}\n\nThere are many parameters."
    [(a, b)] = listing_spans(text)
    assert text[a:b] == toc
    # Numbered steps are sentences, and two numbered titles are no run; a numbered heading is a heading.
    assert listing_spans("1. Install it.\n\n2. Run it.\n\n3. Stop it.") == []
    assert listing_spans("5.1. Setting\n\n5.2. Pooling\n\nProse follows here.") == []
    assert listing_spans("## 5.3.6. Raw mode\n\nIn this mode, nothing is replicated.") == []
    assert listing_spans("") == []
