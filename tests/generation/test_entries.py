"""Where a unit sits in its document's structure (generation/entries.py): pure functions."""

from __future__ import annotations

import pytest

from ragline.generation.entries import (
    answers_as_field,
    asked_identifiers,
    attribute_terms,
    defined_term,
    defines,
    entry_identifier,
    entry_name,
    entry_strength,
    identifiers_named,
    is_identifier,
    is_subject,
    label_names,
    name_words,
    names,
    own_text,
    product_scope,
    row_entry,
    term_of,
    unit_labels,
)
from ragline.generation.extractive import described_row
from ragline.generation.question import carries, classify
from ragline.text.sentences import answer_units

DIRECTIVES = (
    "## KeepAliveTimeout Directive\n\n"
    "| Description: | Amount of time the server will wait |\n| --- | --- |\n"
    "| Default: | KeepAliveTimeout 5 |\n\n"
    "The number of seconds Apache httpd will wait for a subsequent request.\n\n"
    "## MaxKeepAliveRequests Directive\n\n"
    "| Description: | Number of requests allowed |\n| --- | --- |\n"
    "| Default: | MaxKeepAliveRequests 100 |"
)
VARIABLES = (
    "### 19.4.1. Memory\n\n"
    "work_mem (integer)\n\n"
    "Sets the base maximum amount of memory. The default value is four megabytes (4MB).\n\n"
    "maintenance_work_mem (integer)\n\n"
    "Specifies the maximum amount of memory for maintenance. The default value is 64 megabytes (64MB)."
)
CODES = "Codes\n\n| Error Code | Condition Name |\n| --- | --- |\n| 23505 | unique_violation |"


def labels_of(text: str, section_path: tuple[str, ...] = ()) -> dict[str, str]:
    units = answer_units(text)
    return {
        text[a:b]: label for (a, b), label in zip(units, unit_labels(text, units, section_path), strict=True)
    }


def test_a_unit_is_labelled_by_the_heading_above_it_not_the_next_one() -> None:
    labels = labels_of(DIRECTIVES)
    assert labels["| Default: | KeepAliveTimeout 5 |"] == "KeepAliveTimeout Directive"
    assert labels["| Default: | MaxKeepAliveRequests 100 |"] == "MaxKeepAliveRequests Directive"
    # A field table's first row is data, not column names: no column line in the label.
    assert "\n" not in labels["| Default: | KeepAliveTimeout 5 |"]


def test_units_of_a_definition_entry_carry_its_term_until_the_next_term() -> None:
    labels = labels_of(VARIABLES)
    assert labels["The default value is four megabytes (4MB)."] == "19.4.1. Memory\nwork_mem (integer)"
    assert (
        labels["The default value is 64 megabytes (64MB)."]
        == "19.4.1. Memory\nmaintenance_work_mem (integer)"
    )


def test_an_admonition_inside_an_entry_does_not_end_it() -> None:
    # DocBook writes a note as a titled block ("### Note"); the default after it is still the
    # entry's, not the note's.
    text = (
        "## 20.4. Resource Consumption\n\nshared_cache_size (integer)\n\nSets the cache size.\n\n"
        "### Note\n\nKeep it small on small machines.\n\nThe default is 128MB.\n\n"
        "work_area_size (integer)\n\nSets the work area. The default is 4MB."
    )
    labels = labels_of(text)
    assert labels["The default is 128MB."] == "20.4. Resource Consumption\nshared_cache_size (integer)"
    assert (
        labels["Keep it small on small machines."]
        == "20.4. Resource Consumption\nshared_cache_size (integer)"
    )
    # A chunk that starts after the note's title: its section path ends with the note.
    later = "The default is 128MB."
    assert labels_of(later, ("20.4. Resource Consumption", "Note"))[later] == "20.4. Resource Consumption"


def test_units_before_the_first_heading_take_the_section_path_unless_it_names_that_heading() -> None:
    text = "Then the parent exits.\n\n## Graceful Restart\n\nSignal: USR1"
    assert labels_of(text, ("Manual", "Restart Now"))["Then the parent exits."] == "Restart Now"
    # The passage's path names its later section: the units before that heading are not in it.
    assert labels_of(text, ("Manual", "Graceful Restart"))["Then the parent exits."] == ""


def test_a_table_row_carries_its_column_names() -> None:
    assert labels_of(CODES)["| 23505 | unique_violation |"] == "Error Code | Condition Name"


def test_term_of_reads_a_short_unpunctuated_opening_line_only() -> None:
    assert term_of("work_mem (integer)\n\nSets the base maximum.") == "work_mem (integer)"
    assert term_of("This is a sentence.\n\nAnother.") is None
    assert term_of("| a | b |\n\nText") is None
    assert term_of("One sentence only") is None


@pytest.mark.parametrize(
    ("entity", "text", "expected"),
    [
        ("SQLITE_BUSY", "(5) SQLITE_BUSY", True),
        ("SQLITE_BUSY", "(261) SQLITE_BUSY_RECOVERY", False),
        ("auto_vacuum", "The default setting for auto-vacuum is 0", True),
        ("KeepAliveTimeout", "Default: | KeepAliveTimeout 5", True),
        ("KeepAlive", "Default: | KeepAliveTimeout 5", False),
        ("graceful", "the graceful-stop signal", False),
    ],
)
def test_names_matches_whole_names_only(entity: str, text: str, expected: bool) -> None:
    assert names(entity, text) is expected


def test_an_entrys_own_name_leaves_out_its_asides_and_references_to_other_settings() -> None:
    # Postfix's postconf(5): the setting whose default is "$relayhost" is not relayhost's entry.
    assert entry_name("address_verify_relayhost (default: $relayhost)").strip() == "address_verify_relayhost"
    assert entry_name("(5) SQLITE_BUSY") == "(5) SQLITE_BUSY"  # a leading "(5)" is the entry's value
    assert label_names("relayhost", "Parameters\nrelayhost (default: empty)")
    assert not label_names("relayhost", "Parameters\naddress_verify_relayhost (default: $relayhost)")
    assert not label_names(
        "default_process_limit", "postscreen_pre_queue_limit (default: $default_process_limit)"
    )
    assert label_names("work_mem", "19.4.1. Memory\nwork_mem (integer)")
    unit = "postscreen_pre_queue_limit (default: $default_process_limit)\n\nThe number of clients."
    assert not names("default_process_limit", own_text(unit))
    assert names("postscreen_pre_queue_limit", own_text(unit))
    assert not names("relayhost", own_text("Overrides the setting of $relayhost for probes."))


def test_what_a_setting_specifies_is_a_definition_of_its_term() -> None:
    q = "What does the relayhost parameter specify?"
    need = classify(q)
    assert need.kind == "definition"
    term = defined_term(need, q)
    assert term == "relayhost parameter"
    entry = "relayhost (default: empty)\n\nThe next-hop destination(s) for non-local mail."
    assert defines(term, entry) and is_subject(term, entry)
    other = "address_verify_relayhost (default: $relayhost)\n\nOverrides the relayhost parameter setting."
    assert not defines(term, other) and not is_subject(term, other)
    # The name alone, the question ending at the verb, asks the same; a longer question does not.
    assert classify("What does work_mem control?").kind == "definition"
    assert defined_term(classify("What does work_mem control?"), "What does work_mem control?") == "work_mem"
    assert classify("What does work_mem control during a sort?").kind != "definition"


def test_a_setting_named_in_passing_in_another_entry_counts_half() -> None:
    idents = ("diff.renameLimit",)
    passing = "If neither merge.renameLimit nor diff.renameLimit are specified, currently defaults to 7000."
    assert identifiers_named(idents, passing, "Variables\nmerge.renameLimit") == 0.5
    own = "If not set, the default value is currently 1000."
    assert identifiers_named(idents, own, "Variables\ndiff.renameLimit") == 1.0
    # Outside any setting's entry (a section heading), naming it in the text still pins it.
    assert identifiers_named(idents, passing, "OPTIONS") == 1.0


def test_a_table_row_is_the_entry_of_the_identifier_in_its_first_cell() -> None:
    assert row_entry("| maxThreads | The maximum number of request processing threads. |") == "maxThreads"
    assert row_entry("| `work_mem` | Memory for sorts. |") == "work_mem"
    assert row_entry("| 403 | Forbidden |") is None
    assert row_entry("| Request processing | Threads |") is None
    assert row_entry("maxThreads is 200.") is None
    idents = ("connectionTimeout",)
    other = "| keepAliveTimeout | The default value is the value of the connectionTimeout attribute. |"
    own = "| connectionTimeout | The number of milliseconds to wait. The default value is 60000. |"
    # Another row names the asked attribute in passing; its own row pins it.
    assert identifiers_named(idents, other, "| Attribute | Description |") == 0.5
    assert identifiers_named(idents, own, "| Attribute | Description |") == 1.0
    # "HTTP" only says which connector ("the HTTP connector"): no name the entry must spell.
    q = "What is the default connectionTimeout of the HTTP connector?"
    assert asked_identifiers(classify(q), q) == ("connectionTimeout",)
    q = "What is the default Out-Of-Order RTT threshold?"
    assert "RTT" not in asked_identifiers(classify(q), q)


def test_dotted_names_are_identifiers_and_names_spell_their_words() -> None:
    assert is_identifier("gc.auto") and is_identifier("core.abbrev") and is_identifier("http.postBuffer")
    assert not is_identifier("e.g.") and not is_identifier("git") and not is_identifier("Postfix")
    q = "What is the default value of gc.auto?"
    assert asked_identifiers(classify(q), q) == ("gc.auto",)
    assert not names("gc.auto", "gc.autoPackLimit")
    assert name_words("Variables\ncore.bigFileThreshold") == {"core", "big", "file", "threshold"}
    assert name_words("KeepAliveTimeout Directive") == {"keep", "alive", "timeout"}
    assert name_words("Default value") == frozenset()
    # The asked attribute ("big", "file") spelled by the entry's name makes its default the entry.
    q = "From what size on does Git treat a file as big by default?"
    need = classify(q)
    unit = "The default is 512 MiB."
    assert entry_strength(need, q, unit, "Variables\ncore.bigFileThreshold", carries(need, unit)) > 0.0
    assert entry_strength(need, q, unit, "Variables\npack.window", carries(need, unit)) == 0.0


def test_an_acronym_that_qualifies_a_noun_is_no_identifier_to_pin() -> None:
    q = "How many simultaneous connections may one client make to the Postfix SMTP server by default?"
    assert "SMTP" in classify(q).named and asked_identifiers(classify(q), q) == ()
    q = "What is the TCP port the server listens on by default?"
    assert asked_identifiers(classify(q), q) == ()
    # A code or a signal is the asked thing, whatever noun follows it.
    q = "What does the SIGHUP signal do?"
    assert asked_identifiers(classify(q), q) == ("SIGHUP",)
    q = "What is the numeric value of SQLITE_BUSY?"
    assert asked_identifiers(classify(q), q) == ("SQLITE_BUSY",)


def test_a_product_scope_is_no_setting_name_but_a_setting_at_the_end_is() -> None:
    q = "What is the default page size in SQLite?"
    assert product_scope(classify(q), q) == "SQLite"
    assert asked_identifiers(classify(q), q) == ()
    q = "What is the default name of the configuration file set by AccessFileName?"
    assert asked_identifiers(classify(q), q) == ("AccessFileName",)
    q = "What is the default of work_mem in PostgreSQL?"
    assert asked_identifiers(classify(q), q) == ("work_mem",)
    q = "What is the default of CacheDefaultExpire in mod_cache?"
    assert asked_identifiers(classify(q), q) == ("CacheDefaultExpire",)
    q = "Which condition name has the error code 23503?"
    assert asked_identifiers(classify(q), q) == ("23503",)


def test_entry_strength_needs_the_value_the_identifier_and_without_one_the_attribute() -> None:
    q = "What is the default value of KeepAliveTimeout?"
    need = classify(q)
    row = "Default: | KeepAliveTimeout 5"
    assert entry_strength(need, q, row, "KeepAliveTimeout Directive", carries(need, row)) == 1.0
    other = "Default: | MaxKeepAliveRequests 100"
    assert entry_strength(need, q, other, "MaxKeepAliveRequests Directive", carries(need, other)) == 0.0
    # No identifier: the asked attribute ("port") must be stated; a Redis default of another
    # setting is not the default port of Redis.
    q = "What is the default port of Redis?"
    need = classify(q)
    assert attribute_terms(need, q) == {"port"}
    ttl = "Default: | RedisConnPoolTTL 15s"
    assert entry_strength(need, q, ttl, "RedisConnPoolTTL Directive", carries(need, ttl)) == 0.0
    port = "Default: | RedisPort 6379"
    assert entry_strength(need, q, "The default port is 6379.", "Redis", 1.0) >= 0.5
    assert entry_strength(need, q, port, "", 0.0) == 0.0  # carries no value: never an entry


def test_defined_term_and_subject() -> None:
    q = "What does the VACUUM command do?"
    term = defined_term(classify(q), q)
    assert term == "VACUUM command"
    assert is_subject(term, "The VACUUM command rebuilds the database file.")
    assert is_subject(term, "Description\n\nThe VACUUM command rebuilds the database file.")
    assert not is_subject(term, "The VACUUM INTO command is transactional.")
    assert not is_subject(term, "The VACUUM command with an INTO clause is an alternative.")
    # A synopsis names the command and says nothing of what it does.
    assert not is_subject("VACUUM", "VACUUM [schema-name] [INTO filename]")
    assert is_subject("VACUUM", "VACUUM rebuilds the database file.")
    q = "What is a reverse proxy?"
    term = defined_term(classify(q), q)
    assert term == "reverse proxy"
    assert is_subject(term, "Reverse Proxy\n\nA proxy server that appears to the client as an origin server.")
    assert not is_subject(term, "Use a reverse proxy to hide servers.")
    assert is_subject("tablespace", "Tablespaces in PostgreSQL allow administrators to define locations.")
    assert not is_subject("table", "Tablespaces in PostgreSQL allow administrators to define locations.")
    # A noun after the term makes the term its qualifier ("the router configuration").
    assert not is_subject("a router", "The router configuration comes next in the default file.")
    assert is_subject("a router", "Routers are the modules that decide where to send messages.")
    assert is_subject("a router", "The router decides where to send messages.")
    assert defined_term(classify("What is the default port?"), "What is the default port?") is None


def test_a_subject_in_quotes_after_whose_terms_or_in_a_list_item() -> None:
    # The definition opened with "In Slony-I terms," and quoted its term; the sentence that only
    # named the cluster's name was taken for the definition instead.
    unit = 'In Harbor terms, a "cluster" is a named set of database instances; replication runs between them.'
    assert is_subject("a cluster", unit)
    assert is_subject("cluster", '"Cluster" means a named set of database instances.')
    assert not is_subject("a cluster", "The cluster name is specified in each and every script.")
    assert not is_subject("a cluster", "In Harbor terms, a node is a database.")
    # A list item's bullet is no word of the sentence.
    assert is_subject("slon", '- slon is Russian for "elephant"')


def test_defines_is_a_definition_lists_entry_for_the_term_only() -> None:
    assert defines("a spool", "Spool\n\nA directory where Harbor keeps request bodies.")
    assert defines("spool", "Spools\n\nDirectories where Harbor keeps request bodies.")
    assert defines("the reverse proxy", "Reverse Proxy\n\nA proxy server that appears as an origin server.")
    # a sentence that opens with the term is its subject, not a glossary entry
    assert not defines("spool", "The spool keeps request bodies.")
    # another term, a longer label, or a term with no description under it
    assert not defines("spool", "Spool directory\n\nWhere Harbor keeps request bodies.")
    assert not defines("spool", "Worker\n\nA process that serves requests.")
    assert not defines("spool", "Spool\n\n  ")
    assert not defines("", "Spool\n\nA directory.")


def test_compared_reads_the_two_sides_of_a_comparison() -> None:
    from ragline.generation.entries import compared

    assert compared("What is the difference between work_mem and maintenance_work_mem?") == (
        "work_mem",
        "maintenance_work_mem",
    )
    assert compared("What is the difference between postfix stop and postfix abort?") == (
        "postfix stop",
        "postfix abort",
    )
    assert compared("How does the TRUNCATE journal mode differ from DELETE?") == (
        "TRUNCATE journal mode",
        "DELETE",
    )
    assert compared("rollback vs. commit") == ("rollback", "commit")
    assert compared("What is a dangling object?") == ()


def test_entry_identifier_is_the_name_an_entry_label_opens_with() -> None:
    from ragline.generation.entries import entry_identifier

    assert entry_identifier("varnishd\nthread_pool_max") == "thread_pool_max"
    assert entry_identifier("Variables\npack.window") == "pack.window"
    assert entry_identifier("maximal_queue_lifetime (default: 5d)") == "maximal_queue_lifetime"
    # A section heading or a man page's capitals are no setting's entry.
    assert entry_identifier("List of Parameters") is None
    assert entry_identifier("OPTIONS") is None
    assert entry_identifier("") is None
    # A section number is no name: "3." of a numbered heading, "3.1." before an option's name.
    assert entry_identifier("3. Incoming SMTP messages over TCP/IP") is None
    assert entry_identifier("1.2 Installing") is None
    assert entry_identifier("3.1. queue_run_max") == "queue_run_max"
    assert entry_identifier("(5) SQLITE_BUSY") == "(5)"


def test_a_one_row_field_table_opens_the_entry_of_its_first_cell() -> None:
    from ragline.generation.entries import entry_identifier, field_row_name

    row = "| keep_malformed | Use: main | Type: time | Default: 4d |"
    assert field_row_name(row) == "keep_malformed"
    # A data row (cells that are not fields), a header of column names, prose: no entry's name.
    assert field_row_name("| 23505 | unique_violation |") is None
    assert field_row_name("| Error Code | Condition Name |") is None
    assert field_row_name("Use: main") is None
    text = f"## Options\n\n{row}\n| --- | --- | --- | --- |\n\nThis option sets how long to keep them."
    units = answer_units(text)
    labels = unit_labels(text, units, ())
    # The row and the description after it are the entry of keep_malformed.
    row_label = next(lab for (a, _), lab in zip(units, labels, strict=True) if text[a:].startswith("|"))
    assert row_label.endswith("keep_malformed")
    assert labels[-1] == "Options\nkeep_malformed"
    # A later chunk of the entry carries the record as its section: its units are that entry's.
    more = "It is removed at the next delivery attempt."
    [label] = unit_labels(more, answer_units(more), ("Options", row))
    assert label == "keep_malformed"
    assert entry_identifier(label) == "keep_malformed" and entry_identifier(row) == "keep_malformed"


def test_a_product_named_before_its_noun_is_no_asked_identifier() -> None:
    q = "Which result code is returned when the file is not an SQLite database file?"
    assert "SQLite" not in asked_identifiers(classify(q), q)
    q = "What is the default value of MaxKeepAliveRequests?"
    assert asked_identifiers(classify(q), q) == ("MaxKeepAliveRequests",)


def test_a_sentence_that_ends_by_naming_the_term_introduces_it() -> None:
    from ragline.generation.entries import is_subject

    unit = "Old bans are processed by a background worker thread called the ban lurker."
    assert is_subject("the ban lurker", unit)
    assert is_subject("ban lurker", "Such threads are known as “ban lurker”.")
    # Named in passing, not introduced.
    assert not is_subject("ban lurker", "Threads such as the ban lurker sleep; the reaper does not.")
    assert not is_subject("ban lurker", "A thread called the ban lurker walks the heap.")


def test_a_definition_term_in_capitals_names_its_entry_a_heading_does_not() -> None:
    from ragline.generation.entries import entry_identifier, term_of

    assert entry_identifier("15.6 Parameters Used By The Shell\nTIMEFMT") == "TIMEFMT"
    assert entry_identifier("15.6 Parameters Used By The Shell\nHISTSIZE <S>") == "HISTSIZE"
    # A keyword before the name, a heading in capitals, a table's column names: no entry's name.
    assert entry_identifier("Pragmas\nPRAGMA read_uncommitted") is None
    assert entry_identifier("DESCRIPTION") is None
    assert entry_identifier("Codes\nCODE | NAME") is None
    # An option's term opens its entry; a list item does not.
    assert term_of("-s file\n\ntrue if file exists.") == "-s file"
    assert term_of("- an item\n\nMore.") is None


def test_a_command_line_option_is_an_identifier_named_with_its_dashes() -> None:
    assert is_identifier("-bt") and is_identifier("--force")
    assert names("-bt", "Use -bt to test an address.")
    assert label_names("-bt", "3. Command line options\n-bt")
    # Another option, or the letters inside a word, do not name it.
    assert not names("-bt", "--bt") and not names("-bt", "a-bt") and not names("-bt", "abt")
    q = "Why does -bt hide the details of a failure?"
    assert asked_identifiers(classify(q), q) == ("-bt",)


def test_a_hyphenated_name_heading_its_entry_is_an_identifier() -> None:
    assert entry_identifier("7.4.8. buffer-limit") == "buffer-limit"
    assert entry_identifier("7. The Main Configuration File") is None
    assert is_identifier("enable-edit-actions") and is_identifier("max-client-connections")
    # Two words joined by a hyphen may be a plain word.
    assert not is_identifier("read-only") and not is_identifier("up-to")


def test_a_record_field_that_answers_the_question() -> None:
    field = "Effect if unset:\n\nNo temporary files are created."
    assert answers_as_field(
        "What happens when temporary-directory is not set?", field, "7.2.3. temporary-directory"
    )
    # Another entry's field, or a field that answers something else, does not.
    assert not answers_as_field("What happens when templdir is not set?", field, "7.2.3. temporary-directory")
    assert not answers_as_field("What does temporary-directory specify?", field, "7.2.3. temporary-directory")
    assert entry_identifier("7.2.1. confdir") == "confdir"
    assert entry_identifier("7.2. Configuration and Log File Locations") is None


def test_a_subject_is_looked_for_in_the_sentence_after_a_term_only() -> None:
    # It recursed once per block: thousands of short blocks raised RecursionError.
    assert not is_subject("a cluster", "\n\n".join(["Tags: security"] * 5_000))
    assert is_subject("a cluster", "Cluster\n\nA cluster is a named set of databases.")


def test_a_hyphenated_setting_closing_the_question_is_asked_not_a_product() -> None:
    # "... of fstrm-set-buffer-hint?" read as a product the question is scoped to, like "... of
    # PostgreSQL?": the setting was no asked identifier, and its entry's "the maximum is 65536"
    # had no entry cue.
    q = "What is the maximum value of fstrm-set-buffer-hint?"
    assert asked_identifiers(classify(q), q) == ("fstrm-set-buffer-hint",)
    q = "What is the default port of PostgreSQL?"
    assert asked_identifiers(classify(q), q) == ()


def test_an_acronym_beside_the_asked_setting_is_its_topic_not_a_second_name() -> None:
    # "How often does named check the DNSSEC key repository?" asks for dnssec-loadkeys-interval
    # (the entry its description names): its "The default is 60 (1 hour)." does not repeat
    # "DNSSEC", and counted as a second name it lost a third of its entry strength.
    idents = ["DNSSEC", "dnssec-loadkeys-interval"]
    label = "8.2.14. options Block Definition and Usage\ndnssec-loadkeys-interval"
    assert identifiers_named(idents, "The default is 60 (1 hour).", label) == 1.0
    # Without the setting's own entry the acronym still has to be named.
    assert (
        identifiers_named(idents, "The default is 60 (1 hour).", "8.2.14. options\nsig-validity-interval")
        == 0.0
    )
    assert identifiers_named(["DNSSEC", "TLS"], "The default is 60.", "Timers\nDNSSEC") == 0.5


def test_a_reference_entrys_sections_keep_the_entrys_name_in_their_labels() -> None:
    text = (
        "## ST_Buffer\n\nST_Buffer — Computes a buffer.\n\n### Synopsis\n\ngeometry ST_Buffer(g);\n\n"
        "### Description\n\nThe accuracy is 8 segments (default is 8)."
    )
    labels = unit_labels(text, answer_units(text), ("8. Reference",))
    assert labels[-1] == "ST_Buffer\nDescription"
    assert "ST_Buffer\nSynopsis" in labels
    # A passage that starts inside the entry's "Examples" takes the name from its section path.
    tail = "SELECT 1 AS one, 2 AS two, 3 AS three;\n\n### Return Value\n\nThe result has three columns."
    labels = unit_labels(tail, answer_units(tail), ("8. Reference", "ST_Buffer", "Examples"))
    assert labels[0] == "ST_Buffer\nExamples" and labels[-1] == "ST_Buffer\nReturn Value"
    # A section of another name is no entry's section: its label is its own heading.
    other = "## Loading data\n\n### Using the loader\n\nRun shp2pgsql to convert a shapefile."
    assert unit_labels(other, answer_units(other), ())[-1] == "Using the loader"


def test_a_product_name_between_the_article_and_the_term_leaves_it_the_subject() -> None:
    unit = "The PostGIS geography data type provides native support for spatial features."
    assert is_subject("the geography data type", unit)
    assert is_subject("geography data type", "The geography data type allows you to store data.")
    # Not without the article: "PostGIS geography ..." opens with the product.
    assert not is_subject("geography data type", "PostGIS geography data type provides support.")


def test_a_block_of_field_lines_opens_no_entry() -> None:
    # Mutt's "Type: number\nDefault: 30" under "3.50. connect_timeout" is the entry's record.
    assert term_of("Type: number\nDefault: 30\n\nCauses Mutt to time out a connection.") is None
    assert term_of("connect_timeout\n\nCauses Mutt to time out a connection.") == "connect_timeout"


def test_the_program_that_uses_a_setting_is_no_entry_but_a_setting_that_uses_a_value_is() -> None:
    q = "What is the default syslog facility NUT uses?"
    assert asked_identifiers(classify(q), q) == ()
    # What the program does with the setting does not say which setting it is.
    assert attribute_terms(classify(q), q) == frozenset({"syslog", "facility"})
    q = "Which file name does DirectoryIndex use by default?"
    assert asked_identifiers(classify(q), q) == ("DirectoryIndex",)


def test_a_numbered_headings_term_and_a_variables_kind_noun_still_define_it() -> None:
    # Mutt's reference: "3.391. tilde" over the variable's description.
    assert defines("tilde variable", "3.391. tilde\n\nWhen set, the pager pads blank lines with a tilde.")
    assert not defines("tilde variable", "3.390. thread_received\n\nWhen set, threads are sorted.")


def test_a_long_run_of_spaces_in_a_question_is_read_in_linear_time() -> None:
    # Runs of "\s*" side by side in one pattern backtracked in polynomial time on such a run.
    q = "What is the default syslog facility NUT uses" + " " * 20_000 + "?"
    assert attribute_terms(classify(q), q) == frozenset({"syslog", "facility"})
    q = "Which status flag means the battery is discharging" + " " * 20_000 + "?"
    assert described_row(q, "| DISCHRG | The battery is discharging |") == (2, 9)
    # A run that does not end the question: the closing "of X" and "the X" patterns gave back
    # one space at a time to a second "\s*" (8 s on 20,000 spaces).
    q = "What is the default location of the DelayTable" + " " * 20_000 + "x?"
    assert asked_identifiers(classify(q), q) == ("DelayTable",)
    q = "What is the default location of the DelayTable" + " " * 20_000 + "?"
    assert asked_identifiers(classify(q), q) == ("DelayTable",)
