import random

import pytest

from ragline.text.sentences import is_code, is_heading, sentence_spans


def texts(t: str) -> list[str]:
    return [t[a:b] for a, b in sentence_spans(t)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith came. He left! Then: e.g. this.", ["Dr. Smith came.", "He left!", "Then: e.g. this."]),
        ("The U.S. Army won in 1945. It ended.", ["The U.S. Army won in 1945.", "It ended."]),
        ("It was J. R. Tolkien who wrote it. Yes.", ["It was J. R. Tolkien who wrote it.", "Yes."]),
        ('He said "Stop." She did.', ['He said "Stop."', "She did."]),
        ("Version 3.11 is out. See 3.12 later.", ["Version 3.11 is out.", "See 3.12 later."]),
        ("Is it? Yes. (Really.) Ok.", ["Is it?", "Yes.", "(Really.)", "Ok."]),
        ("lower case. after a dot stays", ["lower case. after a dot stays"]),
        ("# Title\nBody text here.\n\nNext para", ["# Title", "Body text here.", "Next para"]),
        ("Items:\n- one\n- two\n1. three", ["Items:", "- one", "- two", "1. three"]),
        ("   ", []),
        ("", []),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_spans_are_exact_trimmed_and_cover_all_non_blank_text() -> None:
    rng = random.Random(3)
    words = ["alpha", "Beta.", "gamma!", "Dr.", "e.g.", "x?", "\n\n", "# H", "\n", "- item", "3.5", "U.S."]
    for _ in range(300):
        t = " ".join(rng.choice(words) for _ in range(rng.randint(0, 30)))
        spans = sentence_spans(t)
        covered = set()
        last = -1
        for a, b in spans:
            assert a >= last and b > a
            assert t[a:b] == t[a:b].strip()
            covered.update(range(a, b))
            last = b
        assert {i for i, ch in enumerate(t) if not ch.isspace()} <= covered


def test_sub_range_offsets_refer_to_the_whole_text() -> None:
    t = "Skip this. Keep one. Keep two. Skip too."
    a, b = t.index("Keep one"), t.index(" Skip too")
    assert [t[x:y] for x, y in sentence_spans(t, a, b)] == ["Keep one.", "Keep two."]


def test_is_heading() -> None:
    assert is_heading("## Install")
    assert not is_heading("#hashtag")
    assert not is_heading("Install")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The with statement wraps a block (see With Statement Context Managers).", False),
        ("Tickets cost six euros for adults.", False),
        (">>> for n in range(2, 10):", True),
        ("```\nx = 1\n```", True),
        ("$ pip install sampleproject", True),
        ("Use f(x) = {a: b} [c] <d> == e;", True),
    ],
)
def test_is_code(text: str, code: bool) -> None:
    assert is_code(text) is code


_SYMBOLS = "(){}[]=<>;:_'\"`\\/|*#%"


@pytest.mark.parametrize(
    "text",
    [
        "a_b",  # 1 of 3: over the 12 % line
        "word " * 7 + "x_y",  # 1 of 38: under it
        "C:\\Users\\me\\file.txt",
        "é ü 中文 — “quoted” ‘text’ % # * |",
        "| KeepAliveTimeout | 5 |",
        "| a | b_c | d |",
        "",
    ],
)
def test_is_code_counts_each_symbol_character_once(text: str) -> None:
    # The symbol count against a count character by character (the share rule: more than 12 %).
    stripped = text.strip()
    body = (
        stripped.strip("|").replace(" | ", "  ")
        if stripped.startswith("|") and stripped.endswith("|")
        else text
    )
    share = sum(ch in _SYMBOLS for ch in body) > 0.12 * len(body)
    assert is_code(text) is share


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Handler\n\nAn internal representation of an action. It is implicit.\n\n"
            "Description: | Idle wait\nDefault: | IdleTimeout 15\n\n- SQLITE_BUSY (5)\n- SQLITE_FULL (13)",
            [
                "Handler\n\nAn internal representation of an action.",
                "It is implicit.",
                "Description: | Idle wait",
                "Default: | IdleTimeout 15",
                "- SQLITE_BUSY (5)",
                "- SQLITE_FULL (13)",
            ],
        ),
        # An option's term is a label as a word is; a list item is not.
        (
            "-s file\n\ntrue if file exists and has size greater than zero.\n\n"
            "--depth=<n>\n\nThe maximum delta depth.\n\n- an item\n\nA sentence after the list.",
            [
                "-s file\n\ntrue if file exists and has size greater than zero.",
                "--depth=<n>\n\nThe maximum delta depth.",
                "- an item",
                "A sentence after the list.",
            ],
        ),
        # A table's bordered rows are one unit each, whatever sentences a cell holds (a function
        # table's one cell: signature, description, example) and with one cell or several.
        (
            "Functions:\n\n| Function Description |\n| --- |\n"
            "| round ( numeric ) Rounds to nearest integer. Ties go away from zero. round(42.4) → 42 |\n"
            "| sqrt ( numeric ) Square root sqrt(2) → 1.41 |\n\nMore text. And more.\n\n"
            "| 23505 | unique_violation. See above. |",
            [
                "Functions:",
                "| Function Description |",
                "| --- |",
                "| round ( numeric ) Rounds to nearest integer. Ties go away from zero. round(42.4) → 42 |",
                "| sqrt ( numeric ) Square root sqrt(2) → 1.41 |",
                "More text.",
                "And more.",
                "| 23505 | unique_violation. See above. |",
            ],
        ),
        # A paragraph's last sentence without a full stop is no term: glued to the next paragraph,
        # it named the entry of every unit after it.
        (
            "Thus, the need for it. Range: [0-120000], default 10000\n\nThis parameter is of concern.",
            ["Thus, the need for it.", "Range: [0-120000], default 10000", "This parameter is of concern."],
        ),
        # A DocBook record: each field's name on its own line and the value under it are one unit
        # ("Size in Kbytes" had read as a term and taken "Default value:" as its description); a
        # record's second value line stays apart; a sentence announcing a list and a field above
        # a code block stand alone.
        (
            "Type of value:\n\n[IP-Address]:Port\n\n[Hostname]:Port\n\nDefault value:\n\n127.0.0.1:8118\n\n"
            "Effect if unset:\n\nBind to 127.0.0.1, port 8118.\n\n"
            "The defaults are:\n\n- a\n\nExample:\n\n```\nx\n```",
            [
                "Type of value:\n\n[IP-Address]:Port",
                "[Hostname]:Port",
                "Default value:\n\n127.0.0.1:8118",
                "Effect if unset:\n\nBind to 127.0.0.1, port 8118.",
                "The defaults are:",
                "- a",
                "Example:",
                "```\nx\n```",
            ],
        ),
        # A code block is one unit, whatever bars it holds.
        (
            "## Synopsis\n\n```\nDROP TABLE [ IF EXISTS ] name [ CASCADE | RESTRICT ]\n```\n\nIt drops.",
            [
                "## Synopsis",
                "```\nDROP TABLE [ IF EXISTS ] name [ CASCADE | RESTRICT ]\n```",
                "It drops.",
            ],
        ),
    ],
)
def test_answer_units_split_rows_and_join_a_label_to_its_definition(text: str, expected: list[str]) -> None:
    from ragline.text.sentences import answer_units

    assert [text[a:b] for a, b in answer_units(text)] == expected


def test_a_term_with_a_long_aside_in_brackets_is_still_a_label() -> None:
    from ragline.text.sentences import answer_units, label_words

    # Postfix's TUNING_README: the default and its history in the <dt>, eight words in brackets.
    text = (
        "queue_run_delay (default: 300 seconds; before Postfix 2.4: 1000s)\n\n"
        "How often the queue manager scans the queue for deferred mail.\n\n"
        "A plain line of prose that runs on (longer than a label)\n\nIts next sentence."
    )
    units = [text[a:b] for a, b in answer_units(text)]
    assert units[0] == (
        "queue_run_delay (default: 300 seconds; before Postfix 2.4: 1000s)\n\n"
        "How often the queue manager scans the queue for deferred mail."
    )
    # Words outside the brackets still count: seven of them make prose, not a label.
    assert units[1] == "A plain line of prose that runs on (longer than a label)"
    assert label_words("work_mem (integer)") == 1


def test_of_two_labels_in_a_row_the_second_opens_the_sentence_after_it() -> None:
    from ragline.text.sentences import answer_units

    # Apache's glossary: an entry's closing "See: ..." line, then the next entry's term.
    text = (
        "A protocol layer.\n\nSee: SSL/TLS Encryption\n\nFilter\n\n"
        "A process that is applied to data that is sent or received by the server. Input filters."
    )
    units = [text[a:b] for a, b in answer_units(text)]
    assert units == [
        "A protocol layer.",
        "See: SSL/TLS Encryption",
        "Filter\n\nA process that is applied to data that is sent or received by the server.",
        "Input filters.",
    ]


def test_a_numbered_heading_stays_one_unit() -> None:
    # "19.4.1." followed by a capital would end a sentence; on a heading line it does not.
    text = "## 19.4. Resource Consumption\n\n### 19.4.1. Memory\n\nIt is set. Here it is."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "## 19.4. Resource Consumption",
        "### 19.4.1. Memory",
        "It is set.",
        "Here it is.",
    ]


def test_a_bracket_never_closed_is_read_in_linear_time() -> None:
    from ragline.text.sentences import answer_units, label_words

    # The aside pattern tried every way to split the word after "(" among twelve repeats: a
    # document holding "x (aaaa..." (64 letters) took hours in answer_units. A regression hangs.
    text = "Term (" + "a" * 64 + "\n\nIts description."
    assert [text[a:b] for a, b in answer_units(text)] == [text]
    assert label_words("x (" + "a" * 100_000) == 2
    assert label_words("queue_run_delay (default: 300 seconds; before Postfix 2.4: 1000s)") == 1


def test_a_term_whose_grammar_line_lists_alternatives_still_opens_its_entry() -> None:
    from ragline.text.sentences import answer_units

    # BIND's reference: "( <quoted_string> | none )" is a grammar's alternatives, not a table row;
    # read as one, "session-keyfile" stood alone and its entry kept the entry before it.
    text = (
        "session-keyfile\n\nGrammar: session-keyfile ( <quoted_string> | none );\n\nBlocks: options\n\n"
        "| a | b |\n| --- | --- |\n| 1 | 2 |"
    )
    units = [text[a:b] for a, b in answer_units(text)]
    assert units[0] == "session-keyfile\n\nGrammar: session-keyfile ( <quoted_string> | none );"
    # A label above a table row is still no term of it.
    text = "Limits\n\n| a | b |\n| --- | --- |\n| 1 | 2 |"
    assert next(text[a:b] for a, b in answer_units(text)) == "Limits"


@pytest.mark.parametrize(
    ("before", "after", "heading", "term"),
    [
        # A <dd> cut after its <dt>: the term is open, under the heading above it.
        (
            "## Memory\n\nwork_mem (integer)\n\nSets the base maximum.",
            "The default is 4MB.",
            "Memory",
            "work_mem (integer)",
        ),
        # The next entry's term replaces it; a heading closes it.
        ("a_size\n\nIts size.\n\nb_size\n\nIts other size.", "It is 5.", None, "b_size"),
        ("a_size\n\nIts size.\n\n## Logging", "Logs go here.", "Logging", None),
        # An admonition's title ("Note") is no section: the entry goes on after it.
        (
            "## Memory\n\nwork_mem (integer)\n\nSets it.\n\n### Note",
            "Do not set it high.",
            "Memory",
            "work_mem (integer)",
        ),
        # A comment in a code block is no heading, and a label in it no term.
        (
            "## Memory\n\nwork_mem (integer)\n\n```\n# set it\n\nshort line\n```",
            "More.",
            "Memory",
            "work_mem (integer)",
        ),
        # A record's value line under its field's name is no term, nor a field's name above a value.
        ("Type of value:\n\n[Hostname]:Port", "Default value: 8118", None, None),
        # A label with a table (or a heading) after it is a caption, and of two labels in a row
        # the second is the term.
        ("Limits", "| a | b |", None, None),
        ("See: Glossary\n\nFilter", "A process that is applied to data.", None, "Filter"),
        # Inside a table the text goes on in, its column names are where the rows are.
        (
            "## Params\n\n| Name | Default |\n| --- | --- |\n| a | 1 |",
            "| b | 2 |",
            "| Name | Default |",
            None,
        ),
        ("## Params\n\n| Name | Default |\n| --- | --- |\n| a | 1 |\n\n", "After the table.", "Params", None),
        ("", "Text.", None, None),
    ],
)
def test_opened_before_names_the_heading_and_entry_term_the_text_after_it_is_in(
    before: str, after: str, heading: str | None, term: str | None
) -> None:
    from ragline.text.sentences import opened_before

    got = opened_before(before, after)
    assert (got.heading, got.term) == (heading, term)


def test_opened_before_reads_hostile_text_in_linear_time() -> None:
    from ragline.text.sentences import opened_before

    # 50,000 labels in a row and a 100,000-letter block, a 50,000-line table: each block is read
    # once (a regression to a quadratic scan hangs here).
    got = opened_before("x\n\n" * 50_000 + "a" * 100_000, "|" * 1000)
    assert (got.heading, got.term) == (None, None)  # two labels in a row, then the long block
    got = opened_before("## T\n\n| a |\n" + "| --- |\n" * 50_000, "| b |")
    assert (got.heading, got.term) == ("| a |", None)


def test_lines_that_each_state_a_field_are_fields_not_a_term() -> None:
    from ragline.text.sentences import is_field_line

    # A Mutt variable's record under its heading: "Type: number" and "Default: 30" on two lines
    # were read as one definition term, so the entry's name dropped out of its label.
    assert is_field_line("Type: number\nDefault: 30")
    assert not is_field_line("connect_timeout\nDefault: 30")
    assert not is_field_line("")
