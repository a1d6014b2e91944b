"""Typed short-answer extraction from a supporting unit, one handmade example per kind."""

from __future__ import annotations

import pytest

from ragline.generation.question import classify
from ragline.generation.short import short_span, tidy_span


@pytest.mark.parametrize(
    ("question", "text", "short"),
    [
        # default: a "Default:" table cell without the setting's own name ...
        ("What is the default value of KeepAliveTimeout?", "Default: | KeepAliveTimeout 5", "5"),
        ("What is the default LogLevel?", "Default: | LogLevel warn", "warn"),
        # ... the value after "default ... is", with its unit word ...
        (
            "What is the default maximum length of a string?",
            "The default value of this macro is 1 billion (1 thousand million or 1,000,000,000).",
            "1 billion",
        ),
        (
            "What is the default isolation level?",
            "The default isolation level for SQLite is SERIALIZABLE.",
            "SERIALIZABLE",
        ),
        ("What is the default journal size limit?", "The default journal size limit is -1 (no limit).", "-1"),
        # ... the literal in parentheses after a value in words ...
        ("What is the default value of work_mem?", "The default value is four megabytes (4MB).", "4MB"),
        (
            "What is the default of shared_buffers?",
            "The default is typically 128 megabytes (128MB), but might be less.",
            "128MB",
        ),
        # ... or "off by default", "5432 by default" ...
        ("Is cell size checking on by default?", "Cell size checking is turned off by default.", "off"),
        ("What is the default port?", "The TCP port the server listens on; 5432 by default.", "5432"),
        # A term's "(default: ...)" aside ends its value at a semicolon or at a comma and a space.
        (
            "How often does the queue manager scan the deferred queue by default?",
            "queue_run_delay (default: 300 seconds; before Postfix 2.4: 1000s)\n\nHow often it scans.",
            "300 seconds",
        ),
        (
            "How long does a bounce stay in the queue by default?",
            "bounce_queue_lifetime (default: 5 days, available with Postfix 2.1 and later)\n\nHow long.",
            "5 days",
        ),
        ("What is the default of max_files?", "max_files (default: 1,000)\n\nThe most files.", "1,000"),
        # A unit glued to the number as a configuration file writes it stays with it.
        ("What is the default value of archive_size?", "The default is 256kB.", "256kB"),
        ("What is the default of statement_timeout?", "The default is 15s (15 seconds).", "15s"),
        ("What is the default of autovacuum_naptime?", "The default is 1min.", "1min"),
        ("What is the default of delay_warning?", "The default is 24h.", "24h"),
        # What holds when nothing sets it, without the word "default" (Tomcat's wording).
        ("What is the default maxThreads?", "If not specified, this attribute is set to 200.", "200"),
        (
            "What is the default maxPostSize?",
            "If not specified, this attribute is set to 2097152 (2 MiB).",
            "2097152",
        ),
        # "the default value of 3ms", "a default of 100 is used": the value after "of".
        (
            "What is the default threshold?",
            "The threshold is the iRTT if present, or the default value of 3ms if it is not.",
            "3ms",
        ),
        ("What is the default maxHeaderCount?", "If not specified, a default of 100 is used.", "100"),
        (
            "What is the default allowBackslash?",
            "If not specified, the default value of false will be used.",
            "false",
        ),
        # What the standard installation sets, past a dotted setting name.
        (
            "What is the default of postgis.gdal_enabled_drivers?",
            "In the standard PostGIS installation, postgis.gdal_enabled_drivers is set to DISABLE_ALL.",
            "DISABLE_ALL",
        ),
        # A value is left out when the question states it as a word, not as part of one.
        ("What is the default value of encryption?", "The default is on.", "on"),
        # ... a plain word that closes the clause stating it, past a hedge before a value.
        (
            "What is the default value of listen_addresses?",
            "The default value is localhost, which allows only local connections.",
            "localhost",
        ),
        (
            "How many connections does max_connections allow by default?",
            "The default is typically 100 connections, but might be less.",
            "100",
        ),
        # number: one the question does not already hold, with its unit.
        (
            "At what size does SQLite checkpoint the WAL?",
            "SQLite checkpoints automatically when the WAL file reaches a threshold size of 1000 pages.",
            "1000 pages",
        ),
        ("How long is the Nile?", "It is about 6,650 km long.", "6,650"),
        # code: the number of a code the question names, or the code it does not name.
        ("What is the numeric value of the SQLITE_BUSY result code?", "- SQLITE_BUSY (5)", "5"),
        (
            "Which result code indicates that the disk is full?",
            "The SQLITE_FULL result code indicates that a write could not complete because the disk is full.",
            "SQLITE_FULL",
        ),
        ("Which signal causes a graceful stop?", "Signal: WINCH apache2ctl -k graceful-stop", "WINCH"),
        # A code value named in the question: the condition's name beside it, not the value again.
        ("What does error code 23503 mean?", "| 23503 | foreign_key_violation |", "foreign_key_violation"),
        ("Which code means a foreign key violation?", "| 23503 | foreign_key_violation |", "23503"),
        # date and name.
        ("When was the Eiffel Tower completed?", "It was completed in 1889 for the World's Fair.", "1889"),
        (
            "Who designed the Eiffel Tower?",
            "The tower was designed by Gustave Eiffel's company.",
            "Gustave Eiffel",
        ),
    ],
)
def test_short_answer_by_kind(question: str, text: str, short: str) -> None:
    span = short_span(classify(question), question, text)
    assert span is not None
    assert text[span[0] : span[1]] == short


def test_no_short_answer_for_sentence_kinds_or_without_a_value() -> None:
    q = "What is a reverse proxy?"
    assert (
        short_span(classify(q), q, "A proxy server that appears to the client as an origin server.") is None
    )
    q = "How many columns can a table have?"
    assert short_span(classify(q), q, "Tables hold columns and rows.") is None
    # A participle or an adverb after "the default is" states no value.
    q = "What is the default of KeepAliveTimeout?"
    for text in ("The default is used when nothing is set.", "The default is rarely changed, though."):
        assert short_span(classify(q), q, text) is None


@pytest.mark.parametrize(
    ("text", "span", "want"),
    [
        # The reader's span over MyST markup ended half-quoted in `make demo`.
        ("Many projects use {file}`requirements.txt` files.", "{file}`requirements.txt", "requirements.txt"),
        ("Run :command:`pip install` first.", ":command:`pip install`", "pip install"),
        ('The value is "OFF", always.', '"OFF",', "OFF"),
        ("It was built in 1874.", "1874.", "1874"),
        ("It was built in 1874.", "1874", "1874"),
        ("Set it to `` in the file.", "``", "``"),  # nothing would be left: unchanged
        # A span cut inside a flag ("-r") in `make demo` once the command under the sentence was
        # quoted: the flag's letter is no part of the file name.
        ("$ python -m pip install -r requirements.txt", "r requirements.txt", "requirements.txt"),
        ("a well-r known value", "r known value", "r known value"),  # a hyphenated word: no flag
    ],
)
def test_tidy_span_leaves_out_markup_and_quotes_around_the_value(text: str, span: str, want: str) -> None:
    a = text.index(span)
    x, y = tidy_span(text, a, a + len(span))
    assert text[x:y] == want
    assert a <= x <= y <= a + len(span)


def test_a_default_written_right_after_the_word_default() -> None:
    # "Range: [0-120000], default 10000": no "is", no colon; the number after "default" is the value.
    q = "What is the default value of poll_interval_timeout?"
    text = "Range: [0-120000], default 10000"
    span = short_span(classify(q), q, text)
    assert span is not None and text[span[0] : span[1]] == "10000"
    text = "Range: [30-30000], default 300ms"
    span = short_span(classify(q), q, text)
    assert span is not None and text[span[0] : span[1]] == "300ms"


def test_a_long_run_of_digits_and_commas_is_read_in_linear_time() -> None:
    # "(?<![\w.\-])" let a number start after every comma of "1,1,1,...", each running to the end
    # before "by default" failed: a 100,000-character line of them took minutes. A regression hangs.
    q = "What is the default value of poll_interval?"
    assert short_span(classify(q), q, "The list: " + "1," * 50_000) is None
    text = "It listens on 1,000 by default."
    span = short_span(classify(q), q, text)
    assert span is not None and text[span[0] : span[1]] == "1,000"
