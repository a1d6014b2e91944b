"""Exact names first: the identifier reranker (``ragline.rerank.identifiers``)."""

from __future__ import annotations

from ragline.rerank.base import Reranker
from ragline.rerank.factory import RerankConfig, make_reranker
from ragline.rerank.identifiers import IdentifierReranker, tier

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


def test_a_query_without_identifiers_leaves_hits_as_they_are() -> None:
    hits = make_hits(PROSE, NEIGHBOUR, ENTRY)
    out = IdentifierReranker().run("What is the default process limit?", hits, top_k=2)
    assert out == hits[:2]
    # Nor does a query whose names no hit spells.
    assert IdentifierReranker().run("What is gc.auto?", hits, top_k=3) == hits


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
