"""engine.ask over a small HTML manual page: a directive table, a definition list and a code table
(issue 23: the answer states the asked value, cites it, and abstains on another product)."""

from __future__ import annotations

import pytest

import ragline
from ragline.types import Access, Principal
from tests.helpers import FAST_AND_REAL, fast_engine

PAGE = """<html><head><title>Server settings</title></head><body><main>
<h1>Server settings</h1>
<p>This page lists the settings of the Harbor web server and the codes it returns.</p>
<h2>IdleTimeout Directive</h2>
<table>
<tr><th>Description:</th><td>Seconds the server waits for the next request on a connection</td></tr>
<tr><th>Syntax:</th><td><code>IdleTimeout seconds</code></td></tr>
<tr><th>Default:</th><td><code>IdleTimeout 15</code></td></tr>
</table>
<p>The number of seconds Harbor will wait for a subsequent request before closing the connection.
Setting IdleTimeout to a high value keeps worker processes busy.</p>
<h2>MaxWorkers Directive</h2>
<table>
<tr><th>Description:</th><td>Upper limit on the number of worker processes</td></tr>
<tr><th>Syntax:</th><td><code>MaxWorkers number</code></td></tr>
<tr><th>Default:</th><td><code>MaxWorkers 250</code></td></tr>
</table>
<p>MaxWorkers sets the largest number of worker processes Harbor starts at the same time.</p>
<h2>Glossary</h2>
<dl>
<dt>Worker</dt>
<dd>A process that serves requests on behalf of the Harbor parent process.</dd>
<dt>Spool</dt>
<dd>A directory where Harbor keeps request bodies that do not fit in memory.</dd>
</dl>
<h2>Exit codes</h2>
<table>
<tr><th>Code</th><th>Name</th><th>Meaning</th></tr>
<tr><td>0</td><td>HARBOR_OK</td><td>The server stopped cleanly</td></tr>
<tr><td>3</td><td>HARBOR_NOPORT</td><td>The listening port was already taken by another program</td></tr>
<tr><td>4</td><td>HARBOR_NOCONF</td><td>The configuration file could not be read</td></tr>
</table>
</main></body></html>
"""


# The same questions on the model-free fast engine and (integration) the real model and store.
@pytest.fixture(scope="module", params=FAST_AND_REAL.args[1])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ragline.engine.Engine:
    root = tmp_path_factory.mktemp("docs")
    (root / "docs").mkdir()
    (root / "docs" / "settings.html").write_text(PAGE)
    eng = request.param(root / "data")
    eng.ingest([root / "docs"])
    return eng


def test_a_default_question_gets_the_default_of_the_asked_setting(engine) -> None:
    a = engine.ask("What is the default value of IdleTimeout?")
    assert not a.abstained
    assert "IdleTimeout 15" in a.citations[0].quote
    assert a.short is not None and a.short.text == "15"
    cited = next(c for c in a.citations if c.n == a.short.n)
    assert cited.start <= a.short.start < a.short.end <= cited.end
    a = engine.ask("What is the default for MaxWorkers?")
    assert a.short is not None and a.short.text == "250"


def test_a_code_question_gets_the_table_row_of_the_asked_condition(engine) -> None:
    a = engine.ask("Which exit code means the listening port was already taken?")
    assert not a.abstained
    assert a.short is not None and a.short.text in {"HARBOR_NOPORT", "3"}
    assert "HARBOR_NOPORT" in a.citations[0].quote


def test_a_definition_question_gets_the_term_with_its_definition(engine) -> None:
    a = engine.ask("What is a spool?")
    assert not a.abstained
    assert "keeps request bodies" in a.text
    assert a.short is None  # a definition is answered by the sentence


def test_a_question_about_another_product_abstains(engine) -> None:
    a = engine.ask("What is the default value of IdleTimeout in Nginx?")
    assert a.abstained and a.short is None
    # the glossary's entry for the term does not answer for another product either
    assert engine.ask("What is a spool in Nginx?").abstained


def engine_over(tmp_path, pages: dict[str, str]) -> ragline.engine.Engine:
    """The fast engine over a folder of the given HTML pages (file name -> page)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, html in pages.items():
        (docs / name).write_text(html)
    eng = fast_engine(tmp_path / "data")
    eng.ingest([docs])
    return eng


def test_release_notes_filling_the_first_hits_make_room_for_the_pages_after_them(tmp_path) -> None:
    # A manual's release history names the flag in every note, so the notes take the first hits
    # of a question about using it. The notes stay (as filler) and as many other pages join them.
    pages = {
        f"release-4-2-{n}.html": (
            f"<html><head><title>Release 4.2.{n}</title></head><body><h1>Release 4.2.{n}</h1><ul>"
            "<li>Fix backend_flag handling of backend 0 failing over when backend 0 restarts "
            f"(bug {700 + n}).</li>"
            "</ul></body></html>"
        )
        for n in range(6)
    }
    pages["shutdown.html"] = (
        "<html><head><title>3.7. Temporarily Shutting Down</title></head><body><h2>Using backend_flag</h2>"
        "<p>Set backend_flag0 to DISALLOW_TO_FAILOVER and reload the configuration.</p></body></html>"
    )
    pages["weights.html"] = (
        "<html><head><title>5.3. Backend Settings</title></head><body><h2>backend_weight</h2>"
        "<p>backend_weight0 sets the load balancing ratio of a backend.</p></body></html>"
    )
    eng = engine_over(tmp_path, pages)
    question = "How do I keep backend 0 from failing over when backend 0 restarts?"
    first = eng.search(question, top_k=4)
    assert all(h.chunk.title.startswith("Release") for h in first)  # the notes fill the first hits
    hits = eng.retrieve_for_answer(question, top_k=4)
    titles = [h.chunk.title for h in hits]
    assert hits[:4] == first
    assert sorted(titles[4:]) == ["3.7. Temporarily Shutting Down", "5.3. Backend Settings"], titles
    # Notes in half of the first hits or fewer leave content enough: no second search.
    weight = "What does backend_weight0 set when backend 0 restarts?"
    few = eng.search(weight, top_k=2)
    assert [h.chunk.title.startswith("Release") for h in few] == [False, True]
    assert eng.retrieve_for_answer(weight, top_k=2) == few
    # A question about the changes is answered from the first hits as they are.
    about = "Which release fixed backend_flag for backend 0?"
    assert eng.retrieve_for_answer(about, top_k=4) == eng.search(about, top_k=4)


def test_a_default_asked_of_a_named_entry_brings_the_chunk_that_states_it(tmp_path) -> None:
    # A function's examples repeat its name and the question's words in every call, so they take
    # the first hits; the one sentence of its Description that states the default ranks below.
    pages = {
        f"frob-example-{n}.html": (
            f"<html><head><title>Frob example {n}</title></head><body><h2>ST_Frob</h2><h3>Examples</h3>"
            f"<p>SELECT ST_Frob(geom, {n}) approximates a quarter circle with {n} line segments; "
            "ST_Frob segments per quarter circle, line segments of ST_Frob (default).</p></body></html>"
        )
        for n in range(6)
    }
    pages["frob.html"] = (
        "<html><head><title>ST_Frob</title></head><body><h2>ST_Frob</h2><h3>Description</h3>"
        "<p>The accuracy is given as the number of segments per arc (default is 8).</p></body></html>"
    )
    eng = engine_over(tmp_path, pages)
    question = "How many line segments approximate a quarter circle in ST_Frob by default?"
    first = eng.search(question, top_k=4)
    assert all(h.chunk.title.startswith("Frob example") for h in first)
    hits = eng.retrieve_for_answer(question, top_k=4)
    assert hits[0] == first[0] and hits[1].chunk.title == "ST_Frob" and hits[2:] == first[1:], hits
    # A question the first hits already answer from the entry, or no entry's default: as they are.
    plain = "How many line segments approximate a quarter circle in ST_Frob?"
    assert eng.retrieve_for_answer(plain, top_k=4) == eng.search(plain, top_k=4)


def test_what_a_named_module_is_for_brings_its_pages_opening_chunk(tmp_path) -> None:
    # The module's later sections name it in every sentence and outrank the one sentence at the
    # top of its page that says what it is for.
    sections = "".join(
        f"<h3>FrobSetting{n}</h3><p>The mod_frob module reads FrobSetting{n} when the mod_frob module "
        f"starts; the mod_frob module stores FrobSetting{n} in the mod_frob module table. "
        + "Each session of the mod_frob module keeps its own copy of the value. " * 6
        + "</p>"
        for n in range(8)
    )
    pages = {
        "mod_frob.html": (
            "<html><head><title>ProFTPD module mod_frob</title></head><body><h2>ProFTPD module mod_frob</h2>"
            "<p>The mod_frob module is designed to make a replay attack against logins harder.</p>"
            + "<p>Logins are counted per client address, and sessions are tracked per user. " * 8
            + "</p>"
            + sections
            + "</body></html>"
        ),
        "other.html": (
            "<html><head><title>Logging</title></head><body><h2>Logging</h2>"
            "<p>Log files are written by the daemon.</p></body></html>"
        ),
    }
    eng = engine_over(tmp_path, pages)
    question = "What is the mod_frob module for?"
    first = eng.search(question, top_k=4)
    assert all(h.chunk.position != 0 for h in first), [h.chunk.text[:60] for h in first]
    hits = eng.retrieve_for_answer(question, top_k=4)
    assert hits[0] == first[0] and hits[1].chunk.position == 0 and hits[2:] == first[1:], hits
    assert "replay attack" in hits[1].chunk.text
    assert "replay attack" in eng.ask(question).text
    # Not a definition question, or no module's page among the hits: as they are.
    plain = "When does the mod_frob module read FrobSetting3?"
    assert eng.retrieve_for_answer(plain, top_k=4) == eng.search(plain, top_k=4)


def frob_pages() -> dict[str, str]:
    """A 120-row attribute table (frobsize's row: default 14.0, minimum 1.5) and nine prose pages
    that repeat "default frobsize" and "minimum value of the frobsize attribute"."""
    rows = "".join(
        f"<tr><td>attr{n:03d}</td><td>G</td><td>double</td><td>{n}.5</td><td>0.0</td><td></td></tr>"
        for n in range(120)
    )
    rows = rows.replace(
        "<td>attr077</td><td>G</td><td>double</td><td>77.5</td>",
        "<td>frobsize</td><td>ENGC</td><td>double</td><td>14.0</td>",
    ).replace("<td>14.0</td><td>0.0</td>", "<td>14.0</td><td>1.5</td>")
    pages = {
        "attrs.html": (
            "<html><head><title>Attributes</title></head><body><h1>Attributes</h1>"
            "<table><tr><th>Name</th><th>Used By</th><th>Type</th><th>Default</th><th>Minimum</th>"
            f"<th>Notes</th></tr>{rows}</table></body></html>"
        ),
    }
    for part in ("labels", "cells", "edges", "clusters", "ports", "records", "layers", "pages", "nodes"):
        pages[f"{part}.html"] = (
            f"<html><head><title>{part.title()}</title></head><body><h1>{part.title()}</h1>"
            f"<p>By default, the frobsize of {part} is the frobsize of their node. The default frobsize "
            f"of {part} follows the frobsize of the graph. The minimum value of the frobsize attribute "
            f"of {part} is checked when {part} are drawn.</p></body></html>"
        )
    return pages


def test_a_value_asked_of_a_word_brings_the_table_row_that_states_it(tmp_path) -> None:
    # A six-column attribute table of 120 rows: the chunk with the asked attribute's row is one of
    # twenty rows, far from the question by its embedding, below prose that repeats the word.
    eng = engine_over(tmp_path, frob_pages())
    question = "What is the default frobsize?"
    first = eng.search(question, top_k=4)
    assert not any("| frobsize |" in h.chunk.text for h in first)
    hits = eng.retrieve_for_answer(question, top_k=4)
    assert hits[0] == first[0] and "| frobsize |" in hits[1].chunk.text and hits[2:] == first[1:], hits
    a = eng.ask(question)
    assert a.short is not None and a.short.text == "14.0", (a.text, a.short)
    # One hit asked for: the row joins it at its score.
    one = eng.retrieve_for_answer(question, top_k=1)
    assert len(one) == 2 and "| frobsize |" in one[1].chunk.text and one[1].score == one[0].score
    # A number looked up by the row's name under the column the question names.
    question = "What is the minimum value of the frobsize attribute?"
    k = eng.collection().answer.top_k
    assert not any("| frobsize |" in h.chunk.text for h in eng.search(question, top_k=k))
    a = eng.ask(question)
    assert a.short is not None and a.short.text == "1.5", (a.text, a.short)


def test_the_table_row_lookup_reads_only_what_the_caller_may_read(tmp_path) -> None:
    # The attribute table is hr's; the prose is everyone's. eng's lookup must not bring hr's row.
    pages = frob_pages()
    docs, table = tmp_path / "docs", tmp_path / "table"
    docs.mkdir()
    table.mkdir()
    (table / "attrs.html").write_text(pages.pop("attrs.html"))
    for name, html in pages.items():
        (docs / name).write_text(html)
    eng = fast_engine(tmp_path / "data")
    eng.ingest([docs], access=Access("acme", ("eng", "hr"), 0))
    eng.ingest([table], access=Access("acme", ("hr",), 0))
    question = "What is the default frobsize?"
    mine = eng.retrieve_for_answer(question, top_k=4, principal=Principal("acme", ("eng",), 0))
    assert mine and not any("| frobsize |" in h.chunk.text for h in mine)
    theirs = eng.retrieve_for_answer(question, top_k=4, principal=Principal("acme", ("hr",), 0))
    assert any("| frobsize |" in h.chunk.text for h in theirs)


def test_a_passage_copied_into_several_pages_is_read_once_and_the_room_goes_to_others(tmp_path) -> None:
    # A manual that repeats its pages whole (ffmpeg.html inside ffmpeg-all.html and ffplay-all.html):
    # the answer's hits hold each text once and fill up with the next passages; search keeps copies.
    # The pages that gather others renumber their sections ("3.2" is "5.2" in ffmpeg-all.html).
    levels = (
        "<h2>{n} Log levels</h2><p>loglevel is a string or a number containing one of the following"
        " values: quiet, panic, fatal, error, warning, info, verbose, debug and trace.</p>"
    )
    pages = {
        f"{name}.html": f"<html><head><title>{name}</title></head><body>{levels.format(n=n)}</body></html>"
        for name, n in (
            ("ffmpeg", "3.2"),
            ("ffmpeg-all", "5.2"),
            ("ffplay-all", "27.2"),
            ("ffprobe-all", "29.2"),
        )
    }
    pages["report.html"] = (
        "<html><head><title>report</title></head><body><h2>Report</h2><p>Setting FFREPORT writes a"
        " log file at log level debug; a level of 32 is the info log level.</p></body></html>"
    )
    pages["levels.html"] = (
        "<html><head><title>levels</title></head><body><h2>Numeric levels</h2><p>The warning log"
        " level is 24 and the error log level is 16.</p></body></html>"
    )
    eng = engine_over(tmp_path, pages)
    question = "Which numeric log level is warning?"
    searched = eng.search(question, top_k=4)
    assert sum("loglevel is a string" in h.chunk.text for h in searched) >= 2  # copies crowd the search
    hits = eng.retrieve_for_answer(question, top_k=4)
    texts = [h.chunk.text for h in hits]
    assert len(hits) == 3 and len(set(texts)) == 3
    assert any("warning log level is 24" in t for t in texts) and any("FFREPORT" in t for t in texts)


def test_a_default_asked_of_a_named_section_puts_that_sections_hit_first(tmp_path) -> None:
    # One directive in several resources: the resources the question does not name rank above the
    # one it names, and their passages fill the context's room.
    limits = (
        "The default is set to {}. Any Maximum Concurrent Jobs of the Director resource applies too: see"
        " the default Maximum Concurrent Jobs in the Director resource."
    )
    wordy = "Every valid connection to any daemon, console or program results in a job of its own. " * 3
    resources = {
        "Job": limits.format(1),
        "Storage": limits.format(10),
        "Director": wordy + "The default is 20.",
    }
    pages = {
        f"{name.lower()}.html": (
            f"<html><head><title>Configuring</title></head><body><h1>The {name} Resource</h1><dl>"
            f"<dt>Maximum Concurrent Jobs = number</dt><dd>where number is the maximum number of Jobs"
            f" that can run concurrently. {text}</dd></dl></body></html>"
        )
        for name, text in resources.items()
    }
    eng = engine_over(tmp_path, pages)
    question = "What is the default Maximum Concurrent Jobs in the Director resource?"
    first = eng.search(question, top_k=3)
    assert first[0].chunk.section_path[-1] != "The Director Resource"
    hits = eng.retrieve_for_answer(question, top_k=3)
    assert hits[0].chunk.section_path[-1] == "The Director Resource", [h.chunk.section_path for h in hits]
    assert sorted(h.chunk.id for h in hits) == sorted(h.chunk.id for h in first)
    # A question naming no section, or naming the first hit's: as they are.
    plain = "What is the default Maximum Concurrent Jobs?"
    assert eng.retrieve_for_answer(plain, top_k=3) == eng.search(plain, top_k=3)
    top = first[0].chunk.section_path[-1].removeprefix("The ").lower()
    named = f"What is the default Maximum Concurrent Jobs in the {top}?"
    assert eng.retrieve_for_answer(named, top_k=3) == eng.search(named, top_k=3)


def test_a_heading_every_reference_page_has_names_no_section() -> None:
    from ragline.engine import _Asked, _named_section_first
    from ragline.generation.question import classify
    from ragline.types import Chunk, Hit

    def hit(heading: str) -> Hit:
        return Hit(Chunk(heading, "d", "text", 0, 0, 4, section_path=("Page", heading)), 1.0)

    hits = [hit("The Job Resource"), hit("Default Values"), hit("The Director Resource")]

    def first(question: str) -> str:
        asked = _Asked(question, classify(question), None, None, None, None)  # type: ignore[arg-type]
        return _named_section_first(asked, hits)[0].chunk.id

    assert (
        first("What is the default Maximum Concurrent Jobs in the Director resource?")
        == "The Director Resource"
    )
    # "default values" is in the question; a "Default Values" section is on every reference page.
    assert first("What are the default values of the Job resource's directives?") == "The Job Resource"
    assert first("Which default values does the Messages resource take?") == "The Job Resource"
