"""Routing rules, the route profiles, rule-based decomposition and the adaptive top-k cut."""

from __future__ import annotations

import random

import pytest

from ragline.errors import ConfigError
from ragline.query.router import PROFILES, ROUTES, RouteProfile, adaptive_k, classify, split_question

LONG_BROAD = (
    "Describe how the organisation approaches data retention across its products and teams, and "
    "what principles guide the decisions that people make about keeping or deleting records"
)
LONG_SPECIFIC = (
    "Describe how many days the organisation keeps backups for each of its products and teams, "
    "and which storage class is used for the copies that are kept in another region"
)

ROUTE_CASES = [
    ("Compare PostgreSQL and MySQL for analytics", "comparison"),
    ("PostgreSQL vs MySQL?", "comparison"),
    ("postgres vs. mysql for small teams", "comparison"),
    ("BM25 versus SPLADE on recall", "comparison"),
    ("What is the difference between RRF and weighted fusion?", "comparison"),
    ("What are the differences between v1 and v2?", "comparison"),
    ("Snapshots or replicas, which one is cheaper?", "comparison"),
    ("Which is faster, HNSW or IVF?", "comparison"),
    ("How does Lance differ from Parquet?", "comparison"),
    ("Is DuckDB faster than SQLite for joins?", "comparison"),
    ("Summarize the security policy", "summary"),
    ("Can you give me a high-level overview of this document?", "summary"),
    ("What are the main changes in the release notes?", "summary"),
    ("Explain the billing process in general", "summary"),
    ("What are the key takeaways of the incident review?", "summary"),
    ("tl;dr of the onboarding guide", "summary"),
    (LONG_BROAD, "summary"),
    (LONG_SPECIFIC, "fact"),
    ("When was the lighthouse built?", "fact"),
    ("How many steps does the climb have?", "fact"),
    ("What port does the reverse proxy use?", "fact"),
    ("Who approved the 2021 budget?", "fact"),
    ("What is a compact disc?", "fact"),
    ("Describe the backup policy", "fact"),
]


@pytest.mark.parametrize(("question", "route"), ROUTE_CASES)
def test_classify(question: str, route: str) -> None:
    assert classify(question) == route


def test_route_table_is_big_enough_and_covers_every_route() -> None:
    assert len(ROUTE_CASES) >= 15
    assert {r for _, r in ROUTE_CASES} == set(ROUTES)


def test_profiles() -> None:
    assert PROFILES["fact"] == RouteProfile(top_k=8, doc_level=False, expand="none")
    assert PROFILES["summary"] == RouteProfile(top_k=20, doc_level=True, expand="multi_query")
    assert PROFILES["comparison"] == RouteProfile(top_k=12, doc_level=False, expand="decompose")
    assert set(PROFILES) == set(ROUTES)


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("Compare PostgreSQL and MySQL for analytics", ["PostgreSQL for analytics", "MySQL for analytics"]),
        ("compare A, B and C", ["A", "B", "C"]),
        ("Compare Redis with Memcached", ["Redis", "Memcached"]),
        ("What is the difference between BM25 and TF-IDF?", ["BM25", "TF-IDF"]),
        ("PostgreSQL vs MySQL for analytics", ["PostgreSQL for analytics", "MySQL for analytics"]),
        ("Which is faster, Postgres vs MySQL?", ["Which is faster Postgres", "Which is faster MySQL"]),
        (
            "Tell me about Amazon S3 vs Google Cloud Storage",
            ["Tell me about Amazon S3", "Tell me about Google Cloud Storage"],
        ),
        ("What is RM3 and how does it weigh terms?", ["What is RM3", "how does it weigh terms"]),
        ("What is HyDE? How does RAG-Fusion work?", ["What is HyDE", "How does RAG-Fusion work"]),
        ("How do I install ragline?", ["How do I install ragline?"]),
        ("Salt and pepper quantities", ["Salt and pepper quantities"]),
    ],
)
def test_split_question(question: str, parts: list[str]) -> None:
    assert split_question(question) == parts


def test_split_question_respects_max_parts() -> None:
    assert split_question("compare A, B, C, D and E", max_parts=3) == ["A", "B", "C"]
    with pytest.raises(ConfigError):
        split_question("x", max_parts=0)


# --- adaptive_k ---------------------------------------------------------------------------------


def test_adaptive_k_cuts_at_a_relative_drop() -> None:
    # 0.4 < 0.5 × 0.9: cut before it.
    assert adaptive_k([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], min_k=1, max_k=10) == 5
    assert adaptive_k([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], min_k=1, max_k=10, drop_ratio=0.75) == 3


def test_adaptive_k_cuts_at_a_cliff() -> None:
    # No score falls below half the best, but 0.86 -> 0.6 is a cliff.
    assert adaptive_k([0.9, 0.88, 0.86, 0.6, 0.59, 0.58], min_k=1, max_k=6) == 3
    # Without positive scores the ratio means nothing; the cliff still counts.
    assert adaptive_k([-1.0, -1.1, -1.2, -5.0, -5.1], min_k=1, max_k=5) == 3


def test_adaptive_k_keeps_max_k_without_a_drop() -> None:
    assert adaptive_k([0.9, 0.89, 0.88, 0.87], min_k=1, max_k=3) == 3
    assert adaptive_k([0.5] * 10, min_k=2, max_k=7) == 7
    assert adaptive_k([0.9, 0.8, 0.7, 0.6, 0.5], min_k=1, max_k=5) == 5


def test_adaptive_k_bounds() -> None:
    assert adaptive_k([0.9, 0.1, 0.05], min_k=2, max_k=3) == 2
    assert adaptive_k([0.9], min_k=3, max_k=5) == 1
    assert adaptive_k([], min_k=3, max_k=5) == 0
    assert adaptive_k([0.9, 0.1], min_k=0, max_k=5) == 1
    for bad in ({"min_k": -1, "max_k": 2}, {"min_k": 3, "max_k": 2}):
        with pytest.raises(ConfigError):
            adaptive_k([1.0], **bad)
    with pytest.raises(ConfigError):
        adaptive_k([1.0], 1, 2, drop_ratio=0.0)
    with pytest.raises(ConfigError):
        adaptive_k([1.0], 1, 2, gap_share=1.5)


def test_adaptive_k_properties_on_random_rankings() -> None:
    rng = random.Random(3)
    for _ in range(500):
        n = rng.randint(0, 30)
        scores = sorted((rng.uniform(-1, 2) for _ in range(n)), reverse=True)
        min_k = rng.randint(0, 10)
        max_k = rng.randint(min_k, 25)
        k = adaptive_k(scores, min_k, max_k)
        # Within [min_k, max_k], never more than there are scores.
        assert min(min_k, n) <= k <= min(max_k, n)
        # A looser ratio never keeps fewer.
        assert adaptive_k(scores, min_k, max_k, drop_ratio=0.25) >= k
        # Scores beyond max_k never move the cut.
        if n >= max_k:
            assert adaptive_k([*scores[:max_k], -100.0, -200.0], min_k, max_k) == k
        # Scaling positive scores keeps both the ratio and the cliff.
        if scores and scores[-1] > 0:
            assert adaptive_k([s * 3 for s in scores], min_k, max_k) == k
