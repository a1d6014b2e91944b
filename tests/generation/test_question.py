"""The rule-based question classifier, entity extraction and what a unit carries."""

from __future__ import annotations

import pytest

from ragline.generation.lexical import terms
from ragline.generation.question import (
    about,
    acting_names,
    carries,
    classify,
    entities,
    possessive_names,
    question_kind,
    scoped_products,
    states_default_by_number_only,
)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What is the default value of KeepAliveTimeout?", "default"),
        ("Which file name does DirectoryIndex use by default?", "default"),
        # What holds when nothing is configured is the default.
        ("Which storage does the daemon use when no -s option is given?", "default"),
        ("What is the numeric value of the SQLITE_BUSY result code?", "code"),
        ("Which signal triggers a graceful restart of httpd?", "code"),
        ("Which code means a foreign key violation?", "code"),
        ("What is the SQLSTATE for a deadlock?", "code"),
        ("How many attached databases can a connection have?", "number"),
        ("At what WAL file size does SQLite run a checkpoint?", "number"),
        # A bound asked with an adjective is a number, not what the setting is.
        ("What is the largest value dnssec-loadkeys-interval accepts?", "number"),
        ("What is the smallest allowed value of work_mem?", "number"),
        ("What is the largest city in Poland?", "definition"),
        ("When was the Eiffel Tower completed?", "date"),
        ("What is a reverse proxy?", "definition"),
        ("What does the VACUUM command do?", "definition"),
        ("What does Warszawa mean in Polish?", "definition"),
        ("What does REPORTTIME control?", "definition"),
        # What happens in a case, not what the product is.
        ("What does Varnish do with a compressed object when the client does not support gzip?", "other"),
        ("How do I enable foreign key constraints?", "procedure"),
        ("Why should AUTOINCREMENT be avoided?", "reason"),
        ("What is the difference between cache_size and default_cache_size?", "difference"),
        ("Who designed the tower?", "name"),
        ("Tell me about the tower", "overview"),
        ("What do we know about the building of the Orrin Point lighthouse?", "overview"),
        ("Describe the write-ahead log", "overview"),
        ("What do you know about cats", "overview"),
    ],
)
def test_question_kind(question: str, kind: str) -> None:
    assert question_kind(question) == kind


def test_entities_are_identifiers_names_quotes_and_the_trailing_product() -> None:
    assert entities("What is the default value of KeepAliveTimeout?") == ("KeepAliveTimeout",)
    assert entities("What is the value of SQLITE_MAX_COLUMN?") == ("SQLITE_MAX_COLUMN",)
    assert entities("What is the default keepalive_timeout in nginx?") == ("keepalive_timeout", "nginx")
    assert entities('What does "foo bar" mean?') == ("foo bar",)
    # The question word and generic closing words ("of the database") are not entities.
    assert entities("What is the default page size of the database?") == ()
    assert classify("What is the default port of Redis?").entities == ("Redis",)


def test_carries_reads_the_asked_kind() -> None:
    need = classify("What is the default value of KeepAliveTimeout?")
    assert carries(need, "Default: | KeepAliveTimeout 5") == 1.0
    assert carries(need, "Syntax: | KeepAliveTimeout num[ms]") == 0.0
    # A value with its unit glued on, as PostgreSQL's manual writes sizes and times.
    for stated in ("The default is 256kB.", "The default is 1min.", "The default is 24h."):
        assert carries(need, stated) == 1.0, stated
    # What is used when the value is left out is the default, without the word.
    assert carries(need, "If this value is omitted, 72.0 is used.") == 1.0
    assert carries(need, "If this value is omitted, the flag is ignored.") == 0.0
    # A manual's warning is the reason not to do something.
    why = classify("Why should socket_dir not be left at /tmp?")
    assert carries(why, "Be aware that this socket might be deleted by a cron job.") == 1.0
    assert carries(why, "The same user must exist in all backends. Otherwise, health check fails.") == 1.0
    assert carries(why, "The directory where the UNIX domain socket is created.") == 0.0
    # A path is a value: "The default is /tmp/pgpool_logs." (pgpool-II's log_directory).
    where = classify("Where does the logging collector write its log files by default?")
    assert carries(where, "The default is /tmp/pgpool_logs.") == 1.0
    assert carries(where, "The key file defaults to ~/.pgpoolkey in the home directory.") == 1.0
    assert carries(where, "The default is used when no file is named.") < 1.0
    code = classify("Which result code means the disk is full?")
    assert carries(code, "The SQLITE_FULL result code indicates that the disk is full.") == 1.0
    assert carries(code, "The disk may be full when writing large files.") == 0.0
    definition = classify("What is a handler?")
    assert carries(definition, "Handler: An internal representation of an action.") == 1.0
    number = classify("How many columns can a table have?")
    assert carries(number, "The default setting for SQLITE_MAX_COLUMN is 2000.") == 1.0
    assert carries(number, "Columns hold values.") == 0.0
    # A unit quoted with the command block it introduces shows the step.
    how = classify("How do I enable foreign keys?")
    assert (
        carries(
            how,
            "Foreign keys must be turned on at runtime. For example:\n```\nPRAGMA foreign_keys = ON;\n```",
        )
        == 1.0
    )
    assert carries(how, "Foreign keys are off in older releases.") == 0.0
    # "non-default" states no default.
    limit = classify("What is the default value of default_process_limit?")
    assert (
        carries(limit, "You can change the limit by specifying a non-default default_process_limit.") == 0.0
    )
    assert carries(limit, "You can change the limit; its default is 100.") == 1.0
    # An option's state is its value.
    rcs = classify("Are the RCS and GLOBAL_RCS options set by default?")
    assert carries(rcs, "Both RCS and GLOBAL_RCS are set by default.") == 1.0
    assert carries(rcs, "Whether they are read by default is decided at build time.") < 1.0


def test_about_prefers_the_unit_that_names_the_entity() -> None:
    need = classify("What is the default value of KeepAliveTimeout?")
    row = set(terms("Default: | KeepAliveTimeout 5"))
    other = set(terms("Default: | MaxKeepAliveRequests 100"))
    header = frozenset(terms("KeepAliveTimeout Directive"))
    assert about(need, row, frozenset()) == 1.0
    assert about(need, other, frozenset()) == 0.0
    assert about(need, other, header) == 0.5
    assert about(classify("What is a tarball?"), other, frozenset()) == 1.0  # no entity asked


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What is the default port of Redis?", ("Redis",)),
        ("Which signal reloads the HAProxy configuration?", ("HAProxy",)),
        ("What is the numeric value of SQLITE_BUSY?", ("SQLITE_BUSY",)),
        # Capitalised names inside the sentence are entities to rank by, not to require.
        ("When did the Denver Broncos win the Super Bowl?", ()),
        # A closing idiom names nothing the collection must mention.
        ("What do Bathyctena chuni and Euplokamis stationis have in common?", ()),
        ("What is the warmest month on average?", ()),
        # git's dotted configuration names, anywhere in the question; "e.g." is no name.
        ("Is gc.auto set by default in git?", ("gc.auto", "git")),
        ("What does core.bigFileThreshold do?", ("core.bigFileThreshold",)),
        ("What is, e.g., the default?", ()),
    ],
)
def test_named_entities_are_identifiers_and_trailing_products(question: str, named: tuple[str, ...]) -> None:
    need = classify(question)
    assert need.named == named
    assert set(named) <= set(need.entities)


def test_a_code_question_naming_a_value_wants_the_name_beside_it() -> None:
    need = classify("Which condition name has the error code 23503?")
    assert need.kind == "code" and need.codes == ("23503",)
    assert carries(need, "| 23503 | foreign_key_violation |") == 1.0
    assert carries(need, "Applications should test the error code 23503.") == 0.0
    # A code named in snake case asks for its value, a five-character SQLSTATE included.
    need = classify("What is the error code of deadlock_detected?")
    assert need.codes == ()
    assert carries(need, "| 40P01 | deadlock_detected |") == 1.0
    assert carries(need, "A deadlock was detected.") == 0.0


def test_a_default_colon_counts_only_before_a_value() -> None:
    need = classify("What is the default value of KeepAliveTimeout?")
    assert carries(need, "Default: | KeepAliveTimeout 5") == 1.0
    # A sentence ending in a colon announces an example; it states no value.
    assert (
        carries(need, "For this reason, the default configuration file contains the following stanza:") < 1.0
    )


@pytest.mark.parametrize(
    ("question", "products"),
    [
        ("How do I restart the Tomcat server gracefully?", ("Tomcat",)),
        ("What is the maximum number of columns in an Oracle table?", ("Oracle",)),
        ("Which signal causes a graceful stop of the Apache server?", ("Apache",)),
        # A setting's or command's entry is not a product; nor is a name before a plain noun.
        ("How many seconds does the TimeOut directive default to?", ()),
        ("What does the VACUUM command do?", ()),
        ("When did the Denver Broncos win the Super Bowl?", ()),
        ("Which server does the client connect to?", ()),
        # A name in lower case after "the"; a word saying which server or configuration is none.
        ("How do I reload the nginx configuration?", ("nginx",)),
        ("How do I restart the redis server?", ("redis",)),
        ("How do I reload the main configuration?", ()),
        ("Where is the mail server configured?", ()),
        # Shells and editors are products too; which one of a shell's own sessions is not.
        ("How do I enable tab completion in the fish shell?", ("fish",)),
        ("How do I quit the vim editor?", ("vim",)),
        ("Which files does the login shell read?", ()),
        ("What does the interactive shell read first?", ()),
    ],
)
def test_scoped_products_are_names_before_a_product_noun(question: str, products: tuple[str, ...]) -> None:
    assert scoped_products(question) == products


def test_a_default_asked_as_a_quantity_wants_a_number() -> None:
    q = "How many connections are allowed by default?"
    need = classify(q)
    assert need.kind == "default" and need.quantity
    assert carries(need, "The default is typically 100 connections.") == 1.0
    # A default stated in words is no answer to "how many".
    assert carries(need, "The default value is localhost, which allows local connections.") < 0.5
    plain = classify("What is the default listen address?")
    assert not plain.quantity
    assert carries(plain, "The default value is localhost, which allows local connections.") >= 0.6


def test_a_default_that_is_another_settings_value_is_no_stated_value() -> None:
    need = classify("What is the default idle timeout for client connections?")
    # The value is in the referenced parameter's entry, not here.
    assert carries(need, "Idle timeout for this session, defaults to the timeout_idle parameter.") == 0.6
    assert carries(need, "Default: .connect_timeout attribute from the Backend definition") == 0.6
    assert carries(need, "- Default: 5.000") == 1.0
    # A limit's default stated as a word is a value.
    size = classify("What is the default size of the cache?")
    assert carries(size, "The default size is unlimited.") == 1.0


def test_a_quoted_default_is_a_stated_value() -> None:
    need = classify("What is the default execution trace prompt?")
    assert carries(need, "The default is ‘+%N %i> ’, which shows the line number.") == 1.0
    assert carries(need, "The prompt is printed by default.") == 0.6


def test_default_rules_read_hostile_units_in_one_pass() -> None:
    from ragline.generation.entries import own_text

    need = classify("What is the default idle timeout?")
    # Long whitespace runs after "default" (a <pre> block's padding): no value, no reference, and
    # an answer rather than a hang (each whitespace run is read once).
    padded = "default" + " " * 100_000 + "x"
    assert carries(need, padded) == 0.6
    assert carries(need, "default is" + " " * 50_000 + "to" + " " * 50_000) == 0.6
    assert own_text(padded) == padded
    assert carries(need, "") == 0.0


def test_a_count_spelled_out_carries_a_number() -> None:
    # "How many log levels ...?" over "There are nine log message types": no digit, so the unit
    # that answers counted as holding no number.
    need = classify("How many log levels does the daemon have?")
    assert need.kind == "number"
    assert carries(need, "There are nine log message types.") == 1.0
    assert carries(need, "Each level is shown in the log.") == 0.0
    assert carries(need, "One of them is always shown.") == 0.0  # "one" is mostly a pronoun


def test_a_default_named_in_an_aside_is_a_value() -> None:
    need = classify("What does IFS contain by default?")
    assert need.kind == "default"
    assert (
        carries(need, "Internal field separators (by default space, tab, newline and NUL), used to split.")
        == 1.0
    )
    # No aside, no value stated.
    assert carries(need, "The default is chosen by the installer.") < 1.0


def test_on_and_off_are_values_only_where_a_value_stands() -> None:
    need = classify("On which port does the proxy listen by default?")
    assert not states_default_by_number_only("The default is on.")
    assert not states_default_by_number_only("Compression is off by default on 32-bit systems.")
    # "on" here is a preposition: only the number 8118 made the sentence look like a default.
    assert states_default_by_number_only(
        "If a service runs on port 8118, you will need to override the default."
    )
    assert carries(need, "Default value: 8118") == 1.0


def test_what_a_program_normally_uses_states_its_default() -> None:
    need = classify("What port does Squid listen on by default?")
    assert carries(need, "Squid normally uses port 3128.") == 1.0
    assert carries(need, "Squid uses port 3128 in this example.") == 0.0


def test_what_holds_when_nothing_is_set_states_the_default() -> None:
    need = classify("What is the default maxThreads?")
    assert carries(need, "If not specified, this attribute is set to 200.") == 1.0
    code = classify("What status code does a rewrite redirect return when no code is given?")
    assert code.kind == "default"
    assert carries(code, "If no code is given, an HTTP response of 302 (FOUND) will be returned.") == 1.0
    # Without a value it only says what a setting is for; a record's field name states nothing.
    window = classify("What window size does git pack-objects use by default?")
    assert (
        carries(window, "The size of the window used when no window size is given on the command line.")
        == 0.0
    )
    assert (
        carries(window, "The window used by git-pack-objects(1) when no window size is given on it.") == 0.0
    )
    assert carries(need, "Effect if unset: Bind to 127.0.0.1 (IPv4 localhost), port 8118.") == 0.0
    assert carries(need, "If not set, caching is disabled.") == 1.0


def test_that_is_why_gives_a_reason() -> None:
    why = classify("Why is automatic reloading disabled by default?")
    assert carries(why, "It is costly. That's why the default setting for this attribute is false.") == 1.0
    assert carries(why, "This is why the cache is cleared on restart.") == 1.0
    assert carries(why, "The default setting for this attribute is false.") == 0.0


def test_a_preposition_before_how_many_still_asks_for_a_number() -> None:
    assert classify("Within how many milliseconds must the last ACK have been seen?").kind == "number"
    assert classify("For how long did the plague stick around?").kind == "number"
    assert classify("In how many countries did Tesla hold patents?").kind == "number"


def test_what_a_standard_installation_sets_is_the_default() -> None:
    need = classify("What is the default of postgis.enable_outdb_rasters?")
    assert (
        carries(need, "In the standard PostGIS installation, postgis.enable_outdb_rasters is set to False.")
        == 1.0
    )
    # A constant's name is a value, as a number is.
    assert (
        carries(need, "In the standard installation, postgis.gdal_enabled_drivers is set to DISABLE_ALL.")
        == 1.0
    )
    assert carries(need, "A standard installation takes a few minutes.") < 1.0


def test_a_name_looked_up_by_what_it_means_is_a_code_question() -> None:
    assert question_kind("Which status flag means the battery is discharging?") == "code"
    assert question_kind("What value stands for no limit?") == "code"
    # "What does X mean?" asks what X means, not which X.
    assert question_kind("What does TRIM mean?") == "definition"
    # A synonym looked up ("means the same as !==") is no code's meaning.
    assert question_kind("Which English operator means the same as !== ?") != "code"


def test_owners_and_actors_of_what_is_asked() -> None:
    q = "What is the default port of apcupsd's network information server?"
    assert possessive_names(q) == ("apcupsd",)
    # Common nouns in the possessive own nothing a manual's product could be told apart by.
    assert possessive_names("What is the server's default port?") == ()
    assert possessive_names("What is everyone's favourite?") == ()
    # After a determiner the possessive is a common noun's, whatever the noun; a program is
    # named bare.
    assert possessive_names("On an international level, which industry's positions are affected?") == ()
    assert possessive_names("What is a developing economy's level of inequality called?") == ()
    assert possessive_names("What is nginx's default port?") == ("nginx",)
    assert acting_names("What is the default syslog facility NUT uses?") == ("NUT",)
    assert acting_names("Which port does PostgreSQL listen on by default?") == ("PostgreSQL",)
    assert acting_names("What is the default port?") == ()


def test_a_default_port_is_asked_as_a_number() -> None:
    assert classify("What is the default port of Dovecot's IMAP server?").quantity
    assert classify("Which TCP port does upsd listen on by default?").quantity
    assert not classify("What is the default listen address?").quantity
