"""Exact names first: the identifier reranker (``ragline.rerank.identifiers``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ragline.engine import Engine
from ragline.errors import ConfigError
from ragline.rerank.base import Reranker
from ragline.rerank.factory import RerankConfig, make_reranker
from ragline.rerank.identifiers import IdentifierReranker, tier
from tests.helpers import FAST_AND_REAL, fast_engine

from . import make_hits, texts
from .test_mmr import TableEmbedder

ENTRY = "default_process_limit (default: 100)\n\nThe default maximal number of Postfix child processes."
MENTION = "postscreen_pre_queue_limit (default: $default_process_limit)\n\nThe number of clients."
NEIGHBOUR = "smtpd_client_connection_count_limit (default: 50)\n\nThe default limit of connections."
PROSE = "The default limit is long because a good client must disconnect after the test."


def test_the_entry_comes_first_then_mentions_then_the_rest_in_their_order() -> None:
    hits = make_hits(PROSE, NEIGHBOUR, MENTION, ENTRY)
    out = IdentifierReranker().run("What is the default value of default_process_limit?", hits, top_k=4)
    assert texts(out) == [ENTRY, MENTION, PROSE, NEIGHBOUR]
    # Scores stay in rank order, and within a tier keep their differences.
    scores = [h.score for h in out]
    assert scores == sorted(scores, reverse=True)
    assert scores[2] - scores[3] == hits[0].score - hits[1].score


def test_a_flag_the_question_calls_an_option_brings_its_man_page_entry_first() -> None:
    # ntpd(8): "-x, --slew" over its description; prose that mentions -x comes after it.
    entry = "-x, --slew\n\nSlew up to 600 seconds."
    prose = "If the -x option is included on the command line, the clock will never be stepped."
    other = "-g, --panicgate\n\nAllow the first adjustment to be big."
    out = IdentifierReranker().run(
        "What does the -x option of ntpd do?", make_hits(other, prose, entry), top_k=3
    )
    assert texts(out) == [entry, prose, other]


def test_a_query_without_identifiers_leaves_hits_as_they_are() -> None:
    hits = make_hits(PROSE, NEIGHBOUR, ENTRY)
    out = IdentifierReranker().run("What is the default process limit?", hits, top_k=2)
    assert out == hits[:2]
    # Nor does a query whose names no hit spells.
    assert IdentifierReranker().run("What is gc.auto?", hits, top_k=3) == hits


def test_a_definition_question_puts_the_glossary_entry_first_and_mentions_earn_nothing() -> None:
    chapter = "### Dangling objects\n\nThe git-fsck command will sometimes complain about dangling objects."
    mention = "There are also other situations that cause a dangling object, for example a dangling blob."
    entry = (
        "dangling object\n\nAn unreachable object which is not reachable even from other unreachable objects."
    )
    hits = make_hits(chapter, mention, entry)
    out = IdentifierReranker().run("What is a dangling object?", hits, top_k=3)
    assert texts(out) == [entry, chapter, mention]
    # A question that names no term of a definition's shape leaves the order alone.
    assert IdentifierReranker().run("Why do dangling objects appear?", hits, top_k=3) == hits


def test_a_name_that_only_says_whose_item_is_asked_reorders_nothing() -> None:
    # "Which vmod_std function ...": the answer is a function's entry, which need not spell the
    # module's name; the chunks that do are not the better for it.
    page = "vmod_std contains basic functions which are part and parcel of Varnish."
    entry = "### STRING querysort(STRING)\n\nSorts the query string for cache normalization purposes."
    hits = make_hits(entry, page)
    q = "Which vmod_std function sorts the query string?"
    assert IdentifierReranker().run(q, hits, top_k=2) == hits[:2]
    # Asked about itself, the module's own name still counts.
    assert texts(IdentifierReranker().run("What does vmod_std contain?", hits, top_k=2)) == [page, entry]


def test_top_k_cuts_after_reordering() -> None:
    out = IdentifierReranker().run("default_process_limit", make_hits(PROSE, NEIGHBOUR, ENTRY), top_k=1)
    assert texts(out) == [ENTRY]


def test_tier_counts_the_share_of_names_spelled() -> None:
    names = ("work_mem", "shared_buffers")
    assert tier("Raise work_mem and shared_buffers together.", names) == 1.0
    assert tier("Raise work_mem first.", names) == 0.5
    assert tier("work_mem (integer)\n\nSets the base maximum amount of memory.", names) == 2.5
    assert tier("Nothing here.", names) == 0.0


def test_the_factory_builds_it_and_it_is_a_reranker() -> None:
    made = make_reranker(RerankConfig(kind="identifiers"), embedder=TableEmbedder())
    assert isinstance(made, IdentifierReranker) and isinstance(made, Reranker)


_ENTRY_LINE = "\ndefault_process_limit (default: 100)\n"


def _manual(root: Path) -> list[Path]:
    """A parameter page (one entry a setting, each with its default in the term) and a tuning
    page that talks about defaults, limits and processes in prose."""
    names = [f"{w}_process_limit" for w in ("smtpd", "qmgr", "local", "pipe", "bounce", "cleanup")]
    names += [f"{w}_rate_limit" for w in ("client", "message", "recipient", "connection")]
    entries = "".join(
        f"<dt><b>{n} (default: $default_process_limit)</b></dt><dd><p>The default limit of {n.split('_')[0]} "
        "processes; by default the process limit is shared with the default process pool.</p></dd>"
        for n in names
    )
    entries += (
        "<dt><b>default_process_limit (default: 100)</b></dt><dd><p>The maximal number of child "
        "programs that provide a given service.</p></dd>"
    )
    params = root / "postconf.html"
    params.write_text(f"<html><body><h1>Parameters</h1><dl>{entries}</dl></body></html>")
    tuning = root / "tuning.html"
    prose = "".join(
        f"<p>The default process limit of {w} matters: by default the limit of processes is what the "
        "default configuration gives, and a process over the limit waits.</p>"
        for w in ("smtpd", "qmgr", "pipe", "local", "cleanup", "bounce")
    )
    tuning.write_text(f"<html><body><h1>Tuning the number of processes</h1>{prose}</body></html>")
    return [params, tuning]


@FAST_AND_REAL
def test_the_default_search_puts_the_asked_settings_entry_first(
    tmp_path: Path, open_engine: Callable[..., Engine]
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    query = "What is the default value of default_process_limit?"
    engine = (
        open_engine(tmp_path / "data", retrieval={"rerank": ["identifiers"]})
        if open_engine is fast_engine
        else open_engine(tmp_path / "data")
    )
    engine.ingest(_manual(root), collection="manual")
    hits = engine.search(query, collection="manual", top_k=5)
    assert hits and _ENTRY_LINE in f"\n{hits[0].chunk.text}"
    # Without the stage the words "default", "process" and "limit" rank it lower.
    plain = engine.with_settings(
        retrieval={**engine.settings.retrieval.model_dump(), "rerank": {"stages": []}}
    )
    without = plain.search(query, collection="manual", top_k=5)
    assert _ENTRY_LINE not in f"\n{without[0].chunk.text}"


def test_bad_input_gets_a_clear_error_or_nothing() -> None:
    reranker = IdentifierReranker()
    assert reranker.run("default_process_limit", [], top_k=5) == []
    assert reranker.run("", make_hits(ENTRY, PROSE), top_k=2) == make_hits(ENTRY, PROSE)
    with pytest.raises(ConfigError, match="top_k must be at least 1"):
        reranker.run("default_process_limit", make_hits(ENTRY), top_k=0)
    # A hostile line: 20,000 spaces after the name, then a word (a mention, not the entry).
    assert tier("default_process_limit" + " " * 20_000 + "x", ("default_process_limit",)) == 1.0
