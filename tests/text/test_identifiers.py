"""Identifiers a query names and how a text names them (``ragline.text.identifiers``)."""

from __future__ import annotations

import pytest

from ragline.text.identifiers import asked_term, identifiers, is_identifier_name, naming_grade


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("What is the default value of default_process_limit?", ("default_process_limit",)),
        ("Which result code number is SQLITE_CONSTRAINT?", ("SQLITE_CONSTRAINT",)),
        ("What is the default value of gc.auto?", ("gc.auto",)),  # the full stop is not part of it
        ("What does diff.renameLimit default to?", ("diff.renameLimit",)),
        ("What is the default KeepAliveTimeout?", ("KeepAliveTimeout",)),
        # A plain word the question calls a setting is one.
        ("What does the relayhost parameter specify?", ("relayhost",)),
        ("How many seconds does the TimeOut directive default to?", ("TimeOut",)),
        ("Is the auto_vacuum pragma on by default?", ("auto_vacuum",)),
        # A command-line flag the question calls an option, with its dashes.
        ("What does the -x option of ntpd do?", ("-x",)),
        ("What does the --prefix option set?", ("--prefix",)),
        # Two names, each once whatever its case.
        ("Compare work_mem and WORK_MEM with shared_buffers", ("work_mem", "shared_buffers")),
    ],
)
def test_names_of_settings_variables_and_codes_are_identifiers(query: str, expected: tuple[str, ...]) -> None:
    assert identifiers(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "Where did McDonald open its first restaurant in the U.S.?",  # one hump: a name of a thing
        "Which port does PostgreSQL use by default?",
        "What does H2A.Z do, e.g. in yeast?",  # abbreviations and gene names with a dot
        "What is the default process limit?",  # plain words
        "Is 2.5 larger than 1.10?",
        "What does the main configuration parameter control?",  # a kind of setting, not a name
        "Which parameter sets the port?",
    ],
)
def test_plain_words_names_and_abbreviations_are_not(query: str) -> None:
    assert identifiers(query) == ()


def test_is_identifier_name() -> None:
    assert is_identifier_name("bigFileThreshold") and is_identifier_name("main.cf")
    assert not is_identifier_name("iPhone") and not is_identifier_name("limit")


def test_a_line_that_opens_with_the_name_is_its_entry() -> None:
    ident = "default_process_limit"
    assert naming_grade("default_process_limit (default: 100)\n\nThe default maximal ...", ident) == 2
    # A man page's parameter line in <pre>, a heading, a code's heading with its value before it.
    assert naming_grade("CONTROLS\n       default_process_limit (100)\n              The", ident) == 2
    assert naming_grade("## default_process_limit\n\nThe default ...", ident) == 2
    assert naming_grade("### (19) SQLITE_CONSTRAINT\n\nThe SQLITE_CONSTRAINT error", "SQLITE_CONSTRAINT") == 2
    # Among its aliases on its term line: a man page's "-x, --slew", texinfo's "name, alias".
    assert naming_grade("-x, --slew\n\nSlew up to 600 seconds.", "-x") == 2
    assert naming_grade("-g, --panicgate\n\nAllow the first adjustment to be big.", "--panicgate") == 2
    assert naming_grade("black_min_duration, d\n\nSet the minimum detected black duration", "d") == 2
    assert naming_grade("Use -x, the kernel discipline is off.", "-x") == 1


def test_a_mention_elsewhere_is_a_lesser_grade() -> None:
    ident = "default_process_limit"
    assert naming_grade("You can change it with a non-default default_process_limit.", ident) == 1
    # A reference to its value, and prose that writes its underscores as hyphens or spaces.
    assert naming_grade("postscreen_pre_queue_limit (default: $default_process_limit)", ident) == 1
    assert naming_grade("By default, the limit is half the default process limit value.", ident) == 1
    assert naming_grade("Query or set the auto-vacuum status.", "auto_vacuum") == 1
    # A list of names (a table of contents) is no entry.
    assert (
        naming_grade("## List Of PRAGMAs\n\n- analysis_limit\n- auto_vacuum\n- busy_timeout", "auto_vacuum")
        == 1
    )


def test_a_longer_name_does_not_name_a_shorter_one() -> None:
    assert naming_grade("### (3091) SQLITE_CONSTRAINT_DATATYPE\n\nThe error", "SQLITE_CONSTRAINT") == 0
    assert naming_grade("merge.renameLimit\n\nThe number of files", "diff.renameLimit") == 0
    assert naming_grade("gc.autoPackLimit\n\nWhen there are more than", "gc.auto") == 0
    assert naming_grade("Nothing about it here.", "gc.auto") == 0


def test_only_a_term_line_is_an_entry_not_a_line_that_goes_on() -> None:
    # A man page's sentence wrapped so that a line starts with the words, and a configuration example.
    assert naming_grade("default port for SMTP is taken from the\n smtp/tcp entry", "default port") == 1
    assert naming_grade("main.cf:\n    default_process_limit = 200", "default_process_limit") == 1
    # A term with a kind noun, a colon or an anchor mark after it is still the entry.
    assert naming_grade("## KeepAliveTimeout Directive\n\nDescription: ...", "KeepAliveTimeout") == 2
    assert naming_grade("dangling object:\n    An unreachable object", "dangling object") == 2
    assert naming_grade("work_mem (integer) #\n\nSets the base maximum", "work_mem") == 2
    # Markdown and reStructuredText terms.
    assert naming_grade("**work_mem** (integer)\n\nSets the base maximum", "work_mem") == 2
    assert naming_grade("``work_mem``\n    Sets the base maximum", "work_mem") == 2


def test_asked_term_reads_definition_shapes() -> None:
    assert asked_term("What is a dangling object?") == "dangling object"
    assert asked_term("What does VACUUM do?") == "VACUUM"
    assert asked_term("What is the active queue in Postfix?") == "active queue"
    # A relative clause says which one is meant; the term ends before it.
    assert asked_term("What is the thundering herd problem that serialize_accept solves?") == (
        "thundering herd problem"
    )
    assert asked_term("What is a lock which a reader holds?") == "lock"
    # The option is the term; "of reconstruct" says whose it is.
    assert asked_term("What does the -f option of reconstruct do?") == "-f option"
    assert asked_term("What does the CASCADE option in DROP TABLE do?") == "CASCADE option"
    assert asked_term("How do I reload the configuration?") is None
    assert asked_term("What does Varnish do with a compressed object when the client lacks gzip?") is None


def test_only_qualifies_reads_a_name_before_the_asked_kind_of_item() -> None:
    from ragline.text.identifiers import only_qualifies

    assert only_qualifies("Which vmod_std function sorts the query string?", "vmod_std")
    assert only_qualifies("What git_hooks option runs first?", "git_hooks")
    assert not only_qualifies("What is the default value of default_process_limit?", "default_process_limit")
    assert not only_qualifies("Which KeepAliveTimeout value is the default?", "KeepAliveTimeout")


def test_asks_for_item_reads_which_function_or_option_is_asked() -> None:
    from ragline.text.identifiers import asks_for_item

    assert asks_for_item("Which vmod_std function sorts the query string?")
    assert asks_for_item("What option makes cd push the old directory?")
    assert not asks_for_item("What is the default value of thread_pool_max?")
    assert not asks_for_item("Who designed the tower?")


def test_a_hostile_question_is_read_in_linear_time() -> None:
    # The definition pattern backtracked over every split of a whitespace run: 2,000 spaces took
    # 12 s before questions were read with their whitespace collapsed and at most 400 characters.
    from ragline.generation.entries import compared

    assert asked_term("What is a x" + " " * 8_000 + "that y?") is None
    assert asked_term("What is a reverse" + " " * 300 + "proxy?") == "reverse proxy"
    assert asked_term("What is a " + "x in A " * 1_100 + "!") is None
    assert compared("What is " + "x" * 8_000 + " vs y?") == ()
    tabs = "What is the difference between smart\t\tand  fast shutdown?"
    assert compared(tabs) == ("smart", "fast shutdown")
